#!/usr/bin/env bash
# From a bare Debian/Ubuntu machine to a ready harness: system packages, the virtualenv,
# the collection symlink and the cached test image. Safe to re-run; each step skips when done.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
# mcs (Mono): the Windows side's decision code is compiled and run by tests/unit/plugins/windows
for tool in podman runc debootstrap rsync shellcheck mcs; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    podman runc debootstrap rsync shellcheck uidmap slirp4netns mono-mcs >/dev/null
fi

stamp="$VENV/.requirements.sha256"
want="$(sha256sum requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "creating virtualenv $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

mkdir -p "$COLLECTIONS_ROOT/ansible_collections/bytes4096"
ln -sfn "$REPO_ROOT" "$COLLECTIONS_ROOT/ansible_collections/bytes4096/codex"

# The test images: both for the suite; the demo asks only for the one it uses (BOOTSTRAP_IMAGES).
for suite in ${BOOTSTRAP_IMAGES:-bookworm trixie}; do
  bash scripts/build-test-image.sh "$suite"
done
