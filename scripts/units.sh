#!/usr/bin/env bash
# Unit tests (pytest, hypothesis) of the plugins and the role logic.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT"

# The real Codex CLI judges the merged real-world configs (tests/unit/plugins/plugin_utils/
# test_real_world_corpus.py). Installed once, pinned, into the git-ignored .cache/codex-judge.
if [ -z "${CODEX_JUDGE_BIN:-}" ]; then
  judge_dir="$REPO_ROOT/.cache/codex-judge"
  CODEX_JUDGE_BIN="$judge_dir/node_modules/.bin/codex"
  # Codex keeps scratch files in CODEX_HOME even for --version: not in root's ~/.codex
  judge_home="$REPO_ROOT/.build/codex-judge-home"
  mkdir -p "$judge_home"
  if [ "$(CODEX_HOME="$judge_home" "$CODEX_JUDGE_BIN" --version 2>/dev/null || true)" != "codex-cli $CODEX_TEST_VERSION" ]; then
    echo "installing the Codex CLI $CODEX_TEST_VERSION (unit test judge) into $judge_dir"
    mkdir -p "$judge_dir"
    npm install --prefix "$judge_dir" --no-audit --no-fund --loglevel=error \
      "@openai/codex@$CODEX_TEST_VERSION" >/dev/null
    CODEX_HOME="$judge_home" "$CODEX_JUDGE_BIN" --version
  fi
  export CODEX_JUDGE_BIN
fi

python -m pytest -p no:cacheprovider -q tests/unit "$@"
