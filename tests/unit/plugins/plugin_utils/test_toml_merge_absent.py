# -*- coding: utf-8 -*-
"""``state: absent`` (offboarding): every spelling ``present`` accepts, and a result Codex loads."""
from __future__ import annotations

import os
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    TomlMergeError, desired_data, merge_config, validate_config,
)

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, '..', '..', 'fixtures', 'dashboard-block.toml'), encoding='utf-8') as _handle:
    DASHBOARD_BLOCK = _handle.read()
CORPUS = os.path.join(HERE, 'fixtures', 'real_world')


def corpus(name):
    with open(os.path.join(CORPUS, name), encoding='utf-8', newline='') as handle:
        return handle.read()


def offboard(text, block=DASHBOARD_BLOCK, settings=None):
    result = merge_config(text, block, settings, 'absent')
    again = merge_config(result.text, block, settings, 'absent')
    assert again.text == result.text and not again.changed, 'absent is not idempotent'
    return result


# --- 1. a provider table that loses name/base_url goes entirely ------------------------------------

def test_fixture_09_provider_with_extra_keys_goes_entirely():
    present = merge_config(corpus('09-existing-provider-extra-keys.toml'), DASHBOARD_BLOCK)
    result = offboard(present.text)
    data = tomllib.loads(result.text)
    assert 'model_providers' not in data
    assert 'model_provider' not in data
    assert result.removed_with_provider == ['model_providers.OpenAI.request_max_retries',
                                            'model_providers.OpenAI.stream_idle_timeout_ms',
                                            'model_providers.OpenAI.http_headers']
    validate_config(result.data, desired_data(DASHBOARD_BLOCK))


def test_provider_losing_only_base_url_goes_too():
    existing = '[model_providers.corp]\nname = "Corp"\nbase_url = "http://x"\nstream_max_retries = 2\n'
    result = offboard(existing, block='[model_providers.corp]\nbase_url = "http://x"\n')
    assert result.text == ''
    assert result.removed_with_provider == ['model_providers.corp.name', 'model_providers.corp.stream_max_retries']


def test_other_providers_are_kept():
    existing = ('model_provider = "local"\n[model_providers.local]\nname = "Local"\nbase_url = "http://l"\n'
                '[model_providers.OpenAI]\nname = "OpenAI"\nbase_url = "http://x"\nextra = 1\n')
    result = offboard(existing, block='[model_providers.OpenAI]\nname = "OpenAI"\nbase_url = "http://x"\n')
    assert tomllib.loads(result.text) == {'model_provider': 'local',
                                          'model_providers': {'local': {'name': 'Local', 'base_url': 'http://l'}}}
    assert result.removed_with_provider == ['model_providers.OpenAI.extra']


def test_model_provider_left_pointing_at_a_removed_provider_goes():
    existing = ('model_provider = "OpenAI"\nmodel = "x"\n[model_providers.OpenAI]\nname = "OpenAI"\n'
                'base_url = "http://x"\n[profiles.p]\nmodel_provider = "OpenAI"\nmodel = "y"\n'
                '[profiles.q]\nmodel_provider = "openai"\n')
    result = offboard(existing, block='[model_providers.OpenAI]\nname = "OpenAI"\nbase_url = "http://x"\n')
    assert tomllib.loads(result.text) == {'model': 'x', 'profiles': {'p': {'model': 'y'},
                                                                     'q': {'model_provider': 'openai'}}}
    assert result.removed_with_provider == ['model_provider', 'profiles.p.model_provider']


def test_model_provider_naming_a_builtin_or_kept_provider_stays():
    existing = 'model_provider = "ollama"\n[model_providers.OpenAI]\nname = "OpenAI"\nbase_url = "http://x"\n'
    result = offboard(existing, block='[model_providers.OpenAI]\nname = "OpenAI"\n')
    assert tomllib.loads(result.text) == {'model_provider': 'ollama'}


def test_nameless_provider_named_by_the_block_goes():
    # [model_providers.OpenAI] holding only http_headers: Codex refuses it ("provider name must not be empty")
    present = merge_config(corpus('24-nested-implicit-supertable.toml'), DASHBOARD_BLOCK)
    result = offboard(present.text)
    data = tomllib.loads(result.text)
    assert sorted(data['model_providers']) == ['local']
    assert '[model_providers.OpenAI]' not in result.text
    assert result.removed_with_provider == ['model_providers.OpenAI.http_headers']


def test_validate_refuses_a_named_provider_without_a_name():
    with pytest.raises(TomlMergeError, match='model_providers.OpenAI has no name'):
        validate_config({'model_providers': {'OpenAI': {'base_url': 'http://x'}}},
                        {'model_providers': {'OpenAI': {'base_url': 'http://x'}}})
    warnings = validate_config({'model_providers': {'mine': {'name': ' '}}}, {})
    assert any('model_providers.mine' in warning for warning in warnings)


# --- 2. every spelling that present accepts --------------------------------------------------------

