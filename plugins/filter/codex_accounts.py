# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helpers of the configure role: which accounts a host has, how Codex is run as
each of them, and what a provider block asks for. Pure functions over inventory data and the
``getent passwd`` table, so the role needs no Jinja loops and the decisions are unit-tested.
"""

from __future__ import annotations

try:
    import tomllib as _toml
except ImportError:  # pragma: no cover - Python < 3.11 controllers
    _toml = None
try:
    import tomlkit as _tomlkit
except ImportError:  # pragma: no cover - reported when a block is parsed
    _tomlkit = None

from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError
from ansible_collections.bytes4096.codex.plugins.filter.fleet_report import credentials_problem, parse_doctor, detail

STATES = ('present', 'absent')
SHELLS = ('non-login', 'login')
# What login(1), su - and sshd give a login shell before /etc/profile runs.
LOGIN_PATH = '/usr/local/bin:/usr/bin:/bin'
# What bash runs in both shells: as the account, from its home, Codex with the given arguments.
SCRIPT = 'cd "$HOME" && exec codex "$@"'


def codex_accounts(users, passwd, system=False, system_home='/etc/codex'):
    """The accounts of one host, resolved against its ``getent passwd`` table.

    ``passwd`` maps a name to its passwd fields after the name (``getent_passwd``), or to None for a
    name the install role's survey found missing (``codex_install_passwd``): both read the same.

    ``users`` is ``codex_configure_users`` (``{name, state, group, codex_home}`` items); the result
    has one dictionary per account with ``name``, ``state``, ``exists``, ``uid``, ``gid``, ``home``,
    ``shell``, ``codex_home`` (the account's default ``~/.codex`` unless the item names another),
    ``default_home`` and ``scope`` (``user``, or ``system`` for root on a host that has only the
    system layer). Items are validated here so a bad inventory fails before anything is touched.
    """
    if users is None:
        users = []
    if not isinstance(users, (list, tuple)):
        raise AnsibleFilterError('codex_configure_users must be a list of {name: ...} items')
    if not isinstance(passwd, dict):
        raise AnsibleFilterError('codex_accounts needs the getent passwd table (getent_passwd)')
    accounts, seen = [], set()
    for index, item in enumerate(users):
        if isinstance(item, str):
            item = {'name': item}
        if not isinstance(item, dict) or not isinstance(item.get('name'), str) or not item['name']:
            raise AnsibleFilterError('codex_configure_users[{0}] needs a name'.format(index))
        name = item['name']
        if name in seen:
            raise AnsibleFilterError('codex_configure_users lists {0} twice'.format(name))
        seen.add(name)
        unknown = sorted(set(item) - {'name', 'state', 'group', 'codex_home'})
        if unknown:
            raise AnsibleFilterError('codex_configure_users item {0}: unknown key(s) {1} (allowed: name, state, '
                                     'group, codex_home)'.format(name, ', '.join(unknown)))
        state = item.get('state', 'present')
        if state not in STATES:
            raise AnsibleFilterError('codex_configure_users item {0}: state must be present or absent, not '
                                     '{1!r}'.format(name, state))
        accounts.append(_account(name, passwd.get(name), state, item.get('group'), item.get('codex_home'), 'user'))
    if not accounts and system:
        accounts.append(_account('root', passwd.get('root'), 'present', None, None, 'system', system_home))
    return accounts


def codex_account_names(users, system=False):
    """The account names a host's resolution needs: the names in ``codex_configure_users`` (strings or
    ``{name: ...}`` items), or ``root`` for a host with only the system layer.

    Lenient on purpose (items without a name are left out): it only decides whether a passwd table
    covers the accounts, and for whom the install survey looks them up; codex_accounts validates.
    """
    names = []
    for item in users if isinstance(users, (list, tuple)) else []:
        name = item if isinstance(item, str) else item.get('name') if isinstance(item, dict) else None
        if isinstance(name, str) and name and name not in names:
            names.append(name)
    if not names and system:
        names.append('root')
    return names


def codex_home_reads(users, system=False, system_home='/etc/codex', manage_key=True):
    """The Codex homes configure's codex_config loop reads, as codex_install_info ``codex_homes`` items
    (``codex_home``, ``owner``, ``group``, ``config_mode``), so the install survey can read them in
    its trip: the system layer (``config_mode`` 0644), then each account (``~/.codex`` unless the item
    names another home; with the system layer and unmanaged keys only the accounts declared absent,
    as in the loop). Lenient like codex_account_names: a home the loop reads differently only costs
    codex_config its own read trip.
    """
    reads = []
    if system:
        reads.append({'codex_home': system_home, 'owner': 'root', 'group': None, 'config_mode': '0644'})
    for item in users if isinstance(users, (list, tuple)) else []:
        item = {'name': item} if isinstance(item, str) else item
        if not isinstance(item, dict) or not isinstance(item.get('name'), str) or not item['name']:
            continue
        if system and not manage_key and item.get('state', 'present') != 'absent':
            continue
        reads.append({'codex_home': item.get('codex_home') or '~/.codex', 'owner': item['name'],
                      'group': item.get('group'), 'config_mode': None})
    return reads


def codex_passwd_covers(passwd, names):
    """True when ``passwd`` (the install role's ``codex_install_passwd``: name -> entry, or None for a
    name that does not exist) has an entry for every name in ``names``."""
    return isinstance(passwd, dict) and all(name in passwd for name in names or [])


def _account(name, entry, state, group, codex_home, scope, system_home=None):
    exists = isinstance(entry, (list, tuple)) and len(entry) >= 6
    home = entry[4] if exists else None
    account = {
        'name': name,
        'state': state,
        'exists': exists,
        'uid': int(entry[1]) if exists else None,
        'gid': int(entry[2]) if exists else None,
        'home': home,
        'shell': entry[5] if exists else None,
        'group': group,
        'scope': scope,
    }
    default = (home.rstrip('/') + '/.codex') if home else None
    if scope == 'system':
        account['codex_home'] = system_home
        account['default_home'] = True
    else:
        account['codex_home'] = codex_home or default
        account['default_home'] = codex_home is None or codex_home == default
    return account


def codex_run_argv(account, shell, args, user_bin_dirs=None, system_path='/usr/local/bin:/usr/bin:/bin',
                   timeout=120):
    """argv that runs ``codex ARGS`` as ``account`` the way its own shells do, from root.

    ``non-login``: a step as GitHub Actions runs one, ``env -i`` with HOME, USER, LOGNAME, SHELL
    and PATH (the account's bin directories, then ``system_path``), ``bash --noprofile --norc``.
    ``login``: a login shell as ``su -``, an ssh session or GitLab's shell executor start one,
    ``bash -l`` reading /etc/profile and the account's profile. Neither gets CODEX_HOME or any
    other variable from the run: what Codex finds there, every job on the account finds.
    The account's uid, gid and groups are taken with setpriv before bash starts; ``timeout``
    bounds the run so an account cannot stall the play.
    """
    if shell not in SHELLS:
        raise AnsibleFilterError('shell must be one of {0}, not {1!r}'.format(', '.join(SHELLS), shell))
    if not isinstance(account, dict) or not account.get('exists'):
        raise AnsibleFilterError('codex_run_argv: account {0} does not exist on the host'.format(
            (account or {}).get('name') if isinstance(account, dict) else account))
    home = account['home']
    if isinstance(args, str):
        args = [args]
    bins = [d.replace('~', home, 1) if d.startswith('~') else d for d in (user_bin_dirs or [])]
    common = ['HOME=' + home, 'USER=' + account['name'], 'LOGNAME=' + account['name'],
              'SHELL=' + (account.get('shell') or '/bin/sh')]
    if shell == 'non-login':
        env = common + ['PATH=' + ':'.join(bins + [system_path])]
        bash = ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c', SCRIPT]
    else:
        env = common + ['PATH=' + LOGIN_PATH]
        bash = ['bash', '-l', '-c', SCRIPT]
    return (['timeout', '-k', '5', str(int(timeout)),
             'setpriv', '--reuid={0}'.format(account['uid']), '--regid={0}'.format(account['gid']),
             '--init-groups', '--', 'env', '-i'] + env + bash + ['codex'] + [str(a) for a in args])


def codex_block_info(block):
    """What a provider block asks for: top-level keys, model, model_provider, the provider host.

    Used for the expected values of verification and the audit and for the warning about keys
    Codex ignores; parsing the TOML (not matching lines) keeps tables and comments out of it.
    """
    text = block if isinstance(block, str) else ''
    try:
        if _toml is not None:
            data = _toml.loads(text)
        elif _tomlkit is not None:  # pragma: no cover
            data = _tomlkit.parse(text).unwrap()
        else:  # pragma: no cover
            raise AnsibleFilterError('codex_block_info needs tomllib (Python 3.11) or tomlkit on the controller')
    except ValueError as exc:
        raise AnsibleFilterError('the provider block (codex_configure_block) is not valid TOML: {0}'.format(exc))
    top = sorted(k for k, v in data.items() if not isinstance(v, dict))
    provider_id = data.get('model_provider') if isinstance(data.get('model_provider'), str) else ''
    providers = data.get('model_providers') if isinstance(data.get('model_providers'), dict) else {}
    provider = providers.get(provider_id) if isinstance(providers.get(provider_id), dict) else {}
    base_url = provider.get('base_url') if isinstance(provider.get('base_url'), str) else ''
    return {
        'top_level_keys': top,
        'model': data.get('model') if isinstance(data.get('model'), str) else '',
        'model_provider': provider_id,
        'base_url': base_url,
        'provider_host': provider_host(base_url),
    }


def codex_key_state(result):
    """An account's key state from a codex_config result (check mode, no api_key).

    ``fingerprint`` of the stored key, stored ``auth_mode``, ``credentials`` (what Codex will use:
    apikey, chatgpt, unreadable, none; None when the module does not say), ``repaired`` (loose
    modes it would fix), and ``error`` when the module could not read the files.
    """
    if not isinstance(result, dict):
        raise AnsibleFilterError('codex_key_state needs a codex_config result')
    state = {
        'fingerprint': result.get('key_fingerprint') or None,
        'auth_mode': result.get('auth_mode'),
        'credentials': result.get('credentials'),
        'repaired': list(result.get('repaired') or []),
        'error': None,
    }
    # registered with failed_when: false, a failure keeps only its msg (a success has none)
    if result.get('failed') or result.get('msg'):
        state['error'] = ' '.join(str(result.get('msg') or 'codex_config could not read the files').split())
        state['fingerprint'] = None
    return state


def codex_doctor_verdict(run, host='', model='', provider='', key=True, reachability=True, allow_warnings=True):
    """'' when one `codex doctor --json` run (a result of the role's codex runs) passes, else why not.

    The message names the host, the account and the shell, so a failure in a login shell only
    (a profile that sets CODEX_HOME elsewhere, a PATH without codex) reads as such.
    """
    if not isinstance(run, dict) or not isinstance(run.get('item'), (list, tuple)):
        raise AnsibleFilterError('codex_doctor_verdict needs a result of the role\'s codex runs')
    account, shell = run['item'][0], run['item'][1]
    where = 'Codex on {0} as {1} ({2} shell)'.format(host, account.get('name'), shell)
    doc = parse_doctor(run.get('stdout'))
    if doc is None:
        err = ' '.join(str(run.get('stderr') or run.get('msg') or '').split())[-300:]
        if run.get('rc') == 127 or 'codex: command not found' in err:
            return '{0}: codex is not on the PATH of this shell ({1})'.format(where, err)
        return '{0}: codex doctor --json gave no report (rc {1}): {2}'.format(where, run.get('rc'), err)
    problems = []
    load = doc['checks'].get('config.load') or {}
    allowed = ('ok', 'warning') if allow_warnings else ('ok',)
    if load.get('status') not in allowed:
        problems.append('config.load {0} ({1}{2})'.format(
            load.get('status', 'missing'), load.get('summary', ''),
            ': ' + (detail(load, 'startup warning') or detail(load, 'error') or '') if load else ''))
    if model and detail(load, 'model') != model:
        problems.append('model {0} (want {1})'.format(detail(load, 'model'), model))
    if provider and detail(load, 'model provider') != provider:
        problems.append('provider {0} (want {1})'.format(detail(load, 'model provider'), provider))
    if key and account.get('scope', 'user') == 'user':
        problem = credentials_problem(doc)
        if problem:
            problems.append(problem)
    reach = doc['checks'].get('network.provider_reachability') or {}
    if reachability and reach.get('status') not in ('ok', 'warning'):
        problems.append('provider reachability {0} ({1})'.format(reach.get('status', 'missing'), reach.get('summary', '')))
    if not problems:
        return ''
    return '{0}: {1}'.format(where, '; '.join(' '.join(p.split()) for p in problems))


def codex_audit_records(accounts, key_state, runs, expected):
    """One raw audit record per account (what bytes4096.codex.fleet_report judges).

    ``accounts`` from codex_accounts, ``key_state`` {name: codex_key_state}, ``runs`` the results of
    the role's codex doctor runs (item = [account, shell]), ``expected`` {model, provider,
    fingerprint, key}.
    """
    records = []
    results = (runs or {}).get('results', []) if isinstance(runs, dict) else (runs or [])
    for account in accounts or []:
        mine = [r for r in results if isinstance(r, dict) and isinstance(r.get('item'), (list, tuple))
                and r['item'][0].get('name') == account['name'] and not r.get('skipped')]
        records.append({
            'user': account['name'],
            'scope': account.get('scope', 'user'),
            'state': account.get('state', 'present'),
            'exists': account.get('exists', True),
            'codex_home': account.get('codex_home'),
            'key': (key_state or {}).get(account['name'], {}),
            'runs': [{'shell': r['item'][1], 'rc': r.get('rc'), 'stdout': r.get('stdout', ''),
                      'stderr': (r.get('stderr') or r.get('msg') or '')[-2000:]} for r in mine],
            'expected': dict(expected or {}, key=bool((expected or {}).get('key', True))
                             and account.get('scope', 'user') == 'user'),
        })
    return records


def codex_rotation_users(rotated, old_state):
    """[{user, old, new}] from the codex_config results of a rotation and the key state before it.

    Only accounts the rotation wrote appear; ``new`` is the fingerprint the module reports after
    its write, ``old`` the one codex_config read before (None when there was no key).
    """
    results = (rotated or {}).get('results', []) if isinstance(rotated, dict) else (rotated or [])
    users = []
    for result in results:
        if not isinstance(result, dict) or result.get('skipped') or not isinstance(result.get('item'), dict):
            continue
        name = result['item'].get('name')
        users.append({'user': name,
                      'old': ((old_state or {}).get(name) or {}).get('fingerprint'),
                      'new': None if result.get('failed') else result.get('key_fingerprint')})
    return users


def provider_host(base_url):
    """``host[:port]`` of a base_url, '' when there is none."""
    if not isinstance(base_url, str) or not base_url:
        return ''
    try:
        return urlsplit(base_url).netloc.rsplit('@', 1)[-1]
    except ValueError:
        return ''


class FilterModule(object):
    """Account and block helpers of bytes4096.codex.configure."""

    def filters(self):
        return {
            'codex_accounts': codex_accounts,
            'codex_account_names': codex_account_names,
            'codex_passwd_covers': codex_passwd_covers,
            'codex_home_reads': codex_home_reads,
            'codex_run_argv': codex_run_argv,
            'codex_block_info': codex_block_info,
            'codex_key_state': codex_key_state,
            'codex_doctor_verdict': codex_doctor_verdict,
            'codex_audit_records': codex_audit_records,
            'codex_rotation_users': codex_rotation_users,
            'provider_host': provider_host,
        }
