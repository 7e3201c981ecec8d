# -*- coding: utf-8 -*-
"""Values Codex refuses although tomllib accepts them, and the smaller rendering findings."""
from __future__ import annotations

import datetime
import os
import tomllib

import pytest

from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    TomlMergeError, merge_config, validate_config,
)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'dashboard-block.toml'),
          encoding='utf-8') as _handle:
    DASHBOARD_BLOCK = _handle.read()


@pytest.mark.parametrize('value', [2 ** 64, 2 ** 63, -2 ** 63 - 1])
def test_integer_outside_64_bit_in_settings_is_refused(value):
    with pytest.raises(TomlMergeError) as err:
        merge_config('', None, {'project_doc_max_bytes': value})
    assert err.value.source == 'settings'
    assert 'project_doc_max_bytes' in str(err.value) and '64-bit' in str(err.value)


def test_integer_outside_64_bit_in_block_is_refused_with_its_key():
    with pytest.raises(TomlMergeError) as err:
        merge_config('', '[model_providers.OpenAI]\nname = "x"\nrequest_max_retries = 18446744073709551616\n')
    assert err.value.source == 'block' and 'model_providers.OpenAI.request_max_retries' in str(err.value)


@pytest.mark.parametrize('value', [2 ** 63 - 1, -2 ** 63])
def test_64_bit_limits_themselves_are_written(value):
    assert tomllib.loads(merge_config('', None, {'x': value}).text) == {'x': value}


@pytest.mark.parametrize('value', [float('nan'), float('inf'), float('-inf')])
def test_nan_and_infinity_are_refused(value):
    with pytest.raises(TomlMergeError, match='settings.mcp_servers.x.tool_timeout_sec'):
        merge_config('', None, {'mcp_servers': {'x': {'tool_timeout_sec': value}}})


def test_nested_values_in_arrays_are_checked():
    with pytest.raises(TomlMergeError, match=r'settings.notify\[1\]'):
        merge_config('', None, {'notify': ['a', 2 ** 70]})


def test_lone_surrogate_is_refused_without_echo():
    with pytest.raises(TomlMergeError) as err:
        merge_config('', None, {'model': 'gpt\udcff-5'})
    assert 'settings.model' in str(err.value) and 'gpt' not in str(err.value).replace('settings.model', '')


def test_existing_out_of_range_value_is_reported_by_validate():
    warnings = validate_config({'x': 2 ** 64}, {})
    assert any('x' in warning and '64-bit' in warning for warning in warnings)


def test_dates_are_written():
    text = merge_config('', None, {'d': datetime.date(2026, 1, 2)}).text
    assert tomllib.loads(text) == {'d': datetime.date(2026, 1, 2)}


# --- top-level array of tables in the block --------------------------------------------------------

def test_top_level_array_of_tables_with_root_keys_in_the_file():
    existing = 'model = "x"\nkeep = 1\n\n[tui]\nnotifications = true\n'
    block = '[[hooks]]\nname = "a"\n\n[[hooks]]\nname = "b"\n'
    result = merge_config(existing, block)
    assert tomllib.loads(result.text) == {'model': 'x', 'keep': 1, 'tui': {'notifications': True},
                                          'hooks': [{'name': 'a'}, {'name': 'b'}]}
    assert result.text.startswith(existing)
    assert not merge_config(result.text, block).changed
    assert tomllib.loads(merge_config(result.text, block, state='absent').text) == tomllib.loads(existing)


# --- blank lines after a type change ---------------------------------------------------------------

def test_table_becomes_value_without_extra_blank_lines():
    existing = 'x = 1\n\n[features]\ngoals = true\n\n[tui]\na = 1\n'
    result = merge_config(existing, None, {'features': 'x'})
    assert '\n\n\n' not in result.text
    assert tomllib.loads(result.text) == {'x': 1, 'features': 'x', 'tui': {'a': 1}}


def test_value_becomes_table_without_extra_blank_lines():
    existing = 'features = "x"\n\nkeep = 1\n\n[tui]\na = 1\n'
    result = merge_config(existing, DASHBOARD_BLOCK)
    assert '\n\n\n' not in result.text


# --- inline tables keep TOML's usual spacing -------------------------------------------------------

