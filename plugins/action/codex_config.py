# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of bytes4096.codex.codex_config.

One trip to the host reads both files' state (the module's internal ``read`` phase: config.toml
text, modes, owners, and for auth.json only validity, field names and the stored key's
fingerprint). The merge runs here with tomlkit. When nothing changes the task ends after that one
trip; otherwise one more trip (``write`` phase) writes both files. The API key only travels on the
write trip, in a no_log option, and never comes back.
"""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

try:
    from ansible.errors import AnsibleArgumentSpecValidationError
except ImportError:  # pragma: no cover
    AnsibleArgumentSpecValidationError = AnsibleActionFail

from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    HAS_TOMLKIT, TomlMergeError, desired_data, merge_config, normalize_api_key, validate_config,
)
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint

MODULE_NAME = 'bytes4096.codex.codex_config'
# Windows hosts: the same protocol as a script run by ansible.windows.win_powershell (a .ps1 under
# plugins/modules would be picked for POSIX hosts too, and cannot be sanity-checked without pwsh).
WINDOWS_MODULE_NAME = 'ansible.windows.win_powershell'
WINDOWS_SCRIPT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                   'plugin_utils', '_codex_config_windows.ps1')
NO_LOG_PLACEHOLDER = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'

ARGUMENT_SPEC = dict(
    # codex_home stays a string here: "~" means the owner's home on the host, not the controller's
    codex_home=dict(type='str'),
    owner=dict(type='str'),
    group=dict(type='str'),
    block=dict(type='str'),
    settings=dict(type='dict'),
    api_key=dict(type='str', no_log=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    backup=dict(type='bool', default=False),
    force=dict(type='bool', default=False),
    config_mode=dict(type='raw'),
)


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
    return mode


def home_mode(config_mode):
    """A new codex_home is 0700, plus r-x for group/others where config.toml must be readable."""
    mode = 0o700
    if config_mode is not None:
        if config_mode & 0o040:
            mode |= 0o050
        if config_mode & 0o004:
            mode |= 0o005
    return mode


def _where(error):
    if error.get('line') is None:
        return ''
    return ', line %s, column %s' % (error['line'], error['column'])


def plan(args, state, windows=False):
    """Decide what the write trip must do, from the task args and the read trip's ``state``.

    Pure: no connection, no I/O. Returns a dict with ``changed``, ``config_changed``,
    ``auth_changed``, ``request`` (the write request, or None when nothing changes), ``diff``,
    ``warnings`` and the return values. Raises :class:`PlanError` or :class:`TomlMergeError`.
    """
    key = args.get('api_key')
    if key is not None:
        key = normalize_api_key(key)
    new_fp = key_fingerprint(key)
    config_mode = parse_mode(args.get('config_mode'))
    if windows and (config_mode is not None or args.get('group')):
        raise PlanError('config_mode and group are POSIX options; on Windows the files get an ACL '
                        'for owner, SYSTEM and Administrators only')
    block, settings, wanted_state = args.get('block'), args.get('settings'), args.get('state') or 'present'
    desired = desired_data(block, settings)

    home = state['home']
    config = state['config']
    auth = state.get('auth')
    config_path, auth_path = config['path'], auth['path'] if auth else None
    user = state.get('user') or {}
    owner_given = args.get('owner') is not None
    group_gid = state.get('group_gid')

    # ---- validate both files before deciding to touch either ----
    if config.get('error'):
        raise PlanError('%s%s: %s; nothing was written' % (config_path, _where(config['error']), config['error']['msg']))
    merged = merge_config(config.get('text'), block, settings, wanted_state, source=config_path)
    warnings = []
    if merged.removed_leftovers:
        warnings.append('%s: removed %s: copies of top-level keys that an earlier paste below a table '
                        'header left in that table (Codex ignores or refuses them); the task sets them at '
                        'the top level' % (config_path, ', '.join(merged.removed_leftovers)))
    if 'model_provider' in desired or 'model_providers' in desired:
        warnings.extend(validate_config(merged.data, desired, source=config_path))

    auth_op = None
    if auth is not None and auth.get('exists') and not auth.get('valid'):
        if not args.get('force'):
            raise PlanError('%s%s: %s; nothing was written (force=true replaces it after a private backup)'
                            % (auth_path, _where(auth['error']), auth['error']['msg']))
        warnings.append('%s is not valid JSON; it is replaced (a private backup is kept)' % auth_path)
    previous_fp = auth.get('key_fingerprint') if auth else None
    if wanted_state == 'present' and key is not None:
        if not auth.get('exists') or not auth.get('valid') or previous_fp != new_fp or auth.get('auth_mode') != 'apikey':
            auth_op = 'set'
    elif wanted_state == 'absent' and auth is not None and auth.get('exists'):
        if not auth.get('valid'):
            auth_op = 'remove'
        elif (auth.get('key_present') or auth.get('auth_mode') == 'apikey') and (key is None or previous_fp == new_fp):
            auth_op = 'remove'

    # ---- attributes ----
    def wanted_ids(info):
        uid = user.get('uid') if owner_given else info.get('uid')
        gid = group_gid
        if gid is None:
            gid = info.get('gid') if info.get('exists') else (user.get('gid') if owner_given else None)
        return uid, gid

    config_write = merged.changed and (config.get('exists') or merged.text != '')
    new_text = merged.text
    if windows and not config.get('exists') and config_write:
        new_text = new_text.replace('\n', '\r\n')
    config_req = {'path': config_path}
    config_attr_change = False
    if windows:
        config_req['owner'] = args.get('owner')
    else:
        c_uid, c_gid = wanted_ids(config)
        c_mode = config_mode if config_mode is not None else (
            int(config['mode'], 8) if config.get('exists') else 0o600)
        config_req.update(mode='%04o' % c_mode, uid=c_uid, gid=c_gid)
        if config.get('exists'):
            config_attr_change = (int(config['mode'], 8) != c_mode or (c_uid is not None and c_uid != config.get('uid'))
                                  or (c_gid is not None and c_gid != config.get('gid')))
    if config_write:
        config_req.update(text=new_text, expect_sha256=config.get('sha256'), backup=bool(args.get('backup')))

    auth_req = {'op': auth_op, 'force': bool(args.get('force')), 'backup': bool(args.get('backup'))}
    auth_attr_change = False
    if auth is not None:
        auth_req['path'] = auth_path
        if wanted_state == 'absent' and key is not None:
            auth_req['only_fingerprint'] = new_fp
        if windows:
            auth_req['owner'] = args.get('owner')
            auth_attr_change = bool(auth.get('exists') and auth.get('valid') and not auth.get('private')
                                    and auth_op is None and wanted_state == 'present')
        else:
            a_uid, a_gid = wanted_ids(auth)
            auth_req.update(uid=a_uid, gid=a_gid)
            if auth.get('exists') and auth_op is None and wanted_state == 'present' and key is not None:
                auth_attr_change = (auth.get('mode') != '0600' or (a_uid is not None and a_uid != auth.get('uid'))
                                    or (a_gid is not None and a_gid != auth.get('gid')))
        auth_req['attrs'] = auth_attr_change

    config_changed = bool(config_write or config_attr_change)
    auth_changed = bool(auth_op or auth_attr_change)
    create_home = None
    if not home.get('exists') and (config_write or auth_op == 'set'):
        if not home.get('parent_exists', True):
            raise PlanError('the parent directory of %s does not exist; nothing was written' % home['path'])
        create_home = {'owner': args.get('owner')} if windows else {
            'mode': '%04o' % home_mode(config_mode),
            'uid': user.get('uid') if owner_given else None,
            'gid': group_gid if group_gid is not None else (user.get('gid') if owner_given else None)}

    euid = state.get('euid')
    if not windows and euid not in (None, 0):
        # an unprivileged run cannot give a file to another user: say so before writing anything
        owners = []
        if create_home is not None:
            owners.append((home['path'], create_home.get('uid')))
        if config_write or config_attr_change:
            owners.append((config_path, config_req.get('uid')))
        if auth is not None and (auth_op or auth_attr_change):
            owners.append((auth_path, auth_req.get('uid')))
        for path, uid in owners:
            if uid is not None and uid != euid:
                raise PlanError('%s must belong to uid %d, but the module runs as uid %d and cannot change '
                                'owners; use become (root), or become_user the owner; nothing was written'
                                % (path, uid, euid))

    if auth_op == 'set':
        after_fp = new_fp
    elif auth_op == 'remove':
        after_fp = None
    else:
        after_fp = previous_fp

    diff = []
    if config_write:
        diff.append({'before_header': config_path, 'after_header': config_path,
                     'before': config.get('text') or '', 'after': new_text})
    if auth_op:
        diff.append({'before_header': auth_path, 'after_header': auth_path,
                     'before': 'OPENAI_API_KEY fingerprint: %s\n' % (previous_fp or '(none)'),
                     'after': 'OPENAI_API_KEY fingerprint: %s\n' % (after_fp or '(none)')})

    changed = config_changed or auth_changed or create_home is not None
    request = None
    if changed:
        request = {'home': home['path'], 'create_home': create_home, 'config': config_req, 'auth': auth_req}
    return {
        'changed': changed, 'config_changed': config_changed, 'auth_changed': auth_changed,
        'request': request, 'secret': key if auth_op == 'set' else None, 'diff': diff,
        'warnings': warnings, 'key_fingerprint': after_fp, 'previous_key_fingerprint': previous_fp,
        'codex_home': home['path'], 'config_path': config_path, 'auth_path': auth_path,
    }


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = True

    def _is_windows(self):
        shell = getattr(self._connection, '_shell', None)
        return getattr(shell, 'SHELL_FAMILY', None) == 'powershell' or bool(getattr(shell, '_IS_WINDOWS', False))

    def _censored_invocation(self, args):
        shown = dict(args)
        if shown.get('api_key') is not None:
            shown['api_key'] = NO_LOG_PLACEHOLDER
        return {'module_args': shown}

    def _target(self, phase, request, task_vars, secret=None, windows=False):
        """One module execution on the host; returns {'state': ...} (read) or {'written': ...}."""
        if windows:
            with open(WINDOWS_SCRIPT_PATH, 'r') as handle:
                script = handle.read()
            module_args = {'script': script, 'parameters': {'Phase': phase, 'RequestJson': json.dumps(request)}}
            if secret is not None:
                module_args['sensitive_parameters'] = [{'name': 'Secret', 'value': secret}]
            result = self._execute_module(module_name=WINDOWS_MODULE_NAME, module_args=module_args,
                                          task_vars=task_vars)
            payload = result.get('result') if isinstance(result.get('result'), dict) else {}
            if result.get('failed'):
                raise AnsibleActionFail(to_native(payload.get('msg') or result.get('msg')
                                                  or 'the %s phase failed on the host' % phase))
            return payload
        module_args = {'_codex_phase': phase, '_codex_request': request}
        if secret is not None:
            module_args['_codex_secret'] = secret
        result = self._execute_module(module_name=MODULE_NAME, module_args=module_args, task_vars=task_vars)
        if result.get('failed'):
            raise AnsibleActionFail(to_native(result.get('msg') or 'the %s phase failed on the host' % phase))
        return result

    def run(self, tmp=None, task_vars=None):
        del tmp  # unused since ansible-core 2.x, kept in the signature
        result = super(ActionModule, self).run(task_vars=task_vars)
        try:
            try:
                dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
            except AnsibleArgumentSpecValidationError as exc:
                raise AnsibleActionFail(to_native(getattr(exc, 'message', exc)))
            result['invocation'] = self._censored_invocation(args) if not self._task.no_log else 'CENSORED: no_log is set'
            raw_key = self._task.args.get('api_key')
            if raw_key is not None and not isinstance(raw_key, str):
                # Ansible would turn a list or number into its repr and write that as the key
                raise AnsibleActionFail('api_key must be a string, not a %s (the value is not shown)'
                                        % type(raw_key).__name__)
            if not HAS_TOMLKIT:
                raise AnsibleActionFail('bytes4096.codex.codex_config needs the Python library tomlkit on the '
                                        'controller (pip install tomlkit)')
            windows = self._is_windows()
            # fail early on a bad key or block: no trip to the host for input that cannot work
            if args.get('api_key') is not None:
                normalize_api_key(args['api_key'])
            desired_data(args.get('block'), args.get('settings'))

            # auth.json is always read: without api_key its fingerprint is reported (a key audit)
            read = self._target('read', {'home': args.get('codex_home'), 'owner': args.get('owner'),
                                         'group': args.get('group'), 'want_auth': True}, task_vars,
                                windows=windows)
            decided = plan(args, read['state'], windows=windows)

            result.update(changed=decided['changed'], config_changed=decided['config_changed'],
                          auth_changed=decided['auth_changed'], key_fingerprint=decided['key_fingerprint'],
                          previous_key_fingerprint=decided['previous_key_fingerprint'],
                          codex_home=decided['codex_home'], config_path=decided['config_path'],
                          auth_path=decided['auth_path'])
            if decided['warnings']:
                result['warnings'] = decided['warnings']
            if self._task.diff and decided['diff']:
                result['diff'] = decided['diff']
            if not decided['changed'] or self._task.check_mode:
                return result

            written = self._target('write', decided['request'], task_vars, secret=decided['secret'],
                                   windows=windows)['written']
            result['config_changed'] = bool(written['config']['changed'])
            result['auth_changed'] = bool(written['auth']['changed'])
            result['changed'] = result['config_changed'] or result['auth_changed'] or bool(written.get('home_created'))
            result['key_fingerprint'] = written['auth'].get('key_fingerprint', result['key_fingerprint'])
            if written['config'].get('backup_file'):
                result['config_backup_file'] = written['config']['backup_file']
            if written['auth'].get('backup_file'):
                result['auth_backup_file'] = written['auth']['backup_file']
            return result
        except (TomlMergeError, PlanError) as exc:
            result.update(failed=True, msg=to_native(exc))
            return result
        except AnsibleActionFail as exc:
            result.update(failed=True, msg=to_native(exc.message))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
