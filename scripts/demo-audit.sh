#!/usr/bin/env bash
# make demo-audit: bytes4096.codex.audit against the demo fleet; prints the summary line and the
# report's path.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/lib-demo.sh
source "$REPO_ROOT/scripts/lib-demo.sh"
cd "$REPO_ROOT"

demo_require_fleet
demo_playbook bytes4096.codex.audit
echo
demo_print_summary "$DEMO_REPORTS/codex-audit.json"
echo "report: $DEMO_REPORTS/codex-audit.md (JSON: $DEMO_REPORTS/codex-audit.json)"
