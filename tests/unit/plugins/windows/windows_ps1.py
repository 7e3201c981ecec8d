# -*- coding: utf-8 -*-
"""Helpers for the tests of plugins/plugin_utils/_codex_config_windows.ps1 (no PowerShell here).

- A small PowerShell scanner: :func:`mask` blanks comments and string contents (same length, same
  line breaks), so code can be searched and brackets matched without being fooled by text.
- :func:`csharp_source` returns the C# the script compiles with Add-Type; :class:`Rules` compiles it
  with Mono's ``mcs -langversion:5`` (the C# version Windows PowerShell 5.1 compiles) together with
  RulesDriver.cs and calls the pure ``Rules`` class, which is the code that makes the script's
  decisions on Windows.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
PS1_PATH = os.path.join(REPO, 'plugins', 'plugin_utils', '_codex_config_windows.ps1')
DRIVER_PATH = os.path.join(HERE, 'RulesDriver.cs')
CS_START = "$CodexNativeSource = @'\n"
CS_END = "\n'@\n"


def ps1_text():
    with open(PS1_PATH, encoding='utf-8') as handle:
        return handle.read()


def csharp_source(text=None):
    text = ps1_text() if text is None else text
    start = text.index(CS_START) + len(CS_START)
    return text[start:text.index(CS_END, start)]


@functools.lru_cache(maxsize=32)
def _powershell_only(text):
    start = text.index(CS_START) + len(CS_START)
    end = text.index(CS_END, start)
    return text[:start] + re.sub(r'[^\n]', ' ', text[start:end]) + text[end:]


def powershell_only(text=None):
    """The script with the C# here-string emptied (same line count)."""
    return _powershell_only(ps1_text() if text is None else text)


class ScanError(ValueError):
    pass


@functools.lru_cache(maxsize=64)
def mask(text):
    """Blank comments and string contents; raise ScanError on an unterminated string/comment or a
    subexpression left open inside a string. Quotes stay, so strings remain visible as ''/\"\"."""
    out = list(text)
    n = len(text)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != '\n':
                out[k] = ' '

    def skip_code(i, closer):
        """Scan code from i until the bracket closer at depth 0 (None: end of text); returns index after it."""
        depth = 0
        while i < n:
            c = text[i]
            if c == '#' and (i == 0 or text[i - 1] in ' \t\n;{}()|'):
                j = text.find('\n', i)
                j = n if j < 0 else j
                blank(i, j)
                i = j
                continue
            if text.startswith('<#', i):
                j = text.find('#>', i + 2)
                if j < 0:
                    raise ScanError('unterminated block comment at offset %d' % i)
                blank(i, j + 2)
                i = j + 2
                continue
            if text.startswith("@'\n", i) or text.startswith("@'\r\n", i):
                j = text.find("\n'@", i)
                if j < 0:
                    raise ScanError('unterminated here-string at offset %d' % i)
                blank(i + 2, j + 1)
                i = j + 3
                continue
            if text.startswith('@"\n', i) or text.startswith('@"\r\n', i):
                j = text.find('\n"@', i)
                if j < 0:
                    raise ScanError('unterminated here-string at offset %d' % i)
                blank(i + 2, j + 1)
                i = j + 3
                continue
            if c == "'":
                j = i + 1
                while True:
                    if j >= n:
                        raise ScanError("unterminated '-string at offset %d" % i)
                    if text[j] == "'":
                        if j + 1 < n and text[j + 1] == "'":
                            j += 2
                            continue
                        break
                    j += 1
                blank(i + 1, j)
                i = j + 1
                continue
            if c == '"':
                i = skip_double(i)
                continue
            if c == '`':
                i += 2
                continue
            if closer is not None:
                if c in '({[':
                    depth += 1
                elif c in ')}]':
                    if depth == 0:
                        if c != closer:
                            raise ScanError('subexpression closed by %r at offset %d' % (c, i))
                        return i + 1
                    depth -= 1
            i += 1
        if closer is not None:
            raise ScanError('subexpression left open')
        return n

    def skip_double(i):
        j = i + 1
        while True:
            if j >= n:
                raise ScanError('unterminated "-string at offset %d' % i)
            c = text[j]
            if c == '`':
                j += 2
                continue
            if c == '"':
                if j + 1 < n and text[j + 1] == '"':
                    j += 2
                    continue
                break
            if text.startswith('$(', j):
                j = skip_code(j + 2, ')')
                continue
            j += 1
        blank(i + 1, j)
        return j + 1

    skip_code(0, None)
    return ''.join(out)


PAIRS = {')': '(', '}': '{', ']': '['}


