#!/usr/bin/env bash
# Runs the deploy playbook, then the audit, against a user's own inventory.
#   scripts/deploy-inventory.sh INVENTORY [VAULT_PASSWORD_FILE]
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
inventory="${1:-}"
vault_file="${2:-}"
if [ -z "$inventory" ] || [ ! -e "$inventory" ]; then
  echo "usage: make deploy-inventory INVENTORY=path/to/inventory [VAULT_PASSWORD_FILE=path]" >&2
  exit 2
fi
bash scripts/bootstrap.sh >/dev/null
vault_args=(--ask-vault-pass)
[ -n "$vault_file" ] && vault_args=(--vault-password-file "$vault_file")
ansible-playbook -i "$inventory" "${vault_args[@]}" bytes4096.codex.deploy
ansible-playbook -i "$inventory" "${vault_args[@]}" bytes4096.codex.audit
