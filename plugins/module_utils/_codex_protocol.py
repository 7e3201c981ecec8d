# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one written schema of the two trips of bytes4096.codex.codex_config. Internal.

The action plugin (controller) talks to a host side: the Python module ``codex_config`` on POSIX
hosts, the PowerShell script ``plugin_utils/_codex_config_windows.ps1`` on Windows. Four messages
cross that boundary:

- ``read_request``  -> the host reports the state of the Codex home (``read_response``),
- ``write_request`` -> the host writes under a lock and reports what it did (``write_response``).

The key travels only on the write trip, outside these messages (POSIX: the no_log module option
``_codex_secret``; Windows: the SecureString parameter ``Secret``); no message ever holds a key,
only its fingerprint.

Who resolves paths (both host sides do it the same way; the controller never does):

- ``codex_home`` is sent exactly as the task gave it. The HOST side resolves it, because ``~`` means
  a home on the host, not on the controller.
- Unset: ``<home of the account>/.codex``. The account is ``owner`` when given, else the user the
  host side runs as.
- ``~`` or ``~/rest`` (Windows also ``~\\rest``): the home of the account (as above).
- ``~name`` or ``~name/rest``: the home of the host account ``name`` (POSIX: the passwd database;
  Windows: the profile list). An unknown name is refused ("codex_home ~name: no account name").
- An absolute path (POSIX ``/...``; Windows ``X:\\...`` or ``\\\\server\\share\\...``) is used as
  given after normalisation (``.`` and ``..`` removed lexically; links are never resolved by name).
- Anything else (a relative path, ``$VAR``, ``%VAR%``) is REFUSED by both sides with the message
  ``codex_home must be an absolute path or start with ~, not '<value>'``: a relative path would
  land in the module's temporary working directory. Neither side expands environment variables.
- The write request carries the resolved absolute path from the read response, never a raw one.

Validation: :func:`validate_request` and :func:`validate_response` check a message against the
schema (types, required fields, allowed values, no unknown fields) and raise
:class:`ProtocolError`. The module validates every request it gets; the action validates every
response (a host side is untrusted input: on POSIX the per-account I/O happens in a child process
that runs as the account). :data:`SCHEMA` is the machine-readable export; :func:`field_names`
lists the dotted names of a message for the contract test against the PowerShell script.

