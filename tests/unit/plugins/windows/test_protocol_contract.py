# -*- coding: utf-8 -*-
"""Contract: the PowerShell host side speaks plugins/module_utils/_codex_protocol.py exactly.

Parsed from the script's text (PowerShell cannot run here):

- ``$CodexSchema`` in the script (used at run time to check every request and every object the
  script sends) equals the Python schema: the same messages, field names, types, required/nullable
  flags and choices.
- Every request field the schema defines is read by the script under that name (``$ReadRequest.x``,
  ``$WriteRequest.x``, ``$WriteRequest.config.x`` through an alias), and nothing else is read.
- Every object the script sends is built with ``New-CodexMessage -Kind K``; the fields it writes
  into each (literal keys and later assignments) are exactly the fields of K, and every response
  kind of the schema is built somewhere.
- The protocol version, size caps and file names are the Python constants.

The mutation tests at the end rename a field on either side and assert that the checker objects,
so the contract test cannot pass by accident.
"""

from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.bytes4096.codex.plugins.action import codex_config as action_plugin
from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto

from windows_ps1 import functions, mask, matching, powershell_only, ps1_text, top_level_keys

RESPONSE_KINDS = ('read_response', 'write_response')
REQUEST_VARS = {'read_request': '$ReadRequest', 'write_request': '$WriteRequest'}
ENVELOPES = ({'state'}, {'written'}, {'msg', 'written'})


# ---- the schema on both sides, as 'name:type:flags[:choices]' lines -----------------------------

def _compact(fields):
    lines = []
    for name, spec in fields.items():
        kind = spec['type']
        if kind == 'list' and spec.get('elements'):
            element = spec['elements']
            kind = 'list<%s>' % (element['type'] if isinstance(element, dict) else element)
        flags = ('r' if spec.get('required') else '') + ('n' if spec.get('nullable') else '')
        line = '%s:%s:%s' % (name, kind, flags)
        if spec.get('choices'):
            line += ':' + '|'.join(spec['choices'])
        lines.append(line)
    return sorted(lines)


def python_kinds(schema):
    """Every message kind and nested object kind of the Python schema -> sorted compact lines."""
    kinds = {}

    def walk(kind, fields):
        kinds[kind] = _compact(fields)
        for name, spec in fields.items():
            if 'fields' in spec:
                walk('%s.%s' % (kind, name), spec['fields'])
            element = spec.get('elements')
            if isinstance(element, dict) and 'fields' in element:
                walk('%s.%s[]' % (kind, name), element['fields'])
    for kind, message in schema.items():
        walk(kind, message['fields'])
    return kinds


def ps1_kinds(text):
    """``$CodexSchema`` of the script -> the same shape as :func:`python_kinds`."""
    code = powershell_only(text)
    masked = mask(code)
    start = masked.index('$CodexSchema = @{') + len('$CodexSchema = @')
    block = code[start:matching(masked, start) + 1]
    kinds = {}
    for match in re.finditer(r"'([\w.\[\]]+)'\s*=\s*@\(([^)]*)\)", block):
        kinds[match.group(1)] = sorted(re.findall(r"'([^']*)'", match.group(2)))
    return kinds


def spec_names(kinds, kind):
    return {line.split(':')[0] for line in kinds[kind]}


# ---- what the script reads and emits -------------------------------------------------------------

def request_reads(text, var):
    """Dotted field names read through ``var`` (and through aliases ``$x = var.field``)."""
    masked = mask(powershell_only(text))
    aliases = {var: ''}
    for match in re.finditer(r'(\$\w+)\s*=\s*%s\.(\w+)\s*$' % re.escape(var), masked, re.M):
        aliases[match.group(1)] = match.group(2) + '.'
    reads = set()
    for alias, prefix in aliases.items():
        for match in re.finditer(r'%s((?:\.\w+)+)' % re.escape(alias), masked):
            path = match.group(1)[1:].split('.')
            # a method or collection member after the field (e.g. .Contains) is not a field
            names = [prefix + path[0]] if prefix else [path[0]]
            if not prefix and len(path) > 1 and path[1][0].islower():
                names.append(path[0] + '.' + path[1])
            reads.update(names)
    return reads


