#!/usr/bin/env bash
# ansible-test sanity on a clean copy of the collection placed at ansible_collections/bytes4096/codex.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

# ansible-test keeps its caches and settings under $HOME: give it one inside the checkout, so
# that the run leaves nothing elsewhere.
export HOME="$REPO_ROOT/.build/home" XDG_CACHE_HOME="$REPO_ROOT/.build/home/.cache"
mkdir -p "$HOME"

# ansible-test bootstraps pip in its venvs from a download CI cannot reach: give it the stand-in.
pip_version="$(python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11"))["pip"])
PY
)"
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  cp scripts/offline/get_pip_standin.py "$cache"
fi

# A copy of only what git tracks or would track (no venv, caches or test output), in its own git
# repository: ansible-test lists a collection's files with git, and inside this work tree git
# would report every copied file as ignored.
dest="$REPO_ROOT/.build/sanity/ansible_collections/bytes4096/codex"
rm -rf "$dest" && mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard |
  rsync -a --ignore-missing-args --from0 --files-from=- ./ "$dest/"
cd "$dest"
git init -q && git add -A
ansible-test sanity --venv --python 3.11 --color no "$@"
