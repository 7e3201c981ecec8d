# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side merge engine of bytes4096.codex.codex_config (internal, may change any time).

Everything here is a pure function over text: no I/O, no Ansible objects. The action plugin feeds it
the config.toml text read from the target and the block/settings of the task, and gets back the new
text or a :class:`TomlMergeError` that names the file, line and column.

Guarantees (each one is checked again on the produced text before it is returned):
- the result parses, and its meaning is exactly ``existing`` deep-merged with ``block`` then
  ``settings`` (``state=present``) or ``existing`` minus what they name (``state=absent``);
- when nothing has to change the input is returned unchanged, byte for byte (idempotence);
- untouched content keeps its bytes: comments, blank lines, order, quoting, CRLF, BOM, unicode.
"""

from __future__ import annotations

import datetime
import math
import unicodedata

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint

__all__ = ['BUILTIN_PROVIDERS', 'MergeResult', 'TomlMergeError', 'deep_merge', 'deep_remove', 'desired_data',
           'dotted_key', 'find_paste_leftovers', 'key_fingerprint', 'merge_config', 'normalize_api_key', 'parse_block', 'plain_settings', 'validate_config']

try:
    import tomllib as _strict_toml  # Python >= 3.11: an independent, strict parser for validation
except ImportError:  # pragma: no cover - older controllers validate with tomlkit only
    _strict_toml = None

try:
    import tomlkit
    from tomlkit.exceptions import ParseError as _TomlkitParseError
    from tomlkit.exceptions import TOMLKitError as _TomlkitError
    from tomlkit import items as _tk_items
    HAS_TOMLKIT = True
    TOMLKIT_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the action plugin
    HAS_TOMLKIT = False
    TOMLKIT_IMPORT_ERROR = exc

# Provider ids Codex defines itself; a [model_providers.<id>] block cannot override them.
BUILTIN_PROVIDERS = frozenset(('openai', 'ollama', 'lmstudio', 'amazon-bedrock'))
# wire_api values Codex 0.169 accepts ("chat" is refused).
SUPPORTED_WIRE_APIS = frozenset(('responses',))


class TomlMergeError(Exception):
    """A user-facing error. ``source`` names the file (or "block"/"settings"); never holds secrets."""

    def __init__(self, message, source=None, line=None, column=None):
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        super(TomlMergeError, self).__init__(self.__str__())

    def __str__(self):
        where = ''
        if self.source:
            where = self.source
            if self.line is not None:
                where += ', line %d' % self.line
                if self.column is not None:
                    where += ', column %d' % self.column
            where += ': '
        return where + self.message


class MergeResult(object):
    __slots__ = ('text', 'changed', 'data', 'removed_leftovers')

    def __init__(self, text, changed, data, removed_leftovers=()):
        self.text = text
        self.changed = changed
        self.data = data
        # dotted paths of stray copies of top-level keys that were removed (see find_paste_leftovers)
        self.removed_leftovers = list(removed_leftovers)


# ----------------------------------------------------------------------------------------------
# Keys


def normalize_api_key(key):
    """Strip surrounding whitespace; refuse empty keys or keys with inner whitespace/control chars.

    The error never contains the key or any part of it.
    """
    if not isinstance(key, str):
        raise TomlMergeError('api_key must be a string', source='api_key')
    stripped = key.strip()
    if not stripped:
        raise TomlMergeError('api_key is empty (after stripping surrounding whitespace)', source='api_key')
    for index, char in enumerate(stripped):
        if char.isspace() or unicodedata.category(char).startswith('C'):
            kind = 'whitespace' if char.isspace() else 'a control or invisible character'
            raise TomlMergeError(
                'api_key contains %s at position %d of %d; refusing to write it '
                '(the key is not shown)' % (kind, index + 1, len(stripped)),
                source='api_key')
    return stripped


# ----------------------------------------------------------------------------------------------
# Plain values


def _kind(value):
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, int):
        return 'int'
    if isinstance(value, float):
        return 'float'
    if isinstance(value, str):
        return 'str'
    if isinstance(value, dict):
        return 'table'
    if isinstance(value, (list, tuple)):
        return 'array'
    if isinstance(value, datetime.datetime):
        return 'datetime'
    if isinstance(value, datetime.date):
        return 'date'
    if isinstance(value, datetime.time):
        return 'time'
    return type(value).__name__


def same_value(left, right):
    """TOML equality: 1, 1.0 and true are three different values; tables compare recursively."""
    kind = _kind(left)
    if kind != _kind(right):
        return False
    if kind == 'table':
        if set(left) != set(right):
            return False
        return all(same_value(left[k], right[k]) for k in left)
    if kind == 'array':
        return len(left) == len(right) and all(same_value(a, b) for a, b in zip(left, right))
    if kind == 'float' and math.isnan(left) and math.isnan(right):
        return True
    return left == right


def plain_settings(value, path='settings'):
    """Turn the task's ``settings`` (YAML data, possibly str subclasses) into plain TOML values."""
    if value is None:
        raise TomlMergeError('%s is null; TOML has no null value (remove the key instead)' % path,
                             source='settings')
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return ''.join(value)  # a plain str, also for Ansible's str subclasses
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TomlMergeError('%s has a non-string key %r' % (path, key), source='settings')
            result[''.join(key)] = plain_settings(item, '%s.%s' % (path, key))
        return result
    if isinstance(value, (list, tuple)):
        return [plain_settings(item, '%s[%d]' % (path, index)) for index, item in enumerate(value)]
    raise TomlMergeError('%s has a value of type %s that TOML cannot hold'
                         % (path, type(value).__name__), source='settings')


