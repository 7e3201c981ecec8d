#!/usr/bin/env bash
# The whole suite, from a bare machine: what `make test` and CI run.
set -uo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT" || exit 1

bash scripts/bootstrap.sh || { echo "bootstrap failed"; exit 1; }

gates=(lint sanity units build-check molecule-all readme)
failed=()
for gate in "${gates[@]}"; do
  start=$SECONDS
  echo "=== $gate"
  if [ "$gate" = readme ]; then script=tests/readme/run.sh; else script="scripts/$gate.sh"; fi
  if bash "$script"; then
    echo "=== $gate passed in $((SECONDS - start)) s"
  else
    echo "=== $gate FAILED after $((SECONDS - start)) s"
    failed+=("$gate")
  fi
done
echo "failed gates: ${failed[*]:-none}"
echo "suite: $(( ${#gates[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
[ "${#failed[@]}" -eq 0 ]
