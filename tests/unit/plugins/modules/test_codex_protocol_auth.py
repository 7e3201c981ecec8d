# -*- coding: utf-8 -*-
"""The protocol schema (module_utils/_codex_protocol) and the auth.json judgement (module_utils/_codex_auth)."""
from __future__ import annotations

import base64
import json
import os

import pytest

from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import (
    credentials, key_fingerprint, tokens_state, unreadable_fields,
)

VECTORS = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'fingerprint-vectors.json')


def test_fingerprint_vectors():
    with open(VECTORS) as handle:
        vectors = json.load(handle)['vectors']
    assert len(vectors) >= 10
    for vector in vectors:
        assert key_fingerprint(vector['key']) == vector['fingerprint'], vector['description']
    # whitespace is part of the key: no stripping, no normalisation
    assert len({v['fingerprint'] for v in vectors if v['fingerprint']}) == len([v for v in vectors if v['key']])


def test_fingerprint_of_a_lone_surrogate_does_not_crash():
    assert key_fingerprint('sk-\ud800').startswith('sha256:')


def jwt(claims):
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip('=')
    return 'e30.%s.c2ln' % payload


# what Codex 0.169.0 said (codex doctor --json, check auth.credentials) for each of these files
CODEX_SAYS = [
    ({'tokens': {'refresh_token': 'r'}}, 'unreadable'),
    ({'auth_mode': 'chatgpt', 'tokens': {'id_token': jwt({'sub': 'x'}), 'access_token': 'a', 'refresh_token': 'r'}},
     'chatgpt'),
    ({'auth_mode': 'chatgpt', 'tokens': {'id_token': 'notajwt', 'access_token': 'a', 'refresh_token': 'r'}},
     'unreadable'),
    ({'auth_mode': 'chatgpt', 'tokens': {'id_token': 'e30.YWJj.c2ln', 'access_token': 'a', 'refresh_token': 'r'}},
     'unreadable'),
    ({'auth_mode': 'chatgpt', 'tokens': {'id_token': 'e30..c2ln', 'access_token': 'a', 'refresh_token': 'r'}},
     'unreadable'),
    ({'auth_mode': 'chatgpt', 'tokens': {'id_token': jwt({'email': 5}), 'access_token': 'a',
                                         'refresh_token': 'r'}}, 'unreadable'),
    ({'auth_mode': 'chatgpt', 'tokens': {'id_token': jwt({'sub': 'x'}), 'access_token': 1, 'refresh_token': 'r'}},
     'unreadable'),
    ({'auth_mode': 'chatgpt', 'tokens': {'id_token': jwt({}), 'access_token': 'a', 'refresh_token': 'r',
                                         'account_id': 5}}, 'unreadable'),
    ({'auth_mode': 'weird', 'OPENAI_API_KEY': 'k'}, 'unreadable'),
    ({'auth_mode': 'ApiKey', 'OPENAI_API_KEY': 'k'}, 'unreadable'),
    ({'auth_mode': 'apikey', 'OPENAI_API_KEY': 'k',
      'tokens': {'id_token': jwt({'sub': 'x'}), 'access_token': 'a', 'refresh_token': 'r'}}, 'apikey'),
    ({'OPENAI_API_KEY': 'k', 'tokens': {'id_token': jwt({}), 'access_token': 'a', 'refresh_token': 'r'}}, 'apikey'),
    ({'auth_mode': 'chatgpt', 'OPENAI_API_KEY': 'k'}, 'none'),
    ({'OPENAI_API_KEY': 123}, 'unreadable'),
    ({'OPENAI_API_KEY': 'k', 'last_refresh': 'garbage'}, 'unreadable'),
    ({'OPENAI_API_KEY': 'k', 'last_refresh': 5}, 'unreadable'),
    ({'OPENAI_API_KEY': 'k', 'last_refresh': '2025-01-01T00:00:00Z'}, 'apikey'),
    ({'OPENAI_API_KEY': 'k', 'last_refresh': None, 'auth_mode': None, 'tokens': None, 'extra': 1}, 'apikey'),
    ({'auth_mode': 'apikey'}, 'none'),
    ({'OPENAI_API_KEY': ''}, 'none'),
    ({'OPENAI_API_KEY': None}, 'none'),
    ({}, 'none'),
    ({'OPENAI_API_KEY': 'k', 'tokens': 'x'}, 'unreadable'),
]


@pytest.mark.parametrize('obj, expected', CODEX_SAYS)
def test_credentials_match_what_codex_says(obj, expected):
    assert credentials(obj) == expected


def test_tokens_state_and_unreadable_fields():
    assert tokens_state({}) == 'absent'
    assert tokens_state({'tokens': {'refresh_token': 'r'}}) == 'unparseable'
    assert unreadable_fields({'auth_mode': 'x', 'last_refresh': 1, 'tokens': {}}) == ['auth_mode', 'last_refresh',
                                                                                      'tokens']
    assert credentials(None) == 'none'


