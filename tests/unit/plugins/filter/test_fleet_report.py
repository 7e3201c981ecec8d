# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the fleet report filters, with a real ``codex doctor --json`` (0.169.0) report."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.bytes4096.codex.plugins.filter import fleet_report as fr

FIXTURE = os.path.join(os.path.dirname(__file__), 'fixtures', 'doctor-0.169.0-ok.json')
FP_OLD = 'sha256:0123456789abcdef'
FP_NEW = 'sha256:fedcba9876543210'


def doctor(**changes):
    """The captured doctor report, with check statuses/details changed as asked."""
    with open(FIXTURE, encoding='utf-8') as handle:
        doc = json.load(handle)
    for check_id, change in changes.items():
        check = doc['checks'].setdefault(check_id.replace('_', '.', 1), {'status': 'ok', 'details': {}})
        details = change.pop('details', None)
        check.update(change)
        if details:
            check['details'].update(details)
    return json.dumps(doc)


def record(doctor_stdout=None, doctor_rc=0, fingerprint=FP_OLD, shells=('non-login', 'login'), key=None,
           **overrides):
    """A raw audit record as the role's codex_audit_records builds it."""
    stdout = doctor() if doctor_stdout is None else doctor_stdout
    base = {
        'user': 'alice',
        'scope': 'user',
        'state': 'present',
        'exists': True,
        'codex_home': '/home/alice/.codex',
        'key': dict({'fingerprint': fingerprint, 'auth_mode': None, 'credentials': None, 'repaired': [],
                     'error': None}, **(key or {})),
        'runs': [{'shell': shell, 'rc': doctor_rc, 'stdout': stdout, 'stderr': ''} for shell in shells],
        'expected': {'model': 'gpt-5.5', 'provider': 'OpenAI', 'fingerprint': FP_OLD, 'key': True},
    }
    base.update(overrides)
    return base


def test_healthy_user_is_ok_and_reads_everything_from_doctor():
    row = fr.audit_user(record())
    assert row['status'] == 'ok', row
    assert row['codex_version'] == '0.169.0'
    assert row['install_method'] == 'npm'
    assert row['model'] == 'gpt-5.5'
    assert row['provider'] == 'OpenAI'
    assert row['fingerprint'] == FP_OLD
    assert row['provider_host'] == '127.0.0.1:18080'
    assert row['doctor_status'] == 'ok'
    assert row['shells'] == ['non-login', 'login']
    assert row['problems'] == [] and row['warnings'] == []
    # updates.status is a warning in the captured report (offline): explained once, not per shell.
    assert len(row['notes']) == 1 and row['notes'][0].startswith('updates.status: the latest-version probe')
    assert row['checks']['config.load'] == 'ok'


def test_ignored_keys_warning_makes_the_user_warning_and_names_the_keys():
    warning = ('Codex is ignoring 1 unrecognized configuration settings.\n'
               '  user (/home/alice/.codex/config.toml): `network_access` is ignored.')
    row = fr.audit_user(record(doctor_stdout=doctor(config_load={
        'status': 'warning', 'details': {'startup warning': warning}})))
    assert row['status'] == 'warning'
    assert len(row['warnings']) == 1
    assert '`network_access` is ignored' in row['warnings'][0]


@pytest.mark.parametrize('overrides, fragment', [
    ({'fingerprint': FP_NEW}, 'is not the vault key'),
    ({'fingerprint': None}, 'no API key'),
    ({'doctor_stdout': '', 'doctor_rc': 127}, 'gave no report (rc 127)'),
    ({'doctor_stdout': 'Error: boom', 'doctor_rc': 1}, 'gave no report'),
    ({'key': {'error': 'auth.json is a FIFO'}}, 'could not be read: auth.json is a FIFO'),
    ({'key': {'auth_mode': 'chatgpt'}}, "stores auth_mode 'chatgpt'"),
    ({'key': {'credentials': 'chatgpt'}}, 'ChatGPT token to the provider'),
    ({'key': {'credentials': 'unreadable'}}, 'would send no key'),
    ({'doctor_stdout': doctor(auth_credentials={'status': 'fail', 'summary': 'stored credentials could not be read'})},
     'would send requests without a key'),
    ({'doctor_stdout': doctor(auth_credentials={'details': {'stored auth mode': 'chatgpt'}})},
     'would send the ChatGPT login'),
    ({'expected': {'model': 'gpt-6', 'provider': 'OpenAI'}}, "model is 'gpt-5.5'"),
    ({'expected': {'model': 'gpt-5.5', 'provider': 'bytes'}}, "model provider is 'OpenAI'"),
])
def test_failing_user(overrides, fragment):
    row = fr.audit_user(record(**overrides))
    assert row['status'] == 'failing'
    assert any(fragment in p for p in row['problems']), row['problems']


