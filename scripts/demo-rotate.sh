#!/usr/bin/env bash
# make demo-rotate: a new demo key, the way a real rotation goes. The new value is encrypted with
# `ansible-vault encrypt_string` (demo vault password) into demo/.state/rotated-key.DEMO-ONLY.yml;
# the stand-in provider accepts old and new while bytes4096.codex.rotate_key writes it host by host
# and verifies each with Codex; then the old key is revoked at the stand-in and the audit confirms
# every host carries (and works with) the new one. The key is random and never printed.
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
demo_step "the provider accepts the new key next to the old one"
demo_playbook -e "@$new" -e demo_provider_keys=add "$DEMO_DIR/provider-keys.yml" >/dev/null
demo_step "bytes4096.codex.rotate_key"
demo_playbook -e "@$new" bytes4096.codex.rotate_key || {
  echo "rotation stopped; the report names the failing host: $DEMO_REPORTS/codex-rotation.md" >&2
  exit 1
}
mv "$new" "$DEMO_ROTATED_KEY"
trap - EXIT
demo_step "the old key is revoked at the provider"
demo_playbook -e demo_provider_keys=only "$DEMO_DIR/provider-keys.yml" >/dev/null
demo_step "bytes4096.codex.audit"
demo_playbook bytes4096.codex.audit
echo
demo_print_summary "$DEMO_REPORTS/codex-rotation.json"
demo_print_summary "$DEMO_REPORTS/codex-audit.json"
echo "reports: $DEMO_REPORTS/codex-rotation.md, $DEMO_REPORTS/codex-audit.md"
