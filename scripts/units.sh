#!/usr/bin/env bash
# Unit tests (pytest, hypothesis) of the plugins and the role logic.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"
python -m pytest -p no:cacheprovider -q tests/unit "$@"
