# -*- coding: utf-8 -*-
"""The decisions of the Windows host side, run for real off Windows.

The script keeps every decision in the C# class ``Rules``/``Auth``/``Json`` that it compiles with
Add-Type; the PowerShell functions (``Get-CodexFingerprint``, ``Get-CodexPathRefusal``,
``Get-CodexAclRepair``...) only pass facts read through file handles to it. These tests compile that
same C# with Mono (C# 5, as Windows PowerShell 5.1 does) and run each rule against a table here and,
where the Python side makes the same decision, against the Python code (module_utils/_codex_auth,
the POSIX module's parse_auth/new_auth_bytes/list_leftovers, _codex_protocol's path rules, the
planner's Windows attribute strategy). test_windows_script_static.py checks that the PowerShell
functions pass the right facts to these rules.

What this does not prove: that .NET on Windows behaves like Mono for these pure functions (they use
only strings, lists, SHA-256, Regex and Convert.FromBase64String), and nothing about the native
calls (NtCreateFile, ACLs, renames), which only run on Windows.
"""

from __future__ import annotations

import base64
import json
import os

import pytest

from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_auth as auth_py
from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto
from ansible_collections.bytes4096.codex.plugins.modules import codex_config as posix_module
from ansible_collections.bytes4096.codex.plugins.plugin_utils._codex_plan_attrs import WindowsAttributes

from windows_ps1 import REPO, RulesError

VECTORS = os.path.join(REPO, 'tests', 'unit', 'fixtures', 'fingerprint-vectors.json')

ACCOUNT = 'S-1-5-21-1000-2000-3000-1001'
OTHER = 'S-1-5-21-1000-2000-3000-1002'
RUNNER = 'S-1-5-21-1000-2000-3000-500'
SYSTEM, ADMINS = 'S-1-5-18', 'S-1-5-32-544'
TRUSTED_INSTALLER = 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464'
USERS, EVERYONE, AUTH_USERS, CREATOR_OWNER = 'S-1-5-32-545', 'S-1-1-0', 'S-1-5-11', 'S-1-3-0'


# ---- the fingerprint -----------------------------------------------------------------------------

def _vectors():
    with open(VECTORS, encoding='utf-8') as handle:
        return json.load(handle)['vectors']


def test_fingerprint_matches_every_shared_vector(rules):
    vectors = _vectors()
    assert vectors
    got = rules.call_many([('Fingerprint', (v['key'],)) for v in vectors])
    for vector, fingerprint in zip(vectors, got):
        assert fingerprint == vector['fingerprint'], vector['description']


@pytest.mark.parametrize('key', [
    'sk-proj-' + 'A' * 150, ' ', '\t', '\ud800', 'a\udfffb', '\U0001f511', '\u00e9\u0301', '\x00', 'k' * 5000,
])
def test_fingerprint_matches_python(rules, key):
    assert rules.call('Fingerprint', key) == auth_py.key_fingerprint(key)


def test_fingerprint_of_nothing_is_null(rules):
    assert rules.call('Fingerprint', None) is None
    assert rules.call('Fingerprint', '') is None


# ---- auth.json: parse, judge, write (Python's json module and _codex_auth) ----------------------

def _jwt(payload, header='eyJhbGciOiJub25lIn0', signature='c2ln'):
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode('utf-8')
    return '%s.%s.%s' % (header, base64.urlsafe_b64encode(raw).decode('ascii').rstrip('='), signature)


GOOD_TOKENS = {'id_token': _jwt({'email': 'a@example.invalid'}), 'access_token': 'at', 'refresh_token': 'rt'}

