# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Print, one per line, the shell commands of README.md's quick start and demo sections.

Every line of every ```console block in the sections "## Quick start" and "### The demo fleet" is a
command a reader types; tests/readme/run.sh runs them in order. Commands that take the demo fleet
down or start the whole suite are listed in SKIP (the suite runs this test; the fleet may be shared
with later checks). Exits 1 when the sections or the commands the test relies on are missing, so
the test cannot pass on an empty README.
"""

from __future__ import annotations

import re
import sys

SECTIONS = ('## Quick start', '### The demo fleet')
SKIP = {'make test', 'make demo-down'}
REQUIRED = ('make deploy', 'ansible-playbook -i demo/inventory.yml bytes4096.codex.offboard --limit demo-laptop-2')


def section(text, heading):
    level = heading.split(' ', 1)[0]
    match = re.search(r'^' + re.escape(heading) + r'\s*$', text, re.M)
    if not match:
        raise SystemExit('README.md has no section {0!r}'.format(heading))
    rest = text[match.end():]
    end = re.search(r'^#{1,%d} ' % len(level), rest, re.M)
    return rest[:end.start()] if end else rest


def commands(text):
    found = []
    for heading in SECTIONS:
        for block in re.findall(r'^```console\n(.*?)^```', section(text, heading), re.M | re.S):
            for line in block.splitlines():
                command = line.split(' #', 1)[0].strip()
                if command and not command.startswith('#'):
                    found.append(command)
    return found


def main(argv):
    with open(argv[1], encoding='utf-8') as handle:
        found = commands(handle.read())
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise SystemExit('README.md quick start/demo sections lack: {0}'.format('; '.join(missing)))
    for command in found:
        print(('# skipped: ' if command in SKIP else '') + command)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
