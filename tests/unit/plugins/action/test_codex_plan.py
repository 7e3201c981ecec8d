# -*- coding: utf-8 -*-
"""The planners, each on its own, then their combination into one write request."""
from __future__ import annotations

import pytest

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import validate_request
from ansible_collections.bytes4096.codex.plugins.plugin_utils import _codex_plan as planner
from ansible_collections.bytes4096.codex.plugins.plugin_utils._codex_plan_attrs import (
    PlanError, PosixAttributes, WindowsAttributes,
)
from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import MergeResult, TomlMergeError

from codex_action_fakes import (
    BLOCK, HOME, KEY, OTHER_KEY, WIN_HOME, auth_info, config_info, path_info, read_response,
)

FP, OTHER_FP = key_fingerprint(KEY), key_fingerprint(OTHER_KEY)
REPORTS_REMOVED_WITH_PROVIDER = 'removed_with_provider' in getattr(MergeResult, '__slots__', ())


def posix(read=None, config_mode=None):
    return PosixAttributes(config_mode).bind(read or read_response())


def args(**values):
    values.setdefault('state', 'present')
    return values


# --- home -------------------------------------------------------------------------------------

def test_home_is_created_only_when_a_file_must_be_written():
    missing = path_info(HOME, exists=False, kind='directory', parent_exists=True, create_as='account')
    assert planner.plan_home(missing, posix(), needs_home=True) == {'create': True, 'repaired': []}
    assert planner.plan_home(missing, posix(), needs_home=False)['create'] is False


def test_home_without_parent_is_refused():
    missing = path_info(HOME, exists=False, kind='directory', parent_exists=False)
    with pytest.raises(PlanError, match='parent directory of %s does not exist' % HOME):
        planner.plan_home(missing, posix(), needs_home=True)


def test_loose_home_is_repaired():
    loose = path_info(HOME, kind='directory', mode='0777')
    assert planner.plan_home(loose, posix(), needs_home=False)['repaired'] == ['%s: 0777 -> 0700' % HOME]


def test_home_that_is_not_a_directory_is_refused():
    with pytest.raises(PlanError, match='not a directory'):
        planner.plan_home(path_info(HOME, kind='file'), posix(), needs_home=True)


# --- config.toml -------------------------------------------------------------------------------

def test_config_new_file_text_and_no_expected_hash():
    decided = planner.plan_config(args(block=BLOCK), config_info(), posix(), None)
    assert decided['write'] and decided['text'] == BLOCK and decided['expect_sha256'] is None
    assert decided['diff']['after'] == BLOCK and decided['diff']['before'] == ''


def test_config_unchanged_is_not_written():
    info = config_info(BLOCK)
    decided = planner.plan_config(args(block=BLOCK), info, posix(), None)
    assert not decided['write'] and decided['text'] is None and decided['diff'] is None


def test_config_change_expects_the_hash_it_was_computed_from():
    info = config_info('model = "old"\n')
    decided = planner.plan_config(args(settings={'model': 'new'}), info, posix(), None)
    assert decided['text'] == 'model = "new"\n' and decided['expect_sha256'] == info['sha256']


def test_config_not_utf8_is_refused_with_line():
    info = config_info('a = 1\n')
    info.update(text=None, error={'msg': 'not valid UTF-8', 'line': 3, 'column': 4})
    with pytest.raises(PlanError, match='config.toml, line 3, column 4: not valid UTF-8; nothing was written'):
        planner.plan_config(args(block=BLOCK), info, posix(), None)


def test_config_link_the_host_refused_to_open_is_refused():
    info = config_info()
    info.update(exists=True, is_link=True, link_target='/etc/shadow', type=None)
    with pytest.raises(PlanError, match='link the host side refused'):
        planner.plan_config(args(block=BLOCK), info, posix(), None)


def test_config_with_hard_links_is_refused():
    info = config_info('a = 1\n', nlink=2)
    with pytest.raises(PlanError, match='2 hard links'):
        planner.plan_config(args(block=BLOCK), info, posix(), None)


def test_config_mode_repair_without_content_change():
    decided = planner.plan_config(args(block=BLOCK), config_info(BLOCK, mode='0666'), posix(), None)
    assert not decided['write'] and decided['attr_change']
    assert decided['repaired'] == ['%s/config.toml: 0666 -> 0644' % HOME]


