# -*- coding: utf-8 -*-
"""Table-driven tests and properties of the controller-side TOML merge engine."""
from __future__ import annotations

import os
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    TomlMergeError, desired_data, key_fingerprint, merge_config, normalize_api_key, validate_config,
)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'dashboard-block.toml'),
          encoding='utf-8') as _block_file:
    DASHBOARD_BLOCK = _block_file.read()
DASHBOARD = tomllib.loads(DASHBOARD_BLOCK)


def merged(existing, block=DASHBOARD_BLOCK, settings=None, state='present'):
    result = merge_config(existing, block, settings, state)
    again = merge_config(result.text, block, settings, state)
    assert again.text == result.text, 'not idempotent to the byte'
    assert again.changed is False
    return result


def assert_has_dashboard(text):
    data = tomllib.loads(text.lstrip('\ufeff'))
    for key, value in DASHBOARD.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                assert data[key][sub] == subvalue
        else:
            assert data[key] == value
    return data


# --- every spelling of the same keys -------------------------------------------------------------

SPELLINGS = [
    pytest.param('[features]\ngoals = false\n', id='table-header'),
    pytest.param('features.goals = false\n', id='dotted-top-level'),
    pytest.param('features = { goals = false }\n', id='inline-table'),
    pytest.param('[model_providers.OpenAI]\nname = "old"\n[features]\ngoals = false\n', id='implicit-super-table'),
    pytest.param('[model_providers]\nOpenAI = { name = "old", base_url = "http://old" }\n', id='inline-in-header'),
    pytest.param('model_providers.OpenAI.name = "old"\n', id='dotted-deep'),
    pytest.param('[model_providers]\nOpenAI.name = "old"\n', id='dotted-in-table'),
    pytest.param('[model_providers.x]\nname = "x"\n[tui]\na = 1\n[model_providers.OpenAI]\nname = "old"\n',
                 id='out-of-order-tables'),
    pytest.param('model_providers = { OpenAI = { name = "a" } }\n', id='nested-inline'),
    pytest.param("model = 'gpt-5.5'\n", id='literal-string-equal-value'),
    pytest.param('"model" = "old"\n', id='quoted-key'),
    pytest.param('[ features ]\n  goals = false   # tweak\n', id='spaced-header-comment'),
]


@pytest.mark.parametrize('existing', SPELLINGS)
def test_every_spelling_is_recognised(existing):
    result = merged(existing)
    data = assert_has_dashboard(result.text)
    assert result.text.count('[features]') + result.text.count('[ features ]') <= 1
    # exactly one definition of each key: tomllib refuses duplicates, so parsing proves it
    assert set(data) >= set(DASHBOARD)


def test_table_header_updated_in_place_and_other_keys_kept():
    existing = '# my settings\n\n[features]\ngoals = false  # was off\nother = 1\n'
    result = merged(existing)
    assert '[features]\ngoals = true  # was off\nother = 1\n' in result.text
    assert result.text.count('[features]') == 1
    assert result.text.startswith('# my settings\n\nmodel_provider = "OpenAI"\n')


def test_dotted_key_stays_dotted():
    result = merged('features.goals = false\n[tui]\nnotifications = true\n')
    assert 'features.goals = true\n' in result.text
    assert '[features]' not in result.text
    assert '[tui]\nnotifications = true\n' in result.text


def test_inline_table_updated_inside_the_inline_table():
    result = merged('features = { goals = false, x = "y" }\n')
    assert 'features = { goals = true, x = "y" }' in result.text
    assert '[features]' not in result.text


def test_new_top_level_keys_go_before_any_table():
    existing = '[tui]\nnotifications = true\n'
    result = merged(existing)
    first_table = result.text.index('[')
    for key in ('model_provider', 'model ', 'review_model', 'model_reasoning_effort'):
        assert result.text.index(key) < first_table
    assert result.text.endswith('[tui]\nnotifications = true\n\n[model_providers.OpenAI]\nname = "OpenAI"\n'
                                'base_url = "https://api.4096bytes.com"\nwire_api = "responses"\n'
                                'requires_openai_auth = true\n\n[features]\ngoals = true\n')


