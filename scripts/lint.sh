#!/usr/bin/env bash
# Static gates: ansible-lint (production profile), changelog fragments, playbook syntax.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
# ansible-lint's cache stays in the checkout too
export XDG_CACHE_HOME="$REPO_ROOT/.build/cache"
ansible-lint --profile production --offline
antsibull-changelog lint
for playbook in playbooks/*.yml; do
  [ -e "$playbook" ] || continue
  ansible-playbook --syntax-check -i localhost, "$playbook" >/dev/null
done
echo "lint: ansible-lint, changelog and playbook syntax passed"
