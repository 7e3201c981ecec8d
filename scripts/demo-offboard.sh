#!/usr/bin/env bash
# make demo-offboard: the README's one-off offboarding command against the demo fleet, which needs
# no vault password: bob's key (and its backups) leave demo-laptop-2. The demo inventory still
# declares bob present, so the next `make deploy` or `make demo-rotate` gives him a key again; a real
# fleet declares `state: absent` for him in codex_configure_users (README, "Offboarding").
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/lib-demo.sh
source "$REPO_ROOT/scripts/lib-demo.sh"
cd "$REPO_ROOT"

demo_require_fleet
demo_step "bytes4096.codex.offboard --limit demo-laptop-2 (no vault password)"
ansible-playbook -i demo/inventory.yml bytes4096.codex.offboard --limit demo-laptop-2
demo_step "demo-laptop-2 holds no key; revoke it at the provider (the demo key stays valid for the other hosts)"