AUTH_TEXTS = [
    '{"OPENAI_API_KEY": "sk-test"}',
    '{"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test"}',
    '{"auth_mode": "chatgpt", "OPENAI_API_KEY": "sk-test", "tokens": %s}' % json.dumps(GOOD_TOKENS),
    '{"OPENAI_API_KEY": null, "tokens": %s}' % json.dumps(GOOD_TOKENS),
    '{"auth_mode": "chatgptAuthTokens", "tokens": %s}' % json.dumps(GOOD_TOKENS),
    '{"auth_mode": "agentIdentity"}',
    '{"auth_mode": "ApiKey", "OPENAI_API_KEY": "sk-test"}',
    '{"auth_mode": 5, "OPENAI_API_KEY": "sk-test"}',
    '{"OPENAI_API_KEY": 5}',
    '{"OPENAI_API_KEY": ""}',
    '{"OPENAI_API_KEY": "", "auth_mode": "apikey"}',
    '{"OPENAI_API_KEY": "sk", "tokens": {"refresh_token": "rt"}}',
    '{"OPENAI_API_KEY": "sk", "tokens": []}',
    '{"OPENAI_API_KEY": "sk", "tokens": null}',
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, account_id=5)),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, account_id=None)),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, account_id='acct')),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token=_jwt({'email': 5}))),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token=_jwt([1, 2]))),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token=_jwt('"text"'.encode()))),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token=_jwt(b'not json'))),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token=_jwt(b'\xff\xfe'))),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token=_jwt({'https://api.openai.com/auth': 'x'}))),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token=_jwt({'https://api.openai.com/profile': {}}))),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token='a.b')),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token='.eyJ9.c')),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token='a.e+J9.c')),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token='a.eyJ9.c.d')),
    '{"tokens": %s}' % json.dumps(dict(GOOD_TOKENS, id_token='a.eyJ9a.c')),
    '{"OPENAI_API_KEY": "k", "last_refresh": "2026-01-02T03:04:05Z"}',
    '{"OPENAI_API_KEY": "k", "last_refresh": "2026-01-02 03:04:05.123+01:00"}',
    '{"OPENAI_API_KEY": "k", "last_refresh": "2026-01-02T03:04:05Z\\n"}',
    '{"OPENAI_API_KEY": "k", "last_refresh": "yesterday"}',
    '{"OPENAI_API_KEY": "k", "last_refresh": 1700000000}',
    '{"b": 1, "a": 2, "\u00e9": 3, "\U0001f511": 4, "\uff5e": 5, "OPENAI_API_KEY": "k"}',
    '{"OPENAI_API_KEY": "first", "OPENAI_API_KEY": "second"}',
    '\ufeff{"OPENAI_API_KEY": "k"}',
    '{"OPENAI_API_KEY": "\\ud800"}',
    '{"OPENAI_API_KEY": "raw \ud800 surrogate"}',
    '{"OPENAI_API_KEY": "\\ud83d\\udd11"}',
    '{"OPENAI_API_KEY": "  spaced  "}',
    '{"x": [1, 2.5, -0, 1e400, NaN, -Infinity, true, false, null, {"y": []}]}',
    '  \n{}\n  ',
    '[]',
    '"text"',
    '7',
    '',
    ' ',
    '{',
    '[',
    '{"a"',
    '{"a":',
    '{"a":1',
    '{"a" 1}',
    '{1:2}',
    '"abc',
    '"a\x01"',
    '"\\x"',
    '"\\u12"',
    '"\\u12G4"',
    '[1 2]',
    '01',
    '1 2',
    '-',
    'nul',
    "{'OPENAI_API_KEY': 'k'}",
    '{OPENAI_API_KEY: "k"}',
    '{"a":1}x',
    '"\\',
    '{"a":1 "b":2}',
    '\n\n  {"a":\n x}',
    '{"k": "tab\there"}',
]
# Python 3.13 words these two differently ("Illegal trailing comma"); only validity is compared.
TRAILING_COMMA = ['[1,]', '{"a":1,}', '{"a":1,', '[1,']


def _posix_already_set(obj, secret):
    stored = obj.get('OPENAI_API_KEY') if obj else None
    stored = stored if isinstance(stored, str) else None
    return bool(obj is not None and stored == secret and obj.get('auth_mode') == 'apikey'
                and not auth_py.unreadable_fields(obj))


