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

demo_create_host() {
  podman run -d --name "$1" --hostname "$1" --label "$DEMO_LABEL" \
    --ulimit nofile=1024:20000 --ulimit nproc=4096:4096 \
    -v /etc/ssl/certs:/etc/ssl/certs:ro \
    "$TEST_IMAGE" sleep infinity >/dev/null
}

# A host that answers `podman exec` (Ansible's podman connection needs exactly that). A container
# left over from an earlier run that no longer starts or answers is shown and created afresh once.
demo_host_answers() {
  local attempt
  for attempt in 1 2 3 4 5; do
    if [ "$(podman inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = "true" ] \
        && podman exec "$1" true >/dev/null 2>&1; then
      return 0
    fi
    sleep "$attempt"
  done
  return 1
}

demo_start_host() {
  local host="$1"
  if podman container exists "$host"; then
    podman start "$host" >/dev/null 2>&1 || true
  else
    demo_create_host "$host"
  fi
  demo_host_answers "$host" && return 0
  echo "demo container $host does not answer podman exec; its state and log:" >&2
  podman inspect --format '  status={{.State.Status}} exit={{.State.ExitCode}} error={{.State.Error}}' "$host" >&2 || true
  podman logs --tail 20 "$host" 2>&1 | sed 's/^/  /' >&2 || true
  podman exec "$host" true 2>&1 | sed 's/^/  exec: /' >&2 || true
  if [ "$(podman inspect --format '{{index .Config.Labels "io.bytes4096.codex.demo"}}' "$host" 2>/dev/null)" != "1" ]; then
    echo "$host is not a demo container (no label $DEMO_LABEL): left alone; remove or rename it, then run make deploy again" >&2
    return 1
  fi
  echo "re-creating $host" >&2
  podman rm -f -t 0 "$host" >/dev/null 2>&1 || true
  demo_create_host "$host"
  if ! demo_host_answers "$host"; then
    echo "demo container $host still does not answer podman exec:" >&2
    podman inspect --format '  status={{.State.Status}} exit={{.State.ExitCode}} error={{.State.Error}}' "$host" >&2 || true
    podman exec "$host" true 2>&1 | sed 's/^/  exec: /' >&2 || true
    podman ps -a --format '  {{.Names}} {{.Status}}' >&2 || true
    return 1
  fi
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