def test_existing_top_level_key_updated_where_it_stands():
    existing = '[x]\n'.join(['approval_policy = "never"\nmodel = "old"  # chosen by me\n', 'y = 1\n'])
    result = merged(existing)
    assert 'model = "gpt-5.5"  # chosen by me\ny = 1' not in result.text  # y belongs to [x]
    assert 'approval_policy = "never"\nmodel = "gpt-5.5"  # chosen by me\n[x]\ny = 1\n' in result.text
    assert len(__import__('re').findall(r'(?m)^model = ', result.text)) == 1


def test_empty_file_gets_the_block():
    result = merged('')
    assert tomllib.loads(result.text) == DASHBOARD
    assert result.changed


def test_missing_file_none():
    assert merged(None).text == merged('').text


def test_comments_only_file_keeps_comments():
    existing = '# Codex config, managed partly by hand\n# see docs\n'
    result = merged(existing)
    assert existing in result.text
    assert_has_dashboard(result.text)


def test_crlf_file_stays_crlf():
    existing = '# hi\r\n\r\n[tui]\r\nnotifications = true\r\n'
    result = merged(existing)
    assert '\n' not in result.text.replace('\r\n', '')
    assert result.text.startswith('# hi\r\n\r\nmodel_provider = "OpenAI"\r\n')
    assert '[tui]\r\nnotifications = true\r\n' in result.text


def test_bom_and_unicode_preserved():
    existing = '\ufeff# Grüße ✓\n\n[tui]\nname = "Zoë 🚀"  # ünïcode\n'
    result = merged(existing)
    assert result.text.startswith('\ufeff# Grüße ✓\n\n')
    assert '[tui]\nname = "Zoë 🚀"  # ünïcode\n' in result.text
    assert_has_dashboard(result.text)


def test_unchanged_file_returned_byte_for_byte():
    existing = merged("# x\r\n[tui]\r\na = 'b'\r\n").text
    again = merge_config(existing, DASHBOARD_BLOCK)
    assert again.text is existing or again.text == existing
    assert not again.changed


def test_equal_value_in_other_quoting_is_not_rewritten():
    existing = merged('').text.replace('model = "gpt-5.5"', "model = 'gpt-5.5'")
    result = merge_config(existing, DASHBOARD_BLOCK)
    assert not result.changed and result.text == existing


def test_int_float_bool_are_different_values():
    assert merge_config('x = 1\n', None, {'x': 1.0}).text == 'x = 1.0\n'
    assert merge_config('x = 1\n', None, {'x': True}).text == 'x = true\n'
    assert not merge_config('x = 1\n', None, {'x': 1}).changed


def test_settings_override_block():
    result = merged('', settings={'model_providers': {'OpenAI': {'base_url': 'http://127.0.0.1:18080'}},
                                  'model': 'other'})
    data = tomllib.loads(result.text)
    assert data['model_providers']['OpenAI']['base_url'] == 'http://127.0.0.1:18080'
    assert data['model_providers']['OpenAI']['name'] == 'OpenAI'
    assert data['model'] == 'other'
    assert len(__import__('re').findall(r'(?m)^model = ', result.text)) == 1


def test_settings_only_and_nested_new_table():
    result = merged('[tui]\n', block=None, settings={'shell_environment_policy': {'inherit': 'core'}})
    assert tomllib.loads(result.text) == {'tui': {}, 'shell_environment_policy': {'inherit': 'core'}}


def test_new_table_under_dotted_parent_keeps_meaning():
    existing = 'a.b.c = 1\na.b.d = 2\n[x]\ny = 1\n'
    result = merged(existing, block='[a.e]\nf = 1\n')
    assert tomllib.loads(result.text) == {'a': {'b': {'c': 1, 'd': 2}, 'e': {'f': 1}}, 'x': {'y': 1}}


def test_value_becomes_table_and_back():
    result = merged('features = "x"\n[tui]\n')
    assert tomllib.loads(result.text)['features'] == {'goals': True}
    back = merged(result.text, block=None, settings={'features': 'x'})
    assert tomllib.loads(back.text)['features'] == 'x'


