# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side report writer for the fleet playbooks (audit and key rotation).

The playbooks collect raw facts per host and user (the output of ``codex --version`` and
``codex doctor --json``, the fingerprint of the key in auth.json, what the inventory intends);
these filters turn them into one report dictionary (written as JSON) and a Markdown table, and
decide the status of every user and host. Keys never reach these filters, only fingerprints.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

# doctor checks that decide a user's status; warnings of any other check are listed as notes.
DEFAULT_GATING_CHECKS = (
    'config.load',
    'auth.credentials',
    'installation',
    'network.provider_reachability',
)
STATUS_ORDER = ('ok', 'warning', 'failing')
# per account only: an account declared absent that holds no key counts as ok for its host
USER_STATUSES = STATUS_ORDER + ('offboarded',)
ROTATION_ORDER = ('rotated', 'failed', 'not reached')


def _worst(statuses, order=STATUS_ORDER):
    worst = order[0]
    for status in statuses:
        if order.index(status) > order.index(worst):
            worst = status
    return worst


def _as_text(value):
    if value is None:
        return ''
    return value if isinstance(value, str) else str(value)


def parse_doctor(stdout):
    """Return the parsed ``codex doctor --json`` document, or None when stdout is not one."""
    text = _as_text(stdout).strip()
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        # codex may print a line before the JSON document: take the first '{' onwards.
        start = text.find('{')
        if start <= 0:
            return None
        try:
            doc = json.loads(text[start:])
        except ValueError:
            return None
    if not isinstance(doc, dict) or not isinstance(doc.get('checks'), dict):
        return None
    return doc


def detail(check, name):
    details = (check or {}).get('details') or {}
    value = details.get(name)
    if isinstance(value, list):
        value = ' '.join(_as_text(v) for v in value)
    return _as_text(value) if value is not None else None


def credentials_problem(doc):
    """What Codex would send instead of the fleet key, with the fix; None when it sends the key."""
    check = doc['checks'].get('auth.credentials') or {}
    mode = (detail(check, 'stored auth mode') or '').lower().replace('_', '')
    if check.get('status') == 'fail' or not check:
        return ('Codex finds no credentials it can use ({0}) and would send requests without a key: '
                'run deploy (or rotate_key) to write the key; an auth.json Codex cannot read needs '
                'codex_configure_force: true'.format(_as_text(check.get('summary')) or 'auth.credentials missing'))
    if mode and mode != 'apikey':
        return ('Codex would send the ChatGPT login (stored auth mode {0}) to the provider instead of '
                'the fleet key: run deploy, which stores the key with auth_mode apikey'.format(
                    detail(check, 'stored auth mode')))
    return None


def _install_method(doc):
    for check_id, name in (('runtime.provenance', 'install method'), ('installation', 'install context')):
        value = detail(doc['checks'].get(check_id), name)
        if value:
            return value.split(' ', 1)[0].split('(', 1)[0].strip() or value
    return None


def _provider_host(doc):
    """host[:port] Codex contacts for the provider, from the reachability check's URLs."""
    details = ((doc['checks'].get('network.provider_reachability') or {}).get('details') or {})
    for value in details.values():
        text = _as_text(value)
        for word in text.split():
            if '://' in word:
                return urlsplit(word).netloc.rsplit('@', 1)[-1]
    return None


# Warnings of non-gating checks that a healthy managed host shows, and what they mean.
EXPLAINED = {
    'updates.status': 'the latest-version probe cannot leave the network (expected with filtered '
                      'egress; a pinned fleet sets check_for_update_on_startup = false)',
}


def _check_message(check_id, check):
    message = '{0}: {1}'.format(check_id, _as_text(check.get('summary')) or check.get('status'))
    if check_id == 'config.load':
        warning = detail(check, 'startup warning') or detail(check, 'error')
        if warning:
            message += ' ({0})'.format(' '.join(warning.split()))
    return message


def _runs(record):
    """The doctor runs of a record: [{shell, rc, stdout, stderr}] (older records: one run)."""
    runs = record.get('runs')
    if isinstance(runs, list):
        return runs
    if 'doctor_stdout' in record:
        return [{'shell': None, 'rc': record.get('doctor_rc'), 'stdout': record.get('doctor_stdout'), 'stderr': ''}]
    return []


def _merge_shells(messages, prefixes):
    """A message every shell gives is said once, without naming a shell."""
    merged = []
    for message in messages:
        bare = next((message[len(p):] for p in prefixes if message.startswith(p)), message)
        if all(p + bare in messages for p in prefixes):
            message = bare
        if message not in merged:
            merged.append(message)
    return merged


