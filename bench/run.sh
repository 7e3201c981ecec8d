#!/usr/bin/env bash
# Speed benchmarks: `make bench` runs both; `bash bench/run.sh module|fleet [options]` runs one.
#   module: codex_config on ten podman hosts against ping and blockinfile+copy (bench/bench.py)
#   fleet:  the deploy playbook on a converged fleet against ping, on the demo fleet and on 10 and
#           40 hosts, plus rotate_key/audit/offboard on 10 hosts (bench/fleet.py)
# `bash bench/run.sh module --help` / `fleet --help` list the options; docs/benchmark.md has
# recorded results. Each writes bench/results/<name>-<time>.json.
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/../scripts/env.sh"
cd "$REPO_ROOT"
case "${1:-all}" in
  module) shift; exec python3 bench/bench.py "$@" ;;
  fleet) shift; exec python3 bench/fleet.py "$@" ;;
  all)
    status=0
    python3 bench/bench.py || status=1
    python3 bench/fleet.py --demo || status=1
    exit "$status" ;;
  *) echo "usage: bash bench/run.sh [module|fleet] [options]" >&2; exit 2 ;;
esac
