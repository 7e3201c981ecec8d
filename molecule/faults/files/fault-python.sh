#!/bin/sh
# Interpreter for the fault runs (set as ansible_python_interpreter on those tasks only).
# Ansible runs it as `fault-python /path/AnsiballZ_x.py`. The case is the directory
# /home/faulty/cases/<case>/ named in the module arguments; /var/lib/faults/control/<case> says:
#   trace                 log every call of every trip (strace -f) to /var/lib/faults/trace/<case>.<trip>
#   SYSCALL WHEN TRIP     on trip number TRIP of this case, SIGKILL the process on entering its
#                         WHEN-th SYSCALL (strace fault injection); other trips run untouched
# Without a case or a control file it is plain python3.
set -u
state=/var/lib/faults
case_name="$(grep -o -m1 '/home/faulty/cases/[A-Za-z0-9_-]*' "$1" 2>/dev/null | head -n1 | sed 's|.*/||')"
if [ -z "$case_name" ] || [ ! -f "$state/control/$case_name" ]; then
  exec /usr/bin/python3 "$@"
fi

trip=$(( $(cat "$state/run/$case_name.trips" 2>/dev/null || echo 0) + 1 ))
echo "$trip" > "$state/run/$case_name.trips"
read -r mode when at_trip < "$state/control/$case_name"

if [ "$mode" = trace ]; then
  # -s 0: no data in the log (the key is written on the write trip)
  exec strace -f -qq -s 0 -o "$state/trace/$case_name.$trip" /usr/bin/python3 "$@"
fi
[ "$trip" = "$at_trip" ] || exec /usr/bin/python3 "$@"

# Only the aimed call is logged; the log shows whether a process was killed. (No --seccomp-bpf:
# with it strace 6.1 skipped injections in the first process.)
log="$state/run/$case_name.strace"
strace -f -q -s 0 -o "$log" -e trace="$mode" -e inject="$mode:signal=KILL:when=$when" /usr/bin/python3 "$@"
rc=$?
echo "$rc" > "$state/run/$case_name.rc"
exit "$rc"
