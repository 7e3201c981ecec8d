# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side merge engine of bytes4096.codex.codex_config (internal, may change any time).

Everything here is a pure function over text: no I/O, no Ansible objects. The action plugin feeds it
the config.toml text read from the target and the block/settings of the task, and gets back the new
text or a :class:`TomlMergeError` that names the file, line and column.

Guarantees (each one is checked again on the produced text before it is returned):
- the result parses, and its meaning is exactly ``existing`` deep-merged with ``block`` then
  ``settings`` (``state=present``) or ``existing`` minus what they name (``state=absent``), with the
  documented repairs: stray copies of top-level keys from an old paste go (present), credential
  sources that would shadow auth.json go (present with ``strip_credentials``), and a provider table
  Codex would refuse after the removal goes whole, with a ``model_provider`` naming it (absent);
  each repair is listed in the :class:`MergeResult`;
- every value written is one Codex reads back (64-bit integers, finite floats, valid Unicode);
- when nothing has to change the input is returned unchanged, byte for byte (idempotence);
- untouched content keeps its bytes: comments, blank lines, order, quoting, CRLF, BOM, unicode;
- any text at all gives a result or a :class:`TomlMergeError`, never another exception.
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint

__all__ = ['BUILTIN_PROVIDERS', 'CREDENTIAL_KEYS', 'MASK_PLACEHOLDER', 'MergeResult', 'TomlMergeError',
           'UNPARSABLE_MASKED', 'credential_sources', 'deep_merge', 'deep_remove', 'desired_data', 'dotted_key',
           'find_paste_leftovers', 'is_secret_path', 'key_fingerprint', 'mask_secrets', 'merge_config',
           'normalize_api_key', 'parse_block', 'plain_settings', 'validate_config', 'value_problems']

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
# Top-level settings with which Codex 0.169 refuses to start: (key, value or None for any, why).
_REFUSED_SETTINGS = (
    ('profile', None, 'Codex refuses the whole file with the legacy profile selector ("no longer '
                      'supported; use --profile NAME with NAME.config.toml")'),
    ('approval_policy', 'untrusted', 'Codex refuses the whole file with this value ("no longer supported; '
                                     'remove this setting")'),
)
# Keys of a provider table through which Codex takes a credential instead of auth.json (each one wins
# over auth.json, even next to requires_openai_auth = true).
CREDENTIAL_KEYS = ('env_key', 'experimental_bearer_token', 'auth')
# Only meaningful next to env_key (the hint Codex prints when that variable is missing).
_CREDENTIAL_COMPANIONS = ('env_key_instructions',)
# Codex reads integers as signed 64-bit; tomllib accepts any size ("invalid type: integer ... as i128").
INT64_MIN = -2 ** 63
INT64_MAX = 2 ** 63 - 1


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
    """What :func:`merge_config` produced.

    ``text``: the new file content (the input itself when nothing changes).
    ``changed``: whether ``text`` differs in meaning from the input.
    ``data``: the plain data of ``text``.
    ``removed_leftovers``: dotted paths of stray copies of top-level keys that an old paste left in a
    table and that ``present`` removed (see :func:`find_paste_leftovers`).
    ``removed_with_provider``: ``absent`` only: dotted paths that the block did not name but that went
    because their provider table went (it lost ``name`` or ``base_url``, or has no name: Codex refuses
    a provider without one), plus a ``model_provider`` (top level or in a profile) that pointed at
    such a provider, so Codex falls back to its default. The caller warns with this list.
    ``removed_credentials``: ``present`` with ``strip_credentials`` only: dotted paths of the credential
    sources (``env_key``, ``env_key_instructions``, ``experimental_bearer_token``, ``auth``) removed from
    the managed provider tables. Paths only, never values.
    """

    __slots__ = ('text', 'changed', 'data', 'removed_leftovers', 'removed_with_provider', 'removed_credentials')

    def __init__(self, text, changed, data, removed_leftovers=(), removed_with_provider=(), removed_credentials=()):
        self.text = text
        self.changed = changed
        self.data = data
        self.removed_leftovers = list(removed_leftovers)
        self.removed_with_provider = list(removed_with_provider)
        self.removed_credentials = list(removed_credentials)


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
        return _checked_scalar(int(value), path, 'settings')
    if isinstance(value, float):
        return _checked_scalar(float(value), path, 'settings')
    if isinstance(value, str):
        return _checked_scalar(''.join(value), path, 'settings')  # a plain str, also for Ansible's str subclasses
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TomlMergeError('%s has a non-string key of type %s' % (path, _type_name(key)),
                                     source='settings')
            key = _checked_key(''.join(key), path, 'settings')
            result[key] = plain_settings(item, _child_path(path, key))
        return result
    if isinstance(value, (list, tuple)):
        return [plain_settings(item, '%s[%d]' % (path, index)) for index, item in enumerate(value)]
    raise TomlMergeError('%s has a value of type %s that TOML cannot hold'
                         % (path, _type_name(value)), source='settings')


