# -*- coding: utf-8 -*-
"""The action plugin: planning, the one-trip/two-trip contract, secrets, check/diff, Windows branch.

Only the connection boundary is faked: ``_execute_module`` runs the real target-side phases of the
module against a temporary directory (POSIX) or answers like the PowerShell module would (Windows).
"""
from __future__ import annotations

import json
import os
import stat
from unittest.mock import MagicMock

import pytest

from ansible_collections.bytes4096.codex.plugins.action import codex_config as action_mod
from ansible_collections.bytes4096.codex.plugins.modules import codex_config as target
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint

BLOCK = '''model_provider = "OpenAI"
model = "gpt-5.5"

[model_providers.OpenAI]
name = "OpenAI"
base_url = "https://api.4096bytes.com"
wire_api = "responses"
requires_openai_auth = true

[features]
goals = true
'''
KEY = 'sk-unit-' + 'a1B2c3D4e5F6g7H8'


class FakeModule(object):
    def selinux_enabled(self):
        return False


def make_action(args, shell_family='sh', check_mode=False, diff=True, no_log=False, responder=None):
    task = MagicMock()
    task.args = dict(args)
    task.check_mode = check_mode
    task.diff = diff
    task.no_log = no_log
    task.async_val = 0
    connection = MagicMock()
    connection._shell.SHELL_FAMILY = shell_family
    connection._shell._IS_WINDOWS = shell_family == 'powershell'
    connection._shell.tmpdir = None
    action = action_mod.ActionModule(task, connection, MagicMock(), MagicMock(), MagicMock(), MagicMock())
    calls = []

    def execute_module(module_name=None, module_args=None, task_vars=None, **kwargs):
        calls.append((module_name, json.loads(json.dumps(module_args))))
        return responder(module_args)
    action._execute_module = execute_module
    action._remove_tmp_path = lambda path: None
    return action, calls


def posix_responder(module_args):
    """Run the real module phases locally (what the module would do on a POSIX host)."""
    try:
        if module_args['_codex_phase'] == 'read':
            return {'changed': False, 'state': target.phase_read(module_args['_codex_request'])}
        written = target.phase_write(FakeModule(), module_args['_codex_request'], module_args.get('_codex_secret'))
        return {'changed': True, 'written': written}
    except target.TargetError as exc:
        return {'failed': True, 'msg': str(exc)}


def run(home, check_mode=False, diff=True, **args):
    args.setdefault('codex_home', str(home))
    action, calls = make_action(args, check_mode=check_mode, diff=diff, responder=posix_responder)
    return action.run(task_vars={}), calls


def test_first_run_two_trips_then_one(tmp_path):
    home = tmp_path / 'codex'
    result, calls = run(home, block=BLOCK, api_key=KEY)
    assert result['changed'] and result['config_changed'] and result['auth_changed']
    assert [c[1]['_codex_phase'] for c in calls] == ['read', 'write']
    assert all(c[0] == 'bytes4096.codex.codex_config' for c in calls)
    assert result['key_fingerprint'] == key_fingerprint(KEY)
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    again, calls = run(home, block=BLOCK, api_key=KEY)
    assert not again['changed'] and len(calls) == 1  # exactly ONE execution when nothing changes


