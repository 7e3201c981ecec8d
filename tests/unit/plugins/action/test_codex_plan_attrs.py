# -*- coding: utf-8 -*-
"""The attribute strategies: POSIX modes/owner/group, Windows ACL; chosen once per task."""
from __future__ import annotations

import pytest

from ansible_collections.bytes4096.codex.plugins.plugin_utils._codex_plan_attrs import (
    PlanError, PosixAttributes, WindowsAttributes, attributes_for, parse_mode,
)

from codex_action_fakes import HOME, WIN_HOME, auth_info, config_info, path_info, read_response


def test_choice_by_os_and_posix_only_options_refused_on_windows():
    assert isinstance(attributes_for(False, {'config_mode': '0644', 'group': 'staff'}), PosixAttributes)
    assert isinstance(attributes_for(True, {}), WindowsAttributes)
    for option in ({'config_mode': '0644'}, {'group': 'staff'}):
        with pytest.raises(PlanError, match='POSIX options'):
            attributes_for(True, option)


@pytest.mark.parametrize('value, mode', [('0644', 0o644), ('644', 0o644), (0o600, 0o600), (None, None)])
def test_parse_mode(value, mode):
    assert parse_mode(value) == mode


@pytest.mark.parametrize('value, message', [('rw-r--r--', 'octal mode'), (True, 'octal mode'),
                                            ('0666', 'lets others change'), (0o10000, 'out of range')])
def test_parse_mode_refusals(value, message):
    with pytest.raises(PlanError, match=message):
        parse_mode(value)


def test_posix_request_mode_and_text():
    attrs = PosixAttributes(0o644).bind(read_response())
    assert attrs.request_config_mode() == '0644' and attrs.new_file_text('a\n') == 'a\n'
    assert PosixAttributes().request_config_mode() is None


def test_posix_home_rules():
    account = PosixAttributes().bind(read_response())
    assert account.home(path_info(HOME, kind='directory', mode='0755')) == ('%s: 0755 -> 0700' % HOME, False)
    assert account.home(path_info(HOME, kind='directory', mode='0700')) == (None, False)
    shared = PosixAttributes(0o644).bind(read_response())
    assert shared.home(path_info(HOME, kind='directory', mode='0755')) == (None, False)
    root = PosixAttributes(0o644).bind(read_response(access='root', account_uid=0))
    assert root.home(path_info('/etc/codex', kind='directory', mode='0775', uid=0))[0] == '/etc/codex: 0775 -> 0755'


def test_posix_config_rules():
    attrs = PosixAttributes().bind(read_response())
    assert attrs.config(config_info('a = 1\n', mode='0640')) == (None, False)
    assert attrs.config(config_info('a = 1\n', mode='0666')) == ('%s/config.toml: 0666 -> 0644' % HOME, False)
    wanted = PosixAttributes(0o644).bind(read_response())
    assert wanted.config(config_info('a = 1\n', mode='0600'))[0] == '%s/config.toml: 0600 -> 0644' % HOME
    assert attrs.config(config_info()) == (None, False)


def test_posix_auth_rules_and_group_drift():
    attrs = PosixAttributes().bind(read_response())
    assert attrs.auth(auth_info('sk-x', mode='0600')) == (None, False)
    assert attrs.auth(auth_info('sk-x', mode='0640')) == ('%s/auth.json: 0640 -> 0600' % HOME, False)
    assert attrs.auth(auth_info()) == (None, False)
    grouped = PosixAttributes(group_given=True).bind(read_response(group_gid=50))
    assert grouped.auth(auth_info('sk-x', gid=1000)) == (None, True)
    assert grouped.auth(auth_info('sk-x', gid=50)) == (None, False)


def test_posix_owner_drift_only_where_root_can_fix_it():
    as_account = PosixAttributes().bind(read_response(access='account'))
    assert as_account.config(config_info('a = 1\n', uid=0))[1] is False
    as_root = PosixAttributes().bind(read_response(access='root', account_uid=0))
    assert as_root.config(config_info('a = 1\n', uid=1000))[1] is True


def test_windows_acl_strategy():
    attrs = WindowsAttributes().bind(read_response(platform='windows'))
    assert attrs.request_config_mode() is None
    assert attrs.new_file_text('a\nb\r\n') == 'a\r\nb\r\n'
    assert attrs.home(path_info(WIN_HOME, kind='directory', mode=None, private=True)) == (None, False)
    assert attrs.config(config_info('a = 1\n', home=WIN_HOME, mode=None, private=True)) == (None, False)
    assert attrs.home(path_info(WIN_HOME, kind='directory', mode=None, private=False))[0].startswith(WIN_HOME + ': ACL')
    config_repair = attrs.config(config_info('a = 1\n', home=WIN_HOME, mode=None, private=False))[0]
    assert config_repair.startswith(WIN_HOME + '\\config.toml: ACL')
    assert attrs.auth(auth_info('sk-x', home=WIN_HOME, mode=None, private=None)) == (None, False)
    assert attrs.auth(auth_info('sk-x', home=WIN_HOME, mode=None, private=True)) == (None, False)
    repair, drift = attrs.auth(auth_info('sk-x', home=WIN_HOME, mode=None, private=False))
    assert repair.startswith(WIN_HOME + '\\auth.json: ACL') and drift is False
    attrs.check_writer([WIN_HOME])  # no uid model: never refuses
