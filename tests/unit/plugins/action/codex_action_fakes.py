# -*- coding: utf-8 -*-
"""Test doubles for the controller side of codex_config: only the connection boundary is faked.

Every message a fake host receives is checked with the protocol's ``validate_request`` and every
answer it gives with ``validate_response``, so the fakes cannot drift from the written schema.
"""
from __future__ import annotations

import copy
import hashlib
import json
from unittest.mock import MagicMock

from ansible_collections.bytes4096.codex.plugins.action import codex_config as action_mod
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_protocol import (
    PROTOCOL_VERSION, validate_request, validate_response,
)

BLOCK = '''model_provider = "OpenAI"
model = "gpt-5.5"

[model_providers.OpenAI]
name = "OpenAI"
base_url = "https://api.4096bytes.com"
wire_api = "responses"
requires_openai_auth = true

[features]
goals = true
'''
KEY = 'sk-unit-' + 'a1B2c3D4e5F6g7H8'
OTHER_KEY = 'sk-unit-' + 'z9Y8x7W6v5U4t3S2'
HOME = '/home/alice/.codex'
WIN_HOME = 'C:\\Users\\alice\\.codex'


def sha(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def path_info(path, exists=True, kind='file', mode='0600', uid=1000, gid=1000, **extra):
    info = {'path': path, 'exists': exists, 'is_link': False, 'link_target': None,
            'real_path': path, 'type': kind if exists else None, 'mode': mode if exists else None,
            'uid': uid if exists else None, 'gid': gid if exists else None,
            'nlink': (1 if kind == 'file' else 2) if exists else None, 'owner': None, 'private': None}
    info.update(extra)
    return info


def config_info(text=None, home=HOME, mode='0600', **extra):
    sep = '\\' if home == WIN_HOME else '/'
    info = path_info(home + sep + 'config.toml', exists=text is not None, mode=mode, **extra)
    if text is not None:
        info.update(size=len(text.encode('utf-8')), sha256=sha(text), text=text)
    return info


def auth_info(key=None, home=HOME, mode='0600', exists=None, valid=True, auth_mode='apikey', fields=None,
              tokens='absent', credentials=None, **extra):
    sep = '\\' if home == WIN_HOME else '/'
    exists = key is not None if exists is None else exists
    info = path_info(home + sep + 'auth.json', exists=exists, mode=mode, **extra)
    if not exists:
        return info
    info.update(size=64, sha256='0' * 64, valid=valid)
    if not valid:
        info['error'] = {'msg': 'invalid JSON: Expecting value', 'line': 1, 'column': 2}
        info.update(credentials='unreadable')
        return info
    info.update(fields=sorted(fields if fields is not None else (['auth_mode'] if auth_mode else [])),
                auth_mode=auth_mode, key_present=key is not None and key != '',
                key_fingerprint=key_fingerprint(key) if key else None, tokens=tokens,
                credentials=credentials or ('apikey' if key and auth_mode == 'apikey' else 'none'))
    return info


def read_response(config=None, auth=None, home=None, platform='posix', access='account', leftovers=(),
                  loose_modes=(), euid=0, group_gid=None, account_uid=1000):
    windows = platform == 'windows'
    home_path = WIN_HOME if windows else HOME
    if home is None:
        home = path_info(home_path, kind='directory', mode=None if windows else '0700')
    response = {
        'protocol': PROTOCOL_VERSION, 'platform': platform, 'access': access,
        'euid': None if windows else euid,
        'account': {'name': 'alice', 'uid': None if windows else account_uid,
                    'gid': None if windows else account_uid, 'home': home_path.rsplit('\\' if windows else '/', 1)[0]},
        'group_gid': group_gid, 'home': home,
        'config': config if config is not None else config_info(home=home_path),
        'auth': auth if auth is not None else auth_info(home=home_path),
        'leftovers': list(leftovers), 'loose_modes': list(loose_modes),
    }
    return validate_response('read', response)


def write_response(config_changed=False, auth_changed=False, home_created=False, fingerprint=None,
                   auth_exists=None, repaired=(), removed_files=(), access='account', **auth_extra):
    auth = {'changed': auth_changed, 'content_changed': auth_changed, 'backup_file': None,
            'tokens_backed_up': False, 'exists': auth_exists, 'key_fingerprint': fingerprint,
            'auth_mode': 'apikey' if fingerprint else None,
            'credentials': ('apikey' if fingerprint else 'none') if auth_exists is not None else None}
    auth.update(auth_extra)
    response = {'protocol': PROTOCOL_VERSION, 'access': access, 'home_created': home_created,
                'config': {'changed': config_changed, 'content_changed': config_changed, 'backup_file': None},
                'auth': auth, 'repaired': list(repaired), 'removed_files': list(removed_files)}
    return validate_response('write', response)


class FakeHost(object):
    """Answers the two trips like a host side would; records what it was sent."""

    def __init__(self, read, write=None, fail_read=None, fail_write=None, partial=None, windows=False):
        self.read = read
        self.write = write
        self.fail_read = fail_read
        self.fail_write = fail_write
        self.partial = partial
        self.windows = windows
        self.calls = []

    def default_write(self, request, secret):
        config_changed = request['config']['text'] is not None
        auth = request['auth'] or {}
        fingerprint = key_fingerprint(secret) if auth.get('op') == 'set' else (
            None if auth.get('op') == 'remove' else (self.read['auth'] or {}).get('key_fingerprint'))
        return write_response(config_changed=config_changed, auth_changed=bool(auth),
                              home_created=request['create_home'], fingerprint=fingerprint,
                              auth_exists=fingerprint is not None)

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        module_args = json.loads(json.dumps(module_args))
        self.calls.append((module_name, module_args))
        if self.windows:
            assert module_name == 'ansible.windows.win_powershell'
            phase = module_args['parameters']['Phase']
            request = json.loads(module_args['parameters']['RequestJson'])
            secret = (module_args.get('sensitive_parameters') or [{}])[0].get('value')
        else:
            assert module_name == 'bytes4096.codex.codex_config'
            phase, request = module_args['_codex_phase'], module_args['_codex_request']
            secret = module_args.get('_codex_secret')
        validate_request(phase, request)
        if phase == 'read':
            answer = {'failed': True, 'msg': self.fail_read} if self.fail_read else {'state': copy.deepcopy(self.read)}
        elif self.fail_write:
            answer = {'failed': True, 'msg': self.fail_write}
            if self.partial is not None:
                answer['written'] = validate_response('write', self.partial)
        else:
            written = self.write(request, secret) if callable(self.write) else (self.write or self.default_write(request, secret))
            answer = {'written': validate_response('write', written)}
        if self.windows:
            failed = answer.pop('failed', False)
            return {'changed': phase == 'write' and not failed, 'failed': failed, 'output': [], 'result': answer}
        return dict(answer, changed=phase == 'write')

    def phases(self):
        if self.windows:
            return [c[1]['parameters']['Phase'] for c in self.calls]
        return [c[1]['_codex_phase'] for c in self.calls]

    def request(self, phase):
        for name, module_args in self.calls:
            if self.windows and module_args['parameters']['Phase'] == phase:
                return json.loads(module_args['parameters']['RequestJson'])
            if not self.windows and module_args['_codex_phase'] == phase:
                return module_args['_codex_request']
        return None


def make_action(args, host, check_mode=False, diff=True, no_log=False):
    task = MagicMock()
    task.args = dict(args)
    task.check_mode = check_mode
    task.diff = diff
    task.no_log = no_log
    task.async_val = 0
    connection = MagicMock()
    windows = bool(host is not None and host.windows)
    connection._shell.SHELL_FAMILY = 'powershell' if windows else 'sh'
    connection._shell._IS_WINDOWS = windows
    connection._shell.tmpdir = None
    play_context = MagicMock()
    play_context.become, play_context.become_user, play_context.remote_user = False, None, None  # root
    action = action_mod.ActionModule(task, connection, play_context, MagicMock(), MagicMock(), MagicMock())
    action._execute_module = host
    action._remove_tmp_path = lambda path: None
    return action


def run(host, check_mode=False, diff=True, **args):
    return make_action(args, host, check_mode=check_mode, diff=diff).run(task_vars={})