def test_arrays_replaced_as_values():
    result = merged('notify = ["a", "b"]  # keep comment\n', block='notify = ["c"]\n')
    assert result.text == 'notify = ["c"]  # keep comment\n'


# --- state: absent ------------------------------------------------------------------------------

def test_absent_removes_what_the_block_names_and_nothing_else():
    user = '# mine\n\n[tui]\nnotifications = true\n[features]\nother = 1\n'
    present = merged(user).text
    removed = merged(present, state='absent').text
    data = tomllib.loads(removed)
    assert data == {'tui': {'notifications': True}, 'features': {'other': 1}}
    assert removed.startswith('# mine\n')
    assert '[tui]\nnotifications = true\n' in removed


def test_absent_on_a_file_of_only_ours_empties_it():
    assert merged(merged('').text, state='absent').text == ''


def test_absent_when_nothing_named_is_there_changes_nothing():
    existing = '[tui]\na = 1\n'
    result = merge_config(existing, DASHBOARD_BLOCK, state='absent')
    assert not result.changed and result.text == existing


def test_absent_by_name_regardless_of_value():
    result = merged('model = "mine"\nkeep = 1\n', block='model = "gpt-5.5"\n', state='absent')
    assert result.text == 'keep = 1\n'


# --- errors -------------------------------------------------------------------------------------

def test_broken_config_names_file_line_column():
    with pytest.raises(TomlMergeError) as err:
        merge_config('a = 1\n[tui\nb = 2\n', DASHBOARD_BLOCK, source='/home/alice/.codex/config.toml')
    assert err.value.source == '/home/alice/.codex/config.toml'
    assert err.value.line == 2 and err.value.column is not None
    assert str(err.value).startswith('/home/alice/.codex/config.toml, line 2, column ')


def test_broken_block_names_block():
    with pytest.raises(TomlMergeError) as err:
        merge_config('', 'model = \n')
    assert err.value.source == 'block' and err.value.line == 1


def test_duplicate_key_in_config_is_refused():
    with pytest.raises(TomlMergeError) as err:
        merge_config('a = 1\na = 2\n', DASHBOARD_BLOCK)
    assert err.value.line == 2


def test_second_features_table_in_config_is_refused():
    with pytest.raises(TomlMergeError):
        merge_config('[features]\na = 1\n[features]\nb = 2\n', DASHBOARD_BLOCK)


def test_null_in_settings_is_refused():
    with pytest.raises(TomlMergeError, match='settings.model is null'):
        merge_config('', None, {'model': None})


def test_model_provider_must_name_a_provider():
    result = merge_config('', 'model_provider = "nowhere"\n')
    with pytest.raises(TomlMergeError, match="model_provider = 'nowhere' names no provider"):
        validate_config(result.data, desired_data('model_provider = "nowhere"\n'))


@pytest.mark.parametrize('builtin', ['openai', 'ollama', 'lmstudio', 'amazon-bedrock'])
def test_builtin_provider_ok_without_block(builtin):
    data = merge_config('', 'model_provider = "%s"\n' % builtin).data
    assert validate_config(data, {}) == []


def test_builtin_provider_cannot_be_overridden():
    block = 'model_provider = "openai"\n[model_providers.openai]\nbase_url = "http://x"\n'
    data = merge_config('', block).data
    with pytest.raises(TomlMergeError, match='built-in provider'):
        validate_config(data, desired_data(block))


def test_chat_wire_api_refused():
    block = DASHBOARD_BLOCK.replace('"responses"', '"chat"')
    with pytest.raises(TomlMergeError, match='wire_api'):
        validate_config(merge_config('', block).data, desired_data(block))


def test_dashboard_block_validates():
    assert validate_config(merge_config('', DASHBOARD_BLOCK).data, DASHBOARD) == []


# --- keys ---------------------------------------------------------------------------------------