def test_key_travels_only_on_the_write_trip_and_never_back(tmp_path):
    result, calls = run(tmp_path, block=BLOCK, api_key='  %s\n' % KEY)
    read_args, write_args = calls[0][1], calls[1][1]
    assert KEY not in json.dumps(read_args)
    assert write_args['_codex_secret'] == KEY  # stripped
    assert KEY not in json.dumps(write_args['_codex_request'])
    assert KEY not in json.dumps(result)
    assert result['invocation']['module_args']['api_key'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert json.loads((tmp_path / 'auth.json').read_text())['OPENAI_API_KEY'] == KEY


def test_rotation_changes_only_auth(tmp_path):
    run(tmp_path, block=BLOCK, api_key=KEY)
    before = (tmp_path / 'config.toml').read_bytes()
    result, calls = run(tmp_path, block=BLOCK, api_key=KEY + 'x')
    assert result['auth_changed'] and not result['config_changed']
    assert 'text' not in calls[1][1]['_codex_request']['config']
    assert (tmp_path / 'config.toml').read_bytes() == before
    assert result['previous_key_fingerprint'] == key_fingerprint(KEY)
    assert result['key_fingerprint'] == key_fingerprint(KEY + 'x')
    diffs = result['diff']
    assert len(diffs) == 1 and diffs[0]['after'] == 'OPENAI_API_KEY fingerprint: %s\n' % key_fingerprint(KEY + 'x')
    assert KEY not in json.dumps(diffs)


def test_check_mode_predicts_and_writes_nothing(tmp_path):
    result, calls = run(tmp_path, check_mode=True, block=BLOCK, api_key=KEY)
    assert result['changed'] and result['config_changed'] and result['auth_changed']
    assert len(calls) == 1 and os.listdir(tmp_path) == []
    assert 'model_provider = "OpenAI"' in result['diff'][0]['after']


def test_no_diff_unless_asked(tmp_path):
    result, dummy = run(tmp_path, diff=False, block=BLOCK, api_key=KEY)
    assert 'diff' not in result


def test_audit_without_key_reports_stored_fingerprint(tmp_path):
    run(tmp_path, block=BLOCK, api_key=KEY)
    result, calls = run(tmp_path, check_mode=True)
    assert not result['changed'] and result['key_fingerprint'] == key_fingerprint(KEY) and len(calls) == 1


@pytest.mark.parametrize('bad', ['', '  \n', 'sk-a\nb', 'sk a', 'sk-\x07'])
def test_bad_key_fails_before_any_trip_without_echo(tmp_path, bad):
    result, calls = run(tmp_path, block=BLOCK, api_key=bad)
    assert result['failed'] and calls == []
    if bad.strip():
        assert bad.strip() not in result['msg'] and 'sk-' not in result['msg']


def test_broken_block_fails_before_any_trip(tmp_path):
    result, calls = run(tmp_path, block='model = \n', api_key=KEY)
    assert result['failed'] and result['msg'].startswith('block, line 1') and calls == []


def test_broken_config_fails_and_writes_nothing(tmp_path):
    (tmp_path / 'config.toml').write_text('a = 1\n[oops\n')
    result, calls = run(tmp_path, block=BLOCK, api_key=KEY)
    assert result['failed'] and '%s, line 2, column' % (tmp_path / 'config.toml') in result['msg']
    assert len(calls) == 1 and not (tmp_path / 'auth.json').exists()


def test_broken_auth_fails_and_writes_nothing(tmp_path):
    (tmp_path / 'auth.json').write_text('{"OPENAI_API_KEY": "sk-old",}')
    result, calls = run(tmp_path, block=BLOCK, api_key=KEY)
    assert result['failed'] and 'auth.json, line 1, column' in result['msg'] and 'sk-old' not in result['msg']
    assert len(calls) == 1 and not (tmp_path / 'config.toml').exists()


def test_force_replaces_broken_auth(tmp_path):
    (tmp_path / 'auth.json').write_text('{nope')
    result, dummy = run(tmp_path, block=BLOCK, api_key=KEY, force=True)
    assert result['auth_changed'] and stat.S_IMODE(os.stat(result['auth_backup_file']).st_mode) == 0o600


def test_model_provider_naming_nothing_fails(tmp_path):
    result, calls = run(tmp_path, block='model_provider = "Nope"\n', api_key=KEY)
    assert result['failed'] and "'Nope' names no provider" in result['msg'] and len(calls) == 1
    assert os.listdir(tmp_path) == []


def test_system_layer_without_key(tmp_path):
    home = tmp_path / 'etc-codex'
    result, calls = run(home, settings={'check_for_update_on_startup': False}, config_mode='0644')
    assert result['config_changed'] and not result['auth_changed']
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(home / 'config.toml').st_mode) == 0o644
    assert not (home / 'auth.json').exists()


def test_absent_removes_block_and_key(tmp_path):
    (tmp_path / 'config.toml').write_text('# mine\n[tui]\na = 1\n')
    run(tmp_path, block=BLOCK, api_key=KEY)
    result, dummy = run(tmp_path, block=BLOCK, state='absent')
    assert result['config_changed'] and result['auth_changed'] and result['key_fingerprint'] is None
    assert (tmp_path / 'config.toml').read_text() == '# mine\n[tui]\na = 1\n'
    assert not (tmp_path / 'auth.json').exists()


