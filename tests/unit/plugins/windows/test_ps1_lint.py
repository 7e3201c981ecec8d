# -*- coding: utf-8 -*-
"""A lightweight lint of plugins/plugin_utils/_codex_config_windows.ps1 (no pwsh on this machine).

What it proves: the script scans as PowerShell text (every string, here-string and comment closes,
every subexpression inside a string closes); (), {} and [] pair up outside strings and comments;
strict mode and stop-on-error are set before any code runs; win_powershell will run it in check
mode (SupportsShouldProcess); no aliases and no output cmdlets are used; the key is handled only as
a SecureString until the one statement that builds the new auth.json, never interpolated into a
string, never thrown, logged or returned; only approved verbs; comparisons put $null on the left.
The embedded C# compiles as C# 5 (Windows PowerShell 5.1's Add-Type) with warnings as errors.

What it cannot prove: that PowerShell parses the script (a real parser would also catch a
misplaced operator or a bad parameter set), that cmdlets and .NET members exist with the
signatures used, or anything about run-time behaviour on Windows. Those need pwsh or Windows.
"""

from __future__ import annotations

import re

import pytest

from windows_ps1 import (
    ScanError, compile_csharp, csharp_source, functions, mask, mono_tools, powershell_only, ps1_text, unbalanced,
)

ALIASES = {
    '%', '?', 'ac', 'cat', 'cd', 'chdir', 'clc', 'clear', 'cls', 'clv', 'compare', 'copy', 'cp', 'cpi', 'curl',
    'del', 'diff', 'dir', 'echo', 'epal', 'erase', 'fc', 'fl', 'foreach', 'ft', 'fw', 'gal', 'gc', 'gci', 'gcm',
    'gcs', 'gdr', 'gi', 'gl', 'gm', 'gp', 'gps', 'group', 'gsv', 'gu', 'gv', 'gwmi', 'h', 'history', 'icm', 'iex',
    'ii', 'ipal', 'ipmo', 'irm', 'iwr', 'kill', 'lp', 'ls', 'man', 'md', 'measure', 'mi', 'mount', 'move', 'mp',
    'mv', 'nal', 'ndr', 'ni', 'nv', 'ogv', 'oh', 'popd', 'ps', 'pushd', 'pwd', 'r', 'rd', 'ren', 'ri', 'rm',
    'rmdir', 'rp', 'rv', 'rvpa', 'sajb', 'sal', 'saps', 'sasv', 'sc', 'select', 'set', 'si', 'sl', 'sleep', 'sls',
    'sort', 'sp', 'spps', 'spsv', 'start', 'sv', 'tee', 'type', 'wget', 'where', 'write',
}
KEYWORDS = {'if', 'else', 'elseif', 'foreach', 'for', 'while', 'do', 'until', 'switch', 'default', 'return',
            'throw', 'try', 'catch', 'finally', 'param', 'function', 'break', 'continue', 'in', 'begin',
            'process', 'end', 'trap', 'exit'}
APPROVED_VERBS = {'Add', 'Close', 'Convert', 'ConvertFrom', 'ConvertTo', 'Enter', 'Exit', 'Get', 'Import', 'Invoke',
                  'New', 'Open', 'Read', 'Remove', 'Resolve', 'Set', 'Test', 'Write'}
OUTPUT_CMDLETS = ('Write-Host', 'Write-Output', 'Write-Verbose', 'Write-Debug', 'Write-Information', 'Write-Warning',
                  'Write-Error', 'Write-Progress', 'Out-Host', 'Out-File', 'Out-String', 'Out-Default', 'Tee-Object',
                  'Start-Transcript', 'Add-Content', 'Set-Content', 'Export-Clixml', 'Export-Csv')
# variables that hold the key, a stored key or auth.json content at some point
SECRET_VARS = ('Secret', 'Key', 'plainKey', 'stored', 'storedKey', 'obj', 'next', 'authNew', 'text', 'bytes', 'parsed',
               'current', 'new', 'configNew', 'backup', 'after', 'config', 'auth', 'read')
# what of those may appear in a message: paths and error texts, never content
SAFE_MEMBERS = ('.path', '.error.msg')


@pytest.fixture(scope='module')
def code():
    return powershell_only(ps1_text())


@pytest.fixture(scope='module')
def masked(code):
    return mask(code)


def test_scanner_would_notice_broken_text():
    """The scanner itself fails on what it must catch (it is the base of every check below)."""
    for bad in ("$a = 'open", '$a = "open', '$a = "$(open"', "<# open", "$a = @'\nno end"):
        with pytest.raises(ScanError):
            mask(bad)
    assert unbalanced(mask('if ($a) { $b = @(1, 2) ]')) != []
    assert unbalanced(mask("$a = '{'; $b = \"$($c)}\" # }")) == []


def test_strings_comments_and_brackets_balance(masked):
    problems = unbalanced(masked)
    assert problems == [], ['line %d' % (masked.count('\n', 0, i) + 1) for i in problems]


def test_csharp_brackets_balance():
    source = csharp_source()
    stripped = re.sub(r'//[^\n]*', '', re.sub(r'"(?:\\.|[^"\\\n])*"', '""', re.sub(r"'(?:\\.|[^'\\])'", "''", source)))
    assert unbalanced(stripped) == []


@pytest.mark.skipif(mono_tools() is None, reason='Mono (mcs) is not installed: apt-get install mono-mcs')
def test_csharp_compiles_as_csharp5_without_warnings(tmp_path):
    source = tmp_path / 'codex_native.cs'
    source.write_text(csharp_source(), encoding='utf-8')
    compile_csharp([str(source)], str(tmp_path / 'codex_native.dll'), mono_tools()[0])


