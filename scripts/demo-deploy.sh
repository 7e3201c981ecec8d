#!/usr/bin/env bash
# make deploy: the README's main command against the embedded demo fleet. Starts three podman
# containers from the test image (two laptops with different users, one CI runner), a stand-in
# provider on each container's loopback, runs bytes4096.codex.deploy with the demo vault, then
# bytes4096.codex.audit, and prints the audit summary and where the report is.
# Against your own fleet run the same playbooks with your inventory instead (README.md, "Your own inventory"):
#   ansible-playbook bytes4096.codex.deploy -i inventory/ --ask-vault-pass
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/lib-demo.sh
source "$REPO_ROOT/scripts/lib-demo.sh"
cd "$REPO_ROOT"

start=$SECONDS
# From a bare machine: podman, the venv and the test image (each step is cached).
bash scripts/bootstrap.sh >/dev/null
mkdir -p "$DEMO_REPORTS"

for host in "${DEMO_HOSTS[@]}"; do
  if podman container exists "$host"; then
    podman start "$host" >/dev/null
  else
    podman run -d --name "$host" --hostname "$host" --label "$DEMO_LABEL" \
      --ulimit nofile=1024:20000 --ulimit nproc=4096:4096 \
      -v /etc/ssl/certs:/etc/ssl/certs:ro \
      "$TEST_IMAGE" sleep infinity >/dev/null
  fi
  echo "container $host is running"
done

demo_playbook "$DEMO_DIR/prepare.yml"
demo_playbook bytes4096.codex.deploy
demo_playbook bytes4096.codex.audit

echo
echo "== Codex demo fleet deployed in $((SECONDS - start)) s =="
demo_print_summary "$DEMO_REPORTS/codex-audit.json"
echo "report: $DEMO_REPORTS/codex-audit.md (JSON: $DEMO_REPORTS/codex-audit.json)"
