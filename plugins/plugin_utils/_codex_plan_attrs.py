# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File attributes of bytes4096.codex.codex_config, one strategy per host OS (internal).

POSIX hosts get modes (and the group option); Windows hosts get an ACL for the owner, SYSTEM and
Administrators. The host side applies the rules (``module_utils/_codex_protocol``); a strategy,
chosen once per task by :func:`attributes_for`, answers the same questions for both OSes so the
planner can predict a write trip (check mode included): ``home``, ``config`` and ``auth`` each return
(the repair a write trip makes, e.g. "path: 0755 -> 0700", or None; whether owner or group drifted),
and ``new_file_text`` gives a new config.toml its line endings.
"""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import parse_octal, wanted_mode


class PlanError(Exception):
    """A refusal found while planning; the message names the file and never holds the key."""


def parse_mode(value):
    """'0644', '644', 0o644 or 420 -> int; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise PlanError('config_mode must be an octal mode such as "0644"')
    if isinstance(value, int):
        mode = value
    else:
        text = to_native(value).strip()
        try:
            mode = int(text, 8)
        except ValueError:
            raise PlanError('config_mode must be an octal mode such as "0644", not %r' % text)
    if mode < 0 or mode > 0o7777:
        raise PlanError('config_mode %o is out of range' % mode)
    if mode & 0o022:
        raise PlanError('config_mode %04o lets others change config.toml (and so where the key goes); '
                        'use a mode without group/other write, such as "0644"' % mode)
    return mode


def _repair(path, have, want):
    return '%s: %04o -> %04o' % (path, have, want)


class PosixAttributes(object):
    """Modes (and the group option) on POSIX hosts, by the protocol's mode rules."""

    platform = 'posix'

    def __init__(self, config_mode=None, group_given=False):
        self.config_mode = config_mode
        self.group_given = group_given
        self.access = self.account_uid = self.group_gid = self.euid = None

    def bind(self, read):
        """Remember what the read trip said about the account and how the host does I/O."""
        self.access = read.get('access')
        self.account_uid = (read.get('account') or {}).get('uid')
        self.group_gid = read.get('group_gid')
        self.euid = read.get('euid')
        return self

    def request_config_mode(self):
        return None if self.config_mode is None else '%04o' % self.config_mode

    def new_file_text(self, text):
        return text

    def _ids_drift(self, info):
        if self.group_gid is not None and info.get('gid') != self.group_gid:
            return True
        # only fd-based root I/O can give a file back to the account; a child running as the
        # account owns whatever it writes
        return self.access == 'root' and self.account_uid is not None and info.get('uid') != self.account_uid

    def _check(self, what, info):
        """The repair a write trip makes on an existing object, or None."""
        have = parse_octal(info.get('mode')) if info and info.get('exists') else None
        if have is None:
            return None
        want = wanted_mode(what, have, self.access, self.config_mode)
        return _repair(info['path'], have, want) if want != have else None

    def home(self, info):
        """(repair or None, owner/group drift) of the Codex home."""
        return self._check('home', info), False

    def config(self, info):
        """(repair or None, owner/group drift) of config.toml."""
        return self._check('config', info), bool(info.get('exists') and self._ids_drift(info))

    def auth(self, info):
        """(repair or None, owner/group drift) of auth.json."""
        if not info or not info.get('exists'):
            return None, False
        return self._check('auth', info), self._ids_drift(info)

    def check_writer(self, paths):
        """An unprivileged run cannot write for another account: say so before writing anything."""
        if self.access != 'self' or self.euid is None or self.account_uid in (None, self.euid):
            return
        for path in paths:
            raise PlanError('%s must belong to uid %d, but the module runs as uid %d and cannot write for '
                            'another account; use become (root), or become_user the owner; nothing was '
                            'written' % (path, self.account_uid, self.euid))


class WindowsAttributes(object):
    """An ACL for the owner, SYSTEM and Administrators on Windows hosts (set by the script on every
    write trip, for the Codex home and both files)."""

    platform = 'windows'

    def bind(self, read):
        return self

    def request_config_mode(self):
        return None

    def new_file_text(self, text):
        return text.replace('\r\n', '\n').replace('\n', '\r\n')

    @staticmethod
    def _check(info):
        if info and info.get('exists') and info.get('private') is False:
            return '%s: ACL open to others -> owner, SYSTEM and Administrators only' % info['path']
        return None

    def home(self, info):
        return self._check(info), False

    def config(self, info):
        return self._check(info), False

    def auth(self, info):
        if not info or not info.get('valid'):
            return None, False
        return self._check(info), False

    def check_writer(self, paths):
        return


def attributes_for(windows, args):
    """The strategy for the host OS; refuses options that OS does not have before any trip."""
    config_mode = parse_mode(args.get('config_mode'))
    if windows:
        if config_mode is not None or args.get('group'):
            raise PlanError('config_mode and group are POSIX options; on Windows the files get an ACL '
                            'for owner, SYSTEM and Administrators only')
        return WindowsAttributes()
    return PosixAttributes(config_mode, group_given=args.get('group') is not None)