def deep_merge(base, overlay):
    """Return ``base`` with ``overlay`` merged in (overlay wins; tables merge recursively)."""
    result = dict(base)
    for key, want in overlay.items():
        have = result.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            result[key] = deep_merge(have, want)
        else:
            result[key] = want
    return result


def deep_remove(base, named):
    """Return ``base`` without the leaves ``named`` names; tables emptied by the removal go too."""
    result = dict(base)
    for key, want in named.items():
        if key not in result:
            continue
        have = result[key]
        if isinstance(want, dict) and want:
            if isinstance(have, dict):
                pruned = deep_remove(have, want)
                if pruned or not have:
                    result[key] = pruned
                else:
                    del result[key]
            # a scalar where the removal names a table: not what was named, leave it
        else:
            del result[key]
    return result


# Tables whose keys legitimately repeat top-level settings (a profile sets model, model_provider...).
_LEFTOVER_EXEMPT_ROOTS = frozenset(('profiles',))


def find_paste_leftovers(current, desired):
    """Stray copies of top-level keys that an earlier paste below a table header left in that table.

    Pasting the dashboard block after ``[features]`` or ``[projects."/dir"]`` turns its top-level
    keys into keys of that table: Codex refuses the file (``[features]`` holds booleans only, a string
    ``network_access`` breaks ``[sandbox_workspace_write]``) or ignores them with a warning. Since the
    task now sets those keys at the top level, such copies are removed. A table counts as holding
    leftovers when it has at least two keys that the task sets at the top level with a value of the
    same TOML type (one paste brings several), or, for ``[features]``, one non-boolean such key.
    ``[profiles.*]`` tables are never touched: their model/model_provider keys are meant.

    Returns a list of key paths (tuples), in document order.
    """
    top = dict((key, value) for key, value in desired.items() if not isinstance(value, dict))
    found = []
    if not top:
        return found

    def walk(table, path):
        matches = [key for key, value in table.items()
                   if key in top and not isinstance(value, dict) and _kind(value) == _kind(top[key])]
        if len(matches) >= 2 or (path == ('features',) and matches and _kind(table[matches[0]]) != 'bool'):
            found.extend(path + (key,) for key in matches)
        for key, value in table.items():
            if isinstance(value, dict):
                walk(value, path + (key,))

    for key, value in current.items():
        if isinstance(value, dict) and key not in _LEFTOVER_EXEMPT_ROOTS:
            walk(value, (key,))
    return found