def test_fingerprint_format():
    assert key_fingerprint('sk-test') == 'sha256:' + __import__('hashlib').sha256(b'sk-test').hexdigest()[:16]
    assert key_fingerprint('sk-test').startswith('sha256:') and len(key_fingerprint('sk-test')) == 23


@pytest.mark.parametrize('raw', ['  sk-abc\n', '\tsk-abc', 'sk-abc\r\n'])
def test_key_stripped(raw):
    assert normalize_api_key(raw) == 'sk-abc'


@pytest.mark.parametrize('raw', ['', '   \n', 'sk-a\nbc', 'sk a', 'sk-\x00abc', 'sk-\u200babc'])
def test_bad_keys_refused_without_echo(raw):
    with pytest.raises(TomlMergeError) as err:
        normalize_api_key(raw)
    text = str(err.value)
    core = raw.strip()
    for piece in ('sk-a', 'abc', 'bc'):
        if piece in core:
            assert piece not in text


# --- leftovers of a block pasted below a table -----------------------------------------------------

def test_paste_below_features_is_repaired():
    existing = '[features]\ngoals = true\nmodel = "gpt-5"\n'
    result = merged(existing)
    data = assert_has_dashboard(result.text)
    assert data['features'] == {'goals': True}
    assert result.removed_leftovers == ['features.model']
    assert result.text.index('model = "gpt-5.5"') < result.text.index('[features]')


def test_paste_below_projects_is_repaired_and_path_quoted():
    existing = ('[projects."/home/a/dir with.dots"]\ntrust_level = "trusted"\nmodel = "o3"\n'
                'model_provider = "OpenAI"\n')
    result = merged(existing)
    data = assert_has_dashboard(result.text)
    assert data['projects'] == {'/home/a/dir with.dots': {'trust_level': 'trusted'}}
    assert result.removed_leftovers == ['projects."/home/a/dir with.dots".model',
                                        'projects."/home/a/dir with.dots".model_provider']


@pytest.mark.parametrize('existing', [
    pytest.param('[profiles.deep]\nmodel = "o3"\nmodel_provider = "openai"\nmodel_reasoning_effort = "high"\n',
                 id='profile-keys-are-meant'),
    pytest.param('[features]\nunified_exec = false\ndisable_response_storage = true\n', id='one-boolean-feature'),
    pytest.param('[sandbox_workspace_write]\nnetwork_access = true\n', id='legit-bool-network-access'),
    pytest.param('[projects."/x"]\ntrust_level = "trusted"\nmodel = "o3"\n', id='single-copy-elsewhere'),
    pytest.param('[mcp_servers.x.env]\nmodel = "o3"\nnetwork_access = 1\n', id='other-types'),
])
def test_user_tables_that_are_not_a_paste_are_kept(existing):
    result = merged(existing)
    assert result.removed_leftovers == []
    before = tomllib.loads(existing)
    data = tomllib.loads(result.text)
    for table, values in before.items():
        for key, value in values.items():
            assert data[table][key] == value


def test_absent_does_not_touch_leftovers():
    existing = '[features]\ngoals = true\nmodel = "gpt-5"\n'
    result = merge_config(existing, '[features]\ngoals = true\n', None, 'absent')
    assert tomllib.loads(result.text) == {'features': {'model': 'gpt-5'}}


# --- properties ---------------------------------------------------------------------------------

BARE = st.text(alphabet='abcdefghijklmnopqrstuvwxyz_-', min_size=1, max_size=6)
SCALARS = st.one_of(
    st.booleans(), st.integers(min_value=-2 ** 40, max_value=2 ** 40),
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
    """Render plain data as TOML in one of several spellings (the existing user file)."""
    import tomlkit
    if style == 'inline':
        doc = tomlkit.document()
        for key, value in data.items():
            doc[key] = _inline(value) if isinstance(value, dict) else value
        return doc.as_string()
    if style == 'dotted':
        lines = []
        for path, value in _leaves(data):
            lines.append('%s = %s' % ('.'.join('"%s"' % p if '-' in p else p for p in path),
                                      tomlkit.item(value).as_string()))
        return ''.join(line + '\n' for line in lines)
    return tomlkit.dumps(data)


def _inline(value):
    import tomlkit
    table = tomlkit.inline_table()
    for key, sub in value.items():
        table[key] = _inline(sub) if isinstance(sub, dict) else sub
    return table


def _leaves(data, prefix=()):
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, prefix + (key,))
        elif not isinstance(value, dict):
            yield prefix + (key,), value


