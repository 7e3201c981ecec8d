# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the configure role's account, run and block helpers (plugins/filter/codex_accounts.py)."""

from __future__ import annotations

import json
import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.bytes4096.codex.plugins.filter import codex_accounts as ca

HERE = os.path.dirname(__file__)
DOCTOR = os.path.join(HERE, 'fixtures', 'doctor-0.169.0-ok.json')
BLOCK = os.path.join(HERE, '..', '..', 'fixtures', 'dashboard-block.toml')
PASSWD = {
    'root': ['x', '0', '0', 'root', '/root', '/bin/bash'],
    'alice': ['x', '1000', '1000', '', '/home/alice', '/bin/bash'],
    'ci-runner': ['x', '998', '998', '', '/var/lib/ci-runner', '/usr/sbin/nologin'],
}


def doctor(**changes):
    with open(DOCTOR, encoding='utf-8') as handle:
        doc = json.load(handle)
    for check_id, details in changes.items():
        doc['checks'][check_id.replace('_', '.', 1)].update(details)
    return json.dumps(doc)


def test_accounts_default_to_the_home_every_shell_finds():
    alice, runner, bob = ca.codex_accounts(
        [{'name': 'alice'}, {'name': 'ci-runner', 'group': 'ci'}, {'name': 'bob', 'state': 'absent'}], PASSWD)
    assert alice == {'name': 'alice', 'state': 'present', 'exists': True, 'uid': 1000, 'gid': 1000,
                     'home': '/home/alice', 'shell': '/bin/bash', 'group': None, 'scope': 'user',
                     'codex_home': '/home/alice/.codex', 'default_home': True}
    assert runner['codex_home'] == '/var/lib/ci-runner/.codex' and runner['group'] == 'ci'
    assert bob['state'] == 'absent' and bob['exists'] is False and bob['codex_home'] is None


def test_a_custom_codex_home_is_marked():
    (runner,) = ca.codex_accounts([{'name': 'ci-runner', 'codex_home': '/srv/codex'}], PASSWD)
    assert runner['codex_home'] == '/srv/codex' and runner['default_home'] is False


def test_system_only_host_runs_codex_as_root():
    assert ca.codex_accounts([], PASSWD, system=True)[0]['scope'] == 'system'
    assert ca.codex_accounts([], PASSWD, system=True)[0]['codex_home'] == '/etc/codex'
    assert ca.codex_accounts([], PASSWD) == []


@pytest.mark.parametrize('users, fragment', [
    ([{'name': ''}], 'needs a name'),
    ([{'name': 'alice'}, {'name': 'alice'}], 'twice'),
    ([{'name': 'alice', 'state': 'gone'}], 'present or absent'),
    ([{'name': 'alice', 'codex_hom': '/x'}], 'unknown key(s) codex_hom'),
    ('alice', 'must be a list'),
])
def test_bad_users_are_refused_with_the_reason(users, fragment):
    with pytest.raises(AnsibleFilterError, match=fragment.replace('(', r'\(').replace(')', r'\)')):
        ca.codex_accounts(users, PASSWD)


def test_run_argv_gives_codex_only_the_accounts_own_environment():
    (alice,) = ca.codex_accounts([{'name': 'alice'}], PASSWD)
    plain = ca.codex_run_argv(alice, 'non-login', ['doctor', '--json'], ['~/.local/bin'], '/usr/bin:/bin', 30)
    login = ca.codex_run_argv(alice, 'login', ['doctor', '--json'], ['~/.local/bin'])
    for argv in (plain, login):
        assert argv[:4] == ['timeout', '-k', '5', argv[3]]
        assert argv[4:8] == ['setpriv', '--reuid=1000', '--regid=1000', '--init-groups']
        env = argv[argv.index('-i') + 1:argv.index('bash')]
        assert all(not v.startswith('CODEX_') and not v.endswith('_PROXY=') for v in env)
        assert 'HOME=/home/alice' in env and 'USER=alice' in env
        assert argv[-3:] == ['codex', 'doctor', '--json']
    assert plain[3] == '30'
    assert 'PATH=/home/alice/.local/bin:/usr/bin:/bin' in plain
    assert plain[plain.index('bash'):plain.index('bash') + 3] == ['bash', '--noprofile', '--norc']
    assert login[login.index('bash'):login.index('bash') + 2] == ['bash', '-l']
    assert 'PATH=/usr/local/bin:/usr/bin:/bin' in login


@pytest.mark.parametrize('account, shell', [
    ({'name': 'gone', 'exists': False}, 'login'),
    ({'name': 'alice', 'exists': True, 'home': '/home/alice', 'uid': 1, 'gid': 1}, 'zsh'),
])
def test_run_argv_refuses_unknown_shells_and_missing_accounts(account, shell):
    with pytest.raises(AnsibleFilterError):
        ca.codex_run_argv(account, shell, ['doctor'])


