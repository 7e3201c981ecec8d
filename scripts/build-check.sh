#!/usr/bin/env bash
# Builds the collection tarball, installs it the way users will, lists its plugins with
# ansible-doc and runs Galaxy's importer checks on it, all offline. Everything it writes stays
# under .build/: the tarball must not ship test output, and nothing may land in the user's
# ~/.ansible/collections, where a stale copy would shadow the checkout in later runs.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

# Ansible's own state (local temp, galaxy cache) under the build directory as well.
export ANSIBLE_HOME="$REPO_ROOT/.build"
user_collections="$HOME/.ansible/collections"
snapshot() { find "$user_collections" -mindepth 1 -printf '%P %s %T@\n' 2>/dev/null | sort; }
before="$(snapshot)"

out="$REPO_ROOT/.build/dist"
rm -rf "$out" && mkdir -p "$out/installed"
ansible-galaxy collection build --force --output-path "$out" . >/dev/null
tarball="$(ls "$out"/bytes4096-codex-*.tar.gz)"
echo "built $(basename "$tarball")"

# Test and tool output that must never ship (galaxy.yml build_ignore keeps it out).
if tar -tzf "$tarball" | grep -E '(^|/)(tests|molecule|\.venv|\.build|\.ansible|\.cache|\.hypothesis|\.pytest_cache|\.benchmarks|__pycache__|bench|demo)(/|$)|(^|/)(importer_result\.json|[^/]*\.log|[^/]*\.pyc|[^/]*\.retry|[^/]*\.tar\.gz)$'; then
  echo "the tarball ships the test or build output listed above (see build_ignore in galaxy.yml)"; exit 1
fi

# Install into a fresh path, with no dependency resolution (Galaxy is not reachable; the
# dependencies come from the ansible package in the venv).
ansible-galaxy collection install --no-deps --force -p "$out/installed" "$tarball" >/dev/null
ANSIBLE_COLLECTIONS_PATH="$out/installed" ansible-doc -l bytes4096.codex | tee "$out/plugins.txt"
[ -s "$out/plugins.txt" ] || { echo "ansible-doc lists no plugins in the built collection"; exit 1; }

# galaxy-importer writes importer_result.json into its working directory: run it in $out, or the
# file lands in the checkout and from there in the next tarball and every installed copy.
cfg="$out/galaxy-importer.cfg"
printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\nRUN_ANSIBLE_DOC = True\n' > "$cfg"
(cd "$out" && GALAXY_IMPORTER_CONFIG="$cfg" python -m galaxy_importer.main "$tarball" > "$out/importer.log" 2>&1) || {
  cat "$out/importer.log"; echo "galaxy-importer failed"; exit 1; }
if grep -E '^(ERROR|WARNING)' "$out/importer.log"; then
  echo "galaxy-importer reported problems"; exit 1
fi

# Hygiene: the checks above wrote nothing outside the checkout, and no copy of this collection
# sits in the user's collections (molecule's prerun used to install one there).
[ ! -e importer_result.json ] || { echo "importer_result.json was written into the checkout"; exit 1; }
after="$(snapshot)"
if [ "$before" != "$after" ]; then
  echo "files were written under $user_collections while build-check ran:"
  diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed -n 's/^> /  /p'
  exit 1
fi
if [ -e "$user_collections/ansible_collections/bytes4096/codex" ]; then
  echo "$user_collections/ansible_collections/bytes4096/codex holds an installed copy of this collection (left by an"
  echo "earlier test run); it can shadow the checkout. Remove it: rm -rf $user_collections/ansible_collections/bytes4096"
  exit 1
fi
echo "build-check: tarball builds, installs, lists its plugins, passes galaxy-importer, ships no test output," \
  "and nothing was written under $user_collections"