def _deep_merge(base, overlay):
    out = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _toml_type(value):
    return 'bool' if isinstance(value, bool) else type(value).__name__


def _strip_paste_leftovers(existing, wanted):
    """The documented rule, written independently: inside any table outside [profiles], copies of
    top-level scalar keys the task sets (same TOML type) go when there are two or more of them, or
    when the table is [features] and the copy is not a boolean."""
    top = {k: v for k, v in wanted.items() if not isinstance(v, dict)}

    def strip(table, path):
        out = {}
        copies = [k for k, v in table.items()
                  if k in top and not isinstance(v, dict) and _toml_type(v) == _toml_type(top[k])]
        drop = len(copies) >= 2 or (path == ('features',) and copies and not isinstance(table[copies[0]], bool))
        for key, value in table.items():
            if drop and key in copies:
                continue
            out[key] = strip(value, path + (key,)) if isinstance(value, dict) else value
        return out

    return {k: strip(v, (k,)) if isinstance(v, dict) and k != 'profiles' else v for k, v in existing.items()}


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing=TABLES, wanted=TABLES, style=st.sampled_from(['tables', 'inline', 'dotted']),
       crlf=st.booleans(), comment=st.booleans())
def test_properties(existing, wanted, style, crlf, comment):
    text = render(existing, style)
    if comment:
        text = '# user header ✓\n\n' + text
    if crlf:
        text = text.replace('\n', '\r\n')
    block = render(wanted, 'tables')
    try:
        result = merge_config(text, block)
    except TomlMergeError as exc:
        # the only acceptable refusal: an honest "cannot merge without changing meaning"
        assert 'cannot merge' in str(exc)
        return
    body = result.text.lstrip('\ufeff')
    data = tomllib.loads(body)                      # result parses
    wanted_data = tomllib.loads(block)
    expected = _deep_merge(_strip_paste_leftovers(tomllib.loads(text), wanted_data), wanted_data)
    assert data == expected                          # values present, rest kept
    again = merge_config(result.text, block)         # idempotent to the byte
    assert again.text == result.text and not again.changed
    if comment:
        assert result.text.startswith('# user header ✓' + ('\r\n' if crlf else '\n'))
    if crlf and '\n' in text:
        assert '\n' not in result.text.replace('\r\n', '')


@hsettings(max_examples=100, deadline=None)
@given(existing=TABLES, unrelated=st.dictionaries(BARE.map(lambda k: 'u_' + k), SCALARS, max_size=3),
       wanted=TABLES)
def test_unrelated_lines_preserved_byte_for_byte(existing, unrelated, wanted):
    import tomlkit
    wanted = {k: v for k, v in wanted.items() if not k.startswith('u_')}
    head = tomlkit.dumps(unrelated)
    text = head + render(existing, 'tables')
    try:
        result = merge_config(text, render(wanted, 'tables'))
    except TomlMergeError as exc:
        assert 'cannot merge' in str(exc)
        return
    for line in head.splitlines(True):
        assert line in result.text


def test_merge_of_a_200_line_config_is_fast():
    import time
    lines = ['# generated for the speed test', '']
    lines += ['key_%d = "value %d"  # comment %d' % (i, i, i) for i in range(80)]
    for table in range(30):
        lines += ['', '[table_%d]' % table, 'a = %d' % table, 'b = "x"']
    lines += ['', '[features]', 'goals = false']
    text = '\n'.join(lines) + '\n'
    assert len(text.splitlines()) >= 200
    timings = []
    for dummy in range(5):  # CPU time of this process: other load on the machine does not count
        start = time.process_time()
        merge_config(text, DASHBOARD_BLOCK)
        timings.append(time.process_time() - start)
    assert min(timings) < 0.030, timings
