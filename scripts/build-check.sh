#!/usr/bin/env bash
# Builds the collection tarball, installs it the way users will, lists its plugins with
# ansible-doc and runs Galaxy's importer checks on it, all offline.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

out="$REPO_ROOT/.build/dist"
rm -rf "$out" && mkdir -p "$out/installed"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball="$(ls "$out"/bytes4096-codex-*.tar.gz)"
echo "built $(basename "$tarball")"

# Install into a fresh path, with no dependency resolution (Galaxy is not reachable; the
# dependencies come from the ansible package in the venv).
ansible-galaxy collection install --no-deps --force -p "$out/installed" "$tarball" >/dev/null
ANSIBLE_COLLECTIONS_PATH="$out/installed" ansible-doc -l bytes4096.codex | tee "$out/plugins.txt"
[ -s "$out/plugins.txt" ] || { echo "ansible-doc lists no plugins in the built collection"; exit 1; }
if tar -tzf "$tarball" | grep -E '(^|/)(tests|molecule|\.venv|\.build|bench)/' >/dev/null; then
  echo "the tarball ships test or build content"; exit 1
fi

cfg="$out/galaxy-importer.cfg"
printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\nRUN_ANSIBLE_DOC = True\n' > "$cfg"
GALAXY_IMPORTER_CONFIG="$cfg" python -m galaxy_importer.main "$tarball" > "$out/importer.log" 2>&1 || {
  cat "$out/importer.log"; echo "galaxy-importer failed"; exit 1; }
if grep -E '^(ERROR|WARNING)' "$out/importer.log"; then
  echo "galaxy-importer reported problems"; exit 1
fi
echo "build-check: tarball builds, installs, lists its plugins and passes galaxy-importer"