def unbalanced(masked):
    """Offsets of bracket problems in masked code: [] when (), {}, [] all pair up."""
    stack, problems = [], []
    for i, c in enumerate(masked):
        if c in '({[':
            stack.append((c, i))
        elif c in ')}]':
            if not stack or stack[-1][0] != PAIRS[c]:
                problems.append(i)
            else:
                stack.pop()
    return problems + [i for dummy, i in stack]


def matching(masked, open_index):
    """Index of the bracket closing the one at open_index."""
    depth = 0
    for i in range(open_index, len(masked)):
        if masked[i] in '({[':
            depth += 1
        elif masked[i] in ')}]':
            depth -= 1
            if depth == 0:
                return i
    raise ValueError('no matching bracket for offset %d' % open_index)


def functions(text=None):
    """PowerShell function name -> body text (from the opening to the closing brace)."""
    text = powershell_only(text)
    masked = mask(text)
    found = {}
    for match in re.finditer(r'(?m)^Function ([A-Za-z]+-[A-Za-z0-9]+) \{', masked):
        start = match.end() - 1
        found[match.group(1)] = text[start:matching(masked, start) + 1]
    return found


def top_level_keys(text, masked, open_index):
    """Keys written as ``name = ...`` directly inside the hashtable literal starting at open_index."""
    end = matching(masked, open_index)
    keys, depth, i = [], 0, open_index + 1
    body = masked[open_index + 1:end]
    for match in re.finditer(r'(?:^|[\n;{])\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)', body):
        pos = match.start(1)
        # depth of pos within the literal
        depth = 0
        for c in body[:pos]:
            if c in '({[':
                depth += 1
            elif c in ')}]':
                depth -= 1
        if depth == 0:
            keys.append(match.group(1))
    del i
    return keys


# ---- the C# rules, compiled with Mono ------------------------------------------------------------

def _enc(value):
    if value is None:
        return '~'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ','.join(_enc(v) for v in value) if value else '[]'
    units = value.encode('utf-16-le', 'surrogatepass')
    return 'h:' + ''.join('%04x' % int.from_bytes(units[i:i + 2], 'little') for i in range(0, len(units), 2))


def _dec_one(token):
    if token == '~':
        return None
    if token.startswith('h:'):
        units = b''.join(int(token[i:i + 4], 16).to_bytes(2, 'little') for i in range(2, len(token), 4))
        return units.decode('utf-16-le', 'surrogatepass')
    if token in ('true', 'false'):
        return token == 'true'
    return int(token)


def _dec(line):
    if line.startswith('!'):
        raise RulesError(line[1:])
    if line.startswith('['):
        inner = line[1:-1]
        return [_dec_one(t) for t in inner.split(',')] if inner else []
    return _dec_one(line)


class RulesError(Exception):
    """The C# method threw."""


def mono_tools():
    """(mcs, mono) paths or None when Mono is not installed (Debian: mono-mcs)."""
    mcs, mono = shutil.which('mcs'), shutil.which('mono')
    return (mcs, mono) if mcs and mono else None


class Rules(object):
    """The compiled Rules class; ``call_many`` runs a batch of calls in one Mono process."""

    def __init__(self, workdir):
        tools = mono_tools()
        if tools is None:
            raise RuntimeError('Mono (mcs, mono) is not installed')
        self.mcs, self.mono = tools
        source = os.path.join(workdir, 'codex_native.cs')
        with open(source, 'w', encoding='utf-8') as handle:
            handle.write(csharp_source())
        self.exe = os.path.join(workdir, 'rules.exe')
        self.proc = None
        self.compile_output = compile_csharp([source, DRIVER_PATH], self.exe, self.mcs)

    def call_many(self, calls):
        """Answers of a batch of calls, from one Mono process kept for the whole test session."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([self.mono, self.exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True, encoding='utf-8')
        results = []
        for method, args in calls:
            self.proc.stdin.write('\t'.join([method] + [_enc(a) for a in args]) + '\n')
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError('the Mono rules driver stopped')
            try:
                results.append(_dec(line.rstrip('\n')))
            except RulesError as exc:
                results.append(exc)
        return results

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def call(self, method, *args):
        result = self.call_many([(method, args)])[0]
        if isinstance(result, RulesError):
            raise result
        return result


def compile_csharp(sources, out, mcs):
    """Compile with C# 5 rules (what Windows PowerShell 5.1's Add-Type accepts); warnings are errors."""
    target = 'library' if out.endswith('.dll') else 'exe'
    proc = subprocess.run([mcs, '-langversion:5', '-warnaserror+', '-target:' + target, '-out:' + out] + sources,
                          capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise AssertionError('mcs failed:\n' + proc.stdout + proc.stderr)
    return proc.stdout + proc.stderr
