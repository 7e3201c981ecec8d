# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The diff of bytes4096.codex.codex_config (internal, may change any time).

A diff lands in play output and CI logs, so it shows only the config.toml text the task read from
that file, with every value that looks like a secret masked, and for auth.json only the key
fingerprints. :func:`mask_config_text` is the one masking function every diff goes through.
"""

from __future__ import annotations

try:
    import tomllib as _tomllib
except ImportError:  # pragma: no cover - Python < 3.11 controllers skip the second check
    _tomllib = None

try:
    from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import mask_secrets as _engine_mask
except ImportError:  # the merge engine may not have it yet; the local masker below is used then
    _engine_mask = None
try:
    from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import is_secret_path as _engine_rule
except ImportError:
    _engine_rule = None

MASK = '"********"'
HIDDEN = '(content hidden: it holds values that look like secrets and could not be masked safely)\n'

# A key (any part of its dotted path) naming one of these holds a secret or a header that may.
_SECRET_WORDS = ('token', 'secret', 'password', 'passwd', 'key', 'credential', 'bearer', 'authorization',
                 'cookie', 'http_headers')
_BARE = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-')


class _Unparsable(Exception):
    pass


def local_is_secret_path(path):
    """True when a value at dotted ``path`` (a tuple of key parts) may be a secret."""
    lowered = [part.lower() for part in path]
    for index, part in enumerate(lowered):
        if any(word in part for word in _SECRET_WORDS):
            return True
        if part == 'env' and 'mcp_servers' in lowered[:index]:
            return True
    return False


class _Scanner(object):
    """Walks TOML text and records the spans of values whose key path looks secret."""

    def __init__(self, text):
        self.text = text
        self.pos = 0
        self.spans = []

    def _peek(self, count=1):
        return self.text[self.pos:self.pos + count]

    def _skip_blank(self, newlines):
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in ' \t\r' or (newlines and char == '\n'):
                self.pos += 1
            elif char == '#' and newlines:
                end = text.find('\n', self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                break

    def _string(self):
        """Consume a string of any of the four kinds; return its value (escapes kept raw)."""
        text = self.text
        for quote in ('"""', "'''"):
            if text.startswith(quote, self.pos):
                start = self.pos + 3
                index = start
                while True:
                    end = text.find(quote, index)
                    if end < 0:
                        raise _Unparsable()
                    if quote == '"""':
                        backslashes = 0
                        while end - 1 - backslashes >= start and text[end - 1 - backslashes] == '\\':
                            backslashes += 1
                        if backslashes % 2:
                            index = end + 1
                            continue
                    break
                end += 3
                extra = 0
                while extra < 2 and end < len(text) and text[end] == quote[0]:
                    # up to two quotes of the content may touch the closing delimiter
                    end += 1
                    extra += 1
                self.pos = end
                return text[start:end - 3]
        quote = text[self.pos]
        index = self.pos + 1
        while index < len(text):
            char = text[index]
            if char == '\n':
                break
            if char == '\\' and quote == '"':
                index += 2
                continue
            if char == quote:
                value = text[self.pos + 1:index]
                self.pos = index + 1
                return value
            index += 1
        raise _Unparsable()

    def _key(self):
        parts = []
        while True:
            self._skip_blank(False)
            char = self._peek()
            if char in ('"', "'"):
                parts.append(self._string())
            else:
                start = self.pos
                while self.pos < len(self.text) and self.text[self.pos] in _BARE:
                    self.pos += 1
                if self.pos == start:
                    raise _Unparsable()
                parts.append(self.text[start:self.pos])
            self._skip_blank(False)
            if self._peek() != '.':
                return tuple(parts)
            self.pos += 1

    def _value(self, path):
        start = self.pos
        char = self._peek()
        if char in ('"', "'"):
            self._string()
        elif char == '[':
            self.pos += 1
            while True:
                self._skip_blank(True)
                if self._peek() == ']':
                    self.pos += 1
                    break
                self._value(path)
                self._skip_blank(True)
                if self._peek() == ',':
                    self.pos += 1
                elif self._peek() != ']':
                    raise _Unparsable()
        elif char == '{':
            self.pos += 1
            while True:
                self._skip_blank(True)
                if self._peek() == '}':
                    self.pos += 1
                    break
                key = self._key()
                if self._peek() != '=':
                    raise _Unparsable()
                self.pos += 1
                self._skip_blank(False)
                self._value(path + key)
                self._skip_blank(True)
                if self._peek() == ',':
                    self.pos += 1
                elif self._peek() != '}':
                    raise _Unparsable()
        else:
            text = self.text
            while self.pos < len(text) and text[self.pos] not in ',]}#\n':
                self.pos += 1
            while self.pos > start and text[self.pos - 1] in ' \t\r':
                self.pos -= 1
            if self.pos == start:
                raise _Unparsable()
        if local_is_secret_path(path) and not any(s <= start and self.pos <= e for s, e in self.spans):
            # an outer secret span covers inner ones; keep only the outermost
            self.spans = [(s, e) for s, e in self.spans if not (start <= s and e <= self.pos)]
            self.spans.append((start, self.pos))

    def scan(self):
        table = ()
        if self.text.startswith('\ufeff'):
            self.pos = 1
        while True:
            self._skip_blank(True)
            if self.pos >= len(self.text):
                return self.spans
            if self._peek() == '[':
                double = self._peek(2) == '[['
                self.pos += 2 if double else 1
                table = self._key()
                closing = ']]' if double else ']'
                if self._peek(len(closing)) != closing:
                    raise _Unparsable()
                self.pos += len(closing)
            else:
                key = self._key()
                if self._peek() != '=':
                    raise _Unparsable()
                self.pos += 1
                self._skip_blank(False)
                self._value(table + key)
            self._skip_blank(False)
            if self.pos < len(self.text) and self._peek() not in ('\n', '#'):
                raise _Unparsable()