def dotted_key(path):
    """A key path spelled as a TOML dotted key: ``projects."/home/a".model``."""
    import re
    return '.'.join(key if re.match(r'^[A-Za-z0-9_-]+$', key) else _quote_key(key) for key in path)


def _quote_key(key):
    return '"%s"' % key.replace('\\', '\\\\').replace('"', '\\"')


def _without_paths(data, paths):
    """``data`` without the given key paths (tables that become empty stay, as in the file)."""
    result = dict(data)
    for path in paths:
        container = result
        for key in path[:-1]:
            container[key] = dict(container[key])
            container = container[key]
        container.pop(path[-1], None)
    return result


def _delete_paths(document, paths):
    for path in paths:
        container = document
        for key in path[:-1]:
            container = container[key]
        del container[path[-1]]


# ----------------------------------------------------------------------------------------------
# Parsing


def _split_text(text):
    """Remove a BOM and normalise a consistently CRLF text to LF; return (body, bom, crlf)."""
    bom = ''
    if text.startswith('\ufeff'):
        bom, text = '\ufeff', text[1:]
    crlf = False
    lf_count = text.count('\n')
    if lf_count and text.count('\r\n') == lf_count:
        crlf = True
        text = text.replace('\r\n', '\n')
    return text, bom, crlf


def _join_text(text, bom, crlf):
    if not text:
        return ''
    if crlf:
        text = text.replace('\n', '\r\n')
    return bom + text


def _parse(text, source):
    """Parse TOML strictly; return (tomlkit document, plain data) or raise with line and column."""
    if not HAS_TOMLKIT:
        raise TomlMergeError('the Python library tomlkit is required on the controller', source=source)
    data = None
    if _strict_toml is not None:
        try:
            data = _strict_toml.loads(text)
        except _strict_toml.TOMLDecodeError as exc:
            line = getattr(exc, 'lineno', None)
            column = getattr(exc, 'colno', None)
            message = getattr(exc, 'msg', None) or str(exc)
            if line is None:  # Python < 3.14 puts the position in the text only
                line, column, message = _position_from_message(str(exc))
            raise TomlMergeError('invalid TOML: %s' % message, source=source, line=line, column=column)
    try:
        document = tomlkit.parse(text)
    except _TomlkitParseError as exc:
        raise TomlMergeError('invalid TOML: %s' % _strip_position(str(exc)), source=source,
                             line=exc.line, column=exc.col)
    except _TomlkitError as exc:
        raise TomlMergeError('invalid TOML: %s' % exc, source=source)
    if data is None:
        data = document.unwrap()
    return document, data


def _parse_data(text, source):
    """Parse TOML into plain data only (fast: the strict stdlib parser when there is one)."""
    if _strict_toml is None:
        return _parse(text, source)[1]
    try:
        return _strict_toml.loads(text)
    except _strict_toml.TOMLDecodeError:
        return _parse(text, source)[1]  # raises with line and column


def _position_from_message(message):
    # tomllib (3.11-3.13): "Invalid value (at line 3, column 5)" or "... (at end of document)"
    import re
    match = re.search(r'\(at line (\d+), column (\d+)\)\s*$', message)
    if match:
        return int(match.group(1)), int(match.group(2)), message[:match.start()].strip()
    if message.endswith('(at end of document)'):
        return None, None, message[:-len('(at end of document)')].strip() + ' at end of document'
    return None, None, message


def _strip_position(message):
    import re
    return re.sub(r'\s*at line \d+ col \d+\s*$', '', message)


def parse_block(block, source='block'):
    """Parse the task's ``block`` text into plain data."""
    if block is None:
        return {}
    body, dummy_bom, dummy_crlf = _split_text(block)
    return _parse_data(body, source)


