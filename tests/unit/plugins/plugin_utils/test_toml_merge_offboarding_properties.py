# -*- coding: utf-8 -*-
"""Properties of present followed by absent (offboarding), on the real-world corpus and on generated
files, for every spelling of the dashboard block and of the file.

The rule these tests hold the engine to (key names are full dotted paths: ``profiles.deep.model`` is
not the block's ``model``):

- present then absent gives a file that tomllib loads and that holds none of the block's key paths:
  ``absent`` removes by path whatever the value, so a user key that the block's key replaced goes too
  (it is not "kept": present had already replaced its value);
- every other key of the original file keeps its value, except stray copies an old paste left in a
  table (present removes those: ``removed_leftovers``) and the keys of a provider table that lost its
  ``name``/``base_url`` plus a ``model_provider`` left naming it (``removed_with_provider``); a table
  that only the block's keys filled goes with them; nothing new appears;
- present-absent-present means the same as a single present, minus ``removed_with_provider``; it is
  not the same text (a user key that present updated in place is inserted at the top the second
  time), but from then on the cycle is stable to the byte.
"""
from __future__ import annotations

import glob
import os
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from corpus import read_fixture
from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    TomlMergeError, deep_remove, merge_config, validate_config,
)

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, 'fixtures', 'real_world')
FILES = sorted(os.path.basename(path) for path in glob.glob(os.path.join(CORPUS, '*.toml')))
with open(os.path.join(HERE, '..', '..', 'fixtures', 'dashboard-block.toml'), encoding='utf-8') as _handle:
    DASHBOARD_BLOCK = _handle.read()
DASHBOARD = tomllib.loads(DASHBOARD_BLOCK)
_TOP = [(key, value) for key, value in DASHBOARD.items() if not isinstance(value, dict)]
_PROVIDER = DASHBOARD['model_providers']['OpenAI']


def _toml(value):
    import tomlkit
    return tomlkit.item(value).as_string()


def _pairs(table):
    return ', '.join('%s = %s' % (key, _toml(value)) for key, value in table.items())


def _lines(prefix, table):
    return ''.join('%s%s = %s\n' % (prefix, key, _toml(value)) for key, value in table.items())


_HEAD = _lines('', dict(_TOP))
# The dashboard block in every spelling TOML allows for it.
BLOCK_SPELLINGS = {
    'headers': DASHBOARD_BLOCK,
    'dotted': _HEAD + _lines('model_providers.OpenAI.', _PROVIDER) + 'features.goals = true\n',
    'inline': _HEAD + 'model_providers = { OpenAI = { %s } }\nfeatures = { goals = true }\n' % _pairs(_PROVIDER),
    'explicit-super-table': (_HEAD + '\n[model_providers]\n\n[model_providers.OpenAI]\n' + _lines('', _PROVIDER)
                             + '\n[features]\ngoals = true\n'),
    'dotted-in-header': _HEAD + '\n[model_providers]\n' + _lines('OpenAI.', _PROVIDER) + '\n[features]\ngoals = true\n',
    'inline-in-header': _HEAD + '\n[model_providers]\nOpenAI = { %s }\n\n[features]\ngoals = true\n' % _pairs(_PROVIDER),
    'crlf': DASHBOARD_BLOCK.replace('\n', '\r\n'),
}


def load(text):
    return tomllib.loads(text.lstrip('\ufeff'))


