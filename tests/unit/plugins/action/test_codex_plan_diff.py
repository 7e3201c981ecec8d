# -*- coding: utf-8 -*-
"""The diff: masked config.toml text, fingerprints only for auth.json, never a secret."""
from __future__ import annotations

import glob
import os

import pytest

from ansible_collections.bytes4096.codex.plugins.plugin_utils import _codex_plan_diff as diff_mod

SECRET_CONFIG = '''model = "gpt-5.5"
api_key = "sk-top-level-secret1"

[model_providers.OpenAI]
name = "OpenAI"
experimental_bearer_token = """
sk-multiline-secret2
"""
http_headers = { "X-Team" = "platform-header3", Authorization = "Bearer sk-header-secret4" }

[mcp_servers.gh]
command = "gh-mcp"
env = { GITHUB_PERSONAL_ACCESS_TOKEN = "ghp_envsecret5", LOG = "infolevel6" }

[mcp_servers.other.env]
PASSWORD = "hunter2-secret7"

[db]
Password = 'literal-secret8'
passwd = ["one-secret9", "two-secret10"]
client_secret = "cs-secret11"
'''
SECRETS = ['sk-top-level-secret1', 'sk-multiline-secret2', 'platform-header3', 'sk-header-secret4',
           'ghp_envsecret5', 'infolevel6', 'hunter2-secret7', 'literal-secret8', 'one-secret9', 'two-secret10',
           'cs-secret11']
CORPUS = os.path.join(os.path.dirname(__file__), '..', 'plugin_utils', 'fixtures', 'real_world')


@pytest.fixture(params=['engine', 'local'])
def masker(request, monkeypatch):
    if request.param == 'engine':
        if diff_mod._engine_mask is None:
            pytest.skip('merge engine has no mask_secrets yet')
    else:
        monkeypatch.setattr(diff_mod, '_engine_mask', None)
    return diff_mod.mask_config_text


def test_no_secret_looking_value_reaches_the_diff(masker):
    entry = diff_mod.config_diff('/h/config.toml', SECRET_CONFIG, SECRET_CONFIG.replace('gpt-5.5', 'gpt-6'))
    for secret in SECRETS:
        assert secret not in entry['before'] and secret not in entry['after'], secret
    assert 'gpt-5.5' in entry['before'] and 'gpt-6' in entry['after'] and 'gh-mcp' in entry['after']


def test_crlf_dotted_and_bom_spellings(masker):
    text = '\ufeffmodel_providers.x.experimental_bearer_token = "sk-dotted-secret"\r\nmodel = "m"\r\n'
    masked = masker(text)
    assert 'sk-dotted-secret' not in masked and 'model = "m"' in masked


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(CORPUS, '*.toml'))))
def test_corpus_texts_keep_their_shape(masker, path):
    with open(path, encoding='utf-8', newline='') as handle:
        text = handle.read()
    masked = masker(text)
    assert masked != diff_mod.HIDDEN
    assert masked.count('\n') <= text.count('\n')


def test_unparsable_text_is_hidden_not_shown(masker):
    assert masker('token = "sk-unclosed-secret\n') == diff_mod.HIDDEN


def test_a_masker_that_lets_a_secret_through_is_caught(monkeypatch):
    monkeypatch.setattr(diff_mod, '_engine_mask', lambda text: text)
    monkeypatch.setattr(diff_mod, '_engine_rule', None)
    assert diff_mod.mask_config_text(SECRET_CONFIG) == diff_mod.HIDDEN


def test_local_rule():
    rule = diff_mod.local_is_secret_path
    assert rule(('api_key',)) and rule(('a', 'http_headers', 'X')) and rule(('mcp_servers', 's', 'env', 'A'))
    assert not rule(('shell_environment_policy', 'env')) and not rule(('model',))


def test_auth_diff_holds_only_fingerprints():
    entry = diff_mod.auth_diff('/h/auth.json', None, 'sha256:0011223344556677')
    assert entry == {'before_header': '/h/auth.json', 'after_header': '/h/auth.json',
                     'before': 'OPENAI_API_KEY fingerprint: (none)\n',
                     'after': 'OPENAI_API_KEY fingerprint: sha256:0011223344556677\n'}
