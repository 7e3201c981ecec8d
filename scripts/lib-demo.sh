# shellcheck shell=bash disable=SC2034
# Sourced by scripts/demo-*.sh after env.sh: where the demo fleet lives and how to run a playbook
# against it with the demo vault (demo only: its password file is committed on purpose).
DEMO_DIR="$REPO_ROOT/demo"
DEMO_STATE="$DEMO_DIR/.state"
DEMO_REPORTS="$DEMO_STATE/reports"
DEMO_INVENTORY="$DEMO_DIR/inventory.yml"
DEMO_VAULT_PASSWORD="$DEMO_DIR/vault-password.DEMO-ONLY.txt"
# A rotated demo key (scripts/demo-rotate.sh), vault-encrypted; it outranks the committed one.
DEMO_ROTATED_KEY="$DEMO_STATE/rotated-key.DEMO-ONLY.yml"
DEMO_HOSTS=(demo-laptop-1 demo-laptop-2 demo-ci-1)
DEMO_LABEL="io.bytes4096.codex.demo=1"

# A progress line with the seconds since the script started.
demo_step() {
  printf '== [%3ds] %s\n' "$SECONDS" "$*"
}

demo_playbook() {
  local extra=()
  if [ -f "$DEMO_ROTATED_KEY" ]; then
    extra+=(-e "@$DEMO_ROTATED_KEY")
  fi
  ansible-playbook -i "$DEMO_INVENTORY" --vault-password-file "$DEMO_VAULT_PASSWORD" "${extra[@]}" "$@"
}

demo_require_fleet() {
  local host
  for host in "${DEMO_HOSTS[@]}"; do
    if [ "$(podman inspect --format '{{.State.Running}}' "$host" 2>/dev/null)" != "true" ]; then
      echo "demo container $host is not running: run 'make deploy' (scripts/demo-deploy.sh) first" >&2
      exit 1
    fi
  done
}

demo_print_summary() {
  python3 - "$1" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1], encoding="utf-8"))
print(report["summary_line"])
for host in report["hosts"]:
    if host["status"] not in ("ok", "rotated"):
        print("  {0}: {1}".format(host["host"], host["status"]))
    for user in host.get("users", []):
        if user.get("status") == "offboarded":
            print("  {0}: {1} offboarded (no key stored)".format(host["host"], user["user"]))
PY
}
