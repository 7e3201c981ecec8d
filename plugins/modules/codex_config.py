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
      - V(absent) leaves a C(config.toml) Codex still loads - a provider table that loses its C(name)
        or C(base_url) goes whole (its other keys with it), and a C(model_provider) left naming no
        provider goes too, so Codex falls back to its default. Both are named in a warning and kept in
        a backup of C(config.toml), which is then always made.
      - With O(api_key) and V(present), another credential source in the managed provider table
        (C(env_key), C(env_key_instructions), C(experimental_bearer_token), C(auth)) would make Codex
        ignore the key in C(auth.json); it is removed with a warning naming each key (check mode says
        the same). A block or settings that set one of those keys themselves are refused.
      - With V(present) and a block or settings, a result Codex would refuse as a whole (a table for a
        built-in provider id, a provider without a name, the legacy C(profile) selector,
        C(approval_policy = "untrusted"), an integer outside 64 bits) fails the task, naming the key;
        nothing is written.
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
  prefetched:
    description:
      - Answers to this module's read trip made earlier in the same run, as
        M(bytes4096.codex.codex_install_info) returns them in RV(bytes4096.codex.codex_install_info#module:codex_homes)
        (items with C(request) and C(state)).
      - When one of them was made for this task's O(codex_home) (as written, or the path the host
        resolved it to), O(owner), O(group) and O(config_mode), the task plans from it and makes no
        read trip, so a task with nothing to change costs no module execution at all.
      - Pass only answers from the same play, made after the last change to these files (the
        deploy playbook passes the install survey's answers, and none when the install role changed
        something). A write still re-reads both files under the lock and refuses a C(config.toml)
        that changed since the answer was made.
      - Used only when this task runs as root and the answer was made as root (as the install role's
        survey makes it); ignored on Windows hosts and when no answer matches.
    type: list
    elements: dict
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
    details: The C(config.toml) text diff with values that look like secrets masked (keys naming a token,
      secret, password or key, C(http_headers), C(env_http_headers), the C(env) tables of MCP servers), or a
      C(content hidden) line when the text cannot be masked safely; for C(auth.json) only the key
      fingerprints (old -> new). A file the host side refuses to open (a foreign link) fails the task and
      its content is never read.
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
    SecureString sensitive parameter) through M(ansible.windows.win_powershell); no symbolic link,
    junction or mount point at or below O(codex_home) is followed, and new files get an ACL for
    O(owner), SYSTEM and Administrators only. That path was not executed in this collection's CI; it
    is checked by a protocol contract test and by unit tests of its decision code.
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
prefetched:
  description: Whether the task planned from an answer in O(prefetched) instead of a read trip of its own.
  returned: when the arguments were valid
  type: bool
  sample: true
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
loose_modes:
  description:
    - Modes found looser than the rules before this task's repairs (what the audit reports), each
      with its path, current and wanted mode.
  returned: always
  type: list
  elements: dict
  sample: [{path: /home/alice/.codex, mode: '0777', wanted: '0700'}]
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

import copy
import hashlib
import json
import os
import posixpath
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint, unreadable_fields
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_config_spec import MODULE_ARGUMENT_SPEC
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_drop import run_as_account
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_fs import (
    AUTH_NAME, CONFIG_NAME, FILE_FLAGS, HOME_BASES, Context, NeedRootCreate, TargetError, atomic_write, backup_name,
    close_fd, create_home_as_account, list_leftovers, lock_home, mode_str, open_file, open_home, root_create_home,
    strerror,
)
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_read import (
    CHILD_MARGIN, _in_place, _sha256, _where, auth_facts, parse_auth, phase_read,
)

# ----------------------------------------------------------------------------------------------
# Writing (the syscall sequence of one file is documented above atomic_write in _codex_fs)


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
    fd = os.open(ref.name, FILE_FLAGS, dir_fd=ref.dir_fd)
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
        close_fd(fd)


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
                written['repaired'].append('%s: %s -> %04o' % (config.real_path, mode_str(config.st), mode))
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
                    written['repaired'].append('%s: %s -> 0600' % (auth.real_path, mode_str(auth.st)))
            elif auth_delete:
                try:
                    os.unlink(auth.name, dir_fd=auth.dir_fd)
                    os.fsync(auth.dir_fd)
                except OSError as exc:
                    raise TargetError('%s: %s' % (auth.path, strerror(exc)))
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
                    fd = os.open(name, FILE_FLAGS, dir_fd=dfd)
                    try:
                        st = os.fstat(fd)
                        if stat.S_ISREG(st.st_mode) and st.st_uid == ctx.uid and st.st_nlink == 1:
                            _repair(fd, shown, stat.S_IMODE(st.st_mode), 0o600, written)
                    finally:
                        close_fd(fd)
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
            return {'error': '%s: %s' % (to_native(getattr(exc, 'filename', '') or home_path), strerror(exc)),
                    'written': partial}
        return {'written': partial}

    timeout = request['lock_timeout'] + CHILD_MARGIN
    for attempt in (1, 2):
        if ctx.access == 'account' and fork:
            try:
                answer = run_as_account(ctx, work, timeout, home_path)
            except TargetError as exc:
                # the worker died (killed, timed out) without saying what it did: look at the disk
                return observed_after_failure(request, secret, written), to_native(exc)
        else:
            answer = _in_place(work)
        if answer.get('need_root_create') and attempt == 1:
            try:
                mode = proto.wanted_mode('home', None, 'account', config_mode)
                created_by_root = root_create_home(home_path, ctx, mode)
            except OSError as exc:
                return written, '%s: %s' % (home_path, strerror(exc))
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


def observed_after_failure(request, secret, written):
    """What a write trip that ended without an answer left on disk, read back (as the account).

    A file counts as changed when it now holds what this trip meant to write; anything else is
    reported unchanged. Best effort: if even the read fails, nothing is claimed.
    """
    observed = copy.deepcopy(written)
    try:
        state = phase_read({'protocol': proto.PROTOCOL_VERSION, 'codex_home': request['codex_home'],
                            'owner': request.get('owner'), 'group': request.get('group'),
                            'config_mode': request.get('config_mode'), 'want_auth': True})
    except (TargetError, OSError, proto.ProtocolError):
        return observed
    config, auth = state['config'], state.get('auth') or {}
    text = request['config'].get('text')
    if text is not None and config.get('sha256') == hashlib.sha256(text.encode('utf-8')).hexdigest() \
            and config.get('sha256') != request['config'].get('expect_sha256'):
        observed['config'].update(changed=True, content_changed=True)
    op = (request.get('auth') or {}).get('op')
    if op == 'set' and secret is not None and auth.get('key_fingerprint') == key_fingerprint(secret):
        observed['auth'].update(changed=True, content_changed=True)
    elif op == 'remove' and not auth.get('key_fingerprint'):
        observed['auth'].update(changed=True, content_changed=True)
    observed['auth'].update(exists=bool(auth.get('exists')), key_fingerprint=auth.get('key_fingerprint'),
                            auth_mode=auth.get('auth_mode'), credentials=auth.get('credentials'))
    return observed


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
        module.fail_json(msg='%s: %s' % (to_native(getattr(exc, 'filename', '') or ''), strerror(exc)))
    if error is not None:
        module.fail_json(msg=error, changed=written_changed(written), written=written)
    module.exit_json(changed=written_changed(written), written=written)


if __name__ == '__main__':
    main()
