# -*- coding: utf-8 -*-
"""The action plugin against the real host side (plugins/modules/codex_config.py) in this process.

Only ``_execute_module`` is replaced: it calls the module's read and write phases directly, so the
requests, answers and files are real. Runs as root over a root-owned directory (access ``root``),
and over a throwaway account's home (access ``account``: the module's child drops to the account).
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess

import pytest

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import PROTOCOL_VERSION

from codex_action_fakes import BLOCK, KEY, OTHER_KEY, make_action

try:
    from ansible_collections.bytes4096.codex.plugins.modules import codex_config as target
    SPEAKS_PROTOCOL = hasattr(target, 'phase_write') and getattr(target.proto, 'PROTOCOL_VERSION', None) == PROTOCOL_VERSION
except Exception:  # noqa: B902 - the host side may be mid-rewrite; the tests say so instead of erroring
    target, SPEAKS_PROTOCOL = None, False

pytestmark = [
    pytest.mark.skipif(not SPEAKS_PROTOCOL, reason='the host side does not speak this protocol version yet'),
    pytest.mark.skipif(os.geteuid() != 0, reason='the host side is run as root, as playbooks run it'),
]


class RealHost(object):
    windows = False

    def __init__(self):
        self.phases = []

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        module_args = json.loads(json.dumps(module_args))
        phase, request = module_args['_codex_phase'], module_args['_codex_request']
        self.phases.append(phase)
        try:
            if phase == 'read':
                return {'changed': False, 'state': target.phase_read(request)}
            written, error = target.phase_write(request, module_args.get('_codex_secret'))
        except target.TargetError as exc:
            return {'failed': True, 'msg': str(exc)}
        if error is not None:
            return {'failed': True, 'msg': error, 'written': written, 'changed': target.written_changed(written)}
        return {'changed': target.written_changed(written), 'written': written}


def run(check_mode=False, play_context=None, **args):
    host = RealHost()
    action = make_action(args, host, check_mode=check_mode)
    for name, value in (play_context or {}).items():
        setattr(action._play_context, name, value)
    result = action.run(task_vars={})
    return result, host.phases


def test_root_home_first_run_then_idempotent(tmp_path):
    home = tmp_path / 'codex'
    result, phases = run(codex_home=str(home), block=BLOCK, api_key=KEY)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] and phases == ['read', 'write'] and result['key_fingerprint'] == key_fingerprint(KEY)
    assert stat.S_IMODE(os.stat(home / 'auth.json').st_mode) == 0o600
    assert json.loads((home / 'auth.json').read_text())['OPENAI_API_KEY'] == KEY
    again, phases = run(codex_home=str(home), block=BLOCK, api_key=KEY)
    assert not again['changed'] and phases == ['read']


def test_check_mode_prediction_matches_the_real_run(tmp_path):
    home = tmp_path / 'codex'
    run(codex_home=str(home), block=BLOCK, api_key=KEY)
    os.chmod(home / 'auth.json', 0o644)
    predicted, phases = run(check_mode=True, codex_home=str(home), block=BLOCK, api_key=OTHER_KEY)
    assert phases == ['read'] and (home / 'auth.json').stat().st_mode & 0o777 == 0o644
    real, dummy = run(codex_home=str(home), block=BLOCK, api_key=OTHER_KEY)
    for name in ('changed', 'config_changed', 'auth_changed', 'key_fingerprint', 'auth_mode', 'credentials'):
        assert predicted[name] == real[name], name
    assert stat.S_IMODE(os.stat(home / 'auth.json').st_mode) == 0o600


def test_concurrent_change_fails_unchanged_with_the_key_on_disk(tmp_path, monkeypatch):
    home = tmp_path / 'codex'
    run(codex_home=str(home), block=BLOCK, api_key=OTHER_KEY)
    real_read = target.phase_read

    def read_then_someone_edits(request, *args, **kwargs):
        state = real_read(request, *args, **kwargs)
        (home / 'config.toml').write_text(BLOCK + 'model_reasoning_effort = "high"\n')
        return state
    monkeypatch.setattr(target, 'phase_read', read_then_someone_edits)
    result, phases = run(codex_home=str(home), settings={'model': 'gpt-6'}, block=BLOCK, api_key=KEY)
    assert result['failed'] and 'changed on the host while this task ran' in result['msg']
    assert result['changed'] is False and result['auth_changed'] is False
    assert result['key_fingerprint'] == key_fingerprint(OTHER_KEY)


def test_offboard_removes_key_and_key_backups(tmp_path):
    home = tmp_path / 'codex'
    run(codex_home=str(home), block=BLOCK, api_key=OTHER_KEY, backup=True)
    run(codex_home=str(home), block=BLOCK, api_key=KEY, backup=True)
    assert [n for n in os.listdir(home) if n.startswith('auth.json.')]
    result, dummy = run(codex_home=str(home), block=BLOCK, state='absent')
    assert not result.get('failed'), result.get('msg')
    assert result['key_fingerprint'] is None and not (home / 'auth.json').exists()
    assert not [n for n in os.listdir(home) if n.startswith('auth.json')]
    assert str(home / 'auth.json') in result['removed_files']


@pytest.fixture(scope='module')
def account():
    if not shutil.which('useradd'):
        pytest.skip('needs useradd')
    name = 'cxa%d' % (os.getpid() % 100000)
    subprocess.run(['useradd', '-m', '-s', '/bin/sh', name], check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(['userdel', '-r', name], capture_output=True, check=False)


def test_account_home_written_as_the_account(account):
    result, phases = run(owner=account.pw_name, block=BLOCK, api_key=KEY)
    assert not result.get('failed'), result.get('msg')
    codex = os.path.join(account.pw_dir, '.codex')
    assert result['codex_home'] == codex and phases == ['read', 'write']
    for name in ('config.toml', 'auth.json'):
        st = os.stat(os.path.join(codex, name))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (account.pw_uid, 0o600)


def link_config_to_a_root_only_file(account, tmp_path):
    """What a hostile account does: its ~/.codex/config.toml -> a root-only file; (file, link)."""
    secret_file = tmp_path / 'root-only'
    secret_file.write_text('model = "root-only-content-zz"\n')
    os.chmod(secret_file, 0o600)
    codex = os.path.join(account.pw_dir, '.codex')
    os.makedirs(codex, exist_ok=True)
    os.chown(codex, account.pw_uid, account.pw_gid)
    link = os.path.join(codex, 'config.toml')
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(str(secret_file), link)
    os.lchown(link, account.pw_uid, account.pw_gid)
    return secret_file, link


def test_account_link_to_a_root_file_is_refused_in_check_mode_diff(account, tmp_path):
    secret_file, link = link_config_to_a_root_only_file(account, tmp_path)
    try:
        result, phases = run(check_mode=True, owner=account.pw_name, block=BLOCK)
        assert result['failed'] and 'diff' not in result
        assert 'root-only-content-zz' not in json.dumps(result)
        assert secret_file.read_text() == 'model = "root-only-content-zz"\n'
    finally:
        os.unlink(link)


# --- prefetched: codex_install_info's read of a home, then codex_config without a read trip ------

def survey_read(**item):
    """What codex_install_info's codex_homes returns for one item (the module's own function)."""
    from ansible_collections.bytes4096.codex.plugins.modules.codex_install_info import read_codex_home
    item = dict({'codex_home': None, 'owner': None, 'group': None, 'config_mode': None}, **item)
    return json.loads(json.dumps(read_codex_home(item)))


def test_a_prefetched_read_of_a_converged_account_home_costs_no_trip(account):
    run(owner=account.pw_name, block=BLOCK, api_key=KEY)
    prefetched = [survey_read(codex_home='~/.codex', owner=account.pw_name)]
    assert prefetched[0]['state']['access'] == 'account'
    codex = os.path.join(account.pw_dir, '.codex')
    result, phases = run(owner=account.pw_name, codex_home=codex, block=BLOCK, api_key=KEY, prefetched=prefetched)
    assert not result.get('failed'), result.get('msg')
    assert phases == [] and result['prefetched'] is True and not result['changed']
    assert result['key_fingerprint'] == key_fingerprint(KEY)


def test_a_prefetched_read_that_went_stale_is_refused_by_the_write_trip(account):
    run(owner=account.pw_name, block=BLOCK, api_key=KEY)
    prefetched = [survey_read(owner=account.pw_name)]
    config = os.path.join(account.pw_dir, '.codex', 'config.toml')
    with open(config, 'a', encoding='utf-8') as handle:
        handle.write('model_reasoning_effort = "high"\n')
    result, phases = run(owner=account.pw_name, block=BLOCK, settings={'model': 'gpt-6'}, api_key=KEY,
                         prefetched=prefetched)
    assert phases == ['write'] and result['prefetched'] is True
    assert result['failed'] and 'changed on the host while this task ran' in result['msg'] and not result['changed']
    with open(config, encoding='utf-8') as handle:
        assert 'model_reasoning_effort = "high"' in handle.read()


def test_a_prefetched_read_of_another_home_or_owner_is_not_used(account):
    run(owner=account.pw_name, block=BLOCK, api_key=KEY)
    other = [survey_read(codex_home='~/other-codex', owner=account.pw_name),
             survey_read(owner='root'),
             survey_read(owner=account.pw_name, config_mode='0644')]
    assert all('state' in answer for answer in other), other
    result, phases = run(owner=account.pw_name, block=BLOCK, api_key=KEY, prefetched=other)
    assert phases == ['read'] and result['prefetched'] is False and not result['changed']


def test_a_prefetched_read_is_used_only_when_the_task_runs_as_root(account):
    run(owner=account.pw_name, block=BLOCK, api_key=KEY)
    prefetched = [survey_read(owner=account.pw_name)]
    for context in ({'become': True, 'become_user': account.pw_name}, {'become': False, 'remote_user': 'ubuntu'}):
        result, phases = run(owner=account.pw_name, block=BLOCK, api_key=KEY, prefetched=prefetched,
                             play_context=context)
        assert phases == ['read'] and result['prefetched'] is False, context
    result, phases = run(owner=account.pw_name, block=BLOCK, api_key=KEY, prefetched=prefetched,
                         play_context={'become': True, 'become_user': 'root', 'remote_user': 'ubuntu'})
    assert phases == [] and result['prefetched'] is True


def test_a_prefetched_read_made_without_root_is_not_used(account):
    run(owner=account.pw_name, block=BLOCK, api_key=KEY)
    answer = survey_read(owner=account.pw_name)
    answer['state']['euid'] = account.pw_uid  # as the survey answers when it runs as the account
    result, phases = run(owner=account.pw_name, block=BLOCK, api_key=KEY, prefetched=[answer])
    assert phases == ['read'] and result['prefetched'] is False


def test_the_task_never_shows_the_prefetched_config_text(account):
    secret = 'sk-' + secrets.token_hex(16)  # a header secret of the account's, new each run
    run(owner=account.pw_name, block=BLOCK, api_key=KEY, settings={'mcp_servers': {'x': {
        'command': 'true', 'env': {'TOKEN': secret}}}})
    prefetched = [survey_read(owner=account.pw_name)]
    assert secret in json.dumps(prefetched)
    for diff in (False, True):
        result, phases = run(owner=account.pw_name, block=BLOCK, api_key=KEY, prefetched=prefetched,
                             settings={'model': 'gpt-6'} if diff else {})
        assert secret not in json.dumps(result), result
        assert result['invocation']['module_args']['prefetched'] == '1 read answer(s), not shown'
    run(owner=account.pw_name, block=BLOCK, api_key=KEY)


def test_a_prefetched_error_or_foreign_answer_falls_back_to_a_read_trip(account):
    run(owner=account.pw_name, block=BLOCK, api_key=KEY)
    good = survey_read(owner=account.pw_name)
    broken = dict(good, state=dict(good['state'], protocol=PROTOCOL_VERSION + 1))
    errored = {'request': good['request'], 'error': 'no such account'}
    for prefetched in ([broken], [errored], [{'request': 'x'}], [{'request': good['request'], 'state': 'x'}]):
        result, phases = run(owner=account.pw_name, block=BLOCK, api_key=OTHER_KEY, prefetched=prefetched)
        assert phases == ['read', 'write'] and result['prefetched'] is False, prefetched
        assert result['changed'] and result['key_fingerprint'] == key_fingerprint(OTHER_KEY)
        run(owner=account.pw_name, block=BLOCK, api_key=KEY)


def test_the_survey_reads_a_hostile_home_with_the_accounts_rights(account, tmp_path):
    secret_file, link = link_config_to_a_root_only_file(account, tmp_path)
    try:
        answer = survey_read(owner=account.pw_name)
        assert 'root-only-content-zz' not in json.dumps(answer)
        # the account cannot read it, so neither can the survey: an answer that says so by name
        assert 'state' not in answer and 'Permission denied' in answer['error']
        result, phases = run(owner=account.pw_name, block=BLOCK, api_key=KEY, prefetched=[answer])
        assert 'root-only-content-zz' not in json.dumps(result)
        assert secret_file.read_text() == 'model = "root-only-content-zz"\n'
        # codex_config reads for itself and is refused the same way
        assert result.get('failed') and phases == ['read'] and result['prefetched'] is False, result
        assert 'Permission denied' in result['msg']
    finally:
        os.unlink(link)


def test_prefetched_that_is_not_a_list_of_dictionaries_fails_before_any_trip(account):
    result, phases = run(owner=account.pw_name, block=BLOCK, api_key=KEY, prefetched=['not a dict'])
    assert result['failed'] and 'prefetched' in result['msg'] and phases == []
    assert KEY not in json.dumps(result)
