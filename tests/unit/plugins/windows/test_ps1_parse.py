# -*- coding: utf-8 -*-
"""A real parse of _codex_config_windows.ps1 with tree-sitter's PowerShell grammar.

PowerShell itself cannot be installed here; the tree-sitter grammar (PyPI: tree-sitter,
tree-sitter-powershell) is the closest available parser. On its syntax tree this checks:

- the script parses without an error or a missing token, and no keyword (else, catch...) ends up
  as a command name, which is how a misplaced brace shows up;
- every command is a function of the script or one of the few cmdlets it is allowed to use;
- every call of a script function passes only parameters that function declares, by name, and
  every mandatory one (a missing mandatory parameter would make PowerShell prompt and fail);
- every function is used;
- every variable a function reads is a parameter, assigned in that function, or set at script
  level (under Set-StrictMode -Version Latest a misspelt variable is a run-time error).

What it cannot prove: that Windows PowerShell's own parser agrees in every corner (the grammar is
not Microsoft's), that cmdlets and .NET members exist, or the order of assignments and reads.
"""

from __future__ import annotations

import pytest

from windows_ps1 import ps1_text

tree_sitter = pytest.importorskip('tree_sitter', reason='pip install tree-sitter tree-sitter-powershell')
ts_powershell = pytest.importorskip('tree_sitter_powershell', reason='pip install tree-sitter-powershell')

CMDLETS = {'Add-Type', 'Get-Date', 'Get-ItemProperty', 'New-Object', 'Set-StrictMode', 'Sort-Object', 'Test-Path'}
KEYWORDS = {'else', 'elseif', 'catch', 'finally', 'until', 'while', 'do', 'in', 'default', 'param', 'begin',
            'process', 'end'}
AUTOMATIC = {'null', 'true', 'false', '_', 'psitem', 'ansible', 'erroractionpreference'}


def parse(text):
    parser = tree_sitter.Parser(tree_sitter.Language(ts_powershell.language()))
    source = text.encode('utf-8')
    return source, parser.parse(source).root_node


def nodes(node, kind):
    found = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == kind:
            found.append(current)
        stack.extend(reversed(current.children))
    return found


def text_of(source, node):
    return source[node.start_byte:node.end_byte].decode('utf-8')


def problems(node):
    return [n for n in nodes_all(node) if n.type == 'ERROR' or n.is_missing]


def nodes_all(node):
    stack, found = [node], []
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.children)
    return found


def child(node, kind):
    for item in node.children:
        if item.type == kind:
            return item
    return None


def variable_name(source, node):
    name = text_of(source, node)[1:].strip('{}')
    return name.lower()


@pytest.fixture(scope='module')
def tree():
    return parse(ps1_text())


@pytest.fixture(scope='module')
def script_functions(tree):
    return functions_of(tree)


def functions_of(tree):
    """name -> {'node', 'params': {lower name: mandatory}}"""
    source, root = tree
    found = {}
    for function in nodes(root, 'function_statement'):
        name = text_of(source, child(function, 'function_name'))
        params = {}
        for parameter in nodes(function, 'script_parameter'):
            attributes = child(parameter, 'attribute_list')
            mandatory = attributes is not None and 'Mandatory = $true' in text_of(source, attributes)
            params[variable_name(source, child(parameter, 'variable'))] = mandatory
        found[name] = {'node': function, 'params': params}
    return found


def test_the_grammar_sees_broken_powershell():
    for bad in ('Function X-Y { if ($a { } }\n', '$x = @{ a = 1 \n', "$a = 'open\n", 'foreach ($a in $b) {\n'):
        dummy, root = parse(bad)
        assert root.has_error, bad


def test_the_script_parses(tree):
    source, root = tree
    found = problems(root)
    assert found == [], ['line %d: %s' % (n.start_point[0] + 1, text_of(source, n)[:80]) for n in found]


def test_no_keyword_is_taken_for_a_command(tree):
    source, root = tree
    names = [text_of(source, n) for n in nodes(root, 'command_name')]
    assert not [n for n in names if n.lower() in KEYWORDS]


