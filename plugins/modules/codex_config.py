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
        set.
      - Resolved on the managed host, never on the controller. C(~) and C(~/dir) are the home of
        O(owner) (or of the user the module runs as); C(~name/dir) is the home of the host account
        C(name). Otherwise it must be an absolute path; a relative path or one with C($VAR) or
        C(%VAR%) is refused (a relative path would land in the module's temporary directory).
      - Use V(/etc/codex) to manage the system layer Codex reads under every user's config;
        O(api_key) is not needed there.
      - Created with mode C(0700) (or wider as O(config_mode) requires) and owned by O(owner) when
        missing. Its parent must exist.
    type: str
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
      - V(absent) also removes every key backup C(auth.json.<stamp>~) in O(codex_home) (and next to
        the target of a linked C(auth.json)) and leftover temporary files of this module; it never
        makes a new backup of C(auth.json) (O(backup) applies to C(config.toml) only), so no new copy
        of a key is left behind. The removed files are listed in RV(removed_files). Revoke the key at
        the provider afterwards; a copy elsewhere (another backup tool, a shell history) is not found.
      - An C(auth.json) that is not valid JSON fails V(absent) unless O(force=true), which deletes it
        (it may hold a key).
    type: str
    choices: [present, absent]
    default: present
  backup:
    description:
      - Keep a timestamped copy of each file before changing it, next to the file (through a
        symlink, next to its target), written like the file itself (temporary file, fsync, rename).
        The copy of C(auth.json) is mode C(0600) like C(auth.json). Not with O(state=absent) for
        C(auth.json).
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
        every user must read. When omitted an existing file keeps its mode without group/other write
        permission, and a new one gets C(0600). C(config.toml) is never left group- or
        other-writable (those bits are cleared; RV(repaired) lists it). C(auth.json) and key backups
        are always C(0600).
    type: raw
  lock_timeout:
    description:
      - Seconds to wait for the lock on O(codex_home) held by another run (or by a process of the
        account) before failing with a message naming the Codex home. Nothing waits longer.
    type: int
    default: 30
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
  - "Privilege model: everything under an account's home is controlled by that account, so nothing
    there is opened, read, written, chmod-ed, chown-ed or deleted with more privilege than the account
    has. When the module runs as root and O(owner) is an account other than root, every read and write
    under O(codex_home) happens in a child process that dropped to the account (its groups, gid and
    uid, with a check that root cannot be regained): the kernel enforces the rule. The child answers
    over a pipe; the module caps the answer's size, stops the child after O(lock_timeout) plus 60
    seconds with an error naming the Codex home, and validates the answer. The key reaches the child
    in memory only."
  - "Root acts itself only for a Codex home that belongs to root (the system layer V(/etc/codex), no
    O(owner)), and to create an account's Codex home in a root-owned parent the account cannot write.
    Then it works through file descriptors: every path component is opened from C(/) with
    C(O_NOFOLLOW|O_DIRECTORY), a component that belongs to neither root nor the account is refused by
    name, the new directory is created with C(mkdirat) and given to the account with C(fchown) and
    C(fchmod) on its descriptor; the rest is done as the account. Without root (no C(become)) the
    module works as the user it runs as, with the same checks."
  - "Links: a symlinked C(config.toml), C(auth.json) or O(codex_home) (dotfile managers) keeps working
    when the link belongs to the account (or to root, as links made by a provisioning tool do) and the
    directory of its target belongs to the account (checked on the opened objects); the file is
    written as the account next to its target and the link stays. Any other link,
    a link to a link, or a dangling link into a directory the account does not own is refused with a
    message naming it. A file that does not belong to the account, or has more than one hard link, is
    refused by name and never changed."
  - "Only regular files are read: they are opened with C(O_NOFOLLOW|O_NONBLOCK) and checked with
    C(fstat) before reading, so a FIFO or a device is refused without blocking; C(config.toml) is read
    up to 1 MiB and C(auth.json) up to 256 KiB, bigger files are refused."
  - "Modes are repaired, not only kept: O(codex_home) C(0700) for an account (plus read/search for
    group or other when O(config_mode) grants read), group/other write cleared on a root-owned Codex
    home, C(auth.json) and its backups C(0600), C(config.toml) never group/other-writable. RV(repaired)
    lists each repair; check mode (the read trip) reports them as well."
  - "O(api_key) is written with C(auth_mode) V(apikey), so Codex sends it even when C(auth.json) also
    holds a ChatGPT login (C(tokens)), which is kept. A C(tokens) object Codex cannot parse (it makes
    Codex unable to read C(auth.json) at all) is removed with a warning and kept in a private backup."
  - "Crash safety: C(config.toml) is written first, then C(auth.json), each as a temporary file
    (mode C(0600), same directory), fsync, rename, fsync of the directory. A kill at any point leaves
    each file old or new; a temporary file left by a kill is removed by the next write, under the
    lock. Disk full, a read-only file system and similar errors fail with the file named and the old
    file intact."
  - Writes are atomic. Each file is written to a temporary file created with mode C(0600) in the
    same directory, flushed to disk and renamed over the old one, so a crash leaves the old or the
    new file and no one else can read the key, not even from the temporary file.
  - The write holds an exclusive lock on O(codex_home) (waiting at most O(lock_timeout)) and re-checks that C(config.toml) still has
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
auth_mode:
  description: The C(auth_mode) stored in C(auth.json) after the task (V(null) when none or no file).
  returned: always
  type: str
  sample: apikey