def test_dotted_keys_absent_does_not_crash():
    result = offboard('a.c = 1\na.d = 2\nkeep = 1\n', block='a.c = 1\na.d = 2\n')
    assert result.text == 'keep = 1\n'


def test_fixture_07_dotted_top_level_offboards():
    present = merge_config(corpus('07-dotted-top-level.toml'), DASHBOARD_BLOCK)
    result = offboard(present.text)
    assert tomllib.loads(result.text) == {'features': {'web_search_request': True}}


@pytest.mark.parametrize('existing', [
    pytest.param('x = 1\na.c = 1\nb = 2\na.d = 2\n', id='dotted-interleaved'),
    pytest.param('a = { c = 1, d = 2 }\nx = 1\nb = 2\n', id='inline'),
    pytest.param('x = 1\nb = 2\n[a]\nc = 1\nd = 2\n', id='header'),
    pytest.param('x = 1\nb = 2\n[a.e]\nf = 1\n[a]\nc = 1\nd = 2\n', id='header-after-subtable'),
    pytest.param('x = 1\nb = 2\n[q]\n[a]\nc = 1\n[q.r]\n[a.z]\n[a.e]\n', id='out-of-order'),
    pytest.param('x = 1\nb = 2\n[a.e]\n[a]\nc = 1\nd = 2\n', id='implicit-super-table'),
    pytest.param('x = 1\r\nb = 2\r\n\r\n[a]\r\nc = 1\r\nd = 2\r\n', id='crlf'),
    pytest.param('x = 1\nb = 2\n[t]\na.c = 1\na.d = 2\n', id='dotted-in-table'),
])
def test_absent_accepts_every_spelling(existing):
    block = 'b = 2\n[a]\nc = 1\nd = 2\n[t.a]\nc = 1\n'
    result = offboard(existing, block=block)
    data = tomllib.loads(result.text)
    assert 'b' not in data and 'c' not in data.get('a', {}) and 'd' not in data.get('a', {})
    assert data['x'] == 1
    if '\r\n' in existing:
        assert result.text.count('\n') == result.text.count('\r\n')


def test_absent_on_crlf_leaves_no_extra_blank_lines():
    existing = '# head\r\n\r\nkeep = 1\r\n\r\n[tui]\r\nx = 1\r\n'
    present = merge_config(existing, DASHBOARD_BLOCK)
    assert merge_config(present.text, DASHBOARD_BLOCK, state='absent').text == existing


@pytest.mark.parametrize('name', ['01-typical-user.toml', '17-comments-between-keys.toml'])
def test_absent_after_present_leaves_no_extra_blank_lines(name):
    original = corpus(name)
    result = offboard(merge_config(original, DASHBOARD_BLOCK).text)
    assert '\n\n\n' not in result.text or '\n\n\n' in original


def test_tomlkit_failure_is_a_toml_merge_error(monkeypatch):
    from ansible_collections.bytes4096.codex.plugins.plugin_utils import _toml_merge

    def broken(*args, **kwargs):
        raise IndexError('list index out of range')
    monkeypatch.setattr(_toml_merge.tomlkit, 'parse', broken)
    with pytest.raises(TomlMergeError) as err:
        merge_config('a.c = 1\nkeep = 1\n', 'a.c = 1\n', state='absent', source='/h/.codex/config.toml')
    assert err.value.source == '/h/.codex/config.toml'


# --- nothing but TomlMergeError escapes ------------------------------------------------------------

TOMLISH = st.lists(st.sampled_from(list('ab.=[]{}",\'\n\r #1-tx') + ['model_providers', 'name', ' = ', '"s"', '[[a]]\n',
                                                                     'a = 1\n', '[a]\n', 'a.b = 2\n', '\ufeff']),
                   max_size=30).map(''.join)


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing=TOMLISH, block=st.sampled_from(['a.b = 1\n', 'a = { b = 1 }\n', '[a]\nb = 1\n', '[[a]]\nb = 1\n',
                                               'x = 1\n[model_providers.a]\nname = "s"\n', DASHBOARD_BLOCK]),
       state=st.sampled_from(['present', 'absent']), strip=st.booleans())
def test_only_toml_merge_errors_escape(existing, block, state, strip):
    try:
        result = merge_config(existing, block, state=state, strip_credentials=strip)
    except TomlMergeError as exc:
        assert exc.source in ('config.toml', 'block', 'settings')
        return
    tomllib.loads(result.text.lstrip('\ufeff'))


@pytest.mark.parametrize('existing', ['a = ' + '[' * 5000 + ']' * 5000 + '\n', 'a = ' + '{b=' * 300 + '1' + '}' * 300 + '\n',
                                      'a.' * 900 + 'b = 1\n'])
@pytest.mark.parametrize('state', ['present', 'absent'])
def test_deep_nesting_is_an_error_not_a_crash(existing, state):
    try:
        merge_config(existing, 'x = 1\n', state=state)
    except TomlMergeError:
        pass