def test_every_command_is_known(tree, script_functions):
    source, root = tree
    names = {text_of(source, n) for n in nodes(root, 'command_name')}
    assert names - set(script_functions) - CMDLETS == set()


def test_every_function_is_used(tree, script_functions):
    source, root = tree
    called = {text_of(source, n) for n in nodes(root, 'command_name')}
    assert set(script_functions) - called == set()


def test_calls_pass_declared_and_mandatory_parameters(tree, script_functions):
    assert call_problems(tree, script_functions) == []


def call_problems(tree, script_functions):
    source, root = tree
    bad = []
    for command in nodes(root, 'command'):
        name = text_of(source, child(command, 'command_name'))
        if name not in script_functions:
            continue
        declared = script_functions[name]['params']
        elements = child(command, 'command_elements')
        items = [] if elements is None else [n for n in elements.children if n.type != 'command_argument_sep']
        given = set()
        expect_value = False
        for item in items:
            if item.type == 'command_parameter':
                parameter = text_of(source, item)[1:].rstrip(':').lower()
                if parameter not in declared:
                    bad.append('line %d: %s has no parameter -%s' % (item.start_point[0] + 1, name, parameter))
                given.add(parameter)
                expect_value = True
            elif expect_value:
                expect_value = False
            else:
                bad.append('line %d: positional argument to %s' % (item.start_point[0] + 1, name))
        for parameter, mandatory in declared.items():
            if mandatory and parameter not in given:
                bad.append('line %d: %s without its mandatory -%s' % (command.start_point[0] + 1, name, parameter))
    return bad


def test_every_variable_read_is_defined(tree, script_functions):
    assert undefined_variables(tree, script_functions) == []


def undefined_variables(tree, script_functions):
    source, root = tree
    function_ranges = [(f['node'].start_byte, f['node'].end_byte) for f in script_functions.values()]

    def assigned_in(node):
        names = set()
        for left in nodes(node, 'left_assignment_expression'):
            variables = nodes(left, 'variable')
            if len(variables) == 1 and text_of(source, left) == text_of(source, variables[0]):
                names.add(variable_name(source, variables[0]))
        for loop in nodes(node, 'foreach_statement'):
            names.add(variable_name(source, child(loop, 'variable')))
        return names

    script_level = set(AUTOMATIC)
    for parameter in nodes(root, 'script_parameter'):
        if not any(a <= parameter.start_byte < b for a, b in function_ranges):
            script_level.add(variable_name(source, child(parameter, 'variable')))
    for left in nodes(root, 'left_assignment_expression'):
        if not any(a <= left.start_byte < b for a, b in function_ranges):
            script_level |= assigned_in(left)
    assert {'codexschema', 'codexprotocol', 'codexnativesource', 'secret', 'phase', 'requestjson'} <= script_level

    undefined = []
    for name, function in script_functions.items():
        known = script_level | set(function['params']) | assigned_in(function['node'])
        for variable in nodes(function['node'], 'variable'):
            raw = variable_name(source, variable)
            if ':' in raw:  # $env:X, $script:X
                continue
            if raw not in known:
                undefined.append('%s line %d: $%s' % (name, variable.start_point[0] + 1, raw))
    return undefined


@pytest.mark.parametrize('old, new', [
    ('$walk.parent_exists = $false; return $walk', '$walkk.parent_exists = $false; return $walk'),
    ('if ($null -eq $Key) {', 'if ($null -eq $Kye) {'),
])
def test_a_misspelt_variable_is_found(old, new):
    text = ps1_text()
    assert old in text
    mutated = parse(text.replace(old, new, 1))
    assert undefined_variables(mutated, functions_of(mutated))


@pytest.mark.parametrize('old, new', [
    ('Open-CodexHome -Parts $split', 'Open-CodexHome -Part $split'),
    ("Get-CodexAclRepair -Role 'home' -Security $walk.home.security -Who $who",
     "Get-CodexAclRepair -Role 'home' -Security $walk.home.security"),
])
def test_a_wrong_call_is_found(old, new):
    text = ps1_text()
    assert old in text
    mutated = parse(text.replace(old, new, 1))
    assert call_problems(mutated, functions_of(mutated))
