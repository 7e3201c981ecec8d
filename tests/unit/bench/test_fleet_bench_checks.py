"""The fleet benchmark's check of a timed converged deploy (bench/fleet.py): a run that changed,
failed, lost a host or ran Codex to verify is not a converged deploy, and must not be timed as one."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'bench'))

import fleet  # noqa: E402  (the benchmark script, not a package)

RECAP = ('PLAY RECAP ****\n'
         'h1                  : ok=5    changed=0    unreachable=0    failed=0    skipped=7    rescued=0    ignored=0\n')


def test_a_converged_deploy_passes():
    assert fleet.check_converged('TASK [bytes4096.codex.configure : Verify with Codex] ****\nskipping: [h1]\n' + RECAP,
                                 ['h1']) == []


def test_changes_and_missing_hosts_are_problems():
    changed = RECAP.replace('changed=0', 'changed=1')
    assert fleet.check_converged(changed, ['h1'])[0].startswith('h1: converged deploy reported')
    assert fleet.check_converged(RECAP, ['h1', 'h2']) == ['h2: missing from the play recap']


def test_verification_tasks_are_problems():
    for task in ('Run codex as each account in its own shells, with doctor',
                 'Verify | the config loads with the intended model and provider, and the key is in effect',
                 'Verify | run codex exec'):
        output = 'TASK [bytes4096.codex.configure : %s] ****\nok: [h1]\n%s' % (task, RECAP)
        assert fleet.check_converged(output, ['h1']) == ['converged deploy ran verification tasks: %s' % task]