def leaves(data, prefix=()):
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def lookup(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            raise KeyError(path)
        data = data[key]
    return data


def has(data, path):
    try:
        lookup(data, path)
    except KeyError:
        return False
    return True


def split(dotted):
    tomllib_key = tomllib.loads('%s = 0' % dotted)
    return next(iter(leaves(tomllib_key)))[0]


def check_offboarding(original, block):
    """present, absent, present again: the documented rule above, returns the absent text."""
    present = merge_config(original, block)
    absent = merge_config(present.text, block, state='absent')
    before = load(original)
    after = load(absent.text)                                          # tomllib loads it
    block_data = tomllib.loads(block.replace('\r\n', '\n'))
    block_paths = [path for path, dummy in leaves(block_data)]
    for path in block_paths:                                           # none of the block's keys
        assert not has(after, path), path
    gone = [split(name) for name in present.removed_leftovers + absent.removed_with_provider]
    for path, value in leaves(before):                                 # every other key kept
        if path in block_paths or any(path[:len(prefix)] == prefix for prefix in gone):
            continue
        if any(path[:len(block)] == block for block in block_paths):
            continue
        if value == {} and not has(after, path):
            assert any(block[:len(path)] == path for block in block_paths), path  # filled by the block only
            continue
        assert lookup(after, path) == value, path
    for path, value in leaves(after):                                  # nothing new
        assert lookup(before, path) == value, path
    validate_config(absent.data, block_data)                           # what present is checked with
    again = merge_config(absent.text, block, state='absent')
    assert not again.changed and again.text == absent.text
    cycle = merge_config(absent.text, block)
    expected = present.data
    for path in (split(name) for name in absent.removed_with_provider):
        if path != ('model_provider',):
            expected = deep_remove(expected, _nested(path))
    assert load(cycle.text) == expected                                # P-A-P means P (minus the provider's extras)
    second = merge_config(merge_config(cycle.text, block, state='absent').text, block)
    assert second.text == cycle.text                                   # stable to the byte from here on
    if '\r\n' in original:
        assert absent.text.count('\n') == absent.text.count('\r\n')
    if original.startswith('\ufeff') and absent.text:
        assert absent.text.startswith('\ufeff')
    return absent


def _nested(path):
    out = True
    for key in reversed(path):
        out = {key: out}
    return out


@pytest.mark.parametrize('spelling', sorted(BLOCK_SPELLINGS))
def test_block_spellings_mean_the_dashboard_block(spelling):
    assert tomllib.loads(BLOCK_SPELLINGS[spelling].replace('\r\n', '\n')) == DASHBOARD


@pytest.mark.parametrize('spelling', sorted(BLOCK_SPELLINGS))
@pytest.mark.parametrize('name', FILES)
def test_corpus_present_then_absent(name, spelling):
    check_offboarding(read_fixture(name), BLOCK_SPELLINGS[spelling])


def _pasted(name, spelling):
    return BLOCK_SPELLINGS[spelling].replace('\r\n', '\n') + '\n' + read_fixture(name).lstrip('\ufeff')


def _valid_pastes():
    """(file, spelling) pairs where the paste is valid TOML (no key of the block already in the file)."""
    pairs = []
    for name in FILES:
        for spelling in sorted(BLOCK_SPELLINGS):
            try:
                tomllib.loads(_pasted(name, spelling).replace('\r\n', '\n'))
            except tomllib.TOMLDecodeError:
                continue
            pairs.append(pytest.param(name, spelling, id='%s-%s' % (name[:-5], spelling)))
    return pairs


PASTES = _valid_pastes()


def test_enough_pastes_are_valid():
    assert len(PASTES) >= 40


@pytest.mark.parametrize('name, spelling', PASTES)
def test_corpus_with_the_block_pasted_in_that_spelling(name, spelling):
    """The user pasted the block (in that spelling) at the top of the file before we ever ran."""
    pasted = _pasted(name, spelling)
    before = tomllib.loads(pasted.replace('\r\n', '\n'))
    absent = merge_config(pasted, DASHBOARD_BLOCK, state='absent')
    after = load(absent.text)
    for path, dummy in leaves(DASHBOARD):
        assert not has(after, path)
    expected = deep_remove(before, DASHBOARD)
    for name_ in absent.removed_with_provider:
        expected = deep_remove(expected, _nested(split(name_)))
    assert after == expected


# --- generated files in every spelling ----------------------------------------------------------

BARE = st.text(alphabet='abcdefghijklmnopqrstuvwxyz_-', min_size=1, max_size=6)
SCALARS = st.one_of(
    st.booleans(), st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(alphabet=st.characters(blacklist_categories=('Cs',), blacklist_characters='\x7f'), max_size=8),
)
VALUES = st.one_of(SCALARS, st.lists(st.integers(min_value=0, max_value=9), max_size=3))
TABLES = st.recursive(
    st.dictionaries(BARE, VALUES, max_size=4),
    lambda inner: st.dictionaries(BARE, st.one_of(VALUES, inner), max_size=3),
    max_leaves=10,
)


def render(data, style):
    import tomlkit
    if style == 'inline':
        doc = tomlkit.document()
        for key, value in data.items():
            doc[key] = _inline(value) if isinstance(value, dict) else value
        return doc.as_string()
    if style == 'dotted':
        return ''.join('%s = %s\n' % ('.'.join('"%s"' % p if '-' in p else p for p in path), _toml(value))
                       for path, value in leaves(data) if value != {})
    return tomlkit.dumps(data)


def _inline(value):
    import tomlkit
    table = tomlkit.inline_table()
    for key, sub in value.items():
        table[key] = _inline(sub) if isinstance(sub, dict) else sub
    return table


def _deep_merge(base, overlay):
    out = dict(base)
    for key, value in overlay.items():
        out[key] = _deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing=TABLES, wanted=TABLES, style=st.sampled_from(['tables', 'inline', 'dotted']),
       block_style=st.sampled_from(['tables', 'inline', 'dotted']), crlf=st.booleans())