def test_block_info_reads_the_dashboard_block_as_toml():
    with open(BLOCK, encoding='utf-8') as handle:
        info = ca.codex_block_info(handle.read())
    assert info['model'] == 'gpt-5.5' and info['model_provider'] == 'OpenAI'
    assert info['provider_host'] == 'api.4096bytes.com'
    assert {'disable_response_storage', 'network_access', 'windows_wsl_setup_acknowledged'} <= set(info['top_level_keys'])
    # a key inside a table is not a top-level key
    assert 'name' not in info['top_level_keys'] and 'goals' not in info['top_level_keys']
    with pytest.raises(AnsibleFilterError, match='not valid TOML'):
        ca.codex_block_info('model = ')
    assert ca.provider_host('https://user@api.example.com:8443/v1') == 'api.example.com:8443'
    assert ca.provider_host('') == ''


def test_key_state_from_a_codex_config_result():
    state = ca.codex_key_state({'key_fingerprint': 'sha256:0123456789abcdef', 'auth_mode': 'apikey',
                                'credentials': 'apikey', 'repaired': ['auth.json']})
    assert state == {'fingerprint': 'sha256:0123456789abcdef', 'auth_mode': 'apikey', 'credentials': 'apikey',
                     'repaired': ['auth.json'], 'error': None}
    failed = ca.codex_key_state({'failed': True, 'key_fingerprint': 'sha256:x', 'msg': 'auth.json\n is a FIFO'})
    assert failed['fingerprint'] is None and failed['error'] == 'auth.json is a FIFO'
    # registered with failed_when: false, only the msg is left of the failure
    assert ca.codex_key_state({'failed': False, 'failed_when_result': False, 'msg': 'boom'})['error'] == 'boom'
    # a module without the newer return values: unknown, not wrong
    assert ca.codex_key_state({'key_fingerprint': None})['credentials'] is None


def run(stdout, shell='login', rc=0, scope='user', stderr=''):
    account = {'name': 'alice', 'scope': scope}
    return {'item': [account, shell], 'rc': rc, 'stdout': stdout, 'stderr': stderr}


def test_doctor_verdict_passes_a_healthy_run_and_names_account_and_shell_otherwise():
    assert ca.codex_doctor_verdict(run(doctor()), host='h', model='gpt-5.5', provider='OpenAI') == ''
    missing = ca.codex_doctor_verdict(run('', rc=127, stderr='bash: line 1: codex: command not found'), host='h')
    assert missing.startswith('Codex on h as alice (login shell): codex is not on the PATH')
    wrong = ca.codex_doctor_verdict(run(doctor(), shell='non-login'), host='h', model='gpt-6', provider='bytes')
    assert wrong.startswith('Codex on h as alice (non-login shell): ')
    assert 'model gpt-5.5 (want gpt-6)' in wrong and 'provider OpenAI (want bytes)' in wrong
    chatgpt = ca.codex_doctor_verdict(run(doctor(auth_credentials={'details': {'stored auth mode': 'chatgpt'}})))
    assert 'ChatGPT login' in chatgpt
    nokey = ca.codex_doctor_verdict(run(doctor(auth_credentials={'status': 'fail', 'summary': 'none'})))
    assert 'without a key' in nokey
    # the system layer's root holds no key: credentials are not its business
    assert ca.codex_doctor_verdict(run(doctor(auth_credentials={'status': 'fail'}), scope='system')) == ''
    unreachable = ca.codex_doctor_verdict(run(doctor(network_provider_reachability={'status': 'fail', 'summary': 'down'})))
    assert 'provider reachability fail (down)' in unreachable
    assert ca.codex_doctor_verdict(run(doctor(network_provider_reachability={'status': 'fail'})), reachability=False) == ''