def desired_data(block=None, settings=None):
    """The wanted values: ``block`` first, ``settings`` merged on top (settings win)."""
    data = parse_block(block)
    if settings:
        if not isinstance(settings, dict):
            raise TomlMergeError('settings must be a dictionary', source='settings')
        data = deep_merge(data, plain_settings(settings))
    return data


# ----------------------------------------------------------------------------------------------
# Editing the tomlkit document


def _is_table_like(item):
    return isinstance(item, dict)


def _new_item(value, inline=False):
    """A tomlkit item for a new value: tables become [headers] unless ``inline``."""
    if isinstance(value, dict):
        if inline:
            table = tomlkit.inline_table()
            for key, sub in value.items():
                table.append(key, _new_item(sub, inline=True))
            return table
        only_tables = bool(value) and all(isinstance(v, dict) for v in value.values())
        table = tomlkit.table(is_super_table=only_tables)
        for key, sub in value.items():
            table.append(key, _new_item(sub))
        return table
    return tomlkit.item(value)


def _leading_header_end(document):
    """Index in the document body after a leading comment header (comments ending in a blank line)."""
    body = document.body
    end = 0
    for index, (key, item) in enumerate(body):
        if key is not None:
            break
        if isinstance(item, _tk_items.Whitespace):
            end = index + 1
        elif not isinstance(item, _tk_items.Comment):
            break
    return end


def _insert_top_level(document, new_items):
    """Insert new top-level key/values at the top of the file, after a leading comment header."""
    if not new_items:
        return
    position = _leading_header_end(document)
    body = document.body
    has_following = position < len(body)
    for offset, (key, value) in enumerate(new_items):
        if position + offset >= len(body):
            document.append(key, _new_item(value))
        else:
            document._insert_at(position + offset, key, _new_item(value))
    if has_following:
        follower = body[position + len(new_items)][1]
        if not isinstance(follower, _tk_items.Whitespace):
            # a blank line between the new keys and whatever now follows them
            last = body[position + len(new_items) - 1][1]
            last.trivia.trail = last.trivia.trail.rstrip('\n') + '\n\n'


def _apply(container, desired, inline_new, top_level=False):
    new_top = []
    for key, want in desired.items():
        if key in container:
            have = container[key]
            if isinstance(want, dict) and _is_table_like(have):
                _apply(have, want, inline_new)
                continue
            have_value = have.unwrap() if hasattr(have, 'unwrap') else have
            if same_value(have_value, want):
                continue
            if isinstance(want, dict) or _is_table_like(have):
                # kind changes between table and value: remove the old spelling, add the new one
                del container[key]
                if top_level and not isinstance(want, dict):
                    new_top.append((key, want))
                else:
                    container[key] = _new_item(want, inline=inline_new and not top_level)
            else:
                container[key] = want
        elif top_level and not isinstance(want, dict):
            new_top.append((key, want))
        else:
            container[key] = _new_item(want, inline=inline_new and not top_level)
    if top_level:
        _insert_top_level(container, new_top)


def _remove(container, named):
    for key, want in named.items():
        if key not in container:
            continue
        have = container[key]
        if isinstance(want, dict) and want:
            if _is_table_like(have):
                was_empty = len(have) == 0
                _remove(have, want)
                if len(have) == 0 and not was_empty:
                    del container[key]
        else:
            del container[key]


def _tidy_after_removal(original, produced):
    """Drop blank lines a removal left at the very start or end (never inside the file)."""
    if not produced.strip():
        return ''
    if not original.startswith('\n'):
        produced = produced.lstrip('\n')
    if not original.endswith('\n\n'):
        produced = produced.rstrip('\n') + '\n'
    return produced


# ----------------------------------------------------------------------------------------------
# Public entry points