def python_facts(text):
    """What the POSIX side reports for this auth.json text (parse_auth, then _codex_auth)."""
    obj, error = posix_module.parse_auth(text.encode('utf-8', 'surrogatepass'))
    if error:
        return {'valid': False, 'error': error}
    key = obj.get('OPENAI_API_KEY')
    stored = key if isinstance(key, str) else None
    return {
        'valid': True,
        'fields': sorted(k for k in obj if k != 'OPENAI_API_KEY'),
        'auth_mode': obj.get('auth_mode') if isinstance(obj.get('auth_mode'), str) else None,
        'key_present': isinstance(key, str) and key != '',
        'key_fingerprint': auth_py.key_fingerprint(key) if isinstance(key, str) and key else None,
        'tokens': auth_py.tokens_state(obj),
        'unreadable_fields': auth_py.unreadable_fields(obj),
        'credentials': auth_py.credentials(obj),
        'stored_key': stored,
        # the write trip's "nothing to do" (with the stored key as the new one) and "there is a key to
        # remove" tests of the POSIX module
        'already_set_same': _posix_already_set(obj, stored),
        'has_api_key_state': 'OPENAI_API_KEY' in obj or obj.get('auth_mode') == 'apikey',
    }


def test_auth_facts_match_the_python_side(rules):
    answers = rules.call_many([('Auth.FactsJson', (text,)) for text in AUTH_TEXTS + TRAILING_COMMA])
    for text, answer in zip(AUTH_TEXTS + TRAILING_COMMA, answers):
        assert not isinstance(answer, RulesError), (text, answer)
        got, want = json.loads(answer), python_facts(text)
        if text in TRAILING_COMMA:
            assert got['valid'] is want['valid'] is False, text
            continue
        assert got == want, text


NEW_TEXT_CASES = [
    (None, 'sk-new', 'set'),
    ('{}', 'sk-new', 'set'),
    ('{"OPENAI_API_KEY": "sk-old"}', 'sk-new', 'set'),
    ('{"auth_mode": "chatgpt", "tokens": %s, "last_refresh": "2026-01-02T03:04:05Z"}' % json.dumps(GOOD_TOKENS),
     'sk-new', 'set'),
    ('{"auth_mode": "chatgpt", "tokens": {"refresh_token": "rt"}}', 'sk-new', 'set'),
    ('{"OPENAI_API_KEY": "k", "last_refresh": "yesterday", "z": 1}', 'sk-new', 'set'),
    ('{"auth_mode": 7}', 'sk-new', 'set'),
    ('{"x": [1, 2.5, -0, 1e400, 1e-7, 0.1, 1e16, 123456789.123, 1.5e300, NaN, -Infinity, {"y": [], "z": {}}]}',
     'sk-new', 'set'),
    ('{"s": "q\\"b\\\\s\\/ \\b\\f\\n\\r\\t \\u0001 \\u007f \\u2028 \\ud800 \u00e9 \U0001f511"}', 'sk-new', 'set'),
    ('{"OPENAI_API_KEY": "sk-old", "auth_mode": "apikey"}', None, 'remove'),
    ('{"OPENAI_API_KEY": "sk-old", "auth_mode": "chatgpt", "tokens": %s}' % json.dumps(GOOD_TOKENS), None, 'remove'),
    ('{"OPENAI_API_KEY": "sk-old", "other": {"a": [1, {"b": null}]}}', None, 'remove'),
    ('{"OPENAI_API_KEY": "sk-old"}', None, 'remove'),
]


@pytest.mark.parametrize('text, secret, op', NEW_TEXT_CASES)
def test_new_auth_text_is_what_the_posix_module_writes(rules, text, secret, op):
    got = json.loads(rules.call('Auth.NewTextJson', text, secret, op))
    obj = None if text is None else json.loads(text)
    data, dropped = posix_module.new_auth_bytes(obj, secret, op)
    want_text = None if data is None else data.decode('utf-8', 'surrogatepass')
    assert got == {'text': want_text, 'dropped': list(dropped)}


@pytest.mark.parametrize('number', ['0', '-0', '12345678901234567890123', '-7', '1.0', '1.5', '-2.25', '1e5', '1E5',
                                    '1e-5', '0.0001', '0.00001', '1e15', '1e16', '9999999999999998', '1.7976931348623157e308',
                                    '5e-324', '3.14159', '-0.0', '2.5e-3', '123.456e7'])
def test_numbers_are_written_back_like_python(rules, number):
    want = json.dumps(json.loads('[%s]' % number), indent=2, ensure_ascii=False)
    assert rules.call('Auth.Redump', '[%s]' % number) == want