def test_audit_records_and_rotation_users():
    accounts = ca.codex_accounts([{'name': 'alice'}, {'name': 'bob', 'state': 'absent'}],
                                 dict(PASSWD, bob=['x', '1001', '1001', '', '/home/bob', '/bin/bash']))
    runs = {'results': [run(doctor(), 'non-login'), run(doctor(), 'login'),
                        {'item': [accounts[1], 'login'], 'skipped': True}]}
    runs['results'][0]['item'][0] = accounts[0]
    runs['results'][1]['item'][0] = accounts[0]
    records = ca.codex_audit_records(accounts, {'alice': {'fingerprint': 'sha256:a'}}, runs,
                                     {'model': 'gpt-5.5', 'key': True})
    assert [r['user'] for r in records] == ['alice', 'bob']
    assert [r['shell'] for r in records[0]['runs']] == ['non-login', 'login']
    assert records[1]['runs'] == [] and records[1]['state'] == 'absent' and records[1]['key'] == {}
    assert records[0]['expected'] == {'model': 'gpt-5.5', 'key': True}
    rotated = {'results': [{'item': {'name': 'alice'}, 'key_fingerprint': 'sha256:b'},
                           {'item': {'name': 'carol'}, 'failed': True, 'key_fingerprint': 'sha256:c'},
                           {'item': {'name': 'bob'}, 'skipped': True}]}
    assert ca.codex_rotation_users(rotated, {'alice': {'fingerprint': 'sha256:a'}}) == [
        {'user': 'alice', 'old': 'sha256:a', 'new': 'sha256:b'},
        {'user': 'carol', 'old': None, 'new': None}]


def test_filters_are_registered():
    assert set(ca.FilterModule().filters()) == {
        'codex_accounts', 'codex_run_argv', 'codex_block_info', 'codex_key_state', 'codex_doctor_verdict',
        'codex_audit_records', 'codex_rotation_users', 'provider_host', 'codex_account_names',
        'codex_passwd_covers', 'codex_home_reads'}


def test_account_names_are_the_ones_the_host_needs_looked_up():
    users = ['alice', {'name': 'bob', 'state': 'absent'}, {'name': 'alice'}, {'state': 'present'}, 7]
    assert ca.codex_account_names(users) == ['alice', 'bob']
    assert ca.codex_account_names(users, system=True) == ['alice', 'bob']
    assert ca.codex_account_names([], system=True) == ['root']
    assert ca.codex_account_names(None) == []


def test_the_install_survey_covers_the_accounts_only_with_an_entry_for_each():
    survey = {'alice': PASSWD['alice'], 'bob': None}
    assert ca.codex_passwd_covers(survey, ['alice', 'bob'])
    assert not ca.codex_passwd_covers(survey, ['alice', 'ci-runner'])
    assert not ca.codex_passwd_covers(None, ['alice'])
    assert ca.codex_passwd_covers({}, [])


def test_the_install_survey_resolves_like_getent():
    survey = {'alice': PASSWD['alice'], 'bob': None}
    users = [{'name': 'alice'}, {'name': 'bob', 'state': 'absent'}]
    assert ca.codex_accounts(users, survey) == ca.codex_accounts(users, PASSWD)


def test_codex_home_reads_are_the_homes_the_codex_config_loop_reads():
    users = ['alice', {'name': 'bob', 'group': 'dev', 'codex_home': '/srv/bob/codex'}, {'name': 'carol', 'state': 'absent'}]
    assert ca.codex_home_reads(users) == [
        {'codex_home': '~/.codex', 'owner': 'alice', 'group': None, 'config_mode': None},
        {'codex_home': '/srv/bob/codex', 'owner': 'bob', 'group': 'dev', 'config_mode': None},
        {'codex_home': '~/.codex', 'owner': 'carol', 'group': None, 'config_mode': None}]
    system = {'codex_home': '/etc/codex', 'owner': 'root', 'group': None, 'config_mode': '0644'}
    assert ca.codex_home_reads(['alice'], system=True)[0] == system
    assert ca.codex_home_reads(['alice'], system=True, manage_key=False) == [system]
    assert ca.codex_home_reads(users, system=True, manage_key=False) == [
        system, {'codex_home': '~/.codex', 'owner': 'carol', 'group': None, 'config_mode': None}]
    assert ca.codex_home_reads([], system=True, system_home='/opt/etc/codex')[0]['codex_home'] == '/opt/etc/codex'


def test_codex_home_reads_is_lenient_like_codex_account_names():
    assert ca.codex_home_reads(None) == [] and ca.codex_home_reads('alice') == []
    assert ca.codex_home_reads([{'state': 'absent'}, 3, {'name': ''}]) == []


def test_codex_home_reads_resolve_on_the_host_to_what_codex_accounts_sends():
    """The survey resolves each read's codex_home against the owner's passwd home (as the module
    does, _codex_protocol.resolve_posix); the loop sends codex_accounts' codex_home: the same path,
    so codex_config matches the answer by the resolved path."""
    from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import resolve_posix
    users = ['alice', {'name': 'ci-runner', 'codex_home': '~/ci-codex'}]
    reads = ca.codex_home_reads(users)
    for read, account in zip(reads, ca.codex_accounts(users, PASSWD)):
        home = PASSWD[read['owner']][4]
        resolved = resolve_posix(read['codex_home'], home, lambda name: PASSWD[name][4])
        assert read['owner'] == account['name']
        assert resolved == account['codex_home'] or read['codex_home'] == account['codex_home']