def test_strict_mode_and_stop_on_error_come_first(code):
    head = code[:code.index('\nFunction ')]
    assert re.search(r'^Set-StrictMode -Version Latest$', head, re.M)
    assert re.search(r"^\$ErrorActionPreference = 'Stop'$", head, re.M)
    assert head.index('Set-StrictMode') < head.index('\n$CodexSchema = @{')
    # no #Requires: win_powershell runs the text as a script block, where it is not a file's requirement
    assert '#Requires' not in code


def test_check_mode_runs_the_script(code):
    """win_powershell skips a script in check mode unless it declares SupportsShouldProcess, and the
    read trip must run in check mode."""
    assert re.search(r'^\[CmdletBinding\(SupportsShouldProcess\)\]$', code, re.M)
    assert "if ($Ansible.CheckMode) { throw 'internal error: write trip requested in check mode' }" in code


def alias_uses(masked):
    """(line, word) of aliases in command position: after a pipe, at the start of a statement or
    after an assignment."""
    found = []
    for lineno, line in enumerate(masked.split('\n'), 1):
        for match in re.finditer(r'\|\s*([^\s{(]+)', line):
            if not re.match(r'^[A-Z][a-z]+-[A-Z][A-Za-z]+$', match.group(1)):
                found.append((lineno, match.group(1)))
        for match in re.finditer(r'(?:^|[;{(=])\s*([%?]|[A-Za-z]+)(?=\s|$)(?!\s*=[^=])', line):
            word = match.group(1)
            if word.lower() in ALIASES and word.lower() not in KEYWORDS:
                found.append((lineno, word))
    return found


def test_alias_finder_finds_aliases():
    samples = ['$a | % { $_ }', '$a | ? { $_ }', 'ls C:\\', '$x = gci', '$b | sort', 'if ($a) { cat $f }', '$a | where x']
    for sample in samples:
        assert alias_uses(mask(sample)), sample
    for sample in ['foreach ($a in $b) { }', '@{ type = 1; sort = 2 }', '$a | Sort-Object', "switch ($x) { 'a' { 1 } }"]:
        assert not alias_uses(mask(sample)), sample


def test_no_aliases(masked):
    assert alias_uses(masked) == []


def test_cmdlets_and_functions_use_approved_verbs(code, masked):
    for name in functions():
        assert name.split('-')[0] in APPROVED_VERBS, name
        assert name.split('-')[1].startswith('Codex'), name
    called = set(re.findall(r'(?<![\w$.-])([A-Z][a-z]+)-([A-Z]\w+)(?=\s|\)|$)', masked))
    assert {verb for verb, dummy in called} <= APPROVED_VERBS | {'Where', 'Sort', 'Join', 'Split', 'Out'}


def test_no_output_cmdlets(masked):
    for cmdlet in OUTPUT_CMDLETS:
        assert cmdlet not in masked


def test_null_on_the_left_of_comparisons(masked):
    assert not re.search(r'-(?:c|i)?(?:eq|ne)\s+\$null', masked)


def test_no_dynamic_code(masked):
    for word in ('Invoke-Expression', 'Start-Process', 'Invoke-Command', '.InvokeScript(', '[scriptblock]::Create'):
        assert word not in masked
    assert masked.count('Add-Type') == 1


def test_the_key_stays_a_secure_string_until_it_is_written(code, masked):
    assert re.search(r'^\s*\[SecureString\]\$Secret$', code, re.M)
    uses = [line.strip() for line in code.split('\n') if re.search(r'\$Secret\b', line)]
    assert uses == ['[SecureString]$Secret', '$null = Invoke-CodexWrite -WriteRequest $request -Key $Secret -Written $written']
    write = functions()['Invoke-CodexWrite']
    key_uses = [line.strip() for line in write.split('\n') if re.search(r'\$Key\b', line)]
    assert key_uses == [
        'param([Parameter(Mandatory = $true)]$WriteRequest, [AllowNull()][SecureString]$Key, [Parameter(Mandatory = $true)]$Written)',
        "if ($null -eq $Key) { throw 'internal error: the write trip sets the key but got none' }",
        '$plainKey = Convert-CodexSecret -Value $Key',
    ]
    plain_uses = [line.strip() for line in code.split('\n') if '$plainKey' in line]
    assert plain_uses == [
        '$plainKey = Convert-CodexSecret -Value $Key',
        'if (-not [Bytes4096.Codex.P2.Auth]::AlreadySet($obj, $plainKey)) {',
        "$authNew = ConvertTo-CodexAuthBytes -Text ([Bytes4096.Codex.P2.Auth]::NewText($obj, $plainKey, 'set', $droppedFields))",
        '$plainKey = $null',
    ]
    body = functions()['Convert-CodexSecret']
    assert 'ZeroFreeBSTR' in body and 'SecureStringToBSTR' in body


def test_no_secret_bearing_variable_reaches_a_message(code):
    """Messages are double-quoted strings: none interpolates the key, a stored key or content."""
    names = '|'.join(SECRET_VARS)
    safe = '|'.join(re.escape(m) for m in SAFE_MEMBERS)
    for match in re.finditer(r'"(?:[^"`]|`.|"")*"', code):
        text = match.group(0)
        assert not re.search(r'\$(?:%s)\b(?!%s)' % (names, safe), text, re.I), text
        assert not re.search(r'\$\{(?:%s)\}' % names, text, re.I), text


def test_what_goes_back_to_the_controller_holds_no_content(code):
    written = functions()['New-CodexWritten']
    assert 'text' not in re.findall(r'(\w+) =', written)
    for match in re.finditer(r'\$Ansible\.Result = (@\{[^\n]*\})', code):
        assert not re.search(r'\$(%s)\b' % '|'.join(SECRET_VARS), match.group(1), re.I), match.group(1)