def _literal_after(text, masked, index):
    """Keys of the ``@{`` literal that starts at or after index."""
    open_index = masked.index('@{', index) + 1
    return top_level_keys(text, masked, open_index)


def emitted(text):
    """Message kind -> set of field names the script writes into objects of that kind."""
    code = powershell_only(text)
    masked = mask(code)
    out = {}
    bodies = functions(text)

    def add(kind, names):
        out.setdefault(kind, set()).update(names)

    for match in re.finditer(r"New-CodexMessage -Kind '([\w.\[\]]+)' -Fields (\(\[ordered\]@\{|\$\w+)", code):
        kind, source = match.group(1), match.group(2)
        if source.startswith('('):
            add(kind, _literal_after(code, masked, match.start(2)))
        else:
            add(kind, _built_fields(code, masked, source, bodies))
    # write_response: fields set after New-CodexWritten built it
    for match in re.finditer(r'\$Written\.(\w+)(?:\.(\w+))?\s*(=(?!=)|\.Add\()', masked):
        first, second = match.group(1), match.group(2)
        if second and match.group(3) == '=':
            add('write_response.' + first, {second})
        else:
            add('write_response', {first})
    return out


def _built_fields(code, masked, var, bodies):
    """Fields of a dictionary built as ``var = Get-CodexPathFacts ...`` plus ``var['x'] = ...``."""
    names = set()
    if re.search(r'%s = (?:if \([^)]*\) \{\s*)?Get-CodexPathFacts' % re.escape(var), code):
        body = bodies['Get-CodexPathFacts']
        body_masked = mask(body)
        names.update(_literal_after(body, body_masked, body_masked.index('return [ordered]@{')))
    names.update(re.findall(r"%s\['(\w+)'\]\s*=" % re.escape(var), code))
    for match in re.finditer(r"foreach \(\$name in @\(([^)]*)\)\) \{ %s\[\$name\] =" % re.escape(var), code):
        names.update(re.findall(r"'(\w+)'", match.group(1)))
    return names


def contract_problems(text, schema):
    """Every disagreement between the script and the schema, as readable lines ([] = agreement)."""
    problems = []
    want, have = python_kinds(schema), ps1_kinds(text)
    for kind in sorted(set(want) | set(have)):
        if kind not in have:
            problems.append('script schema lacks the kind %s' % kind)
        elif kind not in want:
            problems.append('script schema has the unknown kind %s' % kind)
        elif want[kind] != have[kind]:
            problems.append('%s differs: python %s, script %s' % (
                kind, sorted(set(want[kind]) - set(have[kind])), sorted(set(have[kind]) - set(want[kind]))))

    for kind, var in REQUEST_VARS.items():
        if kind not in want:
            continue
        defined = {name for k in want if k == kind or k.startswith(kind + '.')
                   for name in ((k[len(kind) + 1:] + '.' if k != kind else '') + n for n in spec_names(want, k))}
        reads = request_reads(text, var)
        if '$out.protocol -ne $CodexProtocol' in functions(text)['ConvertFrom-CodexRequest']:
            reads.add('protocol')  # checked for every request before the code sees it
        for name in sorted(defined - reads):
            problems.append('%s.%s is defined but the script never reads it' % (kind, name))
        for name in sorted(reads - defined):
            problems.append('the script reads %s.%s, which the schema does not define' % (kind, name))

    built = emitted(text)
    for kind in sorted(k for k in want if k.split('.')[0] in RESPONSE_KINDS):
        names = built.get(kind)
        if names is None:
            problems.append('the script never builds a %s' % kind)
            continue
        fields = spec_names(want, kind)
        for name in sorted(names - fields):
            problems.append('the script sends %s.%s, which the schema does not define' % (kind, name))
        for name in sorted(fields - names):
            problems.append('the script never sends %s.%s' % (kind, name))
    for kind in sorted(set(built) - set(want)):
        problems.append('the script builds the unknown kind %s' % kind)
    return problems


