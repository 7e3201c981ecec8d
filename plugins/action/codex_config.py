# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of bytes4096.codex.codex_config.

One trip to the host reads the state of the Codex home (a ``read_request`` of
``module_utils/_codex_protocol``), unless ``prefetched`` holds the answer to the same request from
an earlier trip of the run (codex_install_info reads the homes a deploy configures). The merge and
every decision run here (``plugin_utils/_codex_plan``). When nothing changes the task ends there;
otherwise one more trip (``write_request``) writes, re-reading both files under the lock first.
The API key only travels on the write trip, outside the request (a no_log option on POSIX, a
SecureString on Windows), and never comes back. Both host sides get the same requests.
"""

from __future__ import annotations

import copy
import json
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

try:
    from ansible.errors import AnsibleArgumentSpecValidationError
except ImportError:  # pragma: no cover
    AnsibleArgumentSpecValidationError = AnsibleActionFail

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_config_spec import ARGUMENT_SPEC
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import (
    PROTOCOL_VERSION, ProtocolError, validate_request, validate_response,
)
from ansible_collections.bytes4096.codex.plugins.plugin_utils._codex_plan import plan
from ansible_collections.bytes4096.codex.plugins.plugin_utils._codex_plan_attrs import PlanError, attributes_for
from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    HAS_TOMLKIT, TomlMergeError, desired_data, normalize_api_key,
)

MODULE_NAME = 'bytes4096.codex.codex_config'
# Windows hosts: the same protocol as a script run by ansible.windows.win_powershell (a .ps1 under
# plugins/modules would be picked for POSIX hosts too, and cannot be sanity-checked without pwsh).
WINDOWS_MODULE_NAME = 'ansible.windows.win_powershell'
WINDOWS_SCRIPT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                   'plugin_utils', '_codex_config_windows.ps1')
NO_LOG_PLACEHOLDER = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


class HostFailure(Exception):
    """A trip failed on the host; ``written`` is what it wrote before failing (a write response)."""

    def __init__(self, message, written=None):
        super(HostFailure, self).__init__(message)
        self.message = message
        self.written = written


def describe_type(value):
    """A type in plain words, for messages ("a number", not an internal class name)."""
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, (list, tuple, set)):
        return 'a list'
    if isinstance(value, dict):
        return 'a dictionary'
    if isinstance(value, bytes):
        return 'bytes'
    return 'a value that is not text'


def written_result(written, fallback_fp):
    """The return values that a (possibly partial) write response proves."""
    config, auth = written['config'], written['auth']
    result = {'config_changed': bool(config['changed']), 'auth_changed': bool(auth['changed']),
              'repaired': list(written['repaired']), 'removed_files': list(written['removed_files'])}
    result['changed'] = bool(result['config_changed'] or result['auth_changed'] or written['home_created']
                             or result['repaired'] or result['removed_files'])
    # the host reads auth.json back after the trip; without that, only what was there before is known
    result['key_fingerprint'] = auth.get('key_fingerprint') if auth.get('exists') is not None else fallback_fp
    if auth.get('exists') is not None:
        result['auth_mode'] = auth.get('auth_mode')
        result['credentials'] = auth.get('credentials')
    if config.get('backup_file'):
        result['config_backup_file'] = config['backup_file']
    if auth.get('backup_file'):
        result['auth_backup_file'] = auth['backup_file']
    return result


def prefetched_state(prefetched, request):
    """The answer among ``prefetched`` (``{request, state}`` items) to a read request for the same
    Codex home, owner, group and config mode as ``request``, or None. The home matches by the
    request as written or by the path the host resolved it to."""
    for entry in prefetched or ():
        if not isinstance(entry, dict) or not isinstance(entry.get('request'), dict) \
                or not isinstance(entry.get('state'), dict):
            continue
        made, state = entry['request'], entry['state']
        if made.get('protocol') != request['protocol'] or not made.get('want_auth') \
                or any(made.get(name) != request.get(name) for name in ('owner', 'group', 'config_mode')):
            continue
        resolved = state.get('home').get('path') if isinstance(state.get('home'), dict) else None
        if made.get('codex_home') == request['codex_home'] \
                or (request['codex_home'] is not None and resolved == request['codex_home']):
            return state
    return None


def failed_result(result, message, before, written=None):
    """A failed task reports only what happened: changed when something was written, and the key
    the host reports (or the one it held before), never the key the task meant to write."""
    diffs = result.pop('diff', None) or []
    for name in ('repaired', 'removed_files', 'auth_mode', 'credentials', 'key_fingerprint'):
        result.pop(name, None)
    result.update(failed=True, msg=message, changed=False, config_changed=False, auth_changed=False)
    result.update(before)
    if before:
        result.update(repaired=[], removed_files=[])
    if written is not None:
        result.update(written_result(written, before.get('key_fingerprint')))
        done = set()
        if written['config']['content_changed']:
            done.add(result.get('config_path'))
        if written['auth']['content_changed']:
            done.add(result.get('auth_path'))
        shown = [entry for entry in diffs if entry['before_header'] in done]
        if shown:
            result['diff'] = shown
    return result


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
        if shown.get('prefetched'):
            # the answers hold config.toml as it is; the task shows only masked diffs of it
            shown['prefetched'] = '%d read answer(s), not shown' % len(shown['prefetched'])
        return {'module_args': shown}

    def _runs_as_root(self):
        """Whether the module will run as root: a read answer made as root is only valid then."""
        context = self._play_context
        if context.become:
            return (context.become_user or 'root') == 'root'
        return (context.remote_user or 'root') == 'root'

    def _execute(self, phase, request, task_vars, secret, windows):
        """Run one phase on the host: (failed, message, payload) with payload the host's answer."""
        if windows:
            with open(WINDOWS_SCRIPT_PATH, 'r') as handle:
                script = handle.read()
            # depth: win_powershell turns objects nested deeper than this into strings (default 2)
            module_args = {'script': script, 'parameters': {'Phase': phase, 'RequestJson': json.dumps(request)},
                           'depth': 8}
            if secret is not None:
                module_args['sensitive_parameters'] = [{'name': 'Secret', 'value': secret}]
            result = self._execute_module(module_name=WINDOWS_MODULE_NAME, module_args=module_args,
                                          task_vars=task_vars)
            payload = result.get('result') if isinstance(result.get('result'), dict) else {}
            return bool(result.get('failed')), payload.get('msg') or result.get('msg'), payload
        module_args = {'_codex_phase': phase, '_codex_request': request}
        if secret is not None:
            module_args['_codex_secret'] = secret
        result = self._execute_module(module_name=MODULE_NAME, module_args=module_args, task_vars=task_vars)
        return bool(result.get('failed')), result.get('msg'), result

    def _target(self, phase, request, task_vars, secret=None, windows=False):
        """One trip: validated request out, validated response back (``read_response`` or
        ``write_response``). A failure raises :class:`HostFailure` with what was written."""
        validate_request(phase, request)
        failed, message, payload = self._execute(phase, request, task_vars, secret, windows)
        field = 'state' if phase == 'read' else 'written'
        answer = payload.get(field)
        if failed:
            written = None
            if phase == 'write' and isinstance(answer, dict):
                try:
                    written = validate_response('write', answer)
                except ProtocolError:
                    written = None  # a partial answer that is not understood proves nothing
            raise HostFailure(to_native(message or 'the %s phase failed on the host' % phase), written)
        try:
            return validate_response(phase, answer)
        except ProtocolError as exc:
            raise HostFailure('the host side answered the %s trip with something this controller does not '
                              'understand (%s)' % (phase, to_native(exc)))

    @staticmethod
    def _prefetched(prefetched, request, skip):
        """A read answer from earlier in the run, validated like a trip's, or None (then: a trip)."""
        state = None if skip else prefetched_state(prefetched, request)
        if state is None:
            return None
        try:
            state = validate_response('read', copy.deepcopy(state))
        except ProtocolError:
            return None  # not understood: read afresh
        # made with the rights this task's trip would have (root, the account's child for its home)
        return state if state['platform'] == 'posix' and state['euid'] == 0 else None

    def _validate(self):
        raw_key = self._task.args.get('api_key')
        if raw_key is not None and not isinstance(raw_key, str):
            # Ansible would turn a list or number into its repr and write that as the key
            raise AnsibleActionFail('api_key must be a string, not %s (the value is not shown)'
                                    % describe_type(raw_key))
        try:
            dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        except AnsibleArgumentSpecValidationError as exc:
            raise AnsibleActionFail(to_native(getattr(exc, 'message', exc)))
        if args.get('lock_timeout') is not None and args['lock_timeout'] < 1:
            raise AnsibleActionFail('lock_timeout must be at least 1 (seconds)')
        return args

    def run(self, tmp=None, task_vars=None):
        del tmp  # unused since ansible-core 2.x, kept in the signature
        result = super(ActionModule, self).run(task_vars=task_vars)
        before = {}  # what the read trip found: all a failure may report
        try:
            args = self._validate()
            result['invocation'] = self._censored_invocation(args) if not self._task.no_log else 'CENSORED: no_log is set'
            if not HAS_TOMLKIT:
                raise AnsibleActionFail('bytes4096.codex.codex_config needs the Python library tomlkit on the '
                                        'controller (pip install tomlkit)')
            windows = self._is_windows()
            # fail early on bad input: no trip to the host for input that cannot work
            attrs = attributes_for(windows, args)
            if args.get('api_key') is not None:
                normalize_api_key(args['api_key'])
            desired_data(args.get('block'), args.get('settings'))

            # auth.json is always read: without api_key its fingerprint is reported (a key audit)
            request = {'protocol': PROTOCOL_VERSION, 'codex_home': args.get('codex_home'), 'owner': args.get('owner'),
                       'group': args.get('group'), 'config_mode': attrs.request_config_mode(), 'want_auth': True}
            validate_request('read', request)
            read = self._prefetched(args.get('prefetched'), request, windows or not self._runs_as_root())
            result['prefetched'] = read is not None
            if read is None:
                read = self._target('read', request, task_vars, windows=windows)
            if read['platform'] != attrs.platform:
                raise AnsibleActionFail('the %s host side answered a task planned for %s' % (read['platform'], attrs.platform))
            auth = read.get('auth') or {}
            before = {'key_fingerprint': auth.get('key_fingerprint') if auth.get('valid') else None,
                      'auth_mode': auth.get('auth_mode'), 'credentials': auth.get('credentials')}
            decided = plan(args, read, attrs)

            result.update(decided['result'])
            if decided['warnings']:
                result['warnings'] = decided['warnings']
            if self._task.diff and decided['diff']:
                result['diff'] = decided['diff']
            if decided['request'] is None or self._task.check_mode:
                return result

            written = self._target('write', decided['request'], task_vars, secret=decided['secret'], windows=windows)
            result.update(written_result(written, before['key_fingerprint']))
            if written['auth'].get('tokens_backed_up'):
                result.setdefault('warnings', []).append(
                    '%s: the ChatGPT login ("tokens") Codex could not parse was removed; it is kept in %s'
                    % (result['auth_path'], written['auth'].get('backup_file') or 'a private backup'))
            return result
        except HostFailure as exc:
            return failed_result(result, exc.message, before, exc.written)
        except (TomlMergeError, PlanError, ProtocolError) as exc:
            return failed_result(result, to_native(exc), before)
        except AnsibleActionFail as exc:
            return failed_result(result, to_native(exc.message), before)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