def test_utf8_errors_are_located_like_the_posix_side(rules):
    cases = [b'ok', b'\xff', b'a\nb\xc3', b'line1\nline2 \xe2\x82\n', b'\xed\xa0\x80', b'\xf4\x90\x80\x80', b'\xc0\xaf',
             b'\xe0\x80\x80', b'x\r\n\xf0\x9f\x94', '\u00e9\U0001f511'.encode('utf-8'), b'\n\n\x80']
    for data in cases:
        try:
            data.decode('utf-8')
            want = None
        except UnicodeDecodeError as exc:
            start = int(exc.start)
            line = data[:start].count(b'\n') + 1
            column = start - (data.rfind(b'\n', 0, start) + 1) + 1
            want = '%d:%d' % (line, column)
        assert rules.call('Utf8ErrorOfLatin1', data.decode('latin-1')) == want, data


# ---- paths: what may be opened ------------------------------------------------------------------

REPARSE, DIRECTORY, NORMAL = 0x400, 0x10, 0x80
SYMLINK, MOUNT_POINT, LX_FIFO, AF_UNIX, APPEXEC = 0xA000000C, 0xA0000003, 0x80000024, 0x80000023, 0x8000001B
DISK, PIPE, CHAR = 1, 3, 2

# role, attributes, reparse tag, file type, links, owner -> None (allowed) or a part of the refusal
PATH_RULES = [
    ('file', NORMAL, 0, DISK, 1, ACCOUNT, None),
    ('file', NORMAL, 0, DISK, 1, ADMINS, None),
    ('file', NORMAL, 0, DISK, 1, SYSTEM, None),
    ('file', NORMAL, 0, DISK, 1, RUNNER, None),
    ('file', NORMAL, 0, DISK, 1, OTHER, 'is owned by OTHER, neither the account nor an administrator'),
    ('file', NORMAL | REPARSE, SYMLINK, DISK, 1, ACCOUNT, 'is a symbolic link; it is not followed'),
    ('file', NORMAL | REPARSE, SYMLINK, DISK, 1, ADMINS, 'is a symbolic link; it is not followed'),
    ('file', DIRECTORY | REPARSE, MOUNT_POINT, DISK, 1, ACCOUNT, 'is a junction or volume mount point'),
    ('file', NORMAL | REPARSE, LX_FIFO, DISK, 1, ACCOUNT, 'is a WSL FIFO; it is not followed'),
    ('file', NORMAL | REPARSE, AF_UNIX, DISK, 1, ACCOUNT, 'is a Unix socket'),
    ('file', NORMAL | REPARSE, APPEXEC, DISK, 1, ACCOUNT, 'is an app execution alias'),
    ('file', NORMAL | REPARSE, 0x9000001A, DISK, 1, ACCOUNT, 'is a reparse point (tag 0x9000001A)'),
    ('file', NORMAL, 0, PIPE, 1, ACCOUNT, 'is not a file on a local disk (file type 3)'),
    ('file', NORMAL, 0, CHAR, 1, ACCOUNT, 'is not a file on a local disk (file type 2)'),
    ('file', DIRECTORY, 0, DISK, 1, ACCOUNT, 'is a directory, not a regular file'),
    ('file', NORMAL, 0, DISK, 2, ACCOUNT, 'has 2 hard links'),
    ('file', NORMAL, 0, DISK, 2, ADMINS, 'has 2 hard links'),
    ('home', DIRECTORY, 0, DISK, 1, ACCOUNT, None),
    ('home', DIRECTORY, 0, DISK, 1, ADMINS, None),
    ('home', DIRECTORY | REPARSE, MOUNT_POINT, DISK, 1, ACCOUNT, 'is a junction or volume mount point; it is not followed'),
    ('home', DIRECTORY | REPARSE, MOUNT_POINT, DISK, 1, ADMINS, 'is a junction or volume mount point; it is not followed'),
    ('home', DIRECTORY | REPARSE, SYMLINK, DISK, 1, SYSTEM, 'is a symbolic link'),
    ('home', NORMAL, 0, DISK, 1, ACCOUNT, 'is not a directory'),
    ('home', DIRECTORY, 0, DISK, 1, OTHER, 'is owned by OTHER'),
    ('ancestor', DIRECTORY, 0, DISK, 1, TRUSTED_INSTALLER, None),
    ('ancestor', DIRECTORY, 0, DISK, 1, ACCOUNT, None),
    ('ancestor', DIRECTORY, 0, DISK, 1, OTHER, 'is owned by OTHER'),
    ('ancestor', DIRECTORY | REPARSE, MOUNT_POINT, DISK, 1, ADMINS, None),
    ('ancestor', DIRECTORY | REPARSE, SYMLINK, DISK, 1, SYSTEM, None),
    ('ancestor', DIRECTORY | REPARSE, MOUNT_POINT, DISK, 1, ACCOUNT, 'is a junction or volume mount point; it is not followed'),
    ('ancestor', DIRECTORY | REPARSE, MOUNT_POINT, DISK, 1, OTHER, 'is a junction or volume mount point'),
    ('ancestor', NORMAL, 0, DISK, 1, ADMINS, 'is not a directory'),
]