# ---- the tests -----------------------------------------------------------------------------------

def test_script_schema_is_the_python_schema():
    want, have = python_kinds(proto.SCHEMA), ps1_kinds(ps1_text())
    assert set(have) == set(want)
    for kind in want:
        assert have[kind] == want[kind], kind


def test_script_reads_every_request_field_and_sends_exactly_the_response_fields():
    assert contract_problems(ps1_text(), proto.SCHEMA) == []


def test_every_request_field_is_read_through_the_checked_request():
    """Requests reach the code only through ConvertFrom-CodexRequest (unknown fields, types, choices,
    protocol version) and are read from its result, never from the raw JSON."""
    text = ps1_text()
    body = functions(text)['ConvertFrom-CodexRequest']
    assert "throw \"$Kind has an unknown field" in body
    assert "throw \"$Kind lacks the field" in body
    assert '$out.protocol -ne $CodexProtocol' in body
    main = powershell_only(text)[powershell_only(text).index('# ---- main'):]
    assert "Invoke-CodexRead -ReadRequest (ConvertFrom-CodexRequest -Value $decoded -Kind 'read_request')" in main
    assert "$request = ConvertFrom-CodexRequest -Value $decoded -Kind 'write_request'" in main
    assert not re.search(r'\$decoded\.', mask(main))


def test_every_sent_object_is_checked_against_the_schema_at_run_time():
    body = functions()['New-CodexMessage']
    assert 'has no field' in body and 'lacks the field' in body and 'must be of type' in body
    code = mask(powershell_only())
    # the two answers are built by New-CodexMessage only
    assert "New-CodexMessage -Kind 'read_response' -Fields" in powershell_only()
    assert "New-CodexMessage -Kind 'write_response' -Fields" in powershell_only()
    assert code.count('$Ansible.Result =') == 3


def test_result_envelope_is_what_the_action_reads():
    """win_powershell returns $Ansible.Result as ``result``: the action reads ``state`` (read),
    ``written`` (write) and ``msg`` (failure) from it."""
    code = powershell_only()
    masked = mask(code)
    envelopes = []
    for match in re.finditer(r'\$Ansible\.Result = @\{', masked):
        envelopes.append(set(top_level_keys(code, masked, match.end() - 1)))
    assert sorted(map(sorted, envelopes)) == sorted(map(sorted, ENVELOPES))


def test_constants_are_the_protocol_constants():
    code = powershell_only()
    assert re.search(r'^\$CodexProtocol = (\d+)$', code, re.M).group(1) == str(proto.PROTOCOL_VERSION)
    assert re.search(r'^\$CodexMaxConfigBytes = (\d+)$', code, re.M).group(1) == str(proto.MAX_CONFIG_BYTES)
    assert re.search(r'^\$CodexMaxAuthBytes = (\d+)$', code, re.M).group(1) == str(proto.MAX_AUTH_BYTES)
    assert re.search(r"^\$CodexConfigName = '([^']+)'$", code, re.M).group(1) == proto.CONFIG_NAME
    assert re.search(r"^\$CodexAuthName = '([^']+)'$", code, re.M).group(1) == proto.AUTH_NAME


def test_platform_answer_is_windows_and_posix_fields_are_null():
    code = powershell_only()
    for line in ("platform = 'windows'", 'euid = $null', 'group_gid = $null', 'mode = $null; uid = $null; gid = $null'):
        assert line in code


# ---- what the action hands to win_powershell ---------------------------------------------------

class _Recorder(object):
    """Stands in for the action's connection: records the module arguments of one trip."""

    def __init__(self):
        self.calls = []

    def _execute_module(self, module_name, module_args, task_vars):
        self.calls.append((module_name, module_args))
        return {'result': {'state': {}}}


def _windows_trip(secret=None):
    recorder = _Recorder()
    request = {'protocol': proto.PROTOCOL_VERSION, 'codex_home': None, 'owner': None, 'group': None,
               'config_mode': None, 'want_auth': True}
    action_plugin.ActionModule._execute(recorder, 'read', request, {}, secret, True)
    return recorder.calls[0]


