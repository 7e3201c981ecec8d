#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: codex_config
short_description: Merge a provider block into Codex's config.toml and write auth.json
version_added: 0.1.0
description:
  - Merges TOML settings (for example the block the 4096bytes dashboard shows) into the Codex CLI
    C(config.toml) by TOML meaning, and writes the API key into C(auth.json) next to it.
  - Values from O(block), then O(settings), win. Keys that already exist are updated where they
    stand, in whatever spelling the file uses (C([a.b]) headers, dotted keys, inline tables,
    implicit super-tables). New top-level keys go at the top of the file, never after a table, so
    they cannot turn into keys of the table above them. No duplicate key or second C([features])
    table is ever produced.
  - Everything not named by O(block) or O(settings) keeps its bytes (comments, blank lines, order,
    quoting, CRLF line endings, a byte order mark, unicode). A second run produces the same bytes and
    reports no change.
  - One exception, with a warning naming each key, is the leftovers of a block pasted below a table header
    by hand. When a table other than C([profiles.*]) holds two or more keys that the task sets at the top
    level (same TOML type), or C([features]) holds a non-boolean one, those copies are removed; Codex
    refuses such a file (C(invalid data)) or ignores them.
  - Both files are validated before either is touched. An unparseable C(config.toml), O(block) or
    C(auth.json) fails the task with the file, line and column, and nothing is written.
  - O(api_key) is written as C(OPENAI_API_KEY) with C(auth_mode) set to V(apikey); other fields already
    in C(auth.json) stay. The key never appears in output, diff, logs or invocation; the task
    returns only its fingerprint (RV(key_fingerprint)).
  - TOML work happens on the controller (Python library C(tomlkit)); the managed host needs only
    Python 3 (or PowerShell on Windows). A host where nothing changes costs one module execution
    for both files; a change costs two.