def test_config_broken_merge_input_raises_merge_error():
    with pytest.raises(TomlMergeError):
        planner.plan_config(args(block=BLOCK), config_info('a = 1\n[oops\n'), posix(), None)


@pytest.mark.skipif(not planner.MERGE_STRIPS_CREDENTIALS, reason='merge engine without strip_credentials')
def test_config_credentials_stripped_only_when_the_key_is_written():
    existing = BLOCK.replace('requires_openai_auth = true', 'requires_openai_auth = true\nenv_key = "BYTES_KEY"')
    with_key = planner.plan_config(args(block=BLOCK), config_info(existing), posix(), KEY)
    assert with_key['removed_credentials'] == ['model_providers.OpenAI.env_key']
    assert any('model_providers.OpenAI.env_key' in w and 'auth.json' in w for w in with_key['warnings'])
    assert 'env_key' not in with_key['text']
    without_key = planner.plan_config(args(block=BLOCK), config_info(existing), posix(), None)
    assert without_key['removed_credentials'] == [] and not without_key['write']


@pytest.mark.skipif(not REPORTS_REMOVED_WITH_PROVIDER, reason='merge engine without removed_with_provider')
def test_config_absent_names_keys_removed_with_their_provider_and_keeps_a_backup():
    existing = BLOCK.replace('requires_openai_auth = true', 'requires_openai_auth = true\nrequest_max_retries = 4')
    decided = planner.plan_config(args(block=BLOCK, state='absent'), config_info(existing), posix(), None)
    assert 'model_providers.OpenAI.request_max_retries' in decided['removed_with_provider']
    assert any('request_max_retries' in w and 'backup' in w for w in decided['warnings'])
    assert decided['backup'] is True


def test_windows_new_config_gets_crlf():
    decided = planner.plan_config(args(block=BLOCK), config_info(home=WIN_HOME), WindowsAttributes(), None)
    assert decided['text'] == BLOCK.replace('\n', '\r\n')


# --- auth.json ----------------------------------------------------------------------------------

def test_auth_set_when_missing_or_other_key():
    assert planner.plan_auth(args(), auth_info(), posix(), KEY)['op'] == 'set'
    decided = planner.plan_auth(args(), auth_info(OTHER_KEY), posix(), KEY)
    assert decided['op'] == 'set' and decided['previous_fp'] == OTHER_FP and decided['after_fp'] == FP
    assert decided['diff']['after'] == 'OPENAI_API_KEY fingerprint: %s\n' % FP


def test_auth_same_key_is_left_alone():
    decided = planner.plan_auth(args(), auth_info(KEY), posix(), KEY)
    assert decided['op'] is None and decided['request'] is None and not decided['changed']


def test_auth_chatgpt_mode_is_switched_to_apikey():
    decided = planner.plan_auth(args(), auth_info(KEY, auth_mode='chatgpt', tokens='ok', credentials='chatgpt'),
                                posix(), KEY)
    assert decided['op'] == 'set' and decided['auth_mode'] == 'apikey' and decided['credentials'] == 'apikey'


def test_auth_unparseable_tokens_are_replaced_with_a_warning():
    decided = planner.plan_auth(args(), auth_info(KEY, tokens='unparseable', credentials='unreadable'), posix(), KEY)
    assert decided['op'] == 'set' and 'tokens' in decided['warnings'][0]


def test_auth_without_key_is_an_audit():
    decided = planner.plan_auth(args(), auth_info(OTHER_KEY), posix(), None)
    assert decided['op'] is None and decided['after_fp'] == OTHER_FP


def test_auth_invalid_needs_force():
    with pytest.raises(PlanError, match=r'auth.json, line 1, column 2: invalid JSON.*force=true'):
        planner.plan_auth(args(), auth_info(KEY, valid=False), posix(), KEY)
    decided = planner.plan_auth(args(force=True), auth_info(KEY, valid=False), posix(), KEY)
    assert decided['op'] == 'set' and decided['previous_fp'] is None


def test_auth_absent_removes_only_the_named_key():
    assert planner.plan_auth(args(state='absent'), auth_info(KEY), posix(), OTHER_KEY)['op'] is None
    decided = planner.plan_auth(args(state='absent'), auth_info(KEY), posix(), KEY)
    assert decided['op'] == 'remove' and decided['request']['only_fingerprint'] == FP
    assert decided['after_fp'] is None and decided['deleted']


