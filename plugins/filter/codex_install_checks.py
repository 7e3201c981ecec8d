# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side checks of bytes4096.codex.install over a codex_install_info survey: what is
wrong with the install the role manages (one assert task fails with the list), and the notes the
role prints without failing. Pure functions, unit-tested, so the role needs no loop of assert and
debug tasks on a converged host.
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


class FilterModule(object):
    """Install checks of bytes4096.codex.install."""

    def filters(self):
        return {
            'codex_install_problems': codex_install_problems,
            'codex_install_notes': codex_install_notes,
        }
