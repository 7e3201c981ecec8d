#!/usr/bin/env bash
# The README's quick start and demo commands, run as written against the demo fleet, from a shell
# that has only what the README tells a reader to set up: a clean environment (env -i: HOME, a
# standard PATH, no virtualenv, no ANSIBLE_* or CODEX_* variables), the repository root as the
# working directory. Each command must succeed; the final deploy must report a healthy fleet.
# Leaves the demo fleet up and converged (make demo-down is skipped), for later checks.
# Cost on a prepared machine with the demo fleet up: about as much as make deploy twice,
# make demo-rotate and two offboard runs (a few minutes).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"

mapfile -t cmds < <(python3 tests/readme/readme_commands.py README.md)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/home"
{
  echo 'set -euo pipefail'
  echo "cd $(printf '%q' "$REPO_ROOT")"
  for cmd in "${cmds[@]}"; do
    case "$cmd" in
      '# skipped: '*) echo "echo $(printf '%q' "readme-test: ${cmd}")" ;;
      *) echo "echo $(printf '%q' "readme-test: \$ ${cmd}")"; echo "$cmd" ;;
    esac
  done
} > "$work/script.sh"

start=$SECONDS
env -i HOME="$work/home" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 TERM=dumb bash --noprofile --norc "$work/script.sh" 2>&1 | tee "$work/out.log"

# The last deploy of the demo section brings bob's key back: the whole fleet is healthy again.
last_summary="$(grep -E '^hosts: [0-9]+ ok' "$work/out.log" | tail -1)"
if [ "$last_summary" != "hosts: 3 ok / 0 warning / 0 failing" ]; then
  echo "readme-test: the demo fleet is not healthy after the README's commands: ${last_summary:-no summary}" >&2
  exit 1
fi
if grep -qE 'Attempting to decrypt|\[WARNING\]|template error|FutureWarning' "$work/out.log"; then
  echo "readme-test: the README's commands printed warnings or errors:" >&2
  grep -E 'Attempting to decrypt|\[WARNING\]|template error|FutureWarning' "$work/out.log" >&2
  exit 1
fi
echo "readme-test: ${#cmds[@]} README commands ran as written in $((SECONDS - start)) s"
