# -*- coding: utf-8 -*-
# Copyright (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The target-side fingerprint script of the configure role, run as the role runs it."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..',
                      'roles', 'configure', 'files', 'codex_key_fingerprints.py')


def run(accounts):
    out = subprocess.run([sys.executable, SCRIPT, json.dumps(accounts)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout), out.stdout


@pytest.fixture
def me():
    return pwd.getpwuid(os.getuid()).pw_name


def test_states_and_fingerprint_match_codex_config(tmp_path, me):
    key = 'test-' + os.urandom(12).hex()
    homes = {}
    for name, content in {
        'present': json.dumps({'auth_mode': 'apikey', 'OPENAI_API_KEY': '  ' + key + '\n'}),
        'none': json.dumps({'auth_mode': 'chatgpt'}),
        'unreadable': '{not json',
    }.items():
        home = tmp_path / name
        home.mkdir()
        (home / 'auth.json').write_text(content)
        homes[name] = str(home)
    (tmp_path / 'missing').mkdir()
    homes['missing'] = str(tmp_path / 'missing')

    for state, home in homes.items():
        single, raw = run([{'name': me, 'codex_home': home}])
        assert key not in raw
        entry = single[me]
        assert entry['state'] == state
        assert entry['auth_file'] == os.path.join(home, 'auth.json')
        if state == 'present':
            assert entry['fingerprint'] == 'sha256:' + hashlib.sha256(key.encode()).hexdigest()[:16]
        else:
            assert entry['fingerprint'] is None


def test_default_home_and_unknown_account(me):
    result, dummy = run([{'name': me}, {'name': 'no-such-account-4096'}])
    assert result[me]['auth_file'] == os.path.join(pwd.getpwnam(me).pw_dir, '.codex', 'auth.json')
    assert result['no-such-account-4096'] == {'auth_file': None, 'state': 'no such account', 'fingerprint': None}


def test_usage_error():
    out = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, check=False)
    assert out.returncode == 2