def test_failed_gating_check_fails_the_user():
    row = fr.audit_user(record(doctor_stdout=doctor(network_provider_reachability={
        'status': 'fail', 'summary': 'provider endpoints are unreachable'})))
    assert row['status'] == 'failing'
    assert row['problems'] == ['network.provider_reachability: provider endpoints are unreachable']


def test_a_failure_in_one_shell_only_names_that_shell():
    good, bad = doctor(), doctor(config_load={'status': 'fail', 'summary': 'config could not be loaded'})
    rec = record()
    rec['runs'][1]['stdout'] = bad
    row = fr.audit_user(rec)
    assert row['status'] == 'failing'
    assert all(p.startswith('(login shell) ') for p in row['problems']), row['problems']
    rec['runs'][1]['stdout'] = good
    assert fr.audit_user(rec)['status'] == 'ok'


def test_declared_absent_account_is_offboarded_only_without_a_key():
    row = fr.audit_user(record(state='absent', fingerprint=None, shells=()))
    assert row['status'] == 'offboarded' and row['problems'] == []
    row = fr.audit_user(record(state='absent', fingerprint=FP_OLD, shells=()))
    assert row['status'] == 'failing' and 'still holds key' in row['problems'][0]
    row = fr.audit_user(record(state='absent', fingerprint=None, shells=(), key={'error': 'unreadable'}))
    assert row['status'] == 'failing'
    gone = fr.audit_user(record(state='absent', exists=False, fingerprint=None, shells=()))
    assert gone['status'] == 'warning' and 'cannot be attributed' in gone['warnings'][0]
    bob = record(user='bob', state='absent', fingerprint=None, shells=())
    report = fr.fleet_report([{'host': 'laptop', 'records': [record(), bob]}])
    assert report['hosts'][0]['status'] == 'ok'
    assert '| laptop | bob | offboarded |' in fr.fleet_report_markdown(report)


def test_loose_modes_are_a_warning():
    row = fr.audit_user(record(key={'repaired': ['auth.json 0644 -> 0600']}))
    assert row['status'] == 'warning' and 'auth.json 0644 -> 0600' in row['warnings'][0]


def test_missing_gating_check_fails_and_custom_gating_list_is_honoured():
    doc = json.loads(doctor())
    del doc['checks']['installation']
    assert fr.audit_user(record(doctor_stdout=json.dumps(doc)))['status'] == 'failing'
    only_config = fr.audit_user(record(doctor_stdout=json.dumps(doc)), gating_checks=('config.load',))
    assert only_config['status'] == 'ok'


def test_system_layer_without_key_and_doctor_with_a_leading_line():
    row = fr.audit_user(record(scope='system', fingerprint=None,
                               doctor_stdout='notice: something\n' + doctor(auth_credentials={'status': 'fail'}),
                               expected={'model': 'gpt-5.5', 'provider': 'OpenAI', 'key': False}))
    assert row['status'] == 'ok'
    assert row['scope'] == 'system'


def test_no_expected_fingerprint_accepts_any_key_but_not_none():
    assert fr.audit_user(record(expected={'key': True}))['status'] == 'ok'
    assert fr.audit_user(record(expected={'key': True}, fingerprint=''))['status'] == 'failing'