def test_path_rules(rules):
    calls = [('PathRefusal', (role, attrs, tag, ftype, links, owner, 'OTHER' if owner == OTHER else owner, ACCOUNT, RUNNER))
             for role, attrs, tag, ftype, links, owner, dummy in PATH_RULES]
    for row, got in zip(PATH_RULES, rules.call_many(calls)):
        want = row[-1]
        if want is None:
            assert got is None, row
        else:
            assert got is not None and want in got, (row, got)


def test_a_link_above_the_home_is_followed_only_when_an_administrator_made_it(rules):
    """The same rule as the POSIX side: a path component must belong to root/Administrators or the
    account; a link is never followed on the account's word alone."""
    for owner in (ACCOUNT, OTHER, USERS, EVERYONE):
        assert rules.call('PathRefusal', 'ancestor', DIRECTORY | REPARSE, MOUNT_POINT, DISK, 1, owner, owner, ACCOUNT, RUNNER)
    for owner in (SYSTEM, ADMINS, TRUSTED_INSTALLER, RUNNER):
        assert rules.call('PathRefusal', 'ancestor', DIRECTORY | REPARSE, MOUNT_POINT, DISK, 1, owner, owner, ACCOUNT, RUNNER) is None


# ---- ACLs: private, loose, repaired -------------------------------------------------------------

FA, READ, MODIFY, WRITE_DATA, GENERIC_ALL = 0x1F01FF, 0x120089, 0x1301BF, 0x2, 0x10000000
OWN = [(ACCOUNT, 0, FA, 0), (SYSTEM, 0, FA, 0), (ADMINS, 0, FA, 0)]

# role, protected, ACEs (sid, type 0 allow/1 deny, mask, flags) -> None or a part of the problem.
# Everything under the Codex home is private (config.toml too: Codex runs as the account).
ACL_RULES = [
    ('home', True, OWN, None),
    ('home', False, OWN, 'inherits entries from its parent'),
    ('home', True, OWN + [(USERS, 0, READ, 0)], 'open to USERS'),
    ('home', True, OWN + [(EVERYONE, 0, READ, 0x08)], 'open to EVERYONE'),
    ('home', True, OWN + [(USERS, 1, FA, 0)], None),
    ('file', True, OWN, None),
    ('file', True, [(ACCOUNT, 0, FA, 0)], None),
    ('file', False, OWN, None),
    ('file', True, OWN + [(USERS, 0, READ, 0)], 'open to USERS'),
    ('file', True, OWN + [(USERS, 0, WRITE_DATA, 0)], 'open to USERS'),
    ('file', False, OWN + [(AUTH_USERS, 0, MODIFY, 0x10)], 'open to AUTH_USERS'),
    ('file', True, OWN + [(EVERYONE, 0, GENERIC_ALL, 0)], 'open to EVERYONE'),
    ('file', True, OWN + [(OTHER, 0, READ, 0), (USERS, 0, READ, 0), (OTHER, 0, FA, 0)], 'open to OTHER, USERS'),
    ('file', True, OWN + [(USERS, 0, READ, 0x08)], None),
    ('file', True, OWN + [(CREATOR_OWNER, 0, GENERIC_ALL, 0x08)], None),
    ('file', True, OWN + [(EVERYONE, 1, FA, 0)], None),
    ('file', True, OWN + [(USERS, 0, 0, 0)], None),
]
NAMES = {ACCOUNT: 'ACCOUNT', SYSTEM: 'SYSTEM', ADMINS: 'ADMINS', USERS: 'USERS', EVERYONE: 'EVERYONE',
         AUTH_USERS: 'AUTH_USERS', OTHER: 'OTHER', CREATOR_OWNER: 'CREATOR_OWNER'}


