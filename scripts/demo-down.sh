#!/usr/bin/env bash
# make demo-down: remove the demo containers and the demo's state (rotated demo key, reports).
set -euo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
# shellcheck source=scripts/lib-demo.sh
source "$REPO_ROOT/scripts/lib-demo.sh"

for host in "${DEMO_HOSTS[@]}"; do
  if podman container exists "$host"; then
    podman rm -f -t 0 "$host" >/dev/null
    echo "removed $host"
  fi
done
rm -rf "$DEMO_STATE"
echo "demo fleet is down"