def _nesting(fields):
    """Levels of objects and lists below a message (win_powershell's depth counts them)."""
    deepest = 0
    for spec in fields.values():
        below = 0
        if 'fields' in spec:
            below = 1 + _nesting(spec['fields'])
        element = spec.get('elements')
        if spec['type'] == 'list':
            below = 1 + (1 + _nesting(element['fields']) if isinstance(element, dict) and 'fields' in element else 0)
        deepest = max(deepest, below)
    return deepest


def test_the_action_passes_what_the_script_declares():
    module, args = _windows_trip(secret='sk-test-not-a-key')
    assert module == 'ansible.windows.win_powershell'
    assert args['script'] == ps1_text()
    declared = re.findall(r'\]\$(\w+)', ps1_text()[ps1_text().index('\nparam('):ps1_text().index('\n)\n')])
    assert declared == ['Phase', 'RequestJson', 'Secret']
    assert sorted(args['parameters']) == ['Phase', 'RequestJson']
    assert args['sensitive_parameters'] == [{'name': 'Secret', 'value': 'sk-test-not-a-key'}]
    assert 'sk-test-not-a-key' not in repr(args['parameters'])


def test_the_action_asks_win_powershell_for_the_whole_answer():
    """win_powershell turns objects nested deeper than its depth option (default 2) into strings;
    the answer sits one level down in $Ansible.Result (state/written)."""
    needed = 1 + max(_nesting(proto.SCHEMA[kind]['fields']) for kind in RESPONSE_KINDS)
    dummy, args = _windows_trip()
    assert args.get('depth', 2) >= needed


# ---- the checker fails when either side renames a field ------------------------------------------

def _rename_in_schema(schema, kind_path, old, new):
    schema = copy.deepcopy(schema)
    fields = schema[kind_path[0]]['fields']
    for part in kind_path[1:]:
        fields = fields[part]['fields']
    fields[new] = fields.pop(old)
    return schema


@pytest.mark.parametrize('kind_path, old, new', [
    (('write_request',), 'lock_timeout', 'lock_timeout_s'),
    (('write_request',), 'purge_key_backups', 'purge_backups'),
    (('write_request', 'auth'), 'only_fingerprint', 'fingerprint'),
    (('read_request',), 'want_auth', 'with_auth'),
    (('read_response',), 'loose_modes', 'loose'),
    (('read_response', 'auth'), 'credentials', 'credential'),
    (('write_response', 'auth'), 'tokens_backed_up', 'tokens_dropped'),
])
def test_checker_fails_when_python_renames_a_field(kind_path, old, new):
    problems = contract_problems(ps1_text(), _rename_in_schema(proto.SCHEMA, kind_path, old, new))
    assert any(old in p for p in problems) and any(new in p for p in problems), problems


@pytest.mark.parametrize('old, new', [
    # the script's schema table and its reads renamed together: the table no longer matches
    ("'lock_timeout:int:r'", "'lock_timeout_s:int:r'"),
    # only the code that reads a field renamed
    ('$WriteRequest.purge_key_backups', '$WriteRequest.purge_backups'),
    ('$authReq.only_fingerprint', '$authReq.fingerprint'),
    ('$ReadRequest.want_auth', '$ReadRequest.with_auth'),
    # only an emitted key renamed
    ('changed = $false; content_changed = $false; backup_file = $null; tokens_backed_up = $false',
     'changed = $false; content_changed = $false; backup_file = $null; tokens_dropped = $false'),
    ("$homeFacts['parent_exists'] =", "$homeFacts['parent_exist'] ="),
    ('                loose_modes = [object[]]$loose.ToArray()', '                loose = [object[]]$loose.ToArray()'),
    ('$Written.auth.key_fingerprint =', '$Written.auth.fingerprint ='),
])
def test_checker_fails_when_the_script_renames_a_field(old, new):
    text = ps1_text()
    assert old in text
    problems = contract_problems(text.replace(old, new), proto.SCHEMA)
    assert problems, 'renaming %r went unnoticed' % old
