#!/usr/bin/env bash
# make deploy: the README's main command against the embedded demo fleet. Starts three podman
# containers from the test image (two laptops with different users, one CI runner), a stand-in
# provider on each container's loopback that accepts only the demo vault's key, runs
# bytes4096.codex.deploy with the demo vault, then bytes4096.codex.audit, and prints the audit
# summary and where the report is. Every step that takes more than a few seconds prints a line.
# Against your own fleet run the same playbooks with your inventory instead (README.md, "Your own inventory"):
#   ansible-playbook bytes4096.codex.deploy -i inventory/ --ask-vault-pass
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/lib-demo.sh
source "$REPO_ROOT/scripts/lib-demo.sh"
cd "$REPO_ROOT"

# From a bare machine: podman, the venv and the one test image the demo uses (Debian 12; each
# step is cached, so a prepared machine skips this).
if command -v podman >/dev/null 2>&1 && [ -x "$VENV/bin/ansible-playbook" ] \
    && podman image exists "$TEST_IMAGE" 2>/dev/null; then
  demo_step "tools and the test image are ready"
else
  demo_step "setting up podman, the virtualenv and the Debian 12 test image (first run: several minutes)"
  BOOTSTRAP_IMAGES=bookworm bash scripts/bootstrap.sh 2>&1 | sed -u 's/^/   /'
fi
mkdir -p "$DEMO_REPORTS"

for host in "${DEMO_HOSTS[@]}"; do
  demo_start_host "$host"
  demo_step "container $host is running"
done

demo_step "preparing the demo hosts (CI runner account, stand-in provider)"
demo_playbook "$DEMO_DIR/prepare.yml" >"$DEMO_STATE/prepare.log" 2>&1 || {
  cat "$DEMO_STATE/prepare.log" >&2
  exit 1
}
demo_step "bytes4096.codex.deploy (a first run installs Codex from npm: about a minute)"
demo_playbook bytes4096.codex.deploy
demo_step "bytes4096.codex.audit"
demo_playbook bytes4096.codex.audit

echo
demo_step "Codex demo fleet deployed"
demo_print_summary "$DEMO_REPORTS/codex-audit.json"
echo "report: $DEMO_REPORTS/codex-audit.md (JSON: $DEMO_REPORTS/codex-audit.json)"