def _secret_strings(text, rule):
    """String values at secret-looking paths (long enough to be told apart), from a strict parse."""
    if _tomllib is None:
        return []
    try:
        data = _tomllib.loads(text.lstrip('\ufeff'))
    except ValueError:
        return None
    found = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, path + (key,))
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
        elif isinstance(value, str) and len(value) >= 6 and rule(path):
            found.append(value)
    walk(data, ())
    return found


def _local_mask(text):
    try:
        spans = _Scanner(text).scan()
    except _Unparsable:
        return HIDDEN
    masked = []
    last = 0
    for start, end in sorted(spans):
        masked.append(text[last:start])
        masked.append(MASK)
        last = end
    masked.append(text[last:])
    return ''.join(masked)


def mask_config_text(text):
    """``text`` with every secret-looking value replaced; never returns one of those values.

    Uses the merge engine's ``mask_secrets`` when it has one, else the scanner above. Either way
    the result is checked against a strict parse of ``text``: when a secret value survived, the
    whole content is hidden instead.
    """
    if not text:
        return text or ''
    if _engine_mask is not None:
        masked, rule = _engine_mask(text), _engine_rule or local_is_secret_path
    else:
        masked, rule = _local_mask(text), local_is_secret_path
    secrets = _secret_strings(text, rule)
    if secrets is None:
        return HIDDEN
    if any(secret in masked for secret in secrets):
        return HIDDEN
    return masked


def config_diff(path, before, after):
    """The diff entry of config.toml; both sides masked the same way."""
    return {'before_header': path, 'after_header': path,
            'before': mask_config_text(before or ''), 'after': mask_config_text(after or '')}


def auth_diff(path, before_fp, after_fp):
    """auth.json in a diff is only the fingerprint of the key before and after."""
    return {'before_header': path, 'after_header': path,
            'before': 'OPENAI_API_KEY fingerprint: %s\n' % (before_fp or '(none)'),
            'after': 'OPENAI_API_KEY fingerprint: %s\n' % (after_fp or '(none)')}