def merge_config(existing, block=None, settings=None, state='present', source='config.toml'):
    """Merge ``block``/``settings`` into the config text ``existing`` (None or '' for a new file).

    Returns a :class:`MergeResult` (``text``, ``changed``, ``data`` = the resulting plain data).
    Raises :class:`TomlMergeError` naming ``source``/"block"/"settings" with line and column.
    """
    if state not in ('present', 'absent'):
        raise TomlMergeError('state must be present or absent, not %r' % (state,))
    desired = desired_data(block, settings)
    text = existing or ''
    body, bom, crlf = _split_text(text)
    # the strict stdlib parser alone decides "nothing to do" (tomlkit's parse costs ten times more)
    document = None
    if _strict_toml is not None:
        current = _parse_data(body, source)
    else:  # pragma: no cover - Python < 3.11 controllers
        document, current = _parse(body, source)

    leftovers = []
    if state == 'present':
        leftovers = find_paste_leftovers(current, desired)
        expected = deep_merge(_without_paths(current, leftovers), desired)
    else:
        expected = deep_remove(current, desired)
    if same_value(current, expected):
        return MergeResult(text, False, current)

    if document is None:
        document = _parse(body, source)[0]
    last_error = None
    for inline_new in (False, True):
        document = tomlkit.parse(body) if inline_new else document
        try:
            if state == 'present':
                _delete_paths(document, leftovers)
                _apply(document, desired, inline_new, top_level=True)
            else:
                _remove(document, desired)
            produced = document.as_string()
        except (_TomlkitError, KeyError, ValueError, TypeError) as exc:
            last_error = str(exc)
            continue
        if state == 'absent':
            produced = _tidy_after_removal(body, produced)
        if produced and not produced.endswith('\n'):
            produced += '\n'
        try:
            result = _parse_data(produced, source)
        except TomlMergeError as exc:
            last_error = str(exc)
            continue
        if same_value(result, expected):
            return MergeResult(_join_text(produced, bom, crlf), True, result,
                               [dotted_key(path) for path in leftovers])
        last_error = 'the edited text would not mean what was asked'
    raise TomlMergeError(
        'cannot merge into this file without changing the meaning of other content (%s); nothing '
        'was written' % last_error, source=source)


def validate_config(data, desired=None, source='config.toml'):
    """Check the merged config: model_provider names a provider, blocks do not shadow built-ins.

    ``desired`` is what the task asked for; built-in shadowing and wire_api are judged on it only,
    so an odd but pre-existing user setting does not block a run. Returns a list of warnings.
    """
    warnings = []
    desired = desired or {}
    providers = data.get('model_providers', {})
    if not isinstance(providers, dict):
        raise TomlMergeError('model_providers must be a table', source=source)
    wanted_providers = desired.get('model_providers', {})
    if isinstance(wanted_providers, dict):
        for provider_id, fields in wanted_providers.items():
            if provider_id in BUILTIN_PROVIDERS:
                raise TomlMergeError(
                    '[model_providers.%s] cannot override the Codex built-in provider %r (Codex '
                    'ignores such a block); use another id, e.g. "OpenAI"' % (provider_id, provider_id),
                    source='block/settings')
            if isinstance(fields, dict) and 'wire_api' in fields and fields['wire_api'] not in SUPPORTED_WIRE_APIS:
                raise TomlMergeError(
                    'model_providers.%s.wire_api = %r is refused by Codex; use "responses"'
                    % (provider_id, fields['wire_api']), source='block/settings')
    for provider_id in providers:
        if provider_id in BUILTIN_PROVIDERS and provider_id not in wanted_providers:
            warnings.append('%s: [model_providers.%s] is ignored by Codex (built-in provider id)'
                            % (source, provider_id))
    selected = data.get('model_provider')
    if selected is not None:
        if not isinstance(selected, str):
            raise TomlMergeError('model_provider must be a string', source=source)
        if selected not in providers and selected not in BUILTIN_PROVIDERS:
            defined = sorted(providers) + sorted(BUILTIN_PROVIDERS)
            raise TomlMergeError(
                'model_provider = %r names no provider: define [model_providers.%s] or use one of %s'
                % (selected, selected, ', '.join(defined)), source=source)
    return warnings