def read_response():
    return {
        'protocol': proto.PROTOCOL_VERSION, 'platform': 'posix', 'access': 'account', 'euid': 0,
        'account': {'name': 'alice', 'uid': 1000, 'gid': 1000, 'home': '/home/alice'}, 'group_gid': None,
        'home': {'path': '/home/alice/.codex', 'exists': False, 'is_link': False, 'parent_exists': True,
                 'create_as': 'account'},
        'config': {'path': '/home/alice/.codex/config.toml', 'exists': False, 'is_link': False},
        'auth': None, 'leftovers': [], 'loose_modes': [],
    }


def test_schema_validation_rejects_what_does_not_fit():
    proto.validate_response('read', read_response())
    for change, message in [
            (lambda r: r.pop('access'), "lacks the field 'access'"),
            (lambda r: r.update(access='god'), 'read_response.access must be one of'),
            (lambda r: r.update(euid=True), 'euid must be of type int'),
            (lambda r: r['home'].update(surprise=1), "home has an unknown field 'surprise'"),
            (lambda r: r['leftovers'].append({'name': 'x', 'kind': 'other'}), r'leftovers\[0\].kind must be one of'),
            (lambda r: r.update(protocol=1), 'speaks protocol 1'),
    ]:
        response = read_response()
        change(response)
        with pytest.raises(proto.ProtocolError, match=message):
            proto.validate_response('read', response)


def test_requests_refuse_what_no_host_side_resolves():
    base = {'protocol': proto.PROTOCOL_VERSION, 'owner': None, 'group': None, 'config_mode': None, 'want_auth': True}
    for raw in ('/home/a/.codex', '~', '~/x', '~bob', '~bob/.codex', 'C:\\Users\\a\\.codex', '~\\x',
                '\\\\server\\share\\codex'):
        proto.validate_request('read', dict(base, codex_home=raw))
    for raw in ('rel', './rel', '', '$HOME/.codex', '%USERPROFILE%\\.codex', 'C:rel'):
        with pytest.raises(proto.ProtocolError, match='absolute path or start with ~'):
            proto.validate_request('read', dict(base, codex_home=raw))


def test_posix_resolution():
    homes = {'bob': '/srv/bob'}

    def resolve(raw):
        return proto.resolve_posix(raw, '/home/alice', homes.__getitem__)
    assert resolve(None) == '/home/alice/.codex'
    assert resolve('~') == '/home/alice'
    assert resolve('~/a/../.codex') == '/home/alice/.codex'
    assert resolve('~bob') == '/srv/bob'
    assert resolve('~bob/.codex') == '/srv/bob/.codex'
    assert resolve('/etc/codex/') == '/etc/codex'
    with pytest.raises(proto.ProtocolError, match='no account carol'):
        resolve('~carol/.codex')


def test_export_is_plain_data_and_lists_names():
    data = proto.export()
    assert json.loads(json.dumps(data)) == data and data['protocol'] == proto.PROTOCOL_VERSION
    names = proto.field_names('read_response')
    assert {'home.path', 'auth.credentials', 'leftovers[].kind', 'loose_modes[].wanted'} <= set(names)
    for kind in proto.SCHEMA:
        for name in proto.field_names(kind):
            assert name  # every field documented below
    for kind, message in proto.SCHEMA.items():
        stack = [message['fields']]
        while stack:
            for spec in stack.pop().values():
                assert spec['doc'].strip(), kind
                stack.extend([spec['fields']] if 'fields' in spec else [])
                element = spec.get('elements')
                if isinstance(element, dict):
                    stack.append(element['fields'])


def test_mode_rules():
    assert proto.wanted_mode('home', 0o777, 'account') == 0o700
    assert proto.wanted_mode('home', None, 'account', 0o644) == 0o755
    assert proto.wanted_mode('home', 0o777, 'root') == 0o755
    assert proto.wanted_mode('config', 0o666, 'account') == 0o644
    assert proto.wanted_mode('config', None, 'account') == 0o600
    assert proto.wanted_mode('config', 0o600, 'root', 0o666) == 0o644
    assert proto.loose('auth', 0o644, 'account') and not proto.loose('auth', 0o600, 'account')
    assert not proto.loose('home', 0o700, 'account') and proto.loose('home', 0o4700, 'account')


def test_deeply_nested_auth_json_is_an_error_not_a_crash():
    from ansible_collections.bytes4096.codex.plugins.module_utils._codex_read import parse_auth
    obj, error = parse_auth(b'[' * 100000 + b']' * 100000)
    assert obj is None and 'nested too deeply' in error['msg']
