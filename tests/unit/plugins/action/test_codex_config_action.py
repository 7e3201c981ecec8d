# -*- coding: utf-8 -*-
"""The action plugin: trips, secrets, check/diff, failure reporting, the Windows branch.

Only the connection boundary is faked (codex_action_fakes.FakeHost): every request it receives and
every answer it gives is checked against the protocol schema.
"""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.bytes4096.codex.plugins.action import codex_config as action_mod
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import (
    PROTOCOL_VERSION, SCHEMA, validate_request,
)
from ansible_collections.bytes4096.codex.plugins.plugin_utils import _codex_plan as planner

from codex_action_fakes import (
    BLOCK, HOME, KEY, OTHER_KEY, WIN_HOME, FakeHost, auth_info, config_info, make_action, path_info,
    read_response, run, write_response,
)

FP, OTHER_FP = key_fingerprint(KEY), key_fingerprint(OTHER_KEY)


# --- trips and secrets --------------------------------------------------------------------------

def test_first_run_two_trips_then_one():
    host = FakeHost(read_response())
    result = run(host, block=BLOCK, api_key=KEY)
    assert result['changed'] and result['config_changed'] and result['auth_changed']
    assert host.phases() == ['read', 'write'] and result['key_fingerprint'] == FP
    host = FakeHost(read_response(config_info(BLOCK), auth_info(KEY)))
    again = run(host, block=BLOCK, api_key=KEY)
    assert not again['changed'] and host.phases() == ['read']  # ONE execution when nothing changes


def test_read_request_shape():
    host = FakeHost(read_response())
    run(host, owner='alice', codex_home='~/.codex', config_mode='0640', block=BLOCK)
    assert host.request('read') == {'protocol': PROTOCOL_VERSION, 'codex_home': '~/.codex', 'owner': 'alice',
                                    'group': None, 'config_mode': '0640', 'want_auth': True}


