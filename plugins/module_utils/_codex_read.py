# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The read trip of bytes4096.codex.codex_config on a POSIX host. Internal.

What the planner and the audit learn about a Codex home (``read_response`` of ``_codex_protocol``),
read as the account in a child that dropped root (as root only for root-owned locations). Shared by
the codex_config module (its read trip, and reading back after a failed write) and by
codex_install_info, which makes the same reads in its one trip so that a converged deploy needs no
trip of codex_config's own (codex_config's ``prefetched`` option).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import stat

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import (
    credentials, key_fingerprint, tokens_state, unreadable_fields,
)
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_drop import run_as_account
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_fs import (
    AUTH_NAME, CONFIG_NAME, Context, TargetError, kind_of, list_leftovers, mode_str, open_file, open_home,
    resolve_home, strerror,
)

# margin over lock_timeout for the child's own work before the parent gives up on it
CHILD_MARGIN = 60


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _where(error):
    if error.get('line') is None:
        return ''
    return ' at line %s, column %s' % (error['line'], error['column'])


def parse_auth(data):
    """Parse auth.json bytes: (object or None, error dict or None). Error messages carry no content."""
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        return None, {'msg': 'not valid UTF-8', 'line': None, 'column': None}
    if text.startswith('\ufeff'):
        text = text[1:]
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return None, {'msg': 'invalid JSON: %s' % getattr(exc, 'msg', 'parse error'),
                      'line': getattr(exc, 'lineno', None), 'column': getattr(exc, 'colno', None)}
    except RecursionError:
        return None, {'msg': 'invalid auth.json: nested too deeply', 'line': None, 'column': None}
    if not isinstance(obj, dict):
        return None, {'msg': 'invalid auth.json: the top level must be a JSON object', 'line': 1, 'column': 1}
    return obj, None


def _path_facts(ref):
    facts = {'path': ref.path, 'exists': ref.exists, 'is_link': ref.is_link, 'link_target': ref.link_target,
             'real_path': ref.real_path}
    if ref.exists:
        facts.update(type=kind_of(ref.st), mode=mode_str(ref.st), uid=ref.st.st_uid, gid=ref.st.st_gid,
                     nlink=ref.st.st_nlink, size=len(ref.data), sha256=_sha256(ref.data),
                     private=not bool(stat.S_IMODE(ref.st.st_mode) & 0o077))
    return facts


def config_facts(ref):
    facts = _path_facts(ref)
    if ref.exists:
        try:
            facts['text'] = ref.data.decode('utf-8')
        except UnicodeDecodeError as exc:
            data = ref.data
            line = data[:exc.start].count(b'\n') + 1
            column = exc.start - (data.rfind(b'\n', 0, exc.start) + 1) + 1
            facts['error'] = {'msg': 'not valid UTF-8', 'line': line, 'column': column}
    return facts


def auth_facts(ref):
    facts = _path_facts(ref)
    if not ref.exists:
        facts.update(credentials='none', tokens='absent')
        return facts
    obj, error = parse_auth(ref.data)
    facts['valid'] = error is None
    if error:
        facts.update(error=error, credentials='unreadable')
        return facts
    key = obj.get('OPENAI_API_KEY')
    facts['fields'] = sorted(k for k in obj if k != 'OPENAI_API_KEY')
    facts['auth_mode'] = obj.get('auth_mode') if isinstance(obj.get('auth_mode'), str) else None
    facts['key_present'] = isinstance(key, str) and key != ''
    facts['key_fingerprint'] = key_fingerprint(key) if facts['key_present'] else None
    facts['tokens'] = tokens_state(obj)
    facts['unreadable_fields'] = unreadable_fields(obj)
    facts['credentials'] = credentials(obj)
    return facts