def test_mode_drift_is_reported_and_fixed(tmp_path):
    run(tmp_path, block=BLOCK, api_key=KEY)
    os.chmod(tmp_path / 'auth.json', 0o644)
    check, dummy = run(tmp_path, check_mode=True, block=BLOCK, api_key=KEY)
    assert check['changed'] and check['auth_changed'] and not check['config_changed']
    fixed, dummy = run(tmp_path, block=BLOCK, api_key=KEY)
    assert fixed['auth_changed'] and stat.S_IMODE(os.stat(tmp_path / 'auth.json').st_mode) == 0o600


def test_no_log_task_censors_invocation(tmp_path):
    action, dummy = make_action({'codex_home': str(tmp_path), 'api_key': KEY}, no_log=True, responder=posix_responder)
    assert action.run(task_vars={})['invocation'] == 'CENSORED: no_log is set'


# --- Windows branch (the PowerShell module itself is not executed here) -------------------------

WIN_HOME = 'C:\\Users\\alice\\.codex'


def windows_state(config_text=None, auth=None):
    config = {'path': WIN_HOME + '\\config.toml', 'exists': config_text is not None, 'is_link': False}
    if config_text is not None:
        config.update(text=config_text, sha256='abc')
    return {'user': {'name': 'alice'}, 'group_gid': None,
            'home': {'path': WIN_HOME, 'exists': config_text is not None, 'parent_exists': True},
            'config': config,
            'auth': auth or {'path': WIN_HOME + '\\auth.json', 'exists': False}}


def windows_responder(state):
    """Answer like ansible.windows.win_powershell running plugin_utils/_codex_config_windows.ps1."""
    def respond(module_args):
        assert 'param(' in module_args['script'] and 'Invoke-WritePhase' in module_args['script']
        params = module_args['parameters']
        request = json.loads(params['RequestJson'])
        if params['Phase'] == 'read':
            return {'changed': False, 'result': {'state': state}, 'output': []}
        return {'changed': True, 'output': [],
                'result': {'written': {'config': {'changed': 'text' in request['config']},
                                       'auth': {'changed': True, 'key_fingerprint': key_fingerprint(KEY)},
                                       'home_created': True}}}
    return respond


def test_windows_shell_selects_windows_branch():
    action, dummy = make_action({}, shell_family='powershell', responder=None)
    assert action._is_windows()
    action, dummy = make_action({}, shell_family='sh', responder=None)
    assert not action._is_windows()


def test_windows_new_files_crlf_and_acl_request():
    action, calls = make_action({'owner': 'alice', 'block': BLOCK, 'api_key': KEY}, shell_family='powershell',
                                responder=windows_responder(windows_state()))
    result = action.run(task_vars={})
    assert result['changed'] and result['config_path'] == WIN_HOME + '\\config.toml'
    assert [c[0] for c in calls] == ['ansible.windows.win_powershell'] * 2
    read_req = json.loads(calls[0][1]['parameters']['RequestJson'])
    assert read_req == {'home': None, 'owner': 'alice', 'group': None, 'want_auth': True}
    assert 'sensitive_parameters' not in calls[0][1]
    write_req = json.loads(calls[1][1]['parameters']['RequestJson'])
    assert KEY not in calls[1][1]['parameters']['RequestJson']
    assert write_req['create_home'] == {'owner': 'alice'}
    assert write_req['config']['text'].count('\r\n') == write_req['config']['text'].count('\n')
    assert 'mode' not in write_req['config'] and 'uid' not in write_req['auth']
    assert write_req['config']['owner'] == 'alice' and write_req['auth']['owner'] == 'alice'
    assert calls[1][1]['sensitive_parameters'] == [{'name': 'Secret', 'value': KEY}]
    assert KEY not in json.dumps(result)


def test_windows_failure_message_comes_from_the_script():
    def respond(module_args):
        return {'failed': True, 'result': {'msg': "owner 'zoe' does not exist on the host"}}
    action, dummy = make_action({'owner': 'zoe'}, shell_family='powershell', responder=respond)
    assert action.run(task_vars={})['msg'] == "owner 'zoe' does not exist on the host"