def test_key_travels_only_on_the_write_trip_and_never_back():
    host = FakeHost(read_response())
    result = run(host, block=BLOCK, api_key='  %s\n' % KEY)
    read_args, write_args = host.calls[0][1], host.calls[1][1]
    assert KEY not in json.dumps(read_args) and write_args['_codex_secret'] == KEY
    assert KEY not in json.dumps(write_args['_codex_request'])
    assert KEY not in json.dumps(result)
    assert result['invocation']['module_args']['api_key'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_rotation_sends_no_config_text_and_reports_fingerprints():
    host = FakeHost(read_response(config_info(BLOCK), auth_info(KEY)))
    result = run(host, block=BLOCK, api_key=OTHER_KEY)
    assert result['auth_changed'] and not result['config_changed']
    assert host.request('write')['config']['text'] is None
    assert result['previous_key_fingerprint'] == FP and result['key_fingerprint'] == OTHER_FP
    assert result['diff'] == [{'before_header': HOME + '/auth.json', 'after_header': HOME + '/auth.json',
                               'before': 'OPENAI_API_KEY fingerprint: %s\n' % FP,
                               'after': 'OPENAI_API_KEY fingerprint: %s\n' % OTHER_FP}]


def test_check_mode_predicts_and_makes_one_trip():
    host = FakeHost(read_response())
    result = run(host, check_mode=True, block=BLOCK, api_key=KEY)
    assert result['changed'] and result['config_changed'] and result['auth_changed']
    assert host.phases() == ['read'] and 'model_provider = "OpenAI"' in result['diff'][0]['after']
    assert result['auth_mode'] == 'apikey' and result['credentials'] == 'apikey'


def test_no_diff_unless_asked():
    assert 'diff' not in run(FakeHost(read_response()), diff=False, block=BLOCK, api_key=KEY)


def test_audit_without_key_reports_stored_state():
    host = FakeHost(read_response(config_info(BLOCK), auth_info(KEY, auth_mode='chatgpt', tokens='ok',
                                                                credentials='chatgpt'),
                                  loose_modes=[{'path': HOME, 'mode': '0755', 'wanted': '0700'}]))
    result = run(host, check_mode=True)
    assert result['key_fingerprint'] == FP and result['credentials'] == 'chatgpt' and result['auth_mode'] == 'chatgpt'
    assert result['loose_modes'] == [{'path': HOME, 'mode': '0755', 'wanted': '0700'}]
    assert result['repaired'] == ['%s: 0755 -> 0700' % HOME] and result['changed']


def test_write_response_values_pass_through():
    def write(request, secret):
        return write_response(config_changed=True, auth_changed=True, fingerprint=key_fingerprint(secret),
                              auth_exists=True, repaired=[HOME + ': 0755 -> 0700'],
                              removed_files=[HOME + '/.config.toml.x.tmp'], backup_file=HOME + '/auth.json.1~',
                              tokens_backed_up=True)
    host = FakeHost(read_response(auth=auth_info(KEY, tokens='unparseable')), write=write)
    result = run(host, block=BLOCK, api_key=KEY, lock_timeout=5)
    assert host.request('write')['lock_timeout'] == 5
    assert result['repaired'] == [HOME + ': 0755 -> 0700'] and result['removed_files'] == [HOME + '/.config.toml.x.tmp']
    assert result['auth_backup_file'] == HOME + '/auth.json.1~' and result['credentials'] == 'apikey'
    assert any('kept in %s/auth.json.1~' % HOME in w for w in result['warnings'])


def test_no_log_task_censors_invocation():
    action = make_action({'api_key': KEY}, FakeHost(read_response()), no_log=True)
    assert action.run(task_vars={})['invocation'] == 'CENSORED: no_log is set'


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize('bad', ['', '  \n', 'sk-a\nb', 'sk a', 'sk-\x07'])
def test_bad_key_fails_before_any_trip_without_echo(bad):
    host = FakeHost(read_response())
    result = run(host, block=BLOCK, api_key=bad)
    assert result['failed'] and host.calls == [] and not result['changed']
    if bad.strip():
        assert 'sk-' not in result['msg']


@pytest.mark.parametrize('bad, words', [(['sk-list-' + 'x9y8z7'], 'a list'), (12345678901234, 'a number'),
                                        (1.5, 'a number'), (True, 'a boolean'), ({'k': 'sk-dict-q1w2'}, 'a dictionary')])
def test_non_string_key_is_refused_in_plain_words(bad, words):
    host = FakeHost(read_response())
    result = run(host, block=BLOCK, api_key=bad)
    assert result['failed'] and result['msg'] == 'api_key must be a string, not %s (the value is not shown)' % words
    assert 'x9y8z7' not in json.dumps(result) and '12345678901234' not in json.dumps(result)
    assert 'q1w2' not in json.dumps(result) and host.calls == []


def test_non_string_key_from_ansible_tagged_value_names_no_class():
    try:
        from ansible.module_utils._internal._datatag import AnsibleTagHelper
        from ansible._internal._datatag._tags import Origin
    except ImportError:
        pytest.skip('this ansible-core has no data tagging')
    tagged = AnsibleTagHelper.tag(12345, [Origin(path='/x.yml', line_num=1)])
    result = run(FakeHost(read_response()), api_key=tagged)
    assert 'Tagged' not in result['msg'] and 'a number' in result['msg']


def test_broken_block_fails_before_any_trip():
    host = FakeHost(read_response())
    result = run(host, block='model = \n', api_key=KEY)
    assert result['failed'] and result['msg'].startswith('block, line 1') and host.calls == []


def test_bad_lock_timeout_and_config_mode_fail_before_any_trip():
    host = FakeHost(read_response())
    assert 'lock_timeout' in run(host, block=BLOCK, lock_timeout=0)['msg']
    assert 'lets others change' in run(host, block=BLOCK, config_mode='0666')['msg']
    assert host.calls == []


@pytest.mark.parametrize('home', ['relative/.codex', '$HOME/.codex', '%USERPROFILE%\\.codex'])
def test_codex_home_neither_side_resolves_fails_before_any_trip(home):
    host = FakeHost(read_response())
    result = run(host, codex_home=home, block=BLOCK)
    assert result['failed'] and result['msg'] == 'codex_home must be an absolute path or start with ~, not %r' % home
    assert host.calls == [] and result['changed'] is False


def test_model_provider_naming_nothing_fails_after_the_read():
    host = FakeHost(read_response())
    result = run(host, block='model_provider = "Nope"\n', api_key=KEY)
    assert result['failed'] and "'Nope' names no provider" in result['msg'] and host.phases() == ['read']


# --- failures report the truth ------------------------------------------------------------------

def test_read_failure_is_not_changed_and_claims_no_fingerprint():
    host = FakeHost(read_response(), fail_read="owner 'zoe' does not exist on the host")
    result = run(host, owner='zoe', block=BLOCK, api_key=KEY)
    assert result['failed'] and result['msg'] == "owner 'zoe' does not exist on the host"
    assert result['changed'] is False and result.get('key_fingerprint') is None


def test_write_failure_before_any_write_keeps_the_previous_fingerprint():
    host = FakeHost(read_response(config_info(BLOCK), auth_info(OTHER_KEY)),
                    fail_write='%s/config.toml changed on the host while this task ran; nothing was written' % HOME)
    result = run(host, block=BLOCK, api_key=KEY)
    assert result['failed'] and result['changed'] is False
    assert not result['config_changed'] and not result['auth_changed']
    assert result['key_fingerprint'] == OTHER_FP and result['previous_key_fingerprint'] == OTHER_FP
    assert result['repaired'] == [] and result['removed_files'] == [] and 'diff' not in result


def test_partial_write_reports_only_what_was_written():
    partial = write_response(config_changed=True, auth_changed=False, fingerprint=OTHER_FP, auth_exists=True)
    host = FakeHost(read_response(config_info('model = "old"\n'), auth_info(OTHER_KEY)),
                    fail_write='%s/auth.json: No space left on device' % HOME, partial=partial)
    result = run(host, block=BLOCK, api_key=KEY)
    assert result['failed'] and result['changed'] is True
    assert result['config_changed'] is True and result['auth_changed'] is False
    assert result['key_fingerprint'] == OTHER_FP  # the key on the host, not the one meant
    assert [d['before_header'] for d in result['diff']] == [HOME + '/config.toml']


def test_partial_write_without_read_back_falls_back_to_the_previous_fingerprint():
    partial = write_response(config_changed=False, auth_changed=False, auth_exists=None)
    host = FakeHost(read_response(config_info(BLOCK), auth_info(OTHER_KEY)), fail_write='lock timeout', partial=partial)
    result = run(host, block=BLOCK, api_key=KEY)
    assert result['changed'] is False and result['key_fingerprint'] == OTHER_FP


def test_unparsable_partial_answer_proves_nothing():
    host = FakeHost(read_response(auth=auth_info(OTHER_KEY)), fail_write='boom')
    host.partial = None
    result = run(host, block=BLOCK, api_key=KEY)
    assert result['changed'] is False and result['key_fingerprint'] == OTHER_FP


def test_plan_refusal_reports_the_stored_fingerprint():
    host = FakeHost(read_response(config_info('a = 1\n[oops\n'), auth_info(OTHER_KEY)))
    result = run(host, block=BLOCK, api_key=KEY)
    assert result['failed'] and '%s/config.toml, line 2' % HOME in result['msg']
    assert result['changed'] is False and result['key_fingerprint'] == OTHER_FP and host.phases() == ['read']


def test_protocol_mismatch_is_a_clear_failure():
    read = read_response()
    host = FakeHost(read)
    host.read = dict(read, protocol=PROTOCOL_VERSION + 1)
    result = run(host, block=BLOCK)
    assert result['failed'] and 'do not match' in result['msg'] and result['changed'] is False


# --- diff ---------------------------------------------------------------------------------------

def test_diff_masks_secret_looking_values():
    existing = ('[model_providers.corp]\nname = "Corp"\nbase_url = "https://c"\n'
                'http_headers = { Authorization = "Bearer sk-hdr-55aa66bb" }\n'
                '[mcp_servers.gh]\ncommand = "x"\nenv = { GH_TOKEN = "ghp_77cc88dd" }\n')
    result = run(FakeHost(read_response(config_info(existing))), check_mode=True, block=BLOCK)
    text = json.dumps(result['diff'])
    assert 'sk-hdr-55aa66bb' not in text and 'ghp_77cc88dd' not in text and 'gpt-5.5' in text


def test_check_mode_diff_on_a_refused_link_gives_the_refusal_not_content():
    host = FakeHost(read_response(), fail_read='%s/config.toml is a link to /etc/shadow, which alice does not '
                                               'own; refusing to follow it' % HOME)
    result = run(host, check_mode=True, block=BLOCK)
    assert result['failed'] and 'refusing to follow' in result['msg'] and 'diff' not in result
    # a host that reports the link but no object (it did not open it) is refused by the planner too
    info = config_info()
    info.update(exists=True, is_link=True, link_target='/etc/shadow', real_path='/etc/shadow', type=None)
    result = run(FakeHost(read_response(info)), check_mode=True, block=BLOCK)
    assert result['failed'] and 'refused to follow' in result['msg'] and 'diff' not in result


def test_diff_never_holds_text_when_the_host_reports_an_error():
    info = config_info('root:$6$secret-hash-zz:19000:0:99999:7:::\n')
    info['error'] = {'msg': 'not valid UTF-8', 'line': 1, 'column': 1}
    result = run(FakeHost(read_response(info)), check_mode=True, block=BLOCK)
    assert result['failed'] and 'secret-hash-zz' not in json.dumps(result)


# --- credentials (merge engine support) ---------------------------------------------------------

@pytest.mark.skipif(not planner.MERGE_STRIPS_CREDENTIALS, reason='merge engine without strip_credentials')
@pytest.mark.parametrize('check_mode', [True, False])
def test_writing_the_key_warns_about_each_removed_credential(check_mode):
    existing = BLOCK.replace('requires_openai_auth = true',
                             'requires_openai_auth = true\nenv_key = "BYTES_KEY"\n'
                             'experimental_bearer_token = "sk-bearer-99xx"')
    result = run(FakeHost(read_response(config_info(existing))), check_mode=check_mode, block=BLOCK, api_key=KEY)
    warning = [w for w in result['warnings'] if 'credential' in w]
    assert len(warning) == 1
    assert 'model_providers.OpenAI.env_key' in warning[0] and 'model_providers.OpenAI.experimental_bearer_token' in warning[0]
    assert 'sk-bearer-99xx' not in json.dumps(result)


@pytest.mark.skipif(not planner.MERGE_STRIPS_CREDENTIALS, reason='merge engine without strip_credentials')
def test_without_a_key_credentials_are_left_alone():
    existing = BLOCK.replace('requires_openai_auth = true', 'requires_openai_auth = true\nenv_key = "BYTES_KEY"')
    result = run(FakeHost(read_response(config_info(existing))), check_mode=True, block=BLOCK)
    assert not result['changed'] and not result.get('warnings')


def test_absent_forces_a_config_backup_when_a_provider_goes_with_extra_keys():
    existing = BLOCK.replace('requires_openai_auth = true', 'requires_openai_auth = true\nrequest_max_retries = 4')
    host = FakeHost(read_response(config_info(existing), auth_info(KEY)))
    result = run(host, block=BLOCK, state='absent')
    if not any('request_max_retries' in w for w in result.get('warnings', [])):
        pytest.skip('merge engine does not report removed_with_provider yet')
    assert host.request('write')['config']['backup'] is True
    assert host.request('write')['purge_key_backups'] is True


# --- Windows branch (the PowerShell script itself is not executed here) -------------------------

def windows_read(config=None, auth=None, home_exists=True):
    home = path_info(WIN_HOME, exists=home_exists, kind='directory', mode=None, uid=None, gid=None,
                     **({} if home_exists else {'parent_exists': True}))
    return read_response(config or config_info(home=WIN_HOME, mode=None, uid=None, gid=None),
                         auth or auth_info(home=WIN_HOME, mode=None, uid=None, gid=None),
                         home=home, platform='windows', access='self')


def test_windows_shell_selects_windows_branch():
    assert make_action({}, FakeHost(windows_read(), windows=True))._is_windows()
    assert not make_action({}, FakeHost(read_response()))._is_windows()


def test_windows_and_posix_get_the_same_request_shape():
    posix_host = FakeHost(read_response(home=path_info(HOME, exists=False, kind='directory', parent_exists=True)))
    windows_host = FakeHost(windows_read(home_exists=False), windows=True)
    for host in (posix_host, windows_host):
        run(host, owner='alice', block=BLOCK, api_key=KEY)
    for phase in ('read', 'write'):
        posix_request, windows_request = posix_host.request(phase), windows_host.request(phase)
        validate_request(phase, posix_request)
        validate_request(phase, windows_request)
        assert set(posix_request) == set(windows_request) == set(SCHEMA['%s_request' % phase]['fields'])
    write = windows_host.request('write')
    assert write['codex_home'] == WIN_HOME and write['create_home'] is True and write['config_mode'] is None
    assert write['config']['text'].count('\r\n') == write['config']['text'].count('\n')
    assert write['owner'] == 'alice' and write['auth']['op'] == 'set'


def test_windows_key_is_a_sensitive_parameter_only_on_the_write_trip():
    host = FakeHost(windows_read(), windows=True)
    result = run(host, owner='alice', block=BLOCK, api_key=KEY)
    assert [c[0] for c in host.calls] == ['ansible.windows.win_powershell'] * 2
    assert 'sensitive_parameters' not in host.calls[0][1]
    assert host.calls[1][1]['sensitive_parameters'] == [{'name': 'Secret', 'value': KEY}]
    assert KEY not in host.calls[1][1]['parameters']['RequestJson'] and KEY not in json.dumps(result)
    assert result['config_path'] == WIN_HOME + '\\config.toml'


def test_windows_failure_message_and_partial_write():
    partial = write_response(config_changed=True, fingerprint=None, auth_exists=False, access='self')
    host = FakeHost(windows_read(), windows=True, fail_write='Access to the path is denied', partial=partial)
    result = run(host, owner='alice', block=BLOCK, api_key=KEY)
    assert result['msg'] == 'Access to the path is denied' and result['changed'] is True
    assert result['config_changed'] and not result['auth_changed'] and result['key_fingerprint'] is None


def test_windows_acl_drift_is_one_write_without_key():
    auth = auth_info(KEY, home=WIN_HOME, mode=None, uid=None, gid=None, private=False)
    host = FakeHost(windows_read(config_info('model = "x"\n', home=WIN_HOME, mode=None, uid=None, gid=None), auth),
                    windows=True)
    result = run(host, settings={'model': 'x'}, api_key=KEY)
    assert result['auth_changed'] and not result['config_changed']
    assert host.request('write')['auth'] == {'op': None, 'only_fingerprint': None, 'force': False, 'backup': False}
    assert 'sensitive_parameters' not in host.calls[1][1]


def test_windows_loose_home_acl_alone_makes_a_write_trip():
    read = windows_read(config_info('model = "x"\n', home=WIN_HOME, mode=None, uid=None, gid=None, private=True))
    read['home']['private'] = False
    predicted = run(FakeHost(read, windows=True), check_mode=True, settings={'model': 'x'})
    assert predicted['changed'] and predicted['repaired'][0].startswith(WIN_HOME + ': ACL')
    host = FakeHost(read, windows=True)
    run(host, settings={'model': 'x'})
    assert host.phases() == ['read', 'write']
    assert host.request('write')['auth'] is None and host.request('write')['config']['text'] is None


def test_windows_refuses_posix_only_options_before_any_trip():
    host = FakeHost(windows_read(), windows=True)
    result = run(host, config_mode='0644', settings={'a': 1})
    assert result['failed'] and 'POSIX options' in result['msg'] and host.calls == []


def test_platform_mismatch_is_refused():
    host = FakeHost(windows_read())  # a POSIX connection answered by the Windows side
    result = run(host, block=BLOCK)
    assert result['failed'] and 'windows host side' in result['msg']


def test_windows_script_ships_with_the_collection_and_posix_module_stays_python():
    from ansible.plugins.loader import module_loader
    assert os.path.isfile(action_mod.WINDOWS_SCRIPT_PATH)
    found = module_loader.find_plugin_with_context('bytes4096.codex.codex_config', mod_type='.ps1')
    assert not found.resolved  # a .ps1 module would be picked for POSIX hosts too
    found = module_loader.find_plugin_with_context('bytes4096.codex.codex_config', mod_type='.py')
    assert found.plugin_resolved_path.endswith(os.path.join('modules', 'codex_config.py'))