def read_state(request, ctx, home_path, config_mode):
    """The read trip, as the account (or root for root-owned locations)."""
    home = open_home(home_path, ctx)
    refs = []
    try:
        result = {'protocol': proto.PROTOCOL_VERSION, 'platform': 'posix', 'access': ctx.access,
                  'euid': ctx.euid, 'account': ctx.account(), 'group_gid': ctx.group_gid,
                  'leftovers': [], 'loose_modes': []}
        hfacts = {'path': home_path, 'exists': home.fd is not None,
                  'is_link': bool(home.lst is not None and stat.S_ISLNK(home.lst.st_mode)),
                  'parent_exists': home.parent_exists, 'create_as': home.create_as}
        result['home'] = hfacts
        missing = {'path': None, 'exists': False, 'is_link': False}
        if home.fd is None:
            result['config'] = dict(missing, path=posixpath.join(home_path, CONFIG_NAME))
            result['auth'] = dict(missing, path=posixpath.join(home_path, AUTH_NAME), credentials='none',
                                  tokens='absent') if request['want_auth'] else None
            return result
        hfacts.update(real_path=home.real, type='directory', mode=mode_str(home.st), uid=home.st.st_uid,
                      gid=home.st.st_gid, nlink=home.st.st_nlink,
                      private=not bool(stat.S_IMODE(home.st.st_mode) & 0o077))
        if hfacts['is_link']:
            hfacts['link_target'] = home.link_target
        loose = result['loose_modes']
        current = stat.S_IMODE(home.st.st_mode)
        if proto.loose('home', current, ctx.access, config_mode):
            loose.append({'path': home_path, 'mode': '%04o' % current,
                          'wanted': '%04o' % proto.wanted_mode('home', current, ctx.access, config_mode)})
        config = open_file(home, CONFIG_NAME, ctx, proto.MAX_CONFIG_BYTES)
        refs.append(config)
        result['config'] = config_facts(config)
        if config.exists:
            current = stat.S_IMODE(config.st.st_mode)
            if proto.loose('config', current, ctx.access, config_mode):
                loose.append({'path': config.real_path, 'mode': '%04o' % current,
                              'wanted': '%04o' % proto.wanted_mode('config', current, ctx.access, config_mode)})
        result['auth'] = None
        if request['want_auth']:
            auth = open_file(home, AUTH_NAME, ctx, proto.MAX_AUTH_BYTES)
            refs.append(auth)
            result['auth'] = auth_facts(auth)
            if auth.exists and proto.loose('auth', stat.S_IMODE(auth.st.st_mode), ctx.access):
                loose.append({'path': auth.real_path, 'mode': mode_str(auth.st), 'wanted': '0600'})
        for name, kind, lst in list_leftovers(home.fd):
            result['leftovers'].append({'name': name, 'kind': kind, 'mode': mode_str(lst)})
            if kind == 'auth_backup' and stat.S_ISREG(lst.st_mode) and stat.S_IMODE(lst.st_mode) & 0o077:
                loose.append({'path': posixpath.join(home_path, name), 'mode': mode_str(lst), 'wanted': '0600'})
        return result
    finally:
        for ref in refs:
            ref.close()
        home.close()


def _in_place(func):
    """Run ``func`` in this process with the same answer shape as a child."""
    try:
        return func()
    except TargetError as exc:
        return {'error': str(exc)}
    except OSError as exc:
        return {'error': '%s: %s' % (to_native(getattr(exc, 'filename', '') or ''), strerror(exc))}


def phase_read(request, fork=True):
    proto.validate_request('read', request)
    ctx = Context(request.get('owner'), request.get('group'))
    home_path = resolve_home(request.get('codex_home'), ctx)
    config_mode = proto.parse_octal(request.get('config_mode'))

    def work():
        return {'state': read_state(request, ctx, home_path, config_mode)}
    if ctx.access == 'account' and fork:
        answer = run_as_account(ctx, work, CHILD_MARGIN, home_path)
    else:
        answer = _in_place(work)
    if 'error' in answer:
        raise TargetError(to_native(answer['error'])[:2000])
    state = answer.get('state')
    try:
        proto.validate_response('read', state)
    except proto.ProtocolError as exc:
        raise TargetError('%s: the read as %s gave an invalid answer: %s' % (home_path, ctx.name, exc))
    return state