def _acl_call(role, protected, aces):
    return ('AclProblem', (role, protected, [a[0] for a in aces], [NAMES[a[0]] for a in aces], [a[1] for a in aces],
                           [a[2] for a in aces], [a[3] for a in aces], ACCOUNT))


def test_acl_rules(rules):
    for row, got in zip(ACL_RULES, rules.call_many([_acl_call(*row[:3]) for row in ACL_RULES])):
        if row[-1] is None:
            assert got is None, row
        else:
            assert got is not None and row[-1] in got, (row, got)


def test_the_acl_this_side_creates_passes_its_own_rules(rules):
    assert rules.call('PrivateSddl', ACCOUNT, False) == 'D:P(A;;FA;;;%s)(A;;FA;;;SY)(A;;FA;;;BA)' % ACCOUNT
    assert rules.call('PrivateSddl', ACCOUNT, True) == 'D:P(A;OICI;FA;;;%s)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)' % ACCOUNT
    inheritable = [(sid, 0, FA, 0x01 | 0x02) for sid, dummy, dummy2, dummy3 in OWN]
    method, args = _acl_call('home', True, inheritable)
    assert rules.call(method, *args) is None


@pytest.mark.parametrize('what', ['home', 'config', 'auth'])
def test_the_planner_predicts_an_acl_repair_exactly_when_the_script_makes_one(rules, what):
    """read_response.<what>.private is "no AclProblem"; the script repairs exactly then on a write
    trip, and the planner's Windows strategy must predict exactly that (else check mode lies or a
    run never converges)."""
    role = 'home' if what == 'home' else 'file'
    rows = [row for row in ACL_RULES if row[0] == role]
    answers = rules.call_many([_acl_call(*row[:3]) for row in rows])
    for row, problem in zip(rows, answers):
        info = {'path': 'C:\\Users\\a\\.codex', 'exists': True, 'valid': True, 'private': problem is None}
        repair = getattr(WindowsAttributes(), what)(info)[0]
        assert (repair is not None) == (problem is not None), row


# ---- names in the Codex home ---------------------------------------------------------------------

LEFTOVER_NAMES = [
    'config.toml', 'auth.json', 'auth.json.lock', 'auth.lock', '.config.toml.abc.tmp', '.auth.json.0123abcd.tmp',
    '.auth.json.tmp', '.auth.json.2026-12-01@11-00-00~.0123.tmp', 'auth.json.2026-12-01@11-00-00~',
    'auth.json.2026-12-01@11:00:00~', 'auth.json.2026-12-01@11:00:00.4242~', 'auth.json.~', 'auth.json~',
    'config.toml.2026-12-01@11-00-00~', 'config.toml.x.1~', 'AUTH.JSON.x~', '.Auth.json.x.tmp', 'auth.json.x~.tmp',
    '.config.toml.tmp.x', 'x.auth.json.1~', 'history.jsonl',
]


def test_leftovers_are_classified_like_the_posix_module(rules, tmp_path):
    for name in LEFTOVER_NAMES:
        (tmp_path / name).write_text('x')
    fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        python_kinds = {name: kind for name, kind, dummy in posix_module.list_leftovers(fd)}
    finally:
        os.close(fd)
    got = rules.call_many([('LeftoverKind', (name,)) for name in LEFTOVER_NAMES])
    assert dict(zip(LEFTOVER_NAMES, got)) == {name: python_kinds.get(name) for name in LEFTOVER_NAMES}