def audit_user(record, gating_checks=DEFAULT_GATING_CHECKS):
    """Judge one account's raw audit record; returns the report row for that account.

    A record holds the account (``user``, ``scope``, ``state``, ``exists``, ``codex_home``), the
    key state codex_config read (``key``: fingerprint, auth_mode, credentials, repaired, error),
    one ``codex doctor --json`` run per shell (``runs``) and what the inventory intends
    (``expected``). An account declared absent is ``offboarded`` when it holds no key.
    """
    if not isinstance(record, dict):
        raise AnsibleFilterError('fleet_report: every audit record must be a dictionary')
    expected = record.get('expected') or {}
    key = record.get('key') if isinstance(record.get('key'), dict) else {'fingerprint': record.get('fingerprint')}
    row = {
        'user': _as_text(record.get('user')),
        'scope': _as_text(record.get('scope') or 'user'),
        'state': _as_text(record.get('state') or 'present'),
        'codex_home': _as_text(record.get('codex_home')),
        'codex_version': None,
        'install_method': None,
        'model': None,
        'provider': None,
        'provider_host': None,
        'fingerprint': key.get('fingerprint') or None,
        'auth_mode': key.get('auth_mode'),
        'credentials': key.get('credentials'),
        'expected_model': expected.get('model'),
        'expected_provider': expected.get('provider'),
        'expected_fingerprint': expected.get('fingerprint') or None,
        'doctor_status': None,
        'checks': {},
        'shells': [],
        'problems': [],
        'warnings': [],
        'notes': [],
    }
    problems, warnings, notes = row['problems'], row['warnings'], row['notes']

    if record.get('exists') is False:
        if row['state'] == 'absent':
            row['status'] = 'warning'
            warnings.append('declared absent and the account no longer exists: a Codex home it kept '
                            'cannot be attributed; check it by hand, then remove the account from '
                            'codex_configure_users')
        else:
            row['status'] = 'failing'
            problems.append('the account does not exist on the host')
        return row

    if key.get('error'):
        problems.append('auth.json could not be read: {0}'.format(key['error']))

    if row['state'] == 'absent':
        if row['fingerprint']:
            problems.append('offboarded, but auth.json still holds key {0}: run deploy or offboard, then '
                            'revoke the key at the provider'.format(row['fingerprint']))
        row['status'] = 'failing' if problems else 'offboarded'
        return row

    wants_key = expected.get('key', True) and row['scope'] == 'user'
    gating = [c for c in gating_checks if wants_key or c != 'auth.credentials']
    runs = _runs(record)
    if not runs:
        problems.append('codex doctor was not run')
    statuses = []
    for run in runs:
        shell = run.get('shell')
        prefix = '({0} shell) '.format(shell) if shell and len(runs) > 1 else ''
        if shell:
            row['shells'].append(shell)
        doc = parse_doctor(run.get('stdout'))
        if doc is None:
            err = ' '.join(_as_text(run.get('stderr')).split())[-200:]
            problems.append('{0}codex doctor --json gave no report (rc {1}){2}'.format(
                prefix, run.get('rc'), ': ' + err if err else ''))
            statuses.append('fail')
            continue
        if row['codex_version'] is None:
            row['codex_version'] = doc.get('codexVersion')
            row['install_method'] = _install_method(doc)
            config = doc['checks'].get('config.load') or {}
            row['model'] = detail(config, 'model')
            row['provider'] = detail(config, 'model provider')
            row['provider_host'] = _provider_host(doc)
        elif doc.get('codexVersion') != row['codex_version']:
            problems.append('{0}runs Codex {1}, another shell runs {2}'.format(
                prefix, doc.get('codexVersion'), row['codex_version']))
        config = doc['checks'].get('config.load') or {}
        for name, want, got in (('model', row['expected_model'], detail(config, 'model')),
                                ('model provider', row['expected_provider'], detail(config, 'model provider'))):
            if want and got != want:
                problems.append('{0}{1} is {2!r}, inventory wants {3!r}'.format(prefix, name, got, want))
        for check_id in sorted(doc['checks']):
            check = doc['checks'][check_id] or {}
            status = check.get('status')
            row['checks'][check_id] = status
            if check_id in gating:
                statuses.append(status)
            if status not in ('warning', 'fail'):
                continue
            message = prefix + _check_message(check_id, check)
            if check_id in gating:
                (problems if status == 'fail' else warnings).append(message)
            elif check_id in EXPLAINED:
                notes.append('{0}{1}: {2}'.format(prefix, check_id, EXPLAINED[check_id]))
            else:
                notes.append(message)
        for check_id in gating:
            if check_id not in doc['checks']:
                problems.append('{0}{1}: missing from the doctor report'.format(prefix, check_id))
        if wants_key:
            problem = credentials_problem(doc)
            if problem and (prefix + problem) not in problems:
                problems.append(prefix + problem)
    if len(runs) > 1:
        prefixes = ['({0} shell) '.format(run.get('shell')) for run in runs]
        for messages in (problems, warnings, notes):
            messages[:] = _merge_shells(messages, prefixes)
    row['doctor_status'] = _worst((s if s in ('warning', 'fail') else 'ok' for s in statuses),
                                  ('ok', 'warning', 'fail')) if statuses else None

    if wants_key:
        if not row['fingerprint'] and not key.get('error'):
            problems.append('no API key in auth.json: run deploy')
        elif row['expected_fingerprint'] and row['fingerprint'] and row['fingerprint'] != row['expected_fingerprint']:
            problems.append('key {0} is not the vault key {1}: run rotate_key'.format(
                row['fingerprint'], row['expected_fingerprint']))
        said = any('Codex would send' in p or 'Codex finds no credentials' in p for p in problems)
        if row['auth_mode'] not in (None, 'apikey') and not said:
            problems.append('auth.json stores auth_mode {0!r}: Codex would send that login instead of the key; '
                            'run deploy, which sets auth_mode apikey'.format(row['auth_mode']))
        if said:
            pass
        elif row['credentials'] == 'chatgpt':
            problems.append('Codex would send a ChatGPT token to the provider, not the key: run deploy')
        elif row['credentials'] in ('unreadable', 'none'):
            problems.append('Codex cannot use the credentials in auth.json ({0}) and would send no key: run '
                            'deploy (with codex_configure_force: true for an auth.json it cannot parse)'.format(
                                row['credentials']))
    if key.get('repaired'):
        warnings.append('loose modes: {0} (deploy repairs them)'.format(
            ', '.join(_as_text(r) for r in key['repaired'])))

    row['status'] = 'failing' if problems else ('warning' if warnings else 'ok')
    return row


