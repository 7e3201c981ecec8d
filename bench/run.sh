#!/usr/bin/env bash
# Speed benchmark of bytes4096.codex.codex_config: `make bench` or `bash bench/run.sh [--keep] [--reps N]`.
# Starts ten podman hosts, times ping / codex_config / blockinfile+copy side by side, counts target
# round trips, times the merge engine, prints the ratios and writes bench/results/bench-<time>.json.
# `bash bench/run.sh --help` lists the options; docs/benchmark.md has recorded results.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
exec python3 bench/bench.py "$@"