options:
  codex_home:
    description:
      - The Codex home directory that holds C(config.toml) and C(auth.json).
      - Defaults to C(~/.codex) of O(owner), or of the user the module runs as when O(owner) is not
        set. A leading C(~) is the home of O(owner) when given.
      - Use V(/etc/codex) to manage the system layer Codex reads under every user's config;
        O(api_key) is not needed there.
      - Created with mode C(0700) (or wider as O(config_mode) requires) and owned by O(owner) when
        missing. Its parent must exist. It must be an absolute path or start with C(~).
    type: path
  owner:
    description:
      - The user who owns C(config.toml), C(auth.json) and a newly created O(codex_home).
      - When omitted, new files belong to the user the module runs as and existing owners are kept.
      - Giving files to another user needs root (C(become) as root); an unprivileged run as another user
        fails before writing anything. C(become_user) set to the owner works without root.
    type: str
  group:
    description:
      - Group of the files. When omitted, new files get the primary group of O(owner) and existing
        files keep theirs.
    type: str
  block:
    description:
      - TOML text to merge, for example the dashboard block pasted verbatim or read with
        P(ansible.builtin.file#lookup).
    type: str
  settings:
    description:
      - Structured settings merged after O(block), so inventory can override a single key, for
        example a different C(base_url) for C(model_providers.OpenAI).
      - Nested dictionaries are TOML tables. A key containing a dot is one key, not a path.
    type: dict
  api_key:
    description:
      - The API key to write to C(auth.json) as C(OPENAI_API_KEY). Keep it in Ansible Vault.
      - Surrounding whitespace and newlines are stripped. An empty key, or one containing inner
        whitespace or control characters, is refused without being echoed.
      - When omitted, C(auth.json) is not touched (with O(state=present)) and RV(key_fingerprint)
        reports the key already stored, which makes a check-mode run a fleet key audit.
    type: str
  state:
    description:
      - V(present) merges O(block) and O(settings) and writes O(api_key).
      - V(absent) removes the keys O(block) and O(settings) name (whatever their current values),
        tables left empty by that removal, and C(OPENAI_API_KEY) from C(auth.json) (with
        C(auth_mode) when it is V(apikey)). When O(api_key) is given, the stored key is removed only
        if it is that key. An C(auth.json) left empty is deleted.
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Keep a timestamped copy of each file before changing it, next to the file (through a
        symlink, next to its target). The copy of C(auth.json) is mode C(0600) like C(auth.json).
    type: bool
    default: false
  force:
    description:
      - Replace an C(auth.json) that is not valid JSON instead of failing. A private backup of the
        broken file is always kept first. Has no effect on an unparseable C(config.toml), which
        always fails.
    type: bool
    default: false
  config_mode:
    description:
      - Mode of C(config.toml), for example V('0644') for the V(/etc/codex) system layer that
        every user must read. When omitted an existing file keeps its mode and a new one gets
        C(0600). C(auth.json) is always C(0600).
    type: raw
  _codex_phase:
    description: Internal, set by the action plugin (V(read) or V(write)). Do not set it in a task.
    type: str
    choices: [read, write]
  _codex_request:
    description: Internal, set by the action plugin. Do not set it in a task.
    type: dict
  _codex_secret:
    description: Internal, set by the action plugin on the write trip (the key, no_log). Do not set it in a task.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Predicts exactly what a real run would change and writes nothing.
  diff_mode:
    support: full
    details: The C(config.toml) text diff; for C(auth.json) only the key fingerprints (old -> new).
  platform:
    platforms: [posix, windows]
    details: Windows hosts run the PowerShell counterpart through M(ansible.windows.win_powershell) (collection
      C(ansible.windows) on the controller); only its controller side is unit tested, it was not executed here.
  safe_file_operations:
    description: Uses atomic file operations (temporary file in the same directory, fsync, rename).
    support: full
notes:
  - Writes are atomic. Each file is written to a temporary file created with mode C(0600) in the
    same directory, flushed to disk and renamed over the old one, so a crash leaves the old or the
    new file and no one else can read the key, not even from the temporary file.
  - A symlinked C(config.toml) or C(auth.json) (dotfile managers) is written through; the link
    stays a link.
  - The write holds an exclusive lock on O(codex_home) and re-checks that C(config.toml) still has
    the content the merge was computed from; a concurrent change fails the task instead of being
    overwritten silently.
  - C(model_provider) in the result must name a provider defined under C(model_providers) or a
    Codex built-in (V(openai), V(ollama), V(lmstudio), V(amazon-bedrock)). Built-in ids cannot be
    redefined by a C([model_providers.<id>]) block; the dashboard's V(OpenAI) (capital O) is a
    separate id.
  - Codex 0.169 ignores C(disable_response_storage), C(network_access) and
    C(windows_wsl_setup_acknowledged) from the dashboard block and says so at startup; they are
    merged like any other key.
  - On Windows the action sends the PowerShell counterpart (the same read/write protocol, the key as a
    SecureString sensitive parameter) through M(ansible.windows.win_powershell); the files get an ACL
    for O(owner), SYSTEM and Administrators only. That path was not executed in this collection's CI;
    only its controller side is unit tested.
requirements:
  - tomlkit >= 0.12 on the controller.
seealso:
  - module: ansible.windows.win_powershell
    description: Runs the Windows counterpart.
  - module: ansible.builtin.copy
    description: What a hand-written play would use for C(auth.json).
  - module: ansible.builtin.blockinfile
    description: What a hand-written play would use for C(config.toml), and why it breaks (see the notes).
author:
  - bytes4096 platform team (@bytes4096)
'''

EXAMPLES = r'''
- name: Point Codex at 4096bytes with the dashboard block and a vaulted key
  bytes4096.codex.codex_config:
    owner: alice
    block: "{{ lookup('ansible.builtin.file', 'files/codex-dashboard.toml') }}"
    api_key: "{{ vault_codex_api_key }}"

- name: Override one key from inventory on top of the dashboard block
  bytes4096.codex.codex_config:
    owner: alice
    block: "{{ lookup('ansible.builtin.file', 'files/codex-dashboard.toml') }}"
    settings:
      model: "{{ codex_model | default('gpt-5.5') }}"
      cli_auth_credentials_store: file
      check_for_update_on_startup: false
    api_key: "{{ vault_codex_api_key }}"
    backup: true

- name: Provide the system layer every user on a shared machine reads
  bytes4096.codex.codex_config:
    codex_home: /etc/codex
    block: "{{ lookup('ansible.builtin.file', 'files/codex-dashboard.toml') }}"
    config_mode: '0644'

- name: Rotate the key (only auth.json changes)
  bytes4096.codex.codex_config:
    owner: alice
    api_key: "{{ vault_codex_api_key_next }}"
  register: __codex_rotation

- name: Audit which key each host holds, changing nothing
  bytes4096.codex.codex_config:
    owner: alice
  check_mode: true
  register: __codex_audit

- name: Offboard, removing the provider block and the key
  bytes4096.codex.codex_config:
    owner: alice
    block: "{{ lookup('ansible.builtin.file', 'files/codex-dashboard.toml') }}"
    state: absent
'''

RETURN = r'''
config_changed:
  description: Whether C(config.toml) content, mode or owner changed (or would change in check mode).
  returned: always
  type: bool
  sample: true
auth_changed:
  description: Whether C(auth.json) changed (or would change in check mode).
  returned: always
  type: bool
  sample: false
key_fingerprint:
  description:
    - Fingerprint of the key C(auth.json) holds after the task (C(sha256:) and the first 16 hex
      digits of its SHA-256); V(null) when it holds none. Compare it across a fleet to audit keys.
  returned: always
  type: str
  sample: sha256:3f2a9c0d41b7e8aa
previous_key_fingerprint:
  description: Fingerprint of the key C(auth.json) held before the task, V(null) when none.
  returned: always
  type: str
  sample: sha256:09b1c2d3e4f5a6b7
codex_home:
  description: The Codex home that was managed.
  returned: always
  type: str
  sample: /home/alice/.codex
config_path:
  description: Path of C(config.toml).
  returned: always
  type: str
  sample: /home/alice/.codex/config.toml
auth_path:
  description: Path of C(auth.json).
  returned: always
  type: str
  sample: /home/alice/.codex/auth.json
config_backup_file:
  description: Backup of the previous C(config.toml).
  returned: when O(backup=true) and C(config.toml) changed
  type: str
  sample: /home/alice/.codex/config.toml.2025-01-31@12:00:00~
auth_backup_file:
  description: Backup of the previous C(auth.json), mode C(0600).
  returned: when O(backup=true) or O(force=true) replaced a broken file, and C(auth.json) changed
  type: str
  sample: /home/alice/.codex/auth.json.2025-01-31@12:00:00~
'''

import errno
import hashlib
import json
import os
import pwd
import grp
import stat
import tempfile
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - POSIX targets only
    fcntl = None

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint

CONFIG_NAME = 'config.toml'
AUTH_NAME = 'auth.json'


class TargetError(Exception):
    pass


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _user(name):
    if name is None:
        entry = pwd.getpwuid(os.geteuid())
    else:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise TargetError('owner %r does not exist on the host' % name)
    return {'name': entry.pw_name, 'uid': entry.pw_uid, 'gid': entry.pw_gid, 'home': entry.pw_dir}


def _group_gid(name):
    if name is None:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise TargetError('group %r does not exist on the host' % name)


def _resolve_home(raw, user):
    if not raw:
        return os.path.join(user['home'], '.codex')
    if raw == '~' or raw.startswith('~/'):
        return os.path.normpath(user['home'] + raw[1:])
    if raw.startswith('~'):  # ~name/...
        name, dummy, rest = raw[1:].partition('/')
        return os.path.normpath(os.path.join(_user(name)['home'], rest))
    if not os.path.isabs(raw):
        # a relative path would land in the module's working directory (a temporary one)
        raise TargetError('codex_home must be an absolute path or start with ~, not %r' % raw)
    return os.path.normpath(raw)


def _stat_info(path):
    """State of a path, following a symlink: exists, is_link, real_path, mode, uid, gid."""
    info = {'path': path, 'exists': False, 'is_link': os.path.islink(path), 'real_path': os.path.realpath(path)}
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise
        if info['is_link'] and not os.path.isdir(os.path.dirname(info['real_path'])):
            # a dangling dotfile link: the file can be created at its target only if that directory exists
            raise TargetError('%s is a symlink to %s, whose directory does not exist; nothing was written'
                              % (path, info['real_path']))
        return info
    if not stat.S_ISREG(st.st_mode):
        raise TargetError('%s exists but is not a regular file' % path)
    info.update(exists=True, mode='%04o' % stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid)
    return info


def _read_bytes(path):
    with open(path, 'rb') as handle:
        return handle.read()


def _read_config(path):
    info = _stat_info(path)
    if info['exists']:
        data = _read_bytes(path)
        info['sha256'] = _sha256(data)
        try:
            info['text'] = data.decode('utf-8')
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b'\n') + 1
            column = exc.start - (data.rfind(b'\n', 0, exc.start) + 1) + 1
            info['error'] = {'msg': 'not valid UTF-8', 'line': line, 'column': column}
    return info


def _parse_auth(data):
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
    if not isinstance(obj, dict):
        return None, {'msg': 'invalid auth.json: the top level must be a JSON object', 'line': 1, 'column': 1}
    return obj, None


def _read_auth(path):
    info = _stat_info(path)
    if not info['exists']:
        return info
    data = _read_bytes(path)
    info['sha256'] = _sha256(data)
    obj, error = _parse_auth(data)
    info['valid'] = error is None
    if error:
        info['error'] = error
        return info
    key = obj.get('OPENAI_API_KEY')
    info['fields'] = sorted(k for k in obj if k != 'OPENAI_API_KEY')
    info['auth_mode'] = obj.get('auth_mode') if isinstance(obj.get('auth_mode'), str) else None
    info['key_present'] = isinstance(key, str) and key != ''
    info['key_fingerprint'] = key_fingerprint(key) if info['key_present'] else None
    info['private'] = info['mode'] == '0600'
    return info


def phase_read(request):
    user = _user(request.get('owner'))
    home = _resolve_home(request.get('home'), user)
    result = {'user': user, 'group_gid': _group_gid(request.get('group')), 'home': {'path': home},
              'euid': os.geteuid()}
    if os.path.isdir(home):
        st = os.stat(home)
        result['home'].update(exists=True, mode='%04o' % stat.S_IMODE(st.st_mode), uid=st.st_uid)
    elif os.path.exists(home):
        raise TargetError('codex_home %s exists but is not a directory' % home)
    else:
        result['home'].update(exists=False, parent_exists=os.path.isdir(os.path.dirname(home) or '/'))
    result['config'] = _read_config(os.path.join(home, CONFIG_NAME))
    if request.get('want_auth'):
        result['auth'] = _read_auth(os.path.join(home, AUTH_NAME))
    return result


# ----------------------------------------------------------------------------------------------
# Writing


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(module, path, data, mode, uid, gid):
    """Write ``data`` to the file ``path`` points at (through a symlink) atomically."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(real), suffix='.tmp', dir=directory)
    try:
        # mkstemp creates the file 0600: nobody else can read it while the secret is written
        if uid is not None or gid is not None:
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        os.fchmod(fd, mode)
        os.close(fd)
        fd = None
        if module.selinux_enabled():
            context = module.selinux_context(real) if os.path.exists(real) else module.selinux_default_context(real)
            module.set_context_if_different(tmp, context, False)
        os.rename(tmp, real)
        tmp = None
        _fsync_dir(directory)
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return real


def _backup(module, path, data, mode, uid, gid):
    real = os.path.realpath(path)
    stamp = time.strftime('%Y-%m-%d@%H:%M:%S')
    target = '%s.%s~' % (real, stamp)
    if os.path.exists(target):
        target = '%s.%s.%d~' % (real, stamp, os.getpid())
    directory = os.path.dirname(real)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(real), suffix='.tmp', dir=directory)
    try:
        if os.geteuid() == 0:
            os.fchown(fd, uid, gid)
        os.write(fd, data)
        os.fsync(fd)
        os.fchmod(fd, mode)
        os.close(fd)
        fd = None
        os.rename(tmp, target)
        tmp = None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            os.unlink(tmp)
    return target


def _set_attrs(path, mode, uid, gid):
    """chmod/chown through a symlink; return True when something changed."""
    st = os.stat(path)
    changed = False
    if mode is not None and stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)
        changed = True
    want_uid = st.st_uid if uid is None else uid
    want_gid = st.st_gid if gid is None else gid
    if (want_uid, want_gid) != (st.st_uid, st.st_gid):
        os.chown(path, want_uid, want_gid)
        changed = True
    return changed


def _new_auth_bytes(obj, secret, op):
    obj = dict(obj or {})
    if op == 'set':
        if obj.get('auth_mode') != 'apikey':
            obj['auth_mode'] = 'apikey'
        obj['OPENAI_API_KEY'] = secret
    else:
        obj.pop('OPENAI_API_KEY', None)
        if obj.get('auth_mode') == 'apikey':
            obj.pop('auth_mode')
    if not obj and op == 'remove':
        return None
    return to_bytes(json.dumps(obj, indent=2, ensure_ascii=False) + '\n')


def _lock(home):
    if fcntl is None:
        return None
    fd = os.open(home, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def phase_write(module, request, secret):
    home = request['home']
    result = {'config': {'changed': False}, 'auth': {'changed': False}, 'home_created': False}
    create = request.get('create_home')
    if create and not os.path.isdir(home):
        try:
            os.mkdir(home, 0o700)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise TargetError('cannot create %s: %s' % (home, to_native(exc.strerror)))
        os.chmod(home, int(create['mode'], 8))
        if create.get('uid') is not None or create.get('gid') is not None:
            os.chown(home, -1 if create.get('uid') is None else create['uid'],
                     -1 if create.get('gid') is None else create['gid'])
        result['home_created'] = True
    lock_fd = _lock(home)
    try:
        config_req = request.get('config') or {}
        auth_req = request.get('auth') or {}
        config_path = os.path.join(home, CONFIG_NAME)
        auth_path = os.path.join(home, AUTH_NAME)

        # 1. Re-read both files under the lock and decide everything before writing anything.
        config_write = None
        if config_req.get('text') is not None:
            current = _read_bytes(config_path) if os.path.isfile(config_path) else None
            new = config_req['text'].encode('utf-8')
            if current == new:
                pass  # a concurrent run wrote the same thing already
            elif (None if current is None else _sha256(current)) != config_req.get('expect_sha256'):
                raise TargetError('%s changed on the host while this task ran (another run?); nothing '
                                  'was written, run the task again' % config_path)
            else:
                config_write = (current, new)
        auth_write = None
        op = auth_req.get('op')
        if op in ('set', 'remove'):
            current = _read_bytes(auth_path) if os.path.isfile(auth_path) else None
            obj, error = (None, None) if current is None else _parse_auth(current)
            if error and not auth_req.get('force'):
                raise TargetError('%s: %s%s; nothing was written (force=true replaces it after a '
                                  'private backup)' % (auth_path, error['msg'], _where(error)))
            stored = obj.get('OPENAI_API_KEY') if obj else None
            stored = stored if isinstance(stored, str) else None
            if op == 'remove' and auth_req.get('only_fingerprint') and \
                    key_fingerprint(stored) != auth_req['only_fingerprint']:
                op = None
            elif op == 'set' and obj is not None and stored == secret and obj.get('auth_mode') == 'apikey':
                op = None
            elif op == 'remove' and (obj is None or ('OPENAI_API_KEY' not in obj and obj.get('auth_mode') != 'apikey')):
                op = None
            if op:
                auth_write = (current, _new_auth_bytes(obj, secret, op), error is not None)

        # 2. Write config.toml, then auth.json.
        if config_write is not None:
            current, new = config_write
            if current is not None and config_req.get('backup'):
                st = os.stat(config_path)
                result['config']['backup_file'] = _backup(module, config_path, current, stat.S_IMODE(st.st_mode),
                                                          st.st_uid, st.st_gid)
            _atomic_write(module, config_path, new, int(config_req['mode'], 8), config_req.get('uid'),
                          config_req.get('gid'))
            result['config']['changed'] = True
        elif config_req.get('mode') and os.path.isfile(config_path):
            if _set_attrs(config_path, int(config_req['mode'], 8), config_req.get('uid'), config_req.get('gid')):
                result['config']['changed'] = True

        if auth_write is not None:
            current, new, broken = auth_write
            if current is not None and (auth_req.get('backup') or broken):
                st = os.stat(auth_path)
                result['auth']['backup_file'] = _backup(module, auth_path, current, 0o600, st.st_uid, st.st_gid)
            if new is None:
                os.unlink(os.path.realpath(auth_path))
                if os.path.islink(auth_path):
                    os.unlink(auth_path)
            else:
                _atomic_write(module, auth_path, new, 0o600, auth_req.get('uid'), auth_req.get('gid'))
            result['auth']['changed'] = True
        elif auth_req.get('attrs') and os.path.isfile(auth_path):
            if _set_attrs(auth_path, 0o600, auth_req.get('uid'), auth_req.get('gid')):
                result['auth']['changed'] = True
        if os.path.isfile(auth_path):
            obj, error = _parse_auth(_read_bytes(auth_path))
            stored = obj.get('OPENAI_API_KEY') if obj else None
            result['auth']['key_fingerprint'] = key_fingerprint(stored) if isinstance(stored, str) and stored else None
        else:
            result['auth']['key_fingerprint'] = None
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    return result


def _where(error):
    if error.get('line') is None:
        return ''
    return ' at line %s, column %s' % (error['line'], error['column'])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            codex_home=dict(type='path'),
            owner=dict(type='str'),
            group=dict(type='str'),
            block=dict(type='str'),
            settings=dict(type='dict'),
            api_key=dict(type='str', no_log=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            backup=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            config_mode=dict(type='raw'),
            # internal protocol with the action plugin (see plugins/action/codex_config.py)
            _codex_phase=dict(type='str', choices=['read', 'write']),
            _codex_request=dict(type='dict'),
            _codex_secret=dict(type='str', no_log=True),
        ),
        supports_check_mode=True,
    )
    phase = module.params['_codex_phase']
    request = module.params['_codex_request'] or {}
    if phase is None:
        module.fail_json(msg='bytes4096.codex.codex_config runs through its action plugin; call it as a task '
                             'with the collection installed on the controller')
    try:
        if phase == 'read':
            module.exit_json(changed=False, state=phase_read(request))
        if module.check_mode:
            module.fail_json(msg='internal error: write phase requested in check mode')
        secret = module.params['_codex_secret']
        module.exit_json(changed=True, written=phase_write(module, request, secret))
    except TargetError as exc:
        module.fail_json(msg=to_native(exc))
    except (OSError, IOError) as exc:
        module.fail_json(msg='%s: %s' % (to_native(getattr(exc, 'filename', '') or ''), to_native(exc.strerror or exc)))


if __name__ == '__main__':
    main()