def test_fleet_report_summarises_hosts_by_worst_user_and_names_silent_hosts():
    warn = doctor(config_load={'status': 'warning', 'details': {'startup warning': 'x'}})
    audits = [
        {'host': 'laptop-1', 'records': [record(), record(user='bob', codex_home='/home/bob/.codex')]},
        {'host': 'laptop-2', 'records': [record(), record(user='bob', doctor_stdout=warn)]},
        {'host': 'ci-1', 'records': [record(user='runner', fingerprint=FP_NEW)]},
        None,
    ]
    report = fr.fleet_report(audits, hosts=['laptop-1', 'laptop-2', 'ci-1', 'gone-1'], generated='now')
    statuses = {h['host']: h['status'] for h in report['hosts']}
    assert statuses == {'laptop-1': 'ok', 'laptop-2': 'warning', 'ci-1': 'failing', 'gone-1': 'failing'}
    assert [h['host'] for h in report['hosts']] == ['laptop-1', 'laptop-2', 'ci-1', 'gone-1']
    assert report['summary'] == {'ok': 1, 'warning': 1, 'failing': 2, 'hosts': 4}
    assert report['summary_line'] == 'hosts: 1 ok / 1 warning / 2 failing'
    assert 'unreachable' in report['hosts'][3]['problems'][0]
    json.dumps(report)  # the playbook writes it as JSON


def test_host_with_no_records_fails():
    report = fr.fleet_report([{'host': 'empty', 'records': []}])
    assert report['hosts'][0]['status'] == 'failing'
    assert report['summary_line'] == 'hosts: 0 ok / 0 warning / 1 failing'


def test_markdown_table_has_one_row_per_user_and_the_summary():
    report = fr.fleet_report([
        {'host': 'laptop-1', 'records': [record(), record(user='bob', fingerprint=FP_NEW)]},
    ], hosts=['laptop-1', 'gone|1'])
    text = fr.fleet_report_markdown(report)
    lines = text.splitlines()
    assert lines[0] == '# Codex fleet audit'
    assert '**hosts: 0 ok / 0 warning / 2 failing**' in lines
    rows = [line for line in lines if line.startswith('| laptop-1 ')]
    assert len(rows) == 2
    assert '| alice | ok | 0.169.0 | npm | gpt-5.5 | 127.0.0.1:18080 (OpenAI) | {0} | ok |'.format(FP_OLD) in rows[0]
    assert 'failing' in rows[1] and 'is not the vault key' in rows[1]
    # a pipe in a cell cannot break the table
    assert any(line.startswith('| gone\\|1 |') for line in lines)
    header = [line for line in lines if line.startswith('| Host')][0]
    assert all(row.count(' | ') == header.count(' | ') for row in rows)


def test_rotation_report_and_markdown():
    entries = [
        {'host': 'laptop-1', 'status': 'rotated', 'message': 'verified',
         'users': [{'user': 'alice', 'old': FP_OLD, 'new': FP_NEW}, {'user': 'bob', 'old': FP_OLD, 'new': FP_NEW}]},
        {'host': 'laptop-2', 'status': 'failed', 'message': 'verification failed for alice',
         'users': [{'user': 'alice', 'old': FP_OLD, 'new': FP_NEW}]},
    ]
    report = fr.rotation_report(entries, hosts=['laptop-1', 'laptop-2', 'ci-1'])
    assert report['summary_line'] == 'rotation: 1 rotated / 1 failed / 1 not reached'
    assert [h['status'] for h in report['hosts']] == ['rotated', 'failed', 'not reached']
    text = fr.fleet_report_markdown(report)
    assert '| laptop-2 | failed | alice | {0} | {1} | verification failed for alice |'.format(FP_OLD, FP_NEW) in text
    assert '| ci-1 | not reached | - | - | - | not rotated: the run stopped before this host |' in text
    assert text.count('| laptop-1 | rotated |') == 2


@pytest.mark.parametrize('call', [
    lambda: fr.fleet_report('nope'),
    lambda: fr.fleet_report([{'records': []}]),
    lambda: fr.fleet_report([{'host': 'h', 'records': ['x']}]),
    lambda: fr.rotation_report([{'host': 'h', 'status': 'maybe'}]),
    lambda: fr.rotation_report({'host': 'h'}),
    lambda: fr.fleet_report_markdown({'kind': 'other'}),
])
def test_bad_input_raises_a_filter_error(call):
    with pytest.raises(AnsibleFilterError):
        call()


def test_filters_are_registered_and_inputs_are_not_modified():
    filters = fr.FilterModule().filters()
    assert set(filters) == {'fleet_report', 'rotation_report', 'fleet_report_markdown'}
    audits = [{'host': 'laptop-1', 'records': [record()]}]
    before = copy.deepcopy(audits)
    filters['fleet_report'](audits)
    assert audits == before
