#!/usr/bin/env bash
# make demo-rotate: a new demo key, the way a real rotation goes. The new value is encrypted with
# `ansible-vault encrypt_string` (demo vault password) into demo/.state/rotated-key.DEMO-ONLY.yml,
# bytes4096.codex.rotate_key writes it host by host and verifies each with Codex, then the audit
# confirms every host carries the new fingerprint. The key is random and never printed.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/lib-demo.sh
source "$REPO_ROOT/scripts/lib-demo.sh"
cd "$REPO_ROOT"

demo_require_fleet
mkdir -p "$DEMO_STATE"
new="$(mktemp "$DEMO_STATE/rotated-key.XXXXXX")"
trap 'rm -f "$new"' EXIT
{
  echo "# DEMO ONLY: a random demo value from scripts/demo-rotate.sh, vault-encrypted with the demo password."
  python3 -c 'import secrets; print("demo-" + secrets.token_urlsafe(24), end="")' |
    ansible-vault encrypt_string --vault-password-file "$DEMO_VAULT_PASSWORD" \
      --stdin-name vault_codex_api_key 2>/dev/null
} > "$new"
# Rotate with the new value only; keep the previous file until the rotation has gone through.
demo_playbook -e "@$new" bytes4096.codex.rotate_key || {
  echo "rotation stopped; the report names the failing host: $DEMO_REPORTS/codex-rotation.md" >&2
  exit 1
}
mv "$new" "$DEMO_ROTATED_KEY"
trap - EXIT
demo_playbook bytes4096.codex.audit
echo
demo_print_summary "$DEMO_REPORTS/codex-rotation.json"
demo_print_summary "$DEMO_REPORTS/codex-audit.json"
echo "reports: $DEMO_REPORTS/codex-rotation.md, $DEMO_REPORTS/codex-audit.md"
