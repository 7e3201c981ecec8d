# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side decisions of bytes4096.codex.install over a codex_install_info survey: what the
run has to do (codex_install_decision, evaluated once per host on every run, so in Python rather
than a chain of Jinja variables), what is wrong with the install the role manages (one assert task
fails with the list), and the notes the role prints without failing. Pure functions, unit-tested.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

STATES = ('present', 'absent')


def _check(own, accounts, state):
    if state not in STATES:
        raise AnsibleFilterError('state must be present or absent, not {0!r}'.format(state))
    if not isinstance(own, list) or not isinstance(accounts, list):
        raise AnsibleFilterError('expected the lists of install locations and of accounts of codex_install_info')
    return {account.get('user'): account for account in accounts if isinstance(account, dict)}


def codex_install_problems(own, accounts, state, version, method):
    """Messages for every install location of the role's method (``own``: codex_install_info
    ``installs`` entries of the method's slot) that is not in the requested state, and for every
    account whose login PATH resolves to another codex than that install or to another version.
    An account with no codex on its PATH is not a problem here (see codex_install_notes)."""
    by_user = _check(own, accounts, state)
    problems = []
    for item in own:
        user, found = item.get('user', ''), item.get('version') or ''
        if state == 'present':
            in_state = bool(item.get('complete')) and (version == 'latest' or found == version)
        else:
            in_state = not found
        if not in_state:
            link = ' (link missing)' if method == 'script' and not item.get('linked', False) else ''
            problems.append("{0}: expected Codex {1} from the {2} method at {3}, found version '{4}'{5}.".format(
                user, version if state == 'present' else 'to be absent', method, item.get('bin', ''), found, link))
        account = by_user.get(user) or {}
        if state != 'present' or not account.get('codex'):
            continue
        if account.get('codex') != item.get('bin') or (account.get('version') or '') != found:
            warnings = account.get('warnings') or []
            problems.append(
                "{0}: `codex` on the login PATH ({1}) is {2} ({3}, version '{4}'{5}), expected the {6} install "
                "at {7} (version {8}). Remove the other install or fix PATH so only one Codex is "
                "visible.".format(user, account.get('shell', ''), account['codex'], account.get('method', ''),
                                  account.get('version') or '', ': ' + '; '.join(warnings) if warnings else '',
                                  method, item.get('bin', ''), found))
    return problems


def codex_install_notes(own, accounts, state, method):
    """What the role reports without failing, as ``{user, msg}`` items: with ``state`` present, an
    install whose account does not find ``codex`` on its login PATH yet; with absent, an account
    whose PATH still resolves to a codex (installed by something else)."""
    by_user = _check(own, accounts, state)
    notes = []
    if state == 'absent':
        for account in accounts:
            if isinstance(account, dict) and account.get('codex'):
                notes.append({'user': account.get('user', ''), 'msg': (
                    '{0}: the {1} install is gone, but `codex` still resolves to {2} ({3}) on the login '
                    'PATH (installed by something else; see the detect report).'.format(
                        account.get('user', ''), method, account['codex'], account.get('method', '')))})
        return notes
    for item in own:
        user = item.get('user', '')
        if (by_user.get(user) or {}).get('codex'):
            continue
        bin_dir = (item.get('bin') or '').rpartition('/')[0]
        notes.append({'user': user, 'msg': (
            '[WARNING] {0}: {1} is not on PATH in a login {2} yet, so its version was not checked; the '
            'installer added it to {3} (new shells pick it up).'.format(
                user, bin_dir, item.get('shell', ''), ', '.join(item.get('profiles') or []) or 'no profile'))})
    return notes


def codex_install_decision(info, slot, method, scope, state, version, update=False, conflict_action='fail',
                           npm_manage_path=True, verifies=True):
    """What the role decides from a survey (codex_install_info's result, or a skipped one on Windows).

    Returns ``own`` (the installs of the method's slot), ``pending`` (those missing, incomplete or at
    another version), ``others`` (installs of any other method or scope), ``npm_profiles_missing``
    (profiles of per-user npm installs without the PATH block), ``notes`` and ``problems`` (empty
    unless ``verifies``), ``changes`` (whether the run installs, upgrades or removes, the fact
    codex_install_changed) and ``reasons`` (why converge.yml has to run; the request check is
    the role's own, see vars/main.yml).
    """
    info = info if isinstance(info, dict) else {}
    installs = [i for i in info.get('installs') or [] if isinstance(i, dict)]
    accounts = info.get('accounts') or []
    tools = info.get('tools') or {}
    own = [i for i in installs if i.get('slot') == slot]
    if version == 'latest' and update:
        pending = list(own)
    else:
        pending = [i for i in own if not i.get('complete')]
        if version != 'latest':
            pending += [i for i in own if i.get('complete') and i.get('version') != version]
    others = [i for i in installs if i.get('version') and i.get('slot') != slot]
    present = state == 'present'
    profiles = [p for i in own for p in (i.get('profiles') or [])]
    npm_profiles_missing = []
    if method == 'npm' and scope == 'user' and npm_manage_path:
        for item in own:
            wanted = '%s/.profile' % item.get('home')
            if wanted not in profiles and wanted not in npm_profiles_missing:
                npm_profiles_missing.append(wanted)
    notes = codex_install_notes(own, accounts, state, method) if verifies else []
    problems = codex_install_problems(own, accounts, state, version, method) if verifies else []
    if present:
        changes = bool(pending) or (conflict_action == 'remove' and bool(others))
    else:
        changes = any(i.get('exists') for i in own)
    checks = [
        (method == 'powershell', 'install.ps1 surveys and installs on Windows itself'),
        (bool(others), "another method's install (reported, and refused or removed for codex_state present)"),
        (present and bool(pending), 'an install is missing, incomplete or at another version'),
        (present and method == 'npm' and not tools.get('npm'), 'npm is missing'),
        (present and bool(npm_profiles_missing), 'the npm PATH block is missing from a profile'),
        (not present and (any(i.get('exists') for i in own) or bool(profiles)),
         "something of this method's install is left to remove"),
        (bool(notes), 'a note to print'),
        (bool(problems), "the install or the codex an account's login PATH resolves to is not the requested one"),
    ]
    return {'own': own, 'pending': pending, 'others': others, 'accounts': accounts, 'tools': tools,
            'npm_profiles_missing': npm_profiles_missing, 'notes': notes, 'problems': problems,
            'changes': changes, 'reasons': [reason for applies, reason in checks if applies]}


class FilterModule(object):
    """Install checks of bytes4096.codex.install."""

    def filters(self):
        return {
            'codex_install_problems': codex_install_problems,
            'codex_install_notes': codex_install_notes,
            'codex_install_decision': codex_install_decision,
        }