def test_extended_inline_table_spacing():
    existing = 'model_providers = { OpenAI = { name = "OpenAI", base_url = "https://old.example.com" } }\n'
    result = merge_config(existing, DASHBOARD_BLOCK)
    line = [part for part in result.text.splitlines() if part.startswith('model_providers')][0]
    assert '",wire_api' not in line and ',requires' not in line
    assert ('model_providers = { OpenAI = { name = "OpenAI", base_url = "https://api.4096bytes.com", '
            'wire_api = "responses", requires_openai_auth = true } }') == line


@pytest.mark.parametrize('existing, expected', [
    ('p = {a=1}\n', 'p = {a=1, b = 2, c = 3}\n'),
    ('p = {}\n', 'p = {b = 2, c = 3}\n'),
    ('p = { }\n', 'p = { b = 2, c = 3 }\n'),
    ('p = { a = 1 }\n', 'p = { a = 1, b = 2, c = 3 }\n'),
])
def test_inline_table_growth_keeps_its_style(existing, expected):
    assert merge_config(existing, None, {'p': {'b': 2, 'c': 3}}).text == expected


# --- settings Codex 0.169 refuses outright ---------------------------------------------------------

@pytest.mark.parametrize('setting', ['profile = "p"\n', 'approval_policy = "untrusted"\n'])
def test_settings_codex_refuses_are_errors_when_asked_for(setting):
    data = tomllib.loads(setting)
    with pytest.raises(TomlMergeError, match='Codex'):
        validate_config(data, data)
    warnings = validate_config(data, {})
    assert len(warnings) == 1 and list(data)[0] in warnings[0]


@pytest.mark.parametrize('existing, removed, expected', [
    ('p = { a = 1, b = 2, c = 3 }\n', 'b', 'p = { a = 1, c = 3 }\n'),
    ('p = { a = 1, b = 2, c = 3 }\n', 'a', 'p = { b = 2, c = 3 }\n'),
    ('p = { a = 1, b = 2, c = 3 }\n', 'c', 'p = { a = 1, b = 2 }\n'),
    ('p = { a = 1, b = 2, c = 3, d = 4 }\n', 'bc', 'p = { a = 1, d = 4 }\n'),
    ('p = { a = 1, b = 2, c = 3, d = 4 }\n', 'abc', 'p = { d = 4 }\n'),
    ('p = {a=1,b=2}\n', 'a', 'p = {b=2}\n'),
])
def test_inline_table_shrink_keeps_its_style(existing, removed, expected):
    block = ''.join('p.%s = 0\n' % key for key in removed)
    assert merge_config(existing, block, state='absent').text == expected


def test_credential_removed_from_an_inline_provider_table_keeps_spacing():
    existing = ('model_provider = "OpenAI"\nmodel_providers = { OpenAI = { name = "OpenAI", env_key = "X", '
                'base_url = "http://x" } }\n')
    result = merge_config(existing, '[model_providers.OpenAI]\nname = "OpenAI"\n', strip_credentials=True)
    assert result.text == 'model_provider = "OpenAI"\nmodel_providers = { OpenAI = { name = "OpenAI", base_url = "http://x" } }\n'


# --- validate_config: what Codex 0.169 refuses in the whole file -----------------------------------

REFUSED_FILES = [
    pytest.param({'model_providers': {'openai': {'name': 'x'}}}, 'reserved', id='builtin-id-table'),
    pytest.param({'model_providers': {'mine': {'base_url': 'http://x'}}}, 'no name', id='nameless-provider'),
    pytest.param({'profile': 'p'}, 'profile', id='legacy-profile-selector'),
    pytest.param({'x': 2 ** 64}, '64-bit', id='huge-integer'),
]


@pytest.mark.parametrize('data, words', REFUSED_FILES)
def test_validate_warns_about_what_codex_refuses_in_a_users_file(data, words):
    warnings = validate_config(data, {})
    assert len(warnings) == 1 and words in warnings[0] and 'refuses' in warnings[0]


@pytest.mark.parametrize('data, words', REFUSED_FILES)
def test_validate_strict_refuses_what_codex_refuses(data, words):
    with pytest.raises(TomlMergeError, match=words):
        validate_config(data, {}, source='/h/.codex/config.toml', strict=True)
