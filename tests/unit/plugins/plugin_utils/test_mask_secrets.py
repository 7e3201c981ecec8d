# -*- coding: utf-8 -*-
"""mask_secrets: what a diff may show of a config.toml."""
from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge import (
    MASK_PLACEHOLDER, UNPARSABLE_MASKED, is_secret_path, mask_secrets,
)

CONFIG = '''# my config   (comment kept)
model = "gpt-5.5"
api_key = "sk-top-level-secret"   # inline comment
model_auto_compact_token_limit = 90000

[model_providers.OpenAI]
name = "OpenAI"
env_key = "BYTES_KEY"
experimental_bearer_token = """
sk-multiline-secret
"""
http_headers = { "X-Team" = "platform", Authorization = "Bearer sk-header-secret" }
env_http_headers = { "X-Key" = "HEADER_VAR" }

[mcp_servers.gh]
command = "gh-mcp"
bearer_token_env_var = "GH_TOKEN"
env = { GITHUB_PERSONAL_ACCESS_TOKEN = "ghp_envsecret", LOG = "info" }

[mcp_servers.other.env]
PASSWORD = "hunter2-secret"

[db]
Password = 'literal-secret'
passwd = ["one-secret", "two-secret"]
client_secret = "cs-secret"
private_key = "pk-secret"
monkey = "not-a-secret"
'''

SECRETS = ['sk-top-level-secret', 'sk-multiline-secret', 'sk-header-secret', 'platform', 'HEADER_VAR',
           'ghp_envsecret', 'info', 'hunter2-secret', 'literal-secret', 'one-secret', 'two-secret', 'cs-secret',
           'pk-secret']


def test_every_secret_is_masked_and_the_rest_kept():
    masked = mask_secrets(CONFIG)
    for secret in SECRETS:
        assert secret not in masked, secret
    data = tomllib.loads(masked)
    original = tomllib.loads(CONFIG)
    assert data['model'] == 'gpt-5.5'
    assert data['model_auto_compact_token_limit'] == 90000              # a limit, not a secret
    assert data['model_providers']['OpenAI']['env_key'] == 'BYTES_KEY'  # names a variable
    assert data['mcp_servers']['gh']['bearer_token_env_var'] == 'GH_TOKEN'
    assert data['db']['monkey'] == 'not-a-secret'
    assert data['api_key'] == MASK_PLACEHOLDER
    assert data['model_providers']['OpenAI']['http_headers'] == {'X-Team': MASK_PLACEHOLDER,
                                                                 'Authorization': MASK_PLACEHOLDER}
    assert data['db']['passwd'] == [MASK_PLACEHOLDER, MASK_PLACEHOLDER]
    assert set(data) == set(original)
    assert masked.startswith('# my config   (comment kept)\nmodel = "gpt-5.5"\n')
    assert 'api_key = "%s"   # inline comment\n' % MASK_PLACEHOLDER in masked
    assert '[mcp_servers.other.env]\n' in masked


def test_text_without_secrets_is_unchanged_to_the_byte():
    text = '\ufeff# x\r\n[tui]\r\nnotifications = true\r\n'
    assert mask_secrets(text) == text


def test_dotted_and_crlf_spellings():
    text = 'model_providers.OpenAI.experimental_bearer_token = "sk-dotted-secret"\r\nx.api_key = \'k1-secret\'\r\n'
    masked = mask_secrets(text)
    assert 'sk-dotted-secret' not in masked and 'k1-secret' not in masked
    assert masked.count('\r\n') == masked.count('\n') == 2


def test_key_in_a_comment_is_masked():
    masked = mask_secrets('# old: api_key = "sk-proj-abcdefghijklmnop"\nx = 1\n')
    assert 'sk-proj-abcdefghijklmnop' not in masked and masked.endswith('x = 1\n')


@pytest.mark.parametrize('text', ['a = \n', '[x\n', 'a = 1\na = 2\n', 'k = "sk-secret-in-broken" =\n'])
def test_unparsable_text_gives_a_fixed_message(text):
    assert mask_secrets(text) == UNPARSABLE_MASKED


def test_data_is_masked_as_a_copy():
    data = {'api_key': 'sk-1', 'model': 'm', 'mcp_servers': {'x': {'env': {'A': 'b'}}}}
    masked = mask_secrets(data)
    assert masked == {'api_key': MASK_PLACEHOLDER, 'model': 'm', 'mcp_servers': {'x': {'env': {'A': MASK_PLACEHOLDER}}}}
    assert data['api_key'] == 'sk-1'


@pytest.mark.parametrize('path, secret', [
    (('api_key',), True), (('model_providers', 'x', 'experimental_bearer_token'), True),
    (('x', 'OPENAI_API_KEY'), True), (('private_key',), True), (('key',), True), (('access_token',), True),
    (('db', 'passwd'), True), (('a', 'http_headers', 'X'), True), (('a', 'env_http_headers', 'X'), True),
    (('mcp_servers', 's', 'env', 'X'), True),
    (('model_providers', 'x', 'env_key'), False), (('mcp_servers', 's', 'bearer_token_env_var'), False),
    (('model',), False), (('monkey',), False), (('keyboard',), False), (('shell_environment_policy', 'env'), False),
    (('model_providers', 'x', 'env_key_instructions'), False),
])
def test_secret_path_rule(path, secret):
    assert is_secret_path(path) is secret


NAMES = st.sampled_from(['api_key', 'token', 'name', 'model', 'x', 'Password', 'env', 'http_headers', 'my-secret'])


@hsettings(max_examples=60, deadline=None)
@given(st.recursive(st.dictionaries(NAMES, st.text(min_size=8, max_size=12, alphabet='abcdefgh')),
                    lambda inner: st.dictionaries(NAMES, inner, max_size=3), max_leaves=8),
       st.sampled_from(['tables', 'inline']))
def test_property_no_secret_survives(data, style):
    import tomlkit
    if style == 'inline':
        doc = tomlkit.document()
        for key, value in data.items():
            doc[key] = _inline(value) if isinstance(value, dict) else value
        text = doc.as_string()
    else:
        text = tomlkit.dumps(data)
    masked = tomllib.loads(mask_secrets(text))
    for path, value in _leaves(data):
        node = masked
        for key in path:
            node = node[key]
        assert node == (MASK_PLACEHOLDER if is_secret_path(path) else value), path


def _inline(value):
    import tomlkit
    table = tomlkit.inline_table()
    for key, sub in value.items():
        table[key] = _inline(sub) if isinstance(sub, dict) else sub
    return table


def _leaves(data, prefix=()):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaves(value, prefix + (key,))
        else:
            yield prefix + (key,), value