def test_names_this_side_creates_are_leftovers_it_recognises(rules):
    temp = rules.call('TempName', 'auth.json', '0123456789abcdef0123456789abcdef')
    backup = rules.call('BackupName', 'auth.json', '2026-12-01T11:22:33', 0)
    backup2 = rules.call('BackupName', 'config.toml', '2026-12-01T11:22:33', 3)
    backup_temp = rules.call('TempName', backup, '0123456789abcdef0123456789abcdef')
    assert temp == '.auth.json.0123456789abcdef0123456789abcdef.tmp'
    assert backup == 'auth.json.2026-12-01@11-22-33~'
    assert backup2 == 'config.toml.2026-12-01@11-22-33.3~'
    assert rules.call_many([('LeftoverKind', (n,)) for n in (temp, backup, backup2, backup_temp)]) == [
        'temp', 'auth_backup', 'config_backup', 'temp']
    for name in (temp, backup, backup2, backup_temp):
        assert not set(name) & set('<>:"/\\|?*'), name  # valid Windows file names
        assert name.startswith(proto.TEMP_PREFIXES + (proto.AUTH_BACKUP_PREFIX, proto.CONFIG_BACKUP_PREFIX))


# ---- codex_home: what both sides accept and how they normalise it ---------------------------------

HOME_INPUTS = [
    ('~', None), ('~\\x', None), ('~/x/y', None), ('~bob', None), ('~bob\\.codex', None), ('C:\\Users\\a\\.codex', None),
    ('c:/Users/a/.codex', None), ('\\\\server\\share\\codex', None), ('rel', 'refused'), ('.codex', 'refused'),
    ('', 'refused'), ('$HOME\\.codex', 'refused'), ('%USERPROFILE%\\.codex', 'refused'), ('C:\\%x%', 'refused'),
    ('~\\$x', 'refused'), ('C:rel', 'refused'),
]


def _python_refuses(raw):
    try:
        proto.check_codex_home(raw)
    except proto.ProtocolError:
        return True
    return False


@pytest.mark.parametrize('raw, verdict', HOME_INPUTS)
def test_codex_home_is_refused_like_the_protocol_says(rules, raw, verdict):
    got = rules.call('HomeRefusal', raw)
    assert (got is not None) == _python_refuses(raw) == (verdict is not None)
    if got is not None:
        # the protocol's message; the value as typed (Python shows its repr, doubling backslashes)
        assert got == "codex_home must be an absolute path or start with ~, not '%s'" % raw


def test_a_posix_absolute_codex_home_is_refused_on_windows(rules):
    # the protocol accepts "/x" for POSIX hosts; on Windows it is relative to the current drive
    assert proto.check_codex_home('/srv/codex') == '/srv/codex'
    assert rules.call('HomeRefusal', '/srv/codex') == "codex_home must be an absolute path or start with ~, not '/srv/codex'"


@pytest.mark.parametrize('raw', ['~', '~/', '~\\x', '~/x/y', '~bob', '~bob\\x\\y', '~bob/', 'C:\\x'])
def test_tilde_splits_like_the_protocol(rules, raw):
    got = rules.call('SplitTilde', raw)
    want = proto.split_tilde(raw)
    assert (None if got is None else ((got[0] or None), got[1])) == want


@pytest.mark.parametrize('path, normalised', [
    ('C:\\Users\\a\\.codex', 'C:\\Users\\a\\.codex'),
    ('c:/Users/a/../b/./.codex/', 'C:\\Users\\b\\.codex'),
    ('C:\\a\\..\\..\\x', 'C:\\x'),
    ('C:\\\\a\\\\b', 'C:\\a\\b'),
    ('\\\\srv\\share\\x\\..\\y', '\\\\srv\\share\\y'),
    ('//srv/share/y', '\\\\srv\\share\\y'),
    ('\\\\?\\C:\\x', None), ('\\\\.\\pipe\\x', None), ('C:x', None), ('/x', None), ('x\\y', None), ('\\\\srv', None),
])
def test_absolute_paths_normalise_like_ntpath(rules, path, normalised):
    import ntpath
    got = rules.call('SplitAbsolute', path)
    if normalised is None:
        assert got is None
        return
    joined = rules.call('JoinAbsolute', got, len(got))
    assert joined == normalised
    assert ntpath.normpath(path).lower() == normalised.lower() or ntpath.normpath(path) + '\\' == normalised
    assert got[1] == ('\\??\\UNC\\' + normalised[2:].split('\\', 2)[0] + '\\' + normalised[2:].split('\\', 2)[1] + '\\'
                      if normalised.startswith('\\\\') else '\\??\\' + normalised[:3])


