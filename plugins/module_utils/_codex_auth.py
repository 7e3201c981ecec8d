# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one key fingerprint, and how Codex reads auth.json. Internal.

Shared by the controller (action plugin), the host side (module) and, through the test vectors in
tests/unit/fixtures/fingerprint-vectors.json, the PowerShell script and the roles.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re


def key_fingerprint(key):
    """``sha256:`` + the first 16 hex digits of SHA-256 over the UTF-8 bytes of ``key``.

    The stored value is hashed exactly as it is stored, nothing stripped: that is the string Codex
    sends (``Authorization: Bearer <value>``), so two keys that differ only in whitespace are two
    different keys and get two fingerprints. ``None`` and ``''`` have no fingerprint.
    A lone surrogate (possible in a JSON file, not in a real key) is encoded with ``surrogatepass``
    so it gets a fingerprint instead of crashing the audit.
    """
    if key is None or key == '':
        return None
    return 'sha256:' + hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:16]


# How Codex 0.169.0 reads auth.json, seen with `codex doctor --json` (check auth.credentials) on
# hand-made files: any field that does not fit makes the WHOLE file unreadable ("stored credentials
# could not be read"), and Codex then sends no Authorization header at all.
# - top level: a JSON object; unknown fields are ignored.
# - auth_mode: null, or one of KNOWN_AUTH_MODES (case matters: "ApiKey" is refused).
# - OPENAI_API_KEY: null or a string. last_refresh: null or an RFC 3339 timestamp string.
# - tokens: null, or an object with id_token, access_token, refresh_token strings and account_id
#   null or a string. id_token is a JWT: at least three dot-separated parts, the first and third not
#   empty, the second base64url without padding that decodes to a JSON object or array (claims of
#   the wrong type, e.g. "email": 5, are refused too).
# - without auth_mode, a non-null OPENAI_API_KEY means API-key mode, otherwise ChatGPT mode. In
#   API-key mode Codex sends the key (tokens are ignored); in ChatGPT mode it sends the login token
#   (issue seen in the field: the ChatGPT token went to the fleet's provider).
KNOWN_AUTH_MODES = ('apikey', 'chatgpt', 'chatgptAuthTokens', 'agentIdentity')
_RFC3339 = re.compile(r'^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$')
_B64URL = re.compile(r'^[A-Za-z0-9_-]+$')
# typed claims of the id_token payload Codex reads (others are ignored)
_CLAIM_TYPES = {'email': str, 'https://api.openai.com/auth': dict, 'https://api.openai.com/profile': dict}


def _jwt_ok(token):
    parts = token.split('.')
    if len(parts) < 3 or not parts[0] or not parts[2] or not _B64URL.match(parts[1]):
        return False
    payload = parts[1] + '=' * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode('ascii')).decode('utf-8'))
    except (ValueError, TypeError, binascii.Error, UnicodeError, RecursionError):
        return False
    if isinstance(claims, list):
        return True
    if not isinstance(claims, dict):
        return False
    return all(claims.get(name) is None or isinstance(claims[name], kind) for name, kind in _CLAIM_TYPES.items())


def tokens_state(obj):
    """``absent`` | ``ok`` | ``unparseable`` for the ``tokens`` field of an auth.json object."""
    tokens = obj.get('tokens')
    if tokens is None:
        return 'absent'
    if not isinstance(tokens, dict):
        return 'unparseable'
    for name in ('id_token', 'access_token', 'refresh_token'):
        if not isinstance(tokens.get(name), str):
            return 'unparseable'
    if tokens.get('account_id') is not None and not isinstance(tokens.get('account_id'), str):
        return 'unparseable'
    return 'ok' if _jwt_ok(tokens['id_token']) else 'unparseable'


def unreadable_fields(obj):
    """Names of the fields that make Codex unable to read the whole file (empty: readable)."""
    bad = []
    if obj.get('auth_mode') is not None and obj.get('auth_mode') not in KNOWN_AUTH_MODES:
        bad.append('auth_mode')
    if obj.get('OPENAI_API_KEY') is not None and not isinstance(obj.get('OPENAI_API_KEY'), str):
        bad.append('OPENAI_API_KEY')
    refresh = obj.get('last_refresh')
    if refresh is not None and not (isinstance(refresh, str) and _RFC3339.match(refresh)):
        bad.append('last_refresh')
    if tokens_state(obj) == 'unparseable':
        bad.append('tokens')
    return bad


def credentials(obj):
    """What Codex will use from a parsed auth.json object: apikey | chatgpt | unreadable | none.

    ``obj`` None (no file) -> ``none``.
    """
    if obj is None:
        return 'none'
    if not isinstance(obj, dict) or unreadable_fields(obj):
        return 'unreadable'
    key = obj.get('OPENAI_API_KEY')
    mode = obj.get('auth_mode')
    if mode is None:
        mode = 'apikey' if key is not None else 'chatgpt'
    if mode == 'apikey':
        return 'apikey' if key else 'none'
    return 'chatgpt' if tokens_state(obj) == 'ok' else 'none'
