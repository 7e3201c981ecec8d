#!/usr/bin/env bash
# Runs every molecule scenario (or the ones named) with the full test sequence; reports each.
set -uo pipefail
# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$REPO_ROOT" || exit 1

if [ "$#" -gt 0 ]; then
  scenarios=("$@")
else
  mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
fi
[ "${#scenarios[@]}" -gt 0 ] || { echo "no molecule scenarios found"; exit 1; }

# Molecule keeps its scenario state under ANSIBLE_HOME, and its prerun installs the collection into
# ANSIBLE_HOME/collections unless that already holds a link to this checkout. With ANSIBLE_HOME
# here, both stay in the checkout (.build/collections is that link) and ~/.ansible is left alone.
export ANSIBLE_HOME="$REPO_ROOT/.build"
user_collections="$HOME/.ansible/collections"
snapshot() { find "$user_collections" -mindepth 1 -printf '%P %s %T@\n' 2>/dev/null | sort; }
before="$(snapshot)"

mkdir -p .build/logs
failed=()
for scenario in "${scenarios[@]}"; do
  log=".build/logs/molecule-$scenario.log"
  start=$SECONDS
  if molecule test -s "$scenario" > "$log" 2>&1; then
    echo "molecule $scenario: passed in $((SECONDS - start)) s"
  else
    echo "molecule $scenario: FAILED in $((SECONDS - start)) s — last lines of $log:"
    tail -n 60 "$log"
    failed+=("$scenario")
  fi
  grep -E '^=+ .*(passed|failed).* in [0-9.]+s' "$log" | tail -n 1 | sed "s/^/  testinfra ($scenario): /"
done
echo "molecule: $(( ${#scenarios[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
after="$(snapshot)"
if [ "$before" != "$after" ]; then
  echo "molecule wrote under $user_collections (test output must stay in the checkout):"
  diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed -n 's/^> /  /p'
  failed+=("hygiene")
fi
[ "${#failed[@]}" -eq 0 ]