def test_auth_absent_keeps_a_chatgpt_login():
    info = auth_info(KEY, fields=['auth_mode', 'tokens'], tokens='ok')
    decided = planner.plan_auth(args(state='absent'), info, posix(), None)
    assert decided['op'] == 'remove' and not decided['deleted'] and decided['credentials'] == 'chatgpt'


def test_auth_loose_mode_is_repaired_even_without_a_key():
    decided = planner.plan_auth(args(), auth_info(KEY, mode='0644'), posix(), None)
    assert decided['op'] is None and decided['changed']
    assert decided['request'] == {'op': None, 'only_fingerprint': None, 'force': False, 'backup': False}
    assert decided['repaired'] == ['%s/auth.json: 0644 -> 0600' % HOME]


# --- the whole plan --------------------------------------------------------------------------

def test_plan_first_run_builds_a_valid_write_request():
    read = read_response()
    decided = planner.plan(args(block=BLOCK, api_key='  %s\n' % KEY, lock_timeout=7), read, PosixAttributes())
    request = validate_request('write', decided['request'])
    assert request['codex_home'] == HOME and request['lock_timeout'] == 7 and not request['create_home']
    assert request['auth']['op'] == 'set' and KEY not in repr(request)
    assert decided['secret'] == KEY
    assert decided['result']['changed'] and decided['result']['key_fingerprint'] == FP


def test_plan_nothing_to_do_has_no_request():
    read = read_response(config_info(BLOCK), auth_info(KEY))
    decided = planner.plan(args(block=BLOCK, api_key=KEY), read, PosixAttributes())
    assert decided['request'] is None and not decided['result']['changed'] and decided['secret'] is None


def test_plan_temp_leftovers_force_a_write_trip_and_are_reported():
    read = read_response(config_info(BLOCK), auth_info(KEY),
                         leftovers=[{'name': '.auth.json.x1.tmp', 'kind': 'temp', 'mode': '0600'},
                                    {'name': 'auth.json.2026-01-01@00:00:00~', 'kind': 'auth_backup', 'mode': '0600'}])
    decided = planner.plan(args(block=BLOCK, api_key=KEY), read, PosixAttributes())
    assert decided['request'] is not None and not decided['request']['purge_key_backups']
    assert decided['result']['removed_files'] == [HOME + '/.auth.json.x1.tmp']


def test_plan_absent_purges_key_backups():
    read = read_response(config_info(BLOCK), auth_info(KEY),
                         leftovers=[{'name': 'auth.json.2026-01-01@00:00:00~', 'kind': 'auth_backup', 'mode': '0600'}])
    decided = planner.plan(args(block=BLOCK, state='absent'), read, PosixAttributes())
    assert decided['request']['purge_key_backups'] and decided['result']['auth_changed']
    assert HOME + '/auth.json.2026-01-01@00:00:00~' in decided['result']['removed_files']
    assert HOME + '/auth.json' in decided['result']['removed_files']


def test_plan_unprivileged_run_cannot_write_for_another_account():
    read = read_response(access='self', euid=1000, account_uid=1001)
    with pytest.raises(PlanError, match='cannot write for another account'):
        planner.plan(args(owner='bob', block=BLOCK, api_key=KEY), read, PosixAttributes())
    read = read_response(access='self', euid=1001, account_uid=1001)
    assert planner.plan(args(block=BLOCK, api_key=KEY), read, PosixAttributes())['request'] is not None


def test_plan_system_layer_sends_config_mode():
    system_home = path_info('/etc/codex', kind='directory', mode='0755', uid=0, gid=0)
    read = read_response(access='root', account_uid=0, home=system_home)
    read['config'] = config_info(home='/etc/codex')
    read['auth'] = auth_info(home='/etc/codex')
    decided = planner.plan(args(settings={'model': 'x'}, config_mode='0644'), read, PosixAttributes(0o644))
    assert validate_request('write', decided['request'])['config_mode'] == '0644'
    assert decided['request']['auth'] is None


def test_absent_of_an_old_block_with_values_codex_now_refuses_still_works():
    old_block = BLOCK.replace('wire_api = "responses"', 'wire_api = "chat"')
    decided = planner.plan_config(args(block=old_block, state='absent'), config_info(old_block), posix(), None)
    assert decided['write'] and 'OpenAI' not in decided['text']
    with pytest.raises(TomlMergeError, match='wire_api'):
        planner.plan_config(args(block=old_block), config_info(), posix(), None)