credentials:
  description:
    - What Codex will use from C(auth.json) after the task. V(apikey) the stored key; V(chatgpt) a
      ChatGPT login token (sent to the configured provider instead of the key); V(unreadable) Codex
      cannot read C(auth.json) (not JSON, an unknown C(auth_mode), a C(tokens) object it cannot
      parse); V(none) no credentials.
  returned: always
  type: str
  sample: apikey
repaired:
  description: "Modes tightened by the task (in check mode, those it would tighten), each as C(path: old -> new)."
  returned: always
  type: list
  elements: str
  sample: ['/home/alice/.codex: 0777 -> 0700', '/home/alice/.codex/config.toml: 0666 -> 0644']
removed_files:
  description:
    - Files the task removed (in check mode, would remove), names only - leftover temporary files,
      key backups and a deleted C(auth.json) with O(state=absent).
  returned: always
  type: list
  elements: str
  sample: ['/home/alice/.codex/auth.json.2025-01-31@12:00:00~']
auth_backup_file:
  description: Backup of the previous C(auth.json), mode C(0600).
  returned: when O(backup=true) or O(force=true) replaced a broken file, and C(auth.json) changed
  type: str
  sample: /home/alice/.codex/auth.json.2025-01-31@12:00:00~
'''

import errno
import fcntl
import grp
import json
import os
import posixpath
import pwd
import select
import signal
import stat
import time
import hashlib

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import (
    credentials, key_fingerprint, tokens_state, unreadable_fields,
)
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_config_spec import MODULE_ARGUMENT_SPEC

CONFIG_NAME = proto.CONFIG_NAME
AUTH_NAME = proto.AUTH_NAME
# what the parent reads from a child at most: a 1 MiB config.toml can grow ~6x as JSON text
MAX_CHILD_OUTPUT = 8 * 1024 * 1024
# margin over lock_timeout for the child's own work before the parent gives up on it
CHILD_MARGIN = 60
MAX_LINK_DEPTH = 8


class TargetError(Exception):
    """A refusal or failure on the host; the message names the path and never holds file content."""


class NeedRootCreate(Exception):
    """The account cannot create its Codex home (the parent is not writable by it)."""


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _mode(st):
    return '%04o' % stat.S_IMODE(st.st_mode)


def _kind(st):
    if stat.S_ISREG(st.st_mode):
        return 'file'
    if stat.S_ISDIR(st.st_mode):
        return 'directory'
    return 'other'


def _kind_name(st):
    mode = st.st_mode
    for test, name in ((stat.S_ISFIFO, 'a FIFO'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISDIR, 'a directory'), (stat.S_ISLNK, 'a symlink')):
        if test(mode):
            return name
    return 'not a regular file'


def _strerror(exc):
    return to_native(exc.strerror or exc)


# ----------------------------------------------------------------------------------------------
# Who we are and whom we act for


class Context(object):
    """The account, how I/O is done (access) and which owners are trusted."""

    def __init__(self, owner, group=None):
        self.euid = os.geteuid()
        try:
            entry = pwd.getpwnam(owner) if owner is not None else pwd.getpwuid(self.euid)
        except KeyError:
            raise TargetError('owner %r does not exist on the host' % owner)
        self.name, self.uid, self.gid, self.home = entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir
        self.group_gid = None
        if group is not None:
            try:
                self.group_gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise TargetError('group %r does not exist on the host' % group)
        if self.euid != 0:
            self.access = 'self'
        elif self.uid == 0:
            self.access = 'root'
        else:
            self.access = 'account'
        if self.access == 'account' and self.group_gid is not None and \
                self.group_gid not in os.getgrouplist(self.name, self.gid):
            raise TargetError('group %r: %s is not a member, and files in its Codex home are written as %s; '
                              'add %s to the group or leave group unset' % (group, self.name, self.name, self.name))

    def account(self):
        return {'name': self.name, 'uid': self.uid, 'gid': self.gid, 'home': self.home}

    def owns(self, st):
        return st.st_uid == self.uid

    def trusted_dir(self, st):
        """Directories above the Codex home may belong to root or to the account."""
        return st.st_uid in (0, self.uid)


def resolve_home(raw, ctx):
    def home_of(name):
        return pwd.getpwnam(name).pw_dir
    try:
        return proto.resolve_posix(raw, ctx.home, home_of)
    except proto.ProtocolError as exc:
        raise TargetError(str(exc))


# ----------------------------------------------------------------------------------------------
# Path walking through file descriptors.
#
# Every directory is opened component by component from "/" with O_NOFOLLOW|O_DIRECTORY, and every
# object is judged by fstat of what was opened, so a name swapped between two checks changes
# nothing: what is used is what was checked.

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)


def _close(fd):
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def open_dir(path, ctx, trust_link, trust_dir, depth=0):
    """Open the directory ``path``; returns (fd, real path). Links are followed only when
    ``trust_link(lstat)`` accepts them; every directory passed must satisfy ``trust_dir(fstat)``.
    Raises TargetError naming the refused component, or OSError(ENOENT) when a component is missing."""
    if depth > MAX_LINK_DEPTH:
        raise TargetError('%s: too many levels of symbolic links' % path)
    path = posixpath.normpath('/' + path.lstrip('/'))
    parts = [p for p in path.split('/') if p]
    fd = os.open('/', _DIR_FLAGS)
    real = '/'
    try:
        index = 0
        while index < len(parts):
            name = parts[index]
            here = posixpath.join(real, name)
            try:
                lst = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise OSError(errno.ENOENT, 'No such file or directory', here)
                raise
            if stat.S_ISLNK(lst.st_mode):
                if not trust_link(lst):
                    raise TargetError('%s is a symlink owned by uid %d; only links that belong to %s (or '
                                      'root) are followed; nothing was done' % (here, lst.st_uid, ctx.name))
                target = os.readlink(name, dir_fd=fd)
                rest = '/'.join(parts[index + 1:])
                joined = target if target.startswith('/') else posixpath.join(real, target)
                _close(fd)
                fd = None
                fd, real = open_dir(posixpath.join(joined, rest) if rest else joined, ctx, trust_link,
                                    trust_dir, depth + 1)
                return fd, real
            if not stat.S_ISDIR(lst.st_mode):
                raise TargetError('%s is %s, not a directory; nothing was done' % (here, _kind_name(lst)))
            try:
                new = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise TargetError('%s: %s (as %s); nothing was done' % (here, _strerror(exc), ctx.name))
            st = os.fstat(new)
            if not trust_dir(st):
                _close(new)
                raise TargetError('%s belongs to uid %d, neither root nor %s: the Codex home must not lie '
                                  'under another account\'s directory; nothing was done'
                                  % (here, st.st_uid, ctx.name if ctx.uid else 'the account'))
            _close(fd)
            fd, real = new, here
            index += 1
        return fd, real
    except BaseException:
        _close(fd)
        raise


class Home(object):
    """The opened Codex home: directory fd and facts."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self.real = None
        self.lst = None
        self.st = None
        self.parent_exists = None
        self.create_as = None
        self.link_target = None

    def close(self):
        _close(self.fd)
        self.fd = None


def _link_ok_for(ctx):
    return lambda lst: lst.st_uid in (0, ctx.uid)


def open_home(path, ctx):
    """Open the Codex home ``path`` (may be missing: fd None)."""
    home = Home(path)
    parent, name = posixpath.split(path)
    try:
        pfd, preal = open_dir(parent, ctx, _link_ok_for(ctx), ctx.trusted_dir)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            home.parent_exists = False
            return home
        raise
    try:
        home.parent_exists = True
        try:
            home.lst = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            # in a child dropped to the account, access() answers for the account
            home.create_as = 'account' if (ctx.access != 'account' or os.access(preal, os.W_OK)) else 'root'
            return home
        if stat.S_ISLNK(home.lst.st_mode):
            if home.lst.st_uid not in (0, ctx.uid):
                raise TargetError('codex_home %s is a symlink owned by uid %d, neither %s nor root; it is not '
                                  'followed; nothing was done' % (path, home.lst.st_uid, ctx.name))
            target = home.link_target = os.readlink(name, dir_fd=pfd)
            try:
                fd, real = open_dir(target if target.startswith('/') else posixpath.join(preal, target),
                                    ctx, _link_ok_for(ctx), ctx.trusted_dir)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise TargetError('codex_home %s is a symlink to %s, which does not exist; nothing was done'
                                      % (path, target))
                raise
            except TargetError as exc:
                raise TargetError('codex_home %s is a symlink to %s: %s' % (path, target, exc))
        elif stat.S_ISDIR(home.lst.st_mode):
            fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
            real = path
        else:
            raise TargetError('codex_home %s is %s, not a directory; nothing was done' % (path, _kind_name(home.lst)))
        st = os.fstat(fd)
        if not ctx.owns(st):
            _close(fd)
            raise TargetError('codex_home %s%s belongs to uid %d, not to %s; nothing was done'
                              % (path, '' if real == path else ' (link to %s)' % real, st.st_uid, ctx.name))
        home.fd, home.real, home.st = fd, real, st
        return home
    finally:
        _close(pfd)


class FileRef(object):
    """A file of the Codex home, opened for reading (or missing) with its facts."""

    def __init__(self, path):
        self.path = path            # name in the Codex home
        self.exists = False
        self.is_link = False
        self.link_target = None
        self.real_path = path
        self.dir_fd = None          # fd of the directory that holds the real file (owned by us)
        self.name = None            # basename of the real file in dir_fd
        self.st = None
        self.data = None
        self.own_dir = False        # dir_fd must be closed by us

    def close(self):
        if self.own_dir:
            _close(self.dir_fd)
        self.dir_fd = None


def _check_owned_single(ref, st, ctx):
    where = ref.path if ref.real_path == ref.path else '%s (link to %s)' % (ref.path, ref.real_path)
    if not ctx.owns(st):
        raise TargetError('%s belongs to uid %d, not to %s; it is neither read nor changed; nothing was done'
                          % (where, st.st_uid, ctx.name))
    if st.st_nlink > 1:
        raise TargetError('%s has %d hard links; a hard-linked file is neither read nor changed (it may be '
                          'another file of the host); nothing was done' % (where, st.st_nlink))


def open_file(home, name, ctx, cap):
    """Read ``name`` of the opened Codex home under the rules: regular file, owned by the account,
    one hard link, at most ``cap`` bytes; a link only when it and its target belong to the account."""
    ref = FileRef(posixpath.join(home.path, name))
    ref.dir_fd, ref.name = home.fd, name
    try:
        lst = os.stat(name, dir_fd=home.fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return ref
        raise
    if stat.S_ISLNK(lst.st_mode):
        ref.is_link = True
        ref.link_target = os.readlink(name, dir_fd=home.fd)
        # a link made by root (a provisioning tool) or by the account; either way its target's
        # directory must belong to the account, checked below on the opened directory
        if lst.st_uid not in (0, ctx.uid):
            raise TargetError('%s is a symlink owned by uid %d, neither %s nor root; it is not followed; nothing '
                              'was done' % (ref.path, lst.st_uid, ctx.name))
        target = ref.link_target
        real = posixpath.normpath(target if target.startswith('/') else posixpath.join(home.real, target))
        ref.real_path = real
        tdir, tname = posixpath.split(real)
        try:
            dfd, dreal = open_dir(tdir, ctx, _link_ok_for(ctx), ctx.trusted_dir)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise TargetError('%s is a symlink to %s, whose directory does not exist; nothing was done'
                                  % (ref.path, real))
            raise
        ref.dir_fd, ref.name, ref.own_dir = dfd, tname, True
        dst = os.fstat(dfd)
        if not ctx.owns(dst):
            raise TargetError('%s is a symlink to %s, in a directory that belongs to uid %d, not to %s; nothing '
                              'was done' % (ref.path, real, dst.st_uid, ctx.name))
        try:
            lst = os.stat(tname, dir_fd=dfd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return ref  # a dangling dotfile link in the account's own directory: created there
            raise
        if stat.S_ISLNK(lst.st_mode):
            raise TargetError('%s is a symlink to %s, which is a symlink again; only one level is followed; '
                              'nothing was done' % (ref.path, real))
    if not stat.S_ISREG(lst.st_mode):
        raise TargetError('%s%s is %s, not a regular file; it is not opened; nothing was done'
                          % (ref.path, '' if ref.real_path == ref.path else ' (link to %s)' % ref.real_path,
                             _kind_name(lst)))
    _check_owned_single(ref, lst, ctx)  # judged before opening, and again on the opened file
    try:
        fd = os.open(ref.name, _FILE_FLAGS, dir_fd=ref.dir_fd)
    except OSError as exc:
        raise TargetError('%s: %s (as %s); nothing was done' % (ref.path, _strerror(exc), ctx.name))
    try:
        st = os.fstat(fd)
        where = ref.path if ref.real_path == ref.path else '%s (link to %s)' % (ref.path, ref.real_path)
        if not stat.S_ISREG(st.st_mode):
            raise TargetError('%s is %s, not a regular file; nothing was done' % (where, _kind_name(st)))
        _check_owned_single(ref, st, ctx)
        if st.st_size > cap:
            raise TargetError('%s is %d bytes, more than the %d this module reads; nothing was done'
                              % (where, st.st_size, cap))
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise TargetError('%s grew beyond %d bytes while being read; nothing was done' % (where, cap))
        ref.data = b''.join(chunks)
        ref.st = st
        ref.exists = True
        return ref
    finally:
        _close(fd)


# ----------------------------------------------------------------------------------------------
# Reading


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
    if not isinstance(obj, dict):
        return None, {'msg': 'invalid auth.json: the top level must be a JSON object', 'line': 1, 'column': 1}
    return obj, None


def _path_facts(ref):
    facts = {'path': ref.path, 'exists': ref.exists, 'is_link': ref.is_link, 'link_target': ref.link_target,
             'real_path': ref.real_path}
    if ref.exists:
        facts.update(type=_kind(ref.st), mode=_mode(ref.st), uid=ref.st.st_uid, gid=ref.st.st_gid,
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


HOME_BASES = (CONFIG_NAME, AUTH_NAME)


def list_leftovers(dir_fd, bases=HOME_BASES):
    """(name, kind, lstat) of our temp files and backups of the files ``bases`` in a directory.

    Temp files: ``.<base>.<random>.tmp``; backups: ``<base>.<stamp>~``. The last base is auth.json's
    (its backups hold keys). Names only, no content is read."""
    found = []
    for name in sorted(os.listdir(dir_fd)):
        kind = None
        for index, base in enumerate(bases):
            if not base:
                continue
            if name.startswith('.%s.' % base) and name.endswith(proto.TEMP_SUFFIX):
                kind = 'temp'
            elif name.startswith('%s.' % base) and name.endswith(proto.BACKUP_SUFFIX):
                kind = 'auth_backup' if index == len(bases) - 1 else 'config_backup'
        if kind is None:
            continue
        try:
            lst = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        found.append((name, kind, lst))
    return found


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
        hfacts.update(real_path=home.real, type='directory', mode=_mode(home.st), uid=home.st.st_uid,
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
                loose.append({'path': auth.real_path, 'mode': _mode(auth.st), 'wanted': '0600'})
        for name, kind, lst in list_leftovers(home.fd):
            result['leftovers'].append({'name': name, 'kind': kind, 'mode': _mode(lst)})
            if kind == 'auth_backup' and stat.S_ISREG(lst.st_mode) and stat.S_IMODE(lst.st_mode) & 0o077:
                loose.append({'path': posixpath.join(home_path, name), 'mode': _mode(lst), 'wanted': '0600'})
        return result
    finally:
        for ref in refs:
            ref.close()
        home.close()


# ----------------------------------------------------------------------------------------------
# Writing
#
# The syscall sequence of one file (config.toml first, then auth.json), kept simple on purpose so
# that a SIGKILL anywhere leaves the old or the new file (fault-injection tests rely on it):
#   openat(dir, ".<name>.<random>.tmp", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600)
#   write()...; fchmod(tmp); [fchown(tmp, -1, group)]; fsync(tmp); close(tmp)
#   renameat(dir, tmp, dir, name); fsync(dir)
# A backup is the same sequence with the backup's name as destination, before the file's own one.
# A temp file left by a kill is removed by the next write trip, under the lock.


def _tmp_name(name):
    return '.%s.%s%s' % (name, os.urandom(6).hex(), proto.TEMP_SUFFIX)


def atomic_write(dir_fd, name, data, mode, gid, shown):
    """Write ``data`` as ``name`` in ``dir_fd`` atomically; ``shown`` names the file in errors."""
    tmp = _tmp_name(name)
    fd = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0),
                     0o600, dir_fd=dir_fd)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)
        if gid is not None:
            os.fchown(fd, -1, gid)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        tmp = None
        os.fsync(dir_fd)
    except OSError as exc:
        raise TargetError('%s: %s; the old file is intact' % (shown, _strerror(exc)))
    finally:
        _close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass


def backup_name(dir_fd, name):
    stamp = time.strftime('%Y-%m-%d@%H:%M:%S')
    candidate = '%s.%s~' % (name, stamp)
    try:
        os.stat(candidate, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return candidate
    return '%s.%s.%d~' % (name, stamp, os.getpid())


def lock_home(home, timeout):
    deadline = time.monotonic() + max(0, timeout)
    while True:
        try:
            fcntl.flock(home.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            raise TargetError('%s is locked by another process (another run, or a process of %s holding a lock '
                              'on it) for more than lock_timeout=%d s; nothing was written'
                              % (home.path, home_owner_name(home), timeout))
        time.sleep(0.1)


def home_owner_name(home):
    try:
        return pwd.getpwuid(home.st.st_uid).pw_name
    except KeyError:
        return 'uid %d' % home.st.st_uid


def new_auth_bytes(obj, secret, op):
    """The new auth.json (bytes) or None when it ends up empty; and the fields dropped because Codex
    could not read the file with them (an unparseable tokens object, a bad last_refresh)."""
    obj = dict(obj or {})
    dropped = []
    if op == 'set':
        if obj.get('auth_mode') != 'apikey':
            obj['auth_mode'] = 'apikey'
        obj['OPENAI_API_KEY'] = secret
        dropped = unreadable_fields(obj)
        for name in dropped:
            obj.pop(name)
    else:
        obj.pop('OPENAI_API_KEY', None)
        if obj.get('auth_mode') == 'apikey':
            obj.pop('auth_mode')
    if not obj and op == 'remove':
        return None, dropped
    return (json.dumps(obj, indent=2, ensure_ascii=False) + '\n').encode('utf-8', 'surrogatepass'), dropped


def _empty_written(access):
    return {'protocol': proto.PROTOCOL_VERSION, 'access': access, 'home_created': False,
            'config': {'changed': False, 'content_changed': False, 'backup_file': None},
            'auth': {'changed': False, 'content_changed': False, 'backup_file': None, 'tokens_backed_up': False, 'dropped_fields': [],
                     'exists': None, 'key_fingerprint': None, 'auth_mode': None, 'credentials': None},
            'repaired': [], 'removed_files': []}


def _repair(fd, shown, current, wanted, written):
    if current != wanted:
        os.fchmod(fd, wanted)
        written['repaired'].append('%s: %04o -> %04o' % (shown, current, wanted))


def _fix_file_mode(ref, wanted, gid, written, part):
    """Mode/group of an existing file we keep, through an fd of the checked file."""
    fd = os.open(ref.name, _FILE_FLAGS, dir_fd=ref.dir_fd)
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (ref.st.st_dev, ref.st.st_ino):
            raise TargetError('%s was replaced while this task ran; run it again' % ref.path)
        current = stat.S_IMODE(st.st_mode)
        if current & ~wanted & 0o7777:
            _repair(fd, ref.real_path, current, wanted, written)
            written[part]['changed'] = True
        elif current != wanted and part == 'config':
            os.fchmod(fd, wanted)  # config_mode asked for a different (not looser-than-rules) mode
            written[part]['changed'] = True
        if gid is not None and st.st_gid != gid:
            os.fchown(fd, -1, gid)
            written[part]['changed'] = True
    finally:
        _close(fd)


def create_home_as_account(path, ctx, mode):
    parent, name = posixpath.split(path)
    pfd, dummy = open_dir(parent, ctx, _link_ok_for(ctx), ctx.trusted_dir)
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM) and ctx.access == 'account':
                raise NeedRootCreate()
            if exc.errno != errno.EEXIST:
                raise TargetError('cannot create %s: %s; nothing was written' % (path, _strerror(exc)))
            return False
        fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
        try:
            os.fchmod(fd, mode)
            if ctx.group_gid is not None:
                os.fchown(fd, -1, ctx.group_gid)
        finally:
            _close(fd)
        return True
    finally:
        _close(pfd)


def write_state(request, secret, ctx, written):
    """The write trip, as the account (or root for root-owned locations). Fills ``written`` as it goes."""
    home_path = request['codex_home']
    config_mode = proto.parse_octal(request.get('config_mode'))
    home = open_home(home_path, ctx)
    refs = []
    try:
        if home.fd is None:
            if not request['create_home']:
                raise TargetError('codex_home %s does not exist; nothing was written' % home_path)
            if not home.parent_exists:
                raise TargetError('the parent directory of %s does not exist; nothing was written' % home_path)
            mode = proto.wanted_mode('home', None, ctx.access, config_mode)
            written['home_created'] = create_home_as_account(home_path, ctx, mode)
            home.close()
            home = open_home(home_path, ctx)
            if home.fd is None:
                raise TargetError('codex_home %s vanished while this task created it; nothing was written' % home_path)
        lock_home(home, request['lock_timeout'])

        # 1. re-read both files under the lock; decide everything before writing anything
        config_req = request['config']
        config = open_file(home, CONFIG_NAME, ctx, proto.MAX_CONFIG_BYTES)
        refs.append(config)
        config_new = None
        if config_req.get('text') is not None:
            new = config_req['text'].encode('utf-8')
            current_sha = _sha256(config.data) if config.exists else None
            if config.exists and config.data == new:
                pass  # a concurrent run wrote the same thing already
            elif current_sha != config_req.get('expect_sha256'):
                raise TargetError('%s changed on the host while this task ran (another run?); nothing was written, '
                                  'run the task again' % config.path)
            else:
                config_new = new

        auth_req = request.get('auth')
        auth = None
        auth_new = auth_delete = False
        auth_bytes = dropped = None
        auth_backup = False
        if auth_req is not None:
            auth = open_file(home, AUTH_NAME, ctx, proto.MAX_AUTH_BYTES)
            refs.append(auth)
            op = auth_req.get('op')
            obj, error = (None, None) if not auth.exists else parse_auth(auth.data)
            if op and error:
                if not auth_req['force']:
                    raise TargetError('%s: %s%s; nothing was written (force=true %s)'
                                      % (auth.path, error['msg'], _where(error),
                                         'deletes it' if request['state'] == 'absent'
                                         else 'replaces it after a private backup'))
                obj = None
            stored = obj.get('OPENAI_API_KEY') if obj else None
            stored = stored if isinstance(stored, str) else None
            if op == 'set':
                if not (obj is not None and stored == secret and obj.get('auth_mode') == 'apikey'
                        and not unreadable_fields(obj)):
                    auth_bytes, dropped = new_auth_bytes(obj, secret, 'set')
                    auth_new = True
                    auth_backup = auth.exists and (auth_req['backup'] or error is not None or dropped)
            elif op == 'remove' and auth.exists:
                if error is not None:
                    auth_delete = True  # force: a corrupt file may hold a key
                elif auth_req.get('only_fingerprint') and key_fingerprint(stored) != auth_req['only_fingerprint']:
                    pass
                elif 'OPENAI_API_KEY' in obj or obj.get('auth_mode') == 'apikey':
                    auth_bytes, dropped = new_auth_bytes(obj, None, 'remove')
                    auth_delete = auth_bytes is None
                    auth_new = auth_bytes is not None
            if request['state'] == 'absent':
                auth_backup = False  # offboarding never makes a new copy of a key

        # 2. temp files of earlier runs (a kill mid-write) and the home's mode, under the lock
        for name, kind, lst in list_leftovers(home.fd):
            if kind == 'temp':
                os.unlink(name, dir_fd=home.fd)
                written['removed_files'].append(posixpath.join(home_path, name))
        current = stat.S_IMODE(home.st.st_mode)
        if proto.loose('home', current, ctx.access, config_mode):
            _repair(home.fd, home_path, current, proto.wanted_mode('home', current, ctx.access, config_mode), written)

        # 3. config.toml, then auth.json
        gid = ctx.group_gid
        if config_new is not None:
            mode = proto.wanted_mode('config', stat.S_IMODE(config.st.st_mode) if config.exists else None,
                                     ctx.access, config_mode)
            if config.exists and config_req['backup']:
                bname = backup_name(config.dir_fd, config.name)
                atomic_write(config.dir_fd, bname, config.data, stat.S_IMODE(config.st.st_mode) & ~0o7022,
                             None, posixpath.join(posixpath.dirname(config.real_path), bname))
                written['config']['backup_file'] = posixpath.join(posixpath.dirname(config.real_path), bname)
            atomic_write(config.dir_fd, config.name, config_new, mode, gid, config.path)
            written['config'].update(changed=True, content_changed=True)
            if config.exists and stat.S_IMODE(config.st.st_mode) & ~mode & 0o7777:
                written['repaired'].append('%s: %s -> %04o' % (config.real_path, _mode(config.st), mode))
        elif config.exists:
            _fix_file_mode(config, proto.wanted_mode('config', stat.S_IMODE(config.st.st_mode), ctx.access,
                                                     config_mode), gid, written, 'config')

        if auth is not None:
            if auth_backup:
                bname = backup_name(auth.dir_fd, auth.name)
                shown = posixpath.join(posixpath.dirname(auth.real_path), bname)
                atomic_write(auth.dir_fd, bname, auth.data, 0o600, None, shown)
                written['auth']['backup_file'] = shown
                written['auth']['dropped_fields'] = list(dropped or [])
                written['auth']['tokens_backed_up'] = bool(dropped)
            if auth_new:
                atomic_write(auth.dir_fd, auth.name, auth_bytes, 0o600, gid, auth.path)
                written['auth'].update(changed=True, content_changed=True)
                if auth.exists and stat.S_IMODE(auth.st.st_mode) & 0o077:
                    written['repaired'].append('%s: %s -> 0600' % (auth.real_path, _mode(auth.st)))
            elif auth_delete:
                try:
                    os.unlink(auth.name, dir_fd=auth.dir_fd)
                    os.fsync(auth.dir_fd)
                except OSError as exc:
                    raise TargetError('%s: %s' % (auth.path, _strerror(exc)))
                written['removed_files'].append(auth.real_path)
                if auth.is_link:
                    os.unlink(AUTH_NAME, dir_fd=home.fd)  # the dangling dotfile link
                    written['removed_files'].append(auth.path)
                written['auth'].update(changed=True, content_changed=True)
            elif auth.exists:
                _fix_file_mode(auth, 0o600, gid, written, 'auth')

        # 4. key backups: 0600, or gone when offboarding; also next to a linked file's target
        dirs = [(home.fd, home_path, HOME_BASES)]
        if config.is_link and config.own_dir:
            dirs.append((config.dir_fd, posixpath.dirname(config.real_path), (config.name, '')))
        if auth is not None and auth.is_link and auth.own_dir:
            dirs.append((auth.dir_fd, posixpath.dirname(auth.real_path), ('', auth.name)))
        for dfd, dpath, bases in dirs:
            for name, kind, lst in list_leftovers(dfd, bases):
                shown = posixpath.join(dpath, name)
                if kind == 'temp' and dfd != home.fd:
                    os.unlink(name, dir_fd=dfd)
                    written['removed_files'].append(shown)
                elif kind == 'auth_backup' and request['purge_key_backups']:
                    os.unlink(name, dir_fd=dfd)
                    written['removed_files'].append(shown)
                elif kind == 'auth_backup' and stat.S_ISREG(lst.st_mode) and stat.S_IMODE(lst.st_mode) & 0o077 \
                        and lst.st_uid == ctx.uid and lst.st_nlink == 1:
                    fd = os.open(name, _FILE_FLAGS, dir_fd=dfd)
                    try:
                        st = os.fstat(fd)
                        if stat.S_ISREG(st.st_mode) and st.st_uid == ctx.uid and st.st_nlink == 1:
                            _repair(fd, shown, stat.S_IMODE(st.st_mode), 0o600, written)
                    finally:
                        _close(fd)
        written['removed_files'] = sorted(set(written['removed_files']))

        # 5. what is on disk now
        if auth is not None:
            after = open_file(home, AUTH_NAME, ctx, proto.MAX_AUTH_BYTES)
            refs.append(after)
            facts = auth_facts(after)
            written['auth'].update(exists=after.exists, key_fingerprint=facts.get('key_fingerprint'),
                                   auth_mode=facts.get('auth_mode'), credentials=facts.get('credentials'))
        return written
    finally:
        for ref in refs:
            ref.close()
        home.close()


# ----------------------------------------------------------------------------------------------
# Root: creating a Codex home the account cannot create, through file descriptors


def root_create_home(path, ctx, mode):
    """mkdir as root in a root-owned parent (every component root-owned, links only root's), then
    fchown/fchmod the new directory's fd to the account. Never a path-based chown/chmod."""
    parent, name = posixpath.split(path)

    def root_only(st):
        return st.st_uid == 0

    pfd, preal = open_dir(parent, ctx, root_only, root_only)
    try:
        pst = os.fstat(pfd)
        if stat.S_IMODE(pst.st_mode) & 0o022 and not pst.st_mode & stat.S_ISVTX:
            raise TargetError('%s is writable by others; the Codex home %s is not created there as root'
                              % (preal, path))
        try:
            os.mkdir(name, 0o700, dir_fd=pfd)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise TargetError('cannot create %s: %s; nothing was written' % (path, _strerror(exc)))
        fd = os.open(name, _DIR_FLAGS, dir_fd=pfd)
        try:
            st = os.fstat(fd)
            if st.st_uid != 0 or os.listdir(fd):
                raise TargetError('%s was replaced while this task created it; nothing was written' % path)
            os.fchown(fd, ctx.uid, ctx.group_gid if ctx.group_gid is not None else ctx.gid)
            os.fchmod(fd, mode)
        finally:
            _close(fd)
        return True
    finally:
        _close(pfd)


# ----------------------------------------------------------------------------------------------
# Running as the account: a child process that dropped root


def drop_to(ctx):
    """In the child: become the account for good (groups, gid, uid), and prove root is gone."""
    os.setgroups(os.getgrouplist(ctx.name, ctx.gid))
    os.setresgid(ctx.gid, ctx.gid, ctx.gid)
    os.setresuid(ctx.uid, ctx.uid, ctx.uid)
    try:
        os.setresuid(0, 0, 0)
    except OSError:
        pass
    else:
        raise RuntimeError('root could be regained after dropping to %s' % ctx.name)
    if os.geteuid() != ctx.uid or os.getegid() != ctx.gid:
        raise RuntimeError('could not drop to %s' % ctx.name)
    os.chdir('/')


def run_as_account(ctx, func, timeout, home_path):
    """Run ``func()`` in a child dropped to the account; returns its JSON answer (untrusted)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (covered by the tests through its answer)
        code = 0
        try:
            os.close(rfd)
            os.umask(0o077)
            drop_to(ctx)
            answer = func()
        except NeedRootCreate:
            answer = {'need_root_create': True}
        except TargetError as exc:
            answer = {'error': str(exc)}
        except OSError as exc:
            answer = {'error': '%s: %s' % (to_native(getattr(exc, 'filename', '') or home_path), _strerror(exc))}
        except BaseException as exc:  # noqa: B902 - the child must always answer and exit
            answer = {'error': 'internal error as %s: %s' % (ctx.name, type(exc).__name__)}
            code = 1
        try:
            data = json.dumps(answer).encode('utf-8', 'surrogatepass')
            view = memoryview(data)
            while view:
                view = view[os.write(wfd, view):]
        finally:
            os._exit(code)
    os.close(wfd)
    chunks, total = [], 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise TargetError('%s: the work as %s did not finish within %d s; it was stopped'
                                  % (home_path, ctx.name, timeout))
            ready = select.select([rfd], [], [], min(left, 1.0))[0]
            if not ready:
                continue
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_CHILD_OUTPUT:
                os.kill(pid, signal.SIGKILL)
                raise TargetError('%s: the answer of the work as %s is too big' % (home_path, ctx.name))
            chunks.append(chunk)
    finally:
        os.close(rfd)
        _reap(pid)
    try:
        answer = json.loads(b''.join(chunks).decode('utf-8', 'surrogatepass'))
    except ValueError:
        raise TargetError('%s: the work as %s ended without an answer' % (home_path, ctx.name))
    if not isinstance(answer, dict):
        raise TargetError('%s: the work as %s gave a malformed answer' % (home_path, ctx.name))
    return answer


def _reap(pid):
    for dummy in range(50):
        done, dummy_status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)


def _in_place(func):
    """Run ``func`` in this process with the same answer shape as a child."""
    try:
        return func()
    except TargetError as exc:
        return {'error': str(exc)}
    except OSError as exc:
        return {'error': '%s: %s' % (to_native(getattr(exc, 'filename', '') or ''), _strerror(exc))}


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


def phase_write(request, secret, fork=True):
    """Returns (written, error message or None); ``written`` is truthful also after a failure."""
    proto.validate_request('write', request)
    ctx = Context(request.get('owner'), request.get('group'))
    home_path = request['codex_home']
    config_mode = proto.parse_octal(request.get('config_mode'))
    written = _empty_written(ctx.access)
    created_by_root = False

    def work():
        partial = _empty_written(ctx.access)
        try:
            write_state(request, secret, ctx, partial)
        except NeedRootCreate:
            return {'need_root_create': True}
        except TargetError as exc:
            return {'error': str(exc), 'written': partial}
        except OSError as exc:
            return {'error': '%s: %s' % (to_native(getattr(exc, 'filename', '') or home_path), _strerror(exc)),
                    'written': partial}
        return {'written': partial}

    timeout = request['lock_timeout'] + CHILD_MARGIN
    for attempt in (1, 2):
        if ctx.access == 'account' and fork:
            answer = run_as_account(ctx, work, timeout, home_path)
        else:
            answer = _in_place(work)
        if answer.get('need_root_create') and attempt == 1:
            try:
                mode = proto.wanted_mode('home', None, 'account', config_mode)
                created_by_root = root_create_home(home_path, ctx, mode)
            except OSError as exc:
                return written, '%s: %s' % (home_path, _strerror(exc))
            except TargetError as exc:
                return written, str(exc)
            continue
        break
    if answer.get('need_root_create'):
        return written, 'cannot create %s as %s or as root; nothing was written' % (home_path, ctx.name)
    got = answer.get('written')
    if got is not None:
        try:
            proto.validate_response('write', got)
        except proto.ProtocolError as exc:
            return written, '%s: the write as %s gave an invalid answer: %s' % (home_path, ctx.name, exc)
        written = got
    written['home_created'] = bool(written['home_created'] or created_by_root)
    error = answer.get('error')
    return written, (to_native(error)[:2000] if error is not None else None)


def written_changed(written):
    return bool(written['home_created'] or written['config']['changed'] or written['auth']['changed']
                or written['repaired'] or written['removed_files'])


def main():
    module = AnsibleModule(argument_spec=MODULE_ARGUMENT_SPEC, supports_check_mode=True)
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
        written, error = phase_write(request, module.params['_codex_secret'])
    except proto.ProtocolError as exc:
        module.fail_json(msg='bytes4096.codex.codex_config: %s' % to_native(exc))
    except TargetError as exc:
        module.fail_json(msg=to_native(exc))
    except (OSError, IOError) as exc:
        module.fail_json(msg='%s: %s' % (to_native(getattr(exc, 'filename', '') or ''), _strerror(exc)))
    if error is not None:
        module.fail_json(msg=error, changed=written_changed(written), written=written)
    module.exit_json(changed=written_changed(written), written=written)


if __name__ == '__main__':
    main()