def _summary(counts, order, noun):
    return '{0}: {1}'.format(noun, ' / '.join('{0} {1}'.format(counts[s], s) for s in order))


def fleet_report(audits, hosts=None, gating_checks=None, generated=None):
    """Build the fleet audit report from the per-host audit facts.

    ``audits`` is a list of ``{'host': NAME, 'records': [RECORD, ...]}`` (``None`` entries are
    allowed: a host that produced nothing). ``hosts`` lists every host the play targeted, so a host
    that became unreachable or failed before its audit still shows up, as failing.
    """
    if audits is None:
        audits = []
    if not isinstance(audits, (list, tuple)):
        raise AnsibleFilterError('fleet_report: input must be a list of host audits')
    gating = tuple(gating_checks) if gating_checks else DEFAULT_GATING_CHECKS
    by_host = {}
    for audit in audits:
        if audit is None:
            continue
        if not isinstance(audit, dict) or not audit.get('host'):
            raise AnsibleFilterError('fleet_report: every host audit needs a host name')
        by_host[_as_text(audit['host'])] = audit
    names = [_as_text(h) for h in (hosts or [])]
    names += sorted(h for h in by_host if h not in names)

    report_hosts = []
    for name in names:
        audit = by_host.get(name)
        if audit is None:
            report_hosts.append({'host': name, 'status': 'failing', 'users': [],
                                 'problems': ['no audit data: host unreachable or its audit failed']})
            continue
        users = [audit_user(record, gating) for record in audit.get('records') or []]
        problems = [] if users else ['no Codex users or system layer configured for this host']
        if audit.get('error'):
            problems.append(_as_text(audit['error']))
        status = 'failing' if problems else _worst(
            'ok' if u['status'] == 'offboarded' else u['status'] for u in users)
        report_hosts.append({'host': name, 'status': status, 'users': users, 'problems': problems})

    counts = dict((s, sum(1 for h in report_hosts if h['status'] == s)) for s in STATUS_ORDER)
    return {
        'kind': 'audit',
        'generated': generated,
        'gating_checks': list(gating),
        'summary': dict(counts, hosts=len(report_hosts)),
        'summary_line': _summary(counts, STATUS_ORDER, 'hosts'),
        'hosts': report_hosts,
    }