Bump :data:`PROTOCOL_VERSION` on any incompatible change; both sides refuse another version.
"""

from __future__ import annotations

import ntpath
import posixpath

PROTOCOL_VERSION = 2

#: Size caps for what the host side reads (bytes). Bigger files are refused with a message.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_AUTH_BYTES = 256 * 1024

#: Names the host side uses in the Codex home.
CONFIG_NAME = 'config.toml'
AUTH_NAME = 'auth.json'
#: Leftovers of this collection: temporary files of the atomic writer, and backups.
#: Temp files: ``.config.toml.<random>.tmp``, ``.auth.json.<random>.tmp``; a backup is written through
#: a temp file too (``.auth.json.<stamp>~.<random>.tmp``), so the same prefixes find it.
#: Backups: ``config.toml.<stamp>~`` and ``auth.json.<stamp>~`` (stamp ``YYYY-MM-DD@HH:MM:SS``,
#: optionally ``.<pid>``). Next to the target of a linked file they carry the target's name instead.
TEMP_PREFIXES = ('.config.toml.', '.auth.json.')
TEMP_SUFFIX = '.tmp'
AUTH_BACKUP_PREFIX = 'auth.json.'
CONFIG_BACKUP_PREFIX = 'config.toml.'
BACKUP_SUFFIX = '~'

ACCESS_CHOICES = ('account', 'root', 'self')
TOKENS_CHOICES = ('absent', 'ok', 'unparseable')
CREDENTIALS_CHOICES = ('apikey', 'chatgpt', 'unreadable', 'none')
PLATFORM_CHOICES = ('posix', 'windows')


class ProtocolError(ValueError):
    """A message does not match the schema. The text names the message and the field, never a value."""


def _f(type_, doc, required=False, nullable=False, choices=None, fields=None, elements=None):
    spec = {'type': type_, 'required': required, 'nullable': nullable, 'doc': doc}
    if choices is not None:
        spec['choices'] = list(choices)
    if fields is not None:
        spec['fields'] = fields
    if elements is not None:
        spec['elements'] = elements
    return spec


_MODE_DOC = ' A four-digit octal string such as "0600"; null on Windows.'

ERROR_FIELDS = {
    'msg': _f('str', 'What is wrong, without any content of the file.', required=True),
    'line': _f('int', 'Line (1-based) of the problem when known.', nullable=True),
    'column': _f('int', 'Column (1-based) of the problem when known.', nullable=True),
}

ACCOUNT_FIELDS = {
    'name': _f('str', 'Account name: the owner option, or the user the host side runs as.', required=True),
    'uid': _f('int', 'POSIX uid; null on Windows.', nullable=True),
    'gid': _f('int', 'POSIX primary gid; null on Windows.', nullable=True),
    'home': _f('str', 'Home directory of the account from the account database.', nullable=True),
    'sid': _f('str', 'Windows SID of the account; absent or null on POSIX.', nullable=True),
}

#: Facts about one path, common to the Codex home directory and both files. Link facts are those of
#: the name in the directory (lstat); type/mode/uid/gid/nlink those of the object it resolves to
#: (fstat of the opened object), reported only when the host side accepted to open it.
_PATH_FIELDS = {
    'path': _f('str', 'Absolute path of the name in the Codex home (or of the Codex home).', required=True),
    'exists': _f('bool', 'The name resolves to an existing object.', required=True),
    'type': _f('str', 'Type of the object the name resolves to.', nullable=True,
               choices=('file', 'directory', 'other')),
    'is_link': _f('bool', 'The name itself is a symbolic link (POSIX) or reparse point (Windows).',
                  required=True),
    'link_target': _f('str', 'readlink() of the name when it is a link (what it points at, as stored).',
                      nullable=True),
    'real_path': _f('str', 'Where the link leads, resolved on the host; equals path when not a link.',
                    nullable=True),
    'mode': _f('str', 'Permission bits of the object.' + _MODE_DOC, nullable=True),
    'uid': _f('int', 'Owner uid of the object; null on Windows.', nullable=True),
    'gid': _f('int', 'Group gid of the object; null on Windows.', nullable=True),
    'nlink': _f('int', 'Hard link count of the object (files: more than 1 is refused).', nullable=True),
    'owner': _f('str', 'Windows: owner account of the object; null on POSIX.', nullable=True),
    'private': _f('bool', 'Only the account (and on Windows SYSTEM/Administrators) can read it.',
                  nullable=True),
}

HOME_FIELDS = dict(_PATH_FIELDS, **{
    'parent_exists': _f('bool', 'The parent directory exists (meaningful when exists is false).',
                        nullable=True),
    'create_as': _f('str', 'When missing: who will create it (account = as the account in its own '
                    'writable parent; root = root through fds in a parent the account cannot write).',
                    nullable=True, choices=('account', 'root')),
})

CONFIG_FIELDS = dict(_PATH_FIELDS, **{
    'size': _f('int', 'Size in bytes (capped at MAX_CONFIG_BYTES; bigger is refused).', nullable=True),
    'sha256': _f('str', 'Hex SHA-256 of the bytes read.', nullable=True),
    'text': _f('str', 'The file decoded as UTF-8 (all bytes kept: BOM, CRLF).', nullable=True),
    'error': _f('dict', 'Set when the bytes are not valid UTF-8.', nullable=True, fields=ERROR_FIELDS),
})

AUTH_FIELDS = dict(_PATH_FIELDS, **{
    'size': _f('int', 'Size in bytes (capped at MAX_AUTH_BYTES; bigger is refused).', nullable=True),
    'sha256': _f('str', 'Hex SHA-256 of the bytes read (identifies the content; not reversible to '
                 'the key for keys of real length).', nullable=True),
    'valid': _f('bool', 'The file is a JSON object (null when it does not exist).', nullable=True),
    'error': _f('dict', 'Set when not valid: why, with line/column, never content.', nullable=True,
                fields=ERROR_FIELDS),
    'fields': _f('list', 'Top-level field names other than OPENAI_API_KEY, sorted.', nullable=True,
                 elements='str'),
    'auth_mode': _f('str', 'The stored auth_mode when it is a string, else null.', nullable=True),
    'key_present': _f('bool', 'OPENAI_API_KEY is a non-empty string.', nullable=True),
    'key_fingerprint': _f('str', 'Fingerprint of the stored OPENAI_API_KEY (module_utils/_codex_auth).',
                          nullable=True),
    'tokens': _f('str', 'The ChatGPT login object: absent (no "tokens" or null), ok (an object Codex '
                 'can parse: id_token, access_token and refresh_token strings, id_token a JWT with '
                 'three dot-separated parts whose payload is base64url JSON), unparseable (anything '
                 'else: Codex then cannot read auth.json at all).', nullable=True,
                 choices=TOKENS_CHOICES),
    'unreadable_fields': _f('list', 'Fields that make Codex unable to read the whole file (auth_mode not '
                            'known, OPENAI_API_KEY not a string, last_refresh not RFC 3339, tokens '
                            'unparseable); empty when readable.', nullable=True, elements='str'),
    'credentials': _f('str', 'What Codex will use from this file: apikey (the stored key), chatgpt '
                      '(the login tokens: Codex sends the ChatGPT token to the provider), unreadable '
                      '(Codex cannot read the file), none (no credentials).', nullable=True,
                      choices=CREDENTIALS_CHOICES),
})

LEFTOVER_FIELDS = {
    'name': _f('str', 'File name in the Codex home (names only, never content).', required=True),
    'kind': _f('str', 'temp: a temporary file of the atomic writer (removed by every write trip); '
               'auth_backup: a key backup auth.json.<stamp>~ (removed by state=absent); '
               'config_backup: config.toml.<stamp>~ (kept).', required=True,
               choices=('temp', 'auth_backup', 'config_backup')),
    'mode': _f('str', 'Permission bits.' + _MODE_DOC, nullable=True),
}

LOOSE_MODE_FIELDS = {
    'path': _f('str', 'The path whose mode is looser than the rules.', required=True),
    'mode': _f('str', 'Its mode now.' + _MODE_DOC, required=True),
    'wanted': _f('str', 'The mode a write trip sets.' + _MODE_DOC, required=True),
}

SCHEMA = {
    'read_request': {
        'doc': 'Controller -> host, first trip: report the state of the Codex home; changes nothing.',
        'fields': {
            'protocol': _f('int', 'PROTOCOL_VERSION of the sender; the host refuses another.', required=True),
            'codex_home': _f('str', 'The codex_home option exactly as given (see the module docstring '
                             'for who resolves ~, ~name and refuses relative paths); null = default.',
                             nullable=True),
            'owner': _f('str', 'The owner option: the account whose Codex home it is.', nullable=True),
            'group': _f('str', 'The group option (POSIX only).', nullable=True),
            'config_mode': _f('str', 'The config_mode option normalised to four octal digits, used to '
                              'judge loose modes; null when not given.', nullable=True),
            'want_auth': _f('bool', 'Read auth.json too.', required=True),
        },
    },
    'read_response': {
        'doc': 'Host -> controller, first trip.',
        'fields': {
            'protocol': _f('int', 'PROTOCOL_VERSION of the host side.', required=True),
            'platform': _f('str', 'Which host side answered.', required=True, choices=PLATFORM_CHOICES),
            'access': _f('str', 'How the host side does I/O under the Codex home: account = in a child '
                         'process dropped to the account (root run over an account\'s home); root = '
                         'fd-based root I/O (the system layer, or a root-owned Codex home); self = '
                         'as the user the module runs as (not root).', required=True,
                         choices=ACCESS_CHOICES),
            'euid': _f('int', 'Effective uid of the module (null on Windows).', nullable=True),
            'account': _f('dict', 'The account that owns the Codex home.', required=True,
                          fields=ACCOUNT_FIELDS),
            'group_gid': _f('int', 'gid of the group option, null when not given.', nullable=True),
            'home': _f('dict', 'The Codex home directory.', required=True, fields=HOME_FIELDS),
            'config': _f('dict', 'config.toml.', required=True, fields=CONFIG_FIELDS),
            'auth': _f('dict', 'auth.json (null when want_auth was false).', nullable=True,
                       fields=AUTH_FIELDS),
            'leftovers': _f('list', 'Temp files and backups of this collection present in the Codex home.',
                            required=True, elements={'type': 'dict', 'fields': LEFTOVER_FIELDS}),
            'loose_modes': _f('list', 'Paths whose modes break the rules (Codex home wider than wanted, '
                              'auth.json or a key backup not 0600, config.toml group/other-writable).',
                              required=True, elements={'type': 'dict', 'fields': LOOSE_MODE_FIELDS}),
        },
    },
    'write_request': {
        'doc': 'Controller -> host, second trip (only when something must change; never in check mode). '
               'The host re-reads both files under an exclusive lock and refuses when config.toml is no '
               'longer what the plan was computed from.',
        'fields': {
            'protocol': _f('int', 'PROTOCOL_VERSION of the sender.', required=True),
            'codex_home': _f('str', 'The resolved absolute path from read_response.home.path.', required=True),
            'owner': _f('str', 'The owner option (re-resolved on the host).', nullable=True),
            'group': _f('str', 'The group option (POSIX only).', nullable=True),
            'state': _f('str', 'The state option.', required=True, choices=('present', 'absent')),
            'lock_timeout': _f('int', 'Seconds to wait for the lock of another run before failing.',
                               required=True),
            'create_home': _f('bool', 'Create the Codex home when missing.', required=True),
            'config_mode': _f('str', 'The config_mode option as four octal digits (null: not given). The '
                              'host side applies the mode rules itself: Codex home 0700 for an account '
                              '(plus r-x for group/other where config_mode grants read), group/other '
                              'write cleared for root access; config.toml config_mode, else its mode '
                              'without group/other write (new: 0600); auth.json and key backups 0600.',
                              nullable=True),
            'config': _f('dict', 'What to do with config.toml.', required=True, fields={
                'text': _f('str', 'New content; null = content unchanged.', nullable=True),
                'expect_sha256': _f('str', 'sha256 the file must still have (null: must not exist) '
                                    'when text is set.', nullable=True),
                'backup': _f('bool', 'Keep a backup before changing the content.', required=True),
            }),
            'auth': _f('dict', 'What to do with auth.json (null: leave it alone).', nullable=True, fields={
                'op': _f('str', 'set = write the key (auth_mode apikey); remove = remove the key; '
                         'null = content unchanged (modes still repaired).', nullable=True,
                         choices=('set', 'remove')),
                'only_fingerprint': _f('str', 'remove only when the stored key has this fingerprint.',
                                       nullable=True),
                'force': _f('bool', 'Replace (set) or delete (remove) an auth.json that is not valid.',
                            required=True),
                'backup': _f('bool', 'Keep a private (0600) backup before changing it. Ignored for '
                             'state=absent: offboarding never makes a new copy of a key.', required=True),
            }),
            'purge_key_backups': _f('bool', 'Remove every auth.json.<stamp>~ in the Codex home (offboarding).',
                                    required=True),
        },
    },
    'write_response': {
        'doc': 'Host -> controller, second trip. Also sent (as the "written" field of a failed result) '
               'when the write failed part-way, so the action reports what really happened.',
        'fields': {
            'protocol': _f('int', 'PROTOCOL_VERSION of the host side.', required=True),
            'access': _f('str', 'How the I/O was done.', required=True, choices=ACCESS_CHOICES),
            'home_created': _f('bool', 'The Codex home was created.', required=True),
            'config': _f('dict', 'config.toml.', required=True, fields={
                'changed': _f('bool', 'Content, mode or owner changed.', required=True),
                'content_changed': _f('bool', 'New content was renamed into place.', required=True),
                'backup_file': _f('str', 'Backup made before the change.', nullable=True),
            }),
            'auth': _f('dict', 'auth.json.', required=True, fields={
                'changed': _f('bool', 'Content or mode changed, or the file was deleted.', required=True),
                'content_changed': _f('bool', 'New content was renamed into place or the file deleted.',
                                      required=True),
                'backup_file': _f('str', 'Private backup made before the change.', nullable=True),
                'tokens_backed_up': _f('bool', 'On a set, fields that made Codex unable to read auth.json (an '
                                       'unparseable tokens object, a bad last_refresh) were dropped; the old '
                                       'file is in backup_file (a private backup is always made then).',
                                       required=True),
                'dropped_fields': _f('list', 'Names of the fields dropped (see tokens_backed_up); optional.',
                                     nullable=True, elements='str'),
                'exists': _f('bool', 'auth.json exists after the trip (read back from disk).', nullable=True),
                'key_fingerprint': _f('str', 'Fingerprint of the key on disk after the trip (read back).',
                                      nullable=True),
                'auth_mode': _f('str', 'auth_mode on disk after the trip.', nullable=True),
                'credentials': _f('str', 'What Codex will use after the trip.', nullable=True,
                                  choices=CREDENTIALS_CHOICES),
            }),
            'repaired': _f('list', '"path: 0777 -> 0700" for every mode that was tightened.', required=True,
                           elements='str'),
            'removed_files': _f('list', 'Paths removed: leftover temp files, key backups, a deleted '
                                'auth.json.', required=True, elements='str'),
        },
    },
}

_TYPES = {'str': (str,), 'int': (int,), 'bool': (bool,), 'dict': (dict,), 'list': (list, tuple)}


def _check(spec, value, where):
    if value is None:
        if not spec.get('nullable'):
            raise ProtocolError('%s must not be null' % where)
        return
    kind = spec['type']
    if kind == 'int' and isinstance(value, bool) or not isinstance(value, _TYPES[kind]):
        raise ProtocolError('%s must be of type %s' % (where, kind))
    if 'choices' in spec and value not in spec['choices']:
        raise ProtocolError('%s must be one of %s' % (where, ', '.join(spec['choices'])))
    if kind == 'dict' and 'fields' in spec:
        _check_fields(spec['fields'], value, where)
    if kind == 'list' and 'elements' in spec:
        element = spec['elements']
        element = element if isinstance(element, dict) else {'type': element}
        for index, item in enumerate(value):
            _check(dict(element, nullable=False), item, '%s[%d]' % (where, index))


def _check_fields(fields, obj, where):
    for name in obj:
        if name not in fields:
            raise ProtocolError('%s has an unknown field %r' % (where, name))
    for name, spec in fields.items():
        if name not in obj:
            if spec.get('required'):
                raise ProtocolError('%s lacks the field %r' % (where, name))
            continue
        _check(spec, obj[name], '%s.%s' % (where, name))


def _validate(kind, obj):
    if kind not in SCHEMA:
        raise ProtocolError('unknown message kind %r' % kind)
    if not isinstance(obj, dict):
        raise ProtocolError('%s must be a JSON object' % kind)
    if obj.get('protocol') != PROTOCOL_VERSION:
        raise ProtocolError('%s speaks protocol %r, this side speaks %d: the collection on the controller '
                            'and the host side do not match' % (kind, obj.get('protocol'), PROTOCOL_VERSION))
    _check_fields(SCHEMA[kind]['fields'], obj, kind)
    return obj


def validate_request(kind, obj):
    """Check a ``read`` or ``write`` request; returns it, raises :class:`ProtocolError`."""
    obj = _validate('%s_request' % kind, obj)
    if kind == 'read' and obj.get('codex_home') is not None:
        check_codex_home(obj['codex_home'])
    if kind == 'write' and not is_absolute(obj['codex_home']):
        raise ProtocolError('write_request.codex_home must be the resolved absolute path')
    return obj


def validate_response(kind, obj):
    """Check a ``read`` or ``write`` response; returns it, raises :class:`ProtocolError`."""
    return _validate('%s_response' % kind, obj)


def is_absolute(path):
    """POSIX ``/...`` or Windows ``X:\\...`` / ``\\\\server\\share``."""
    if path.startswith('/'):
        return True
    drive, rest = ntpath.splitdrive(path)
    return bool(drive) and (rest.startswith('\\') or rest.startswith('/') or drive.startswith('\\\\'))


def check_codex_home(raw):
    """Refuse what neither host side resolves (a relative path, environment variables)."""
    if raw == '' or not (raw.startswith('~') or is_absolute(raw)) or '$' in raw or '%' in raw:
        raise ProtocolError('codex_home must be an absolute path or start with ~, not %r' % raw)
    return raw


def split_tilde(raw):
    """``'~'`` -> ``(None, '')``; ``'~/a'`` -> ``(None, 'a')``; ``'~bob/a'`` -> ``('bob', 'a')``;
    anything else -> ``None``. ``None`` as name means the account of the request."""
    if not raw.startswith('~'):
        return None
    rest = raw[1:]
    cut = min([i for i in (rest.find('/'), rest.find('\\')) if i >= 0] or [len(rest)])
    name, tail = rest[:cut], rest[cut + 1:]
    return (name or None), tail


def resolve_posix(raw, account_home, home_of):
    """Resolve ``codex_home`` on a POSIX host: ``home_of(name)`` returns a home or raises KeyError."""
    if raw is None:
        return posixpath.join(account_home, '.codex')
    check_codex_home(raw)
    tilde = split_tilde(raw)
    if tilde is not None:
        name, tail = tilde
        if name is None:
            base = account_home
        else:
            try:
                base = home_of(name)
            except KeyError:
                raise ProtocolError('codex_home %s: no account %s on the host' % (raw, name))
        raw = posixpath.join(base, tail) if tail else base
    if not raw.startswith('/'):
        raise ProtocolError('codex_home must be an absolute path or start with ~, not %r' % raw)
    return posixpath.normpath(raw)


def field_names(kind):
    """Dotted names of every field of a message kind (``home.path``, ``leftovers[].name``...)."""
    names = []

    def walk(fields, prefix):
        for name, spec in sorted(fields.items()):
            names.append(prefix + name)
            if 'fields' in spec:
                walk(spec['fields'], prefix + name + '.')
            element = spec.get('elements')
            if isinstance(element, dict) and 'fields' in element:
                walk(element['fields'], prefix + name + '[].')
    walk(SCHEMA[kind]['fields'], '')
    return names


def export():
    """The whole schema as plain data (JSON-serialisable), with the version and the constants."""
    return {
        'protocol': PROTOCOL_VERSION, 'schema': SCHEMA,
        'limits': {'config_bytes': MAX_CONFIG_BYTES, 'auth_bytes': MAX_AUTH_BYTES},
        'names': {'config': CONFIG_NAME, 'auth': AUTH_NAME, 'temp_prefixes': list(TEMP_PREFIXES),
                  'temp_suffix': TEMP_SUFFIX, 'auth_backup_prefix': AUTH_BACKUP_PREFIX,
                  'backup_suffix': BACKUP_SUFFIX},
    }


# ---- mode rules: the host side applies them, the planner uses them to predict (check mode) ----

def parse_octal(text):
    """'0644' -> 0o644; None -> None."""
    return None if text is None else int(text, 8)


def home_mode(config_mode):
    """An account's Codex home: 0700, plus r-x for group/other where config_mode grants read."""
    mode = 0o700
    if config_mode is not None:
        if config_mode & 0o040:
            mode |= 0o050
        if config_mode & 0o004:
            mode |= 0o005
    return mode


def wanted_mode(what, current, access, config_mode=None):
    """The mode a write trip leaves on ``what`` (home | config | auth | auth_backup).

    ``current`` is the mode now (None: the object is new). Returns an int.
    """
    if what == 'home':
        if access == 'root':
            # the system layer (or a root-owned location): keep what the operator chose, minus
            # group/other write; a new one follows config_mode like an account's home
            return home_mode(config_mode) if current is None else current & ~0o7022
        return home_mode(config_mode)
    if what == 'config':
        if config_mode is not None:
            return config_mode & ~0o7022
        return 0o600 if current is None else current & ~0o7022
    return 0o600


def loose(what, current, access, config_mode=None):
    """True when ``current`` grants more than the rules allow (what a write trip repairs)."""
    return bool(current & ~wanted_mode(what, current, access, config_mode) & 0o7777)