@pytest.mark.parametrize('name, refused', [
    ('.codex', None), ('codex home', None), ('x.y', None), ('a:b', 'contains one of'), ('a*', 'contains one of'),
    ('a?', 'contains one of'), ('a"b', 'contains one of'), ('a<b', 'contains one of'), ('a|b', 'contains one of'),
    ('a\x01', 'control character'), ('dots.', 'ends with a dot'), ('space ', 'ends with a dot or a space'),
    ('NUL', 'reserved device name'), ('con.txt', 'reserved device name'), ('COM1', 'reserved'), ('lpt9.x', 'reserved'),
    ('CONSOLE', None), ('nul-ish', None),
])
def test_path_components(rules, name, refused):
    got = rules.call('ComponentRefusal', name)
    assert (got is None) if refused is None else (refused in got)


def test_reparse_kinds(rules):
    tags = (SYMLINK, MOUNT_POINT, LX_FIFO, 0xA000001D, 0x80000025, 0x80000026, AF_UNIX, APPEXEC, 0x9000001A)
    got = rules.call_many([('ReparseKind', (tag,)) for tag in tags])
    assert got == ['a symbolic link', 'a junction or volume mount point', 'a WSL FIFO', 'a WSL symbolic link',
                   'a WSL character device', 'a WSL block device', 'a Unix socket', 'an app execution alias',
                   'a reparse point (tag 0x9000001A)']


def test_requests_are_read_as_the_action_writes_them(rules):
    """The script reads requests with the same C# JSON reader (not ConvertFrom-Json, which in Windows
    PowerShell 5.1 stops at about 2 MB and accepts what JSON does not)."""
    text = '\ufeff# \u00e9t\u00e9 \U0001f511\r\nmodel = "x"\r\n[a]\r\nb = "\\t\x01"\r\n' * 50
    request = {'protocol': proto.PROTOCOL_VERSION, 'codex_home': 'C:\\Users\\a\\.codex', 'owner': 'DOM\\a',
               'group': None, 'state': 'present', 'lock_timeout': 30, 'create_home': True, 'config_mode': None,
               'config': {'text': text, 'expect_sha256': None, 'backup': False},
               'auth': {'op': 'set', 'only_fingerprint': None, 'force': False, 'backup': True},
               'purge_key_backups': False}
    sent = json.dumps(request)
    assert rules.call('Auth.Redump', sent) == json.dumps(json.loads(sent), indent=2, ensure_ascii=False)


@pytest.mark.skipif(os.uname().machine not in ('x86_64', 'amd64'), reason='the sizes below are those of 64-bit Windows')
@pytest.mark.parametrize('struct, size', [
    ('UnicodeString', 16), ('ObjectAttributes', 48), ('IoStatusBlock', 16), ('ByHandleInfo', 52),
    ('AttributeTagInfo', 8),
])
def test_native_structures_have_the_windows_x64_layout(rules, struct, size):
    """UNICODE_STRING, OBJECT_ATTRIBUTES, IO_STATUS_BLOCK, BY_HANDLE_FILE_INFORMATION and
    FILE_ATTRIBUTE_TAG_INFO as the Windows SDK lays them out on x64 (same marshalling rules)."""
    assert rules.call('SizeOf', struct) == size


def test_deep_nesting_is_refused_not_a_crash(rules):
    """A hostile auth.json of nested brackets (up to the 256 KiB cap) must give an error, not end the
    process with a stack overflow (the POSIX side's json module raises RecursionError there)."""
    deep = '{"a": ' + '[' * 120000 + ']' * 120000 + '}'
    facts = json.loads(rules.call('Auth.FactsJson', deep))
    assert facts['valid'] is False
    assert facts['error']['msg'] == 'invalid JSON: Nesting deeper than 512 levels'
    assert facts['error']['line'] == 1
    shallow = '{"a": ' + '[' * 500 + ']' * 500 + '}'
    assert json.loads(rules.call('Auth.FactsJson', shallow))['valid'] is True