def rotation_report(entries, hosts=None, generated=None):
    """Build the key rotation report: old -> new fingerprint per host and user.

    ``entries`` is a list of ``{'host', 'status': 'rotated'|'failed', 'users': [{'user', 'old',
    'new'}], 'message'}``; hosts listed in ``hosts`` without an entry were not reached (the run
    stopped at the failure threshold before their batch).
    """
    if entries is None:
        entries = []
    if not isinstance(entries, (list, tuple)):
        raise AnsibleFilterError('rotation_report: input must be a list of host entries')
    by_host = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get('host'):
            raise AnsibleFilterError('rotation_report: every entry needs a host name')
        status = entry.get('status')
        if status not in ('rotated', 'failed'):
            raise AnsibleFilterError('rotation_report: unknown status {0!r} for {1}'.format(status, entry['host']))
        by_host[_as_text(entry['host'])] = entry
    names = [_as_text(h) for h in (hosts or [])]
    names += sorted(h for h in by_host if h not in names)
    report_hosts = []
    for name in names:
        entry = by_host.get(name)
        if entry is None:
            report_hosts.append({'host': name, 'status': 'not reached', 'users': [],
                                 'message': 'not rotated: the run stopped before this host'})
            continue
        users = [{'user': _as_text(u.get('user')), 'scope': _as_text(u.get('scope') or 'user'),
                  'old': u.get('old') or None, 'new': u.get('new') or None}
                 for u in entry.get('users') or []]
        report_hosts.append({'host': name, 'status': entry['status'], 'users': users,
                             'message': _as_text(entry.get('message'))})
    counts = dict((s, sum(1 for h in report_hosts if h['status'] == s)) for s in ROTATION_ORDER)
    return {
        'kind': 'rotation',
        'generated': generated,
        'summary': dict(counts, hosts=len(report_hosts)),
        'summary_line': _summary(counts, ROTATION_ORDER, 'rotation'),
        'hosts': report_hosts,
    }


def _cell(value):
    text = _as_text(value) if value not in (None, '') else '-'
    return ' '.join(text.replace('|', '\\|').split())


def _provider_cell(user):
    host = user.get('provider_host')
    provider = user.get('provider')
    if provider and host:
        return '{0} ({1})'.format(host, provider)
    return host or provider


def fleet_report_markdown(report):
    """Render a report from fleet_report or rotation_report as a Markdown document."""
    if not isinstance(report, dict) or report.get('kind') not in ('audit', 'rotation'):
        raise AnsibleFilterError('fleet_report_markdown: input must come from fleet_report or rotation_report')
    lines = []
    if report['kind'] == 'audit':
        lines += ['# Codex fleet audit', '']
        if report.get('generated'):
            lines += ['Generated: {0}'.format(report['generated']), '']
        lines += ['**{0}**'.format(report['summary_line']), '',
                  '| Host | User | Status | Codex | Install | Model | Provider | Key | Doctor | Findings |',
                  '|---|---|---|---|---|---|---|---|---|---|']
        for host in report['hosts']:
            if not host['users']:
                lines.append('| {0} | - | {1} | - | - | - | - | - | - | {2} |'.format(
                    _cell(host['host']), host['status'], _cell('; '.join(host['problems']))))
            for user in host['users']:
                findings = user['problems'] + user['warnings'] + ['note: ' + n for n in user['notes']]
                lines.append('| {0} |'.format(' | '.join(_cell(v) for v in (
                    host['host'],
                    user['user'] + (' (system layer)' if user['scope'] == 'system' else ''),
                    user['status'], user['codex_version'], user['install_method'], user['model'],
                    _provider_cell(user), user['fingerprint'], user['doctor_status'], '; '.join(findings)))))
        lines += ['', 'Gating doctor checks: {0}. Other checks appear as notes. Provider: the host Codex '
                  'sends requests to (provider id). Doctor: the worst gating check over the shells '
                  'Codex was run in. offboarded: declared absent, and no key is stored.'.format(
                      ', '.join(report.get('gating_checks') or []))]
    else:
        lines += ['# Codex key rotation', '']
        if report.get('generated'):
            lines += ['Generated: {0}'.format(report['generated']), '']
        lines += ['**{0}**'.format(report['summary_line']), '',
                  '| Host | Status | User | Old key | New key | Message |', '|---|---|---|---|---|---|']
        for host in report['hosts']:
            users = host['users'] or [{'user': None, 'old': None, 'new': None, 'scope': 'user'}]
            for user in users:
                lines.append('| {0} |'.format(' | '.join(_cell(v) for v in (
                    host['host'], host['status'], user['user'], user['old'], user['new'], host['message']))))
    lines.append('')
    return '\n'.join(lines)


class FilterModule(object):
    """Fleet report filters of bytes4096.codex."""

    def filters(self):
        return {
            'fleet_report': fleet_report,
            'rotation_report': rotation_report,
            'fleet_report_markdown': fleet_report_markdown,
        }