def test_absent_of_a_file_holding_the_block_in_any_spelling(existing, wanted, style, block_style, crlf):
    text = render(_deep_merge(existing, wanted), style)
    if crlf:
        text = text.replace('\n', '\r\n')
    block = render(wanted, block_style)
    try:
        before = tomllib.loads(text.replace('\r\n', '\n'))
    except tomllib.TOMLDecodeError:
        return  # a dotted rendering of an empty table next to its keys: not a file anyone has
    result = merge_config(text, block, state='absent')     # never raises for a file present accepts
    assert load(result.text) == deep_remove(before, tomllib.loads(block))
    assert not merge_config(result.text, block, state='absent').changed
    if crlf and '\n' in result.text:
        assert result.text.count('\n') == result.text.count('\r\n')


@hsettings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing=TABLES, wanted=TABLES, style=st.sampled_from(['tables', 'inline', 'dotted']), crlf=st.booleans())
def test_present_absent_present_on_generated_files(existing, wanted, style, crlf):
    text = render(existing, style)
    if crlf:
        text = text.replace('\n', '\r\n')
    block = render(wanted, 'tables')
    try:
        tomllib.loads(text.replace('\r\n', '\n'))
        present = merge_config(text, block)
    except (tomllib.TOMLDecodeError, TomlMergeError):
        return
    absent = merge_config(present.text, block, state='absent')
    assert load(absent.text) == deep_remove(present.data, tomllib.loads(block))
    again = merge_config(absent.text, block)
    assert again.data == present.data


# --- provider tables in every state a user may have left them --------------------------------------

PROVIDER_FIELDS = st.fixed_dictionaries({}, optional={
    'name': st.sampled_from(['OpenAI', 'Local', '', ' ']), 'base_url': st.sampled_from(['http://a', 'http://b']),
    'env_key': st.just('SOME_VAR'), 'env_key_instructions': st.just('export SOME_VAR'),
    'experimental_bearer_token': st.just('sk-bearer-token-value'), 'auth': st.just({'command': 'get-token'}),
    'wire_api': st.just('responses'), 'request_max_retries': st.integers(0, 9),
    'http_headers': st.just({'X-Team': 'platform'}), 'requires_openai_auth': st.booleans(),
})
USER_CONFIGS = st.fixed_dictionaries({}, optional={
    'model_provider': st.sampled_from(['OpenAI', 'local', 'openai', 'gone']),
    'model_providers': st.dictionaries(st.sampled_from(['OpenAI', 'local']), PROVIDER_FIELDS, min_size=1),
    'profiles': st.just({'p': {'model_provider': 'OpenAI', 'model': 'm'}}),
    'model': st.just('mine'),
})


@hsettings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing=USER_CONFIGS, style=st.sampled_from(['tables', 'inline', 'dotted']),
       spelling=st.sampled_from(sorted(BLOCK_SPELLINGS)))
def test_provider_tables_after_deploy_and_offboarding(existing, style, spelling):
    text = render(existing, style)
    block = BLOCK_SPELLINGS[spelling]
    present = merge_config(text, block, strip_credentials=True)
    data = load(present.text)
    ours = data['model_providers']['OpenAI']
    assert not set(ours) & {'env_key', 'env_key_instructions', 'experimental_bearer_token', 'auth'}
    before_ours = existing.get('model_providers', {}).get('OpenAI', {})
    assert sorted(present.removed_credentials) == sorted(  # in the file's order, which the spelling decides
        'model_providers.OpenAI.%s' % key for key in before_ours
        if key in ('env_key', 'env_key_instructions', 'experimental_bearer_token', 'auth'))
    assert 'sk-bearer-token-value' not in ' '.join(present.removed_credentials)
    local = data.get('model_providers', {}).get('local')
    if local is not None:                                   # not managed: kept as it was
        assert local == existing['model_providers']['local']
    assert not merge_config(present.text, block, strip_credentials=True).changed

    absent = merge_config(present.text, block, state='absent')
    after = load(absent.text)
    assert 'OpenAI' not in after.get('model_providers', {})
    selected = after.get('model_provider')
    assert selected is None or selected in after.get('model_providers', {}) or selected in ('openai',)
    validate_config(absent.data, None)                      # offboarding: never an error
    assert not merge_config(absent.text, block, state='absent').changed