def _type_name(value):
    """The plain Python type name (Ansible's tagged subclasses such as _AnsibleTaggedInt hidden)."""
    for plain in (bool, int, float, str, bytes, dict, list, tuple, set):
        if isinstance(value, plain):
            return plain.__name__
    return type(value).__name__.lstrip('_')


def _child_path(path, key):
    return '%s.%s' % (path, dotted_key((key,))) if path else dotted_key((key,))


def _checked_scalar(value, path, source):
    """``value`` if Codex can read it back; a TomlMergeError naming the key otherwise (no value shown)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise TomlMergeError(
                '%s is an integer outside the signed 64-bit range (%d .. %d) that TOML allows: Codex '
                'refuses the whole file' % (path, INT64_MIN, INT64_MAX), source=source)
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise TomlMergeError(
                '%s is nan or infinite: no Codex setting takes that (Codex refuses it for its timeouts); '
                'use a finite number' % path, source=source)
    elif isinstance(value, str):
        if _has_surrogate(value):
            raise TomlMergeError('%s holds a lone surrogate (invalid Unicode) that cannot be written as UTF-8'
                                 % path, source=source)
    return value


def _checked_key(key, path, source):
    if _has_surrogate(key):
        raise TomlMergeError('%s has a key with a lone surrogate (invalid Unicode)' % (path or 'the top level'),
                             source=source)
    return key


def _has_surrogate(text):
    return any('\ud800' <= char <= '\udfff' for char in text)


def _check_values(value, path, source):
    """Range-check every value of plain data (see :func:`_checked_scalar`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _checked_key(key, path, source)
            _check_values(item, _child_path(path, key), source)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_values(item, '%s[%d]' % (path, index), source)
    else:
        _checked_scalar(value, path, source)


def value_problems(data, path=''):
    """Messages for every value in ``data`` that Codex refuses although tomllib loads it."""
    problems = []
    if isinstance(data, dict):
        for key, item in data.items():
            problems.extend(value_problems(item, _child_path(path, key)))
    elif isinstance(data, (list, tuple)):
        for index, item in enumerate(data):
            problems.extend(value_problems(item, '%s[%d]' % (path, index)))
    else:
        try:
            _checked_scalar(data, path, None)
        except TomlMergeError as exc:
            problems.append(exc.message)
    return problems


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
    """Return ``base`` without the leaves ``named`` names; tables emptied by the removal go too.

    An empty table in ``named`` names no key: it removes that table only when it is empty too. A table
    that was already empty stays when ``named`` names keys in it.
    """
    result = dict(base)
    for key, want in named.items():
        if key not in result:
            continue
        have = result[key]
        if isinstance(want, dict):
            if isinstance(have, dict):
                pruned = deep_remove(have, want)
                if pruned or bool(have) != bool(want):  # an empty table stays unless the block names it empty
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
        except RecursionError:
            raise TomlMergeError('invalid TOML: tables or arrays nested too deeply', source=source)
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
    except RecursionError:
        raise TomlMergeError('invalid TOML: tables or arrays nested too deeply', source=source)
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
    except RecursionError:
        raise TomlMergeError('invalid TOML: tables or arrays nested too deeply', source=source)


def _position_from_message(message):
    # tomllib (3.11-3.13): "Invalid value (at line 3, column 5)" or "... (at end of document)"
    match = re.search(r'\(at line (\d+), column (\d+)\)\s*$', message)
    if match:
        return int(match.group(1)), int(match.group(2)), message[:match.start()].strip()
    if message.endswith('(at end of document)'):
        return None, None, message[:-len('(at end of document)')].strip() + ' at end of document'
    return None, None, message


def _strip_position(message):
    return re.sub(r'\s*at line \d+ col \d+\s*$', '', message)


def parse_block(block, source='block'):
    """Parse the task's ``block`` text into plain data; values Codex would refuse raise."""
    if block is None:
        return {}
    body, dummy_bom, dummy_crlf = _split_text(block)
    data = _parse_data(body, source)
    _check_values(data, '', source)
    return data


def _settings_data(settings):
    if not settings:
        return {}
    if not isinstance(settings, dict):
        raise TomlMergeError('settings must be a dictionary', source='settings')
    return plain_settings(settings)


def desired_data(block=None, settings=None):
    """The wanted values: ``block`` first, ``settings`` merged on top (settings win)."""
    data = parse_block(block)
    if settings:
        data = deep_merge(data, _settings_data(settings))
    return data


# ----------------------------------------------------------------------------------------------
# What the result must mean


def _providers(data):
    providers = data.get('model_providers') if isinstance(data, dict) else None
    return providers if isinstance(providers, dict) else {}


def _has_name(table):
    name = table.get('name')
    return isinstance(name, str) and bool(name.strip())


def credential_sources(data, provider_id):
    """Names of the keys in ``[model_providers.<provider_id>]`` of ``data`` through which Codex takes a
    credential instead of auth.json (``env_key``, ``experimental_bearer_token``, ``auth``), in that
    order. An empty list when there is no such table. For the audit; values are never returned."""
    table = _providers(data).get(provider_id)
    if not isinstance(table, dict):
        return []
    return [key for key in CREDENTIAL_KEYS if key in table]


def _refuse_credential_sources(data, source):
    for provider_id, table in _providers(data).items():
        if not isinstance(table, dict):
            continue
        for key in CREDENTIAL_KEYS:
            if key in table:
                raise TomlMergeError(
                    '%s sets a credential source that would shadow auth.json (Codex would use it instead of '
                    'the api_key this task writes); remove %s from the %s, or do not let the task write '
                    'the key' % (dotted_key(('model_providers', provider_id, key)), key, source),
                    source=source)


def _managed_provider_ids(merged, desired):
    """The provider tables the task manages: those it names, and the one model_provider selects."""
    ids = [provider_id for provider_id, table in _providers(desired).items() if isinstance(table, dict)]
    selected = merged.get('model_provider')
    if isinstance(selected, str) and selected not in ids and selected not in BUILTIN_PROVIDERS:
        ids.append(selected)
    return ids


def _credential_paths(merged, desired):
    paths = []
    wanted = _providers(desired)
    for provider_id in _managed_provider_ids(merged, desired):
        table = _providers(merged).get(provider_id)
        if not isinstance(table, dict):
            continue
        asked = wanted.get(provider_id) if isinstance(wanted.get(provider_id), dict) else {}
        for key in table:
            if key in CREDENTIAL_KEYS or (key in _CREDENTIAL_COMPANIONS and key not in asked):
                paths.append(('model_providers', provider_id, key))
    return paths


def _broken_provider_paths(before, after, desired):
    """After a removal: whole provider tables that must go, and model_provider keys left dangling.

    Returns (paths to delete from ``after``, dotted names of what goes that way).
    """
    paths = []
    names = []
    old = _providers(before)
    new = _providers(after)
    wanted = _providers(desired)
    gone = set()
    for provider_id, table in new.items():
        if not isinstance(table, dict) or not isinstance(wanted.get(provider_id), dict):
            continue
        had = old.get(provider_id) if isinstance(old.get(provider_id), dict) else {}
        lost_base_url = 'base_url' in had and 'base_url' not in table
        if lost_base_url or not _has_name(table):
            gone.add(provider_id)
            paths.append(('model_providers', provider_id))
            names.extend(dotted_key(('model_providers', provider_id, key)) for key in table)
    if gone and len(gone) == len(new):
        paths = [('model_providers',)]
    remaining = set(new) - gone

    def dangling(selected, only_removed):
        if not isinstance(selected, str) or selected in remaining or selected in BUILTIN_PROVIDERS:
            return False
        return not only_removed or selected in old

    if dangling(after.get('model_provider'), False):
        paths.append(('model_provider',))
        names.append('model_provider')
    profiles = after.get('profiles')
    if isinstance(profiles, dict):
        for name, profile in profiles.items():
            # a profile that already named an undefined provider is left as it was: only a selected
            # profile is loaded, and the user may define that provider at another level
            if isinstance(profile, dict) and dangling(profile.get('model_provider'), True):
                paths.append(('profiles', name, 'model_provider'))
                names.append(dotted_key(('profiles', name, 'model_provider')))
    return paths, names


def _deletions(current, expected, path=()):
    """The outermost key paths of ``current`` that ``expected`` no longer has (in document order)."""
    out = []
    for key, have in current.items():
        if key not in expected:
            out.append(path + (key,))
        elif isinstance(have, dict) and isinstance(expected[key], dict):
            out.extend(_deletions(have, expected[key], path + (key,)))
    return out


# ----------------------------------------------------------------------------------------------
# Editing the tomlkit document


def _is_table_like(item):
    return isinstance(item, dict)


def _is_array_of_tables(value):
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


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
    if inline and isinstance(value, list):
        array = tomlkit.array()
        for sub in value:
            array.append(_new_item(sub, inline=True))
        return array
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


def _inline_add(table, key, item):
    """Add ``key`` to an existing inline table in its own style: ``{ a = 1, b = 2 }`` or ``{a=1, b = 2}``."""
    body = table.value.body
    tail = []
    while body and body[-1][0] is None and isinstance(body[-1][1], _tk_items.Whitespace) \
            and ',' not in body[-1][1].s:
        tail.insert(0, body.pop())
    has_keys = any(entry_key is not None for entry_key, dummy in body)
    if not has_keys and tail:
        item.trivia.indent = tail[0][1].s  # "{ }" grows as "{ a = 1 }"
    table.append(key, item)
    if has_keys:
        item.trivia.indent = ' '
    body.extend(tail)


def _set(container, key, want, inline):
    if isinstance(container, _tk_items.InlineTable):
        if key in container:
            del container[key]
        _inline_add(container, key, _new_item(want, inline=True))
    else:
        container[key] = _new_item(want, inline=inline)


def _apply(container, desired, inline_new, top_level=False):
    new_top = []
    new_arrays = []
    for key, want in desired.items():
        in_inline = isinstance(container, _tk_items.InlineTable)
        if key in container:
            have = container[key]
            if isinstance(want, dict) and _is_table_like(have):
                _apply(have, want, inline_new)
                continue
            have_value = have.unwrap() if hasattr(have, 'unwrap') else have
            if same_value(have_value, want):
                continue
            if isinstance(want, dict) or _is_table_like(have) or _is_array_of_tables(want) \
                    or isinstance(have, _tk_items.AoT):
                # kind changes between table and value: remove the old spelling, add the new one
                del container[key]
                if top_level and _is_array_of_tables(want):
                    new_arrays.append((key, want))
                elif top_level and not isinstance(want, dict):
                    new_top.append((key, want))
                else:
                    _set(container, key, want, in_inline or (inline_new and not top_level))
            else:
                container[key] = want
        elif top_level and _is_array_of_tables(want):
            new_arrays.append((key, want))
        elif top_level and not isinstance(want, dict):
            new_top.append((key, want))
        elif in_inline:
            _inline_add(container, key, _new_item(want, inline=True))
        else:
            container[key] = _new_item(want, inline=inline_new and not top_level)
    if top_level:
        _insert_top_level(container, new_top)
        # an array of tables goes last: placed before root keys or inside a table it would capture them
        for key, want in new_arrays:
            container.append(key, _new_item(want))


def _delete_path(document, path):
    # resolved from the root every time: tomlkit's proxies over split (dotted, out-of-order) tables go
    # stale after a deletion, and using one again fails with "list index out of range"
    container = document
    for key in path[:-1]:
        container = container[key]
    del container[path[-1]]
    if isinstance(container, _tk_items.InlineTable):
        _inline_compact(container)


def _inline_compact(table):
    """Blank the separator a deleted key of an inline table left (``{ a = 1,  c = 3 }``).

    Entries are blanked, not removed: tomlkit indexes the body by position.
    """
    body = table.value.body

    def step(index, direction):
        index += direction
        while 0 <= index < len(body) and body[index][0] is None and not body[index][1].as_string():
            index += direction
        return index

    def spacing(index, comma):
        return (0 <= index < len(body) and body[index][0] is None
                and isinstance(body[index][1], _tk_items.Whitespace) and (',' in body[index][1].s) == comma)

    for index, (key, item) in enumerate(body):
        if key is not None or not isinstance(item, _tk_items.Null) or getattr(item, '_separator_blanked', False):
            continue
        item._separator_blanked = True  # the next deletion in this table must not take another separator
        after = step(index, 1)
        before = step(index, -1)
        if spacing(after, True):             # a key follows: drop the comma after it and the space after that
            body[after][1]._s = ''
            space = step(after, 1)
            if spacing(space, False) and any(k is not None for k, dummy in body[space + 1:]):
                body[space][1]._s = ''
        elif spacing(before, False) and spacing(step(before, -1), True):    # the last key: ", " before it
            body[step(before, -1)][1]._s = ''
            body[before][1]._s = ''
        elif spacing(before, True):
            body[before][1]._s = ''


def _delete_paths(document, paths):
    for path in paths:
        _delete_path(document, path)


def _rebuild_top_level(document, current, expected):
    """Fallback edit: every top-level key whose meaning changes is removed and written anew."""
    new_top = []
    new_tables = []
    for key in list(current):
        if key in expected and same_value(current[key], expected[key]):
            continue
        if key in document:
            del document[key]
    for key, value in expected.items():
        if key in current and same_value(current[key], value):
            continue
        if isinstance(value, dict) or _is_array_of_tables(value):
            new_tables.append((key, value))
        else:
            new_top.append((key, value))
    _insert_top_level(document, new_top)
    for key, value in new_tables:
        document.append(key, _new_item(value))


def _longest_blank_run(text):
    runs = [len(match.group(0)) - 1 for match in re.finditer(r'\n(?:[ \t]*\n)+', '\n' + text)]
    return max(runs) if runs else 0


def _tidy_blank_lines(original, produced):
    """Collapse runs of blank lines an edit left that are longer than any in the original file, and
    blank lines a removal left at the very start or end."""
    if not produced.strip():
        return ''
    limit = max(1, _longest_blank_run(original))
    produced = re.sub(r'\n(?:[ \t]*\n){%d,}' % (limit + 1), '\n' * (limit + 1), produced)
    if not original.startswith('\n'):
        produced = produced.lstrip('\n')
    if not original.endswith('\n\n'):
        produced = produced.rstrip('\n') + '\n'
    return produced


# ----------------------------------------------------------------------------------------------
# Public entry points


def merge_config(existing, block=None, settings=None, state='present', source='config.toml',
                 strip_credentials=False):
    """Merge ``block``/``settings`` into the config text ``existing`` (None or '' for a new file).

    ``state='absent'`` removes what they name instead (by key, whatever the value), then every provider
    table the block/settings name that lost ``name`` or ``base_url`` (or has no name) with all its
    keys, and a ``model_provider`` left naming a provider that is neither defined nor built in.

    ``strip_credentials=True`` (``present`` only; set it when the task writes the key to auth.json):
    the managed provider tables (those the block/settings name, and the one ``model_provider`` selects)
    lose ``env_key``, ``env_key_instructions``, ``experimental_bearer_token`` and ``auth``, which would
    shadow auth.json; a block or settings that set one of them raise :class:`TomlMergeError`.

    Returns a :class:`MergeResult`. Raises :class:`TomlMergeError` naming ``source``/"block"/"settings"
    with line and column where there is one; no other exception escapes for any input text.
    """
    try:
        return _merge_config(existing, block, settings, state, source, bool(strip_credentials))
    except TomlMergeError:
        raise
    except RecursionError:
        raise TomlMergeError('the file, block or settings nest tables or arrays too deeply to be handled; '
                             'nothing was written', source=source)
    except Exception as exc:  # a tomlkit failure the strategies below did not catch: never a traceback
        raise TomlMergeError('cannot edit this file (%s); nothing was written' % _describe(exc)[:300],
                             source=source)


def _merge_config(existing, block, settings, state, source, strip_credentials):
    if state not in ('present', 'absent'):
        raise TomlMergeError('state must be present or absent, not %r' % (state,))
    block_data = parse_block(block)
    settings_data = _settings_data(settings)
    desired = deep_merge(block_data, settings_data) if settings_data else block_data
    strip = strip_credentials and state == 'present'
    if strip:
        _refuse_credential_sources(block_data, 'block')
        _refuse_credential_sources(settings_data, 'settings')
    text = existing or ''
    if not isinstance(text, str):
        raise TomlMergeError('the file content is not text', source=source)
    body, bom, crlf = _split_text(text)
    # the strict stdlib parser alone decides "nothing to do" (tomlkit's parse costs ten times more)
    document = None
    if _strict_toml is not None:
        current = _parse_data(body, source)
    else:  # pragma: no cover - Python < 3.11 controllers
        document, current = _parse(body, source)

    leftovers = []
    credentials = []
    with_provider = []
    late_deletions = []
    if state == 'present':
        leftovers = find_paste_leftovers(current, desired)
        expected = deep_merge(_without_paths(current, leftovers), desired)
        if strip:
            credentials = _credential_paths(expected, desired)
            expected = _without_paths(expected, credentials)
            late_deletions = credentials
    else:
        expected = deep_remove(current, desired)
        broken, with_provider = _broken_provider_paths(current, expected, desired)
        expected = _without_paths(expected, broken)
    if same_value(current, expected):
        return MergeResult(text, False, current)

    last_error = None
    for strategy in ('edit', 'edit-inline', 'rebuild'):
        try:
            if document is None or strategy != 'edit':
                document = tomlkit.parse(body)
            if strategy == 'rebuild':
                _rebuild_top_level(document, current, expected)
            elif state == 'present':
                _delete_paths(document, leftovers)
                _apply(document, desired, strategy == 'edit-inline', top_level=True)
                _delete_paths(document, late_deletions)
            else:
                _delete_paths(document, _deletions(current, expected))
            produced = document.as_string()
        except Exception as exc:  # tomlkit raises IndexError, KeyError, ValueError... on odd layouts
            last_error = _describe(exc)
            document = None
            continue
        if produced and not produced.endswith('\n'):
            produced += '\n'
        for candidate in (_tidy_blank_lines(body, produced), produced):
            try:
                result = _parse_data(candidate, source)
            except TomlMergeError as exc:
                last_error = str(exc)
                continue
            if same_value(result, expected):
                return MergeResult(_join_text(candidate, bom, crlf), True, result,
                                   [dotted_key(path) for path in leftovers], with_provider,
                                   [dotted_key(path) for path in credentials])
            last_error = 'the edited text would not mean what was asked'
        document = None
    raise TomlMergeError(
        'cannot %s this file without changing the meaning of other content (%s); nothing was written'
        % ('merge into' if state == 'present' else 'remove the block from', last_error), source=source)


def _describe(exc):
    message = str(exc) or type(exc).__name__
    return '%s: %s' % (type(exc).__name__, message) if isinstance(exc, (IndexError, KeyError)) else message


def validate_config(data, desired=None, source='config.toml', strict=False):
    """Check the merged config against what Codex 0.169 refuses; return a list of warnings.

    Errors (:class:`TomlMergeError`) for what the task itself asks for (``desired``): a block for a
    built-in provider id, a ``wire_api`` other than "responses", a provider it names without a name,
    a refused setting; and always for a ``model_provider`` that names no provider. What the user's
    file already holds and Codex refuses as a whole (a ``[model_providers.<built-in id>]`` table, a
    provider without a name, the legacy ``profile`` selector, ``approval_policy = "untrusted"``, an
    integer outside 64 bits) is a warning, or an error with ``strict=True`` (deploy: writing a file
    Codex will not load is no success; offboarding passes ``strict=False`` so it is never blocked).
    """
    warnings = []

    def refused(message):
        if strict:
            raise TomlMergeError(message, source=source)
        warnings.append('%s: %s' % (source, message))

    desired = desired or {}
    providers = data.get('model_providers', {})
    if not isinstance(providers, dict):
        raise TomlMergeError('model_providers must be a table', source=source)
    wanted_providers = desired.get('model_providers', {})
    if not isinstance(wanted_providers, dict):
        wanted_providers = {}
    for provider_id, fields in wanted_providers.items():
        if provider_id in BUILTIN_PROVIDERS:
            raise TomlMergeError(
                '[model_providers.%s] cannot override the Codex built-in provider %r (Codex refuses '
                'the whole file: reserved built-in provider id); use another id, e.g. "OpenAI"'
                % (provider_id, provider_id), source='block/settings')
        if isinstance(fields, dict) and 'wire_api' in fields and fields['wire_api'] not in SUPPORTED_WIRE_APIS:
            raise TomlMergeError(
                'model_providers.%s.wire_api = %r is refused by Codex; use "responses"'
                % (provider_id, fields['wire_api']), source='block/settings')
    for provider_id, table in providers.items():
        if provider_id in BUILTIN_PROVIDERS:
            refused('[%s] uses a reserved built-in provider id: Codex refuses the whole file; rename it '
                    '(e.g. "%s-custom") or remove it' % (dotted_key(('model_providers', provider_id)), provider_id))
            continue
        if isinstance(table, dict) and not _has_name(table):
            message = ('%s has no name: Codex refuses a provider without one ("provider name must not be '
                       'empty") and then does not start at all' % dotted_key(('model_providers', provider_id)))
            if provider_id in wanted_providers:
                raise TomlMergeError(message + '; set model_providers.%s.name' % provider_id, source=source)
            refused(message)
    for key, value, why in _REFUSED_SETTINGS:
        if key in data and (value is None or data[key] == value):
            message = '%s = %s: %s' % (key, _quote_key(str(data[key])), why)
            if key in desired:
                raise TomlMergeError(message, source='block/settings')
            refused(message)
    selected = data.get('model_provider')
    if selected is not None:
        if not isinstance(selected, str):
            raise TomlMergeError('model_provider must be a string', source=source)
        if selected not in providers and selected not in BUILTIN_PROVIDERS:
            defined = sorted(providers) + sorted(BUILTIN_PROVIDERS)
            raise TomlMergeError(
                'model_provider = %r names no provider: define [model_providers.%s] or use one of %s'
                % (selected, selected, ', '.join(defined)), source=source)
    try:
        problems = value_problems(data)
    except RecursionError:
        problems = ['values nested too deeply to check']
    for problem in problems:
        refused(problem)
    return warnings


# ----------------------------------------------------------------------------------------------
# Masking secrets for display (the diff)

MASK_PLACEHOLDER = '********'
UNPARSABLE_MASKED = ('(config.toml content not shown: it is not valid TOML or could not be masked '
                     'safely, and it may hold secrets)\n')
# A key whose name contains one of these holds a secret when its value is a string.
_SECRET_WORDS = ('token', 'secret', 'password', 'passwd', 'apikey', 'authorization', 'cookie')
# Tables whose every value is masked: request headers (they carry credentials) and the environment
# of an MCP server.
_SECRET_TABLES = frozenset(('http_headers', 'env_http_headers'))
# An OpenAI/Anthropic-style key wherever it stands: in a comment, or in an argument list.
_KEY_PATTERN = r'\bsk-[A-Za-z0-9_-]{12,}'


def is_secret_path(path):
    """Whether a string at the key ``path`` (a tuple of key parts; arrays add no part) is masked.

    The rule: a part named ``http_headers`` or ``env_http_headers``, or ``mcp_servers.<name>.env``,
    masks everything below it. Otherwise the last part decides (case-insensitive): it names a secret
    when it contains token, secret, password, passwd, apikey, authorization or cookie, or is ``key``
    or ends with ``_key``/``-key`` -- except names that only name an environment variable: ``env_key``,
    ``env_key_instructions`` and names ending in ``_env_var`` (``bearer_token_env_var``). Numbers and
    booleans are never masked (``model_auto_compact_token_limit`` is not a secret).
    """
    lowered = [part.lower() for part in path]
    for index, part in enumerate(lowered):
        if part in _SECRET_TABLES:
            return True
        if part == 'env' and index == 2 and lowered[0] == 'mcp_servers' and len(lowered) > 3:
            return True
    if not lowered:
        return False
    name = lowered[-1]
    if name in ('env_key', 'env_key_instructions') or name.endswith('_env_var'):
        return False
    if name == 'key' or name.endswith('_key') or name.endswith('-key'):
        return True
    return any(word in name for word in _SECRET_WORDS)


def _mask_plain(value, path):
    if isinstance(value, dict):
        return dict((key, _mask_plain(item, path + (key,))) for key, item in value.items())
    if isinstance(value, list):
        return [_mask_plain(item, path) for item in value]
    if isinstance(value, str):
        if is_secret_path(path):
            return MASK_PLACEHOLDER
        return re.sub(_KEY_PATTERN, MASK_PLACEHOLDER, value)
    return value


def _mask_document(container, path):
    for key in list(container.keys()):
        item = container[key]
        here = path + (key,)
        if isinstance(item, _tk_items.AoT):
            for table in item:
                _mask_document(table, here)
        elif isinstance(item, dict):
            _mask_document(item, here)
        else:
            value = item.unwrap() if hasattr(item, 'unwrap') else item
            masked = _mask_plain(value, here)
            if not same_value(masked, value):
                if isinstance(item, _tk_items.Array) and isinstance(masked, list):
                    container[key] = _new_item(masked, inline=True)
                else:
                    container[key] = masked


def mask_secrets(text_or_data):
    """``text_or_data`` with every secret-looking value replaced by :data:`MASK_PLACEHOLDER`.

    Text in, text out: the same TOML with only those values changed (comments, order, quoting, CRLF
    and BOM kept); ``sk-...`` keys are masked wherever they stand, comments included. Text that does
    not parse gives the fixed message :data:`UNPARSABLE_MASKED` instead. A dict gives a masked copy.
    Which keys count as secret: :func:`is_secret_path`. The result never holds a value the rule
    masks: it is checked against a strict parse, and when the in-place edit does not match, the
    masked data is rendered anew (comments lost) or, failing that, the fixed message is returned.
    """
    if isinstance(text_or_data, dict):
        return _mask_plain(text_or_data, ())
    if not text_or_data:
        return text_or_data or ''
    if not HAS_TOMLKIT or not isinstance(text_or_data, str):
        return UNPARSABLE_MASKED
    body, bom, crlf = _split_text(text_or_data)
    try:
        data = _parse_data(body, 'config.toml')
        expected = _mask_plain(data, ())
    except Exception:  # TomlMergeError, or anything else a hostile text provokes: show nothing
        return UNPARSABLE_MASKED
    if same_value(expected, data) and not re.search(_KEY_PATTERN, body):
        return text_or_data
    for render in (_mask_in_place, tomlkit.dumps):
        try:
            masked = render(body) if render is _mask_in_place else render(expected)
            if same_value(_parse_data(masked, 'config.toml'), expected):
                return _join_text(masked, bom, crlf)
        except Exception:  # a tomlkit failure on an odd layout: the next rendering, then nothing
            continue
    return UNPARSABLE_MASKED


def _mask_in_place(body):
    document = tomlkit.parse(body)
    _mask_document(document, ())
    return re.sub(_KEY_PATTERN, MASK_PLACEHOLDER, document.as_string())