def test_windows_unchanged_is_one_trip_and_acl_drift_detected():
    state = windows_state('model = "x"\n', {'path': WIN_HOME + '\\auth.json', 'exists': True, 'valid': True,
                                            'key_present': True, 'key_fingerprint': key_fingerprint(KEY),
                                            'auth_mode': 'apikey', 'private': True})
    action, calls = make_action({'settings': {'model': 'x'}, 'api_key': KEY}, shell_family='powershell',
                                responder=windows_responder(state))
    assert not action.run(task_vars={})['changed'] and len(calls) == 1
    state['auth']['private'] = False
    action, calls = make_action({'settings': {'model': 'x'}, 'api_key': KEY}, shell_family='powershell',
                                check_mode=True, responder=windows_responder(state))
    result = action.run(task_vars={})
    assert result['auth_changed'] and not result['config_changed']


def test_windows_refuses_posix_only_options():
    action, calls = make_action({'config_mode': '0644', 'settings': {'a': 1}}, shell_family='powershell',
                                responder=windows_responder(windows_state()))
    result = action.run(task_vars={})
    assert result['failed'] and 'POSIX options' in result['msg']


def test_windows_script_ships_with_the_collection_and_posix_module_stays_python():
    from ansible.plugins.loader import module_loader
    assert os.path.isfile(action_mod.WINDOWS_SCRIPT_PATH)
    with open(action_mod.WINDOWS_SCRIPT_PATH) as handle:
        script = handle.read()
    assert 'SupportsShouldProcess' in script  # win_powershell runs it in check mode (read phase)
    assert '[SecureString]$Secret' in script
    found = module_loader.find_plugin_with_context('bytes4096.codex.codex_config', mod_type='.ps1')
    assert not found.resolved  # a .ps1 module would be picked for POSIX hosts too
    found = module_loader.find_plugin_with_context('bytes4096.codex.codex_config', mod_type='.py')
    assert found.plugin_resolved_path.endswith(os.path.join('modules', 'codex_config.py'))
    found = module_loader.find_plugin_with_context('ansible.windows.win_powershell', mod_type='.ps1')
    assert found.resolved


def test_parse_mode():
    assert action_mod.parse_mode('0644') == 0o644 and action_mod.parse_mode(0o600) == 0o600
    with pytest.raises(action_mod.PlanError):
        action_mod.parse_mode('rw-r--r--')
    assert action_mod.home_mode(0o644) == 0o755 and action_mod.home_mode(0o640) == 0o750
    assert action_mod.home_mode(None) == 0o700


# --- hardening (real-world review) -----------------------------------------------------------------

@pytest.mark.parametrize('bad', [['sk-list-' + 'x9y8z7'], 12345678901234])
def test_non_string_key_is_refused_not_written_as_its_repr(tmp_path, bad):
    result, calls = run(tmp_path, block=BLOCK, api_key=bad)
    assert result['failed'] and 'api_key must be a string' in result['msg']
    assert 'x9y8z7' not in json.dumps(result) and '12345678901234' not in json.dumps(result)
    assert calls == [] and os.listdir(tmp_path) == []


def test_paste_leftovers_are_removed_with_a_warning(tmp_path):
    (tmp_path / 'config.toml').write_text('[features]\ngoals = true\nmodel = "gpt-4"\n')
    result, dummy = run(tmp_path, block=BLOCK)
    assert result['changed'] and 'removed features.model' in result['warnings'][0]
    assert 'gpt-4' not in (tmp_path / 'config.toml').read_text()


def _state(tmp_path, euid, owner_uid):
    state = target.phase_read({'home': str(tmp_path / 'codex'), 'owner': None, 'group': None, 'want_auth': True})
    state['euid'] = euid
    state['user'] = dict(state['user'], uid=owner_uid, gid=owner_uid)
    return state


def test_unprivileged_run_cannot_give_files_to_another_owner(tmp_path):
    state = _state(tmp_path, euid=1000, owner_uid=1001)
    with pytest.raises(action_mod.PlanError, match='cannot change owners'):
        action_mod.plan({'owner': 'bob', 'block': BLOCK, 'api_key': KEY, 'state': 'present'}, state)
    # running as the owner itself (become_user: owner) is fine
    decided = action_mod.plan({'owner': 'alice', 'block': BLOCK, 'api_key': KEY, 'state': 'present'},
                              _state(tmp_path, euid=1001, owner_uid=1001))
    assert decided['changed'] and decided['request']['create_home']['uid'] == 1001
