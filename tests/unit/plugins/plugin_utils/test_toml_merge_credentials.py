# -*- coding: utf-8 -*-
"""Credential sources in a managed provider table would shadow the key written to auth.json."""
from __future__ import annotations

import os
import tomllib

import pytest

from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    TomlMergeError, credential_sources, merge_config,
)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'dashboard-block.toml'),
          encoding='utf-8') as _handle:
    DASHBOARD_BLOCK = _handle.read()

EXISTING = ('model_provider = "OpenAI"\n\n[model_providers.OpenAI]\nname = "OpenAI"\n'
            'env_key = "BYTES_KEY"  # old way\nenv_key_instructions = "export BYTES_KEY"\n'
            'experimental_bearer_token = "sk-inline-secret-value"\n\n'
            '[model_providers.OpenAI.auth]\ncommand = "get-token"\n\n'
            '[model_providers.azure]\nname = "Azure"\nenv_key = "AZURE_KEY"\n')


def test_without_strip_credentials_nothing_changes_in_behaviour():
    result = merge_config(EXISTING, DASHBOARD_BLOCK)
    data = tomllib.loads(result.text)
    assert data['model_providers']['OpenAI']['env_key'] == 'BYTES_KEY'
    assert result.removed_credentials == []


def test_strip_credentials_removes_every_source_of_the_managed_table():
    result = merge_config(EXISTING, DASHBOARD_BLOCK, strip_credentials=True)
    data = tomllib.loads(result.text)
    provider = data['model_providers']['OpenAI']
    assert provider == {'name': 'OpenAI', 'base_url': 'https://api.4096bytes.com', 'wire_api': 'responses',
                        'requires_openai_auth': True}
    assert data['model_providers']['azure'] == {'name': 'Azure', 'env_key': 'AZURE_KEY'}  # not managed
    assert result.removed_credentials == [
        'model_providers.OpenAI.env_key', 'model_providers.OpenAI.env_key_instructions',
        'model_providers.OpenAI.experimental_bearer_token', 'model_providers.OpenAI.auth']
    assert 'sk-inline-secret-value' not in repr(result.removed_credentials)
    again = merge_config(result.text, DASHBOARD_BLOCK, strip_credentials=True)
    assert not again.changed and again.removed_credentials == []


def test_the_table_model_provider_points_to_is_managed_too():
    existing = ('[model_providers.corp]\nname = "Corp"\nbase_url = "http://c"\nenv_key = "CORP"\n'
                'requires_openai_auth = true\n')
    result = merge_config(existing, 'model_provider = "corp"\n', strip_credentials=True)
    assert 'env_key' not in tomllib.loads(result.text)['model_providers']['corp']
    assert result.removed_credentials == ['model_providers.corp.env_key']


def test_dotted_spelling_is_stripped():
    existing = 'model_providers.OpenAI.env_key = "X"\nmodel_providers.OpenAI.name = "n"\n'
    result = merge_config(existing, DASHBOARD_BLOCK, strip_credentials=True)
    assert 'env_key' not in tomllib.loads(result.text)['model_providers']['OpenAI']


@pytest.mark.parametrize('key, value', [('env_key', '"MY_VAR"'), ('experimental_bearer_token', '"sk-very-secret"'),
                                        ('auth', '{ command = "x" }')])
def test_block_setting_a_credential_source_is_refused(key, value):
    block = DASHBOARD_BLOCK.replace('requires_openai_auth = true', '%s = %s' % (key, value))
    with pytest.raises(TomlMergeError) as err:
        merge_config('', block, strip_credentials=True)
    assert 'shadow auth.json' in str(err.value) and key in str(err.value)
    assert 'sk-very-secret' not in str(err.value) and 'MY_VAR' not in str(err.value)


def test_settings_setting_a_credential_source_is_refused():
    with pytest.raises(TomlMergeError, match='shadow auth.json') as err:
        merge_config('', DASHBOARD_BLOCK, {'model_providers': {'OpenAI': {'experimental_bearer_token': 'sk-zzz'}}},
                     strip_credentials=True)
    assert err.value.source == 'settings' and 'sk-zzz' not in str(err.value)


def test_credential_sources_helper():
    data = tomllib.loads(EXISTING)
    assert credential_sources(data, 'OpenAI') == ['env_key', 'experimental_bearer_token', 'auth']
    assert credential_sources(data, 'azure') == ['env_key']
    assert credential_sources(data, 'missing') == []
    assert credential_sources({}, 'OpenAI') == []
    assert credential_sources({'model_providers': 'x'}, 'OpenAI') == []
