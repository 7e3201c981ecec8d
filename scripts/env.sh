# shellcheck shell=bash
# Sourced by every harness script: one place that says where the tools and the collection live.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
export VENV="${VENV:-$REPO_ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
# podman: runc instead of crun, explicit ulimits (see CONTRIBUTING.md).
export CONTAINERS_CONF="$REPO_ROOT/.config/containers.conf"
# The collection is found through a symlink named the way Ansible expects.
export COLLECTIONS_ROOT="$REPO_ROOT/.build/collections"
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS_ROOT"
export ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
# Ansible's own state (molecule's scenario state, collection installs) stays in the checkout.
export ANSIBLE_HOME="$REPO_ROOT/.build"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
export PY_COLORS=0
export TEST_IMAGE="${TEST_IMAGE:-localhost/bytes4096-codex-test:bookworm}"
# Codex version the tests and the demo pin.
export CODEX_TEST_VERSION="${CODEX_TEST_VERSION:-0.169.0}"
