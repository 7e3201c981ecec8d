# -*- coding: utf-8 -*-
"""The target-side phases of codex_config, run against a temporary directory."""
from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.bytes4096.codex.plugins.modules import codex_config as target
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint


class FakeModule(object):
    def selinux_enabled(self):
        return False


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def write(path, data, mode=0o600):
    with open(path, 'wb') as handle:
        handle.write(data if isinstance(data, bytes) else data.encode('utf-8'))
    os.chmod(path, mode)


def read_request(home):
    return {'home': str(home), 'owner': None, 'group': None, 'want_auth': True}


def test_read_missing_home(tmp_path):
    state = target.phase_read(read_request(tmp_path / 'codex'))
    assert state['home'] == {'path': str(tmp_path / 'codex'), 'exists': False, 'parent_exists': True}
    assert state['config']['exists'] is False and state['auth']['exists'] is False


def test_read_reports_fingerprint_not_key(tmp_path):
    write(tmp_path / 'auth.json', json.dumps({'OPENAI_API_KEY': 'sk-secret-1', 'tokens': {'x': 1}}), 0o644)
    write(tmp_path / 'config.toml', 'model = "x"\r\n', 0o640)
    state = target.phase_read(read_request(tmp_path))
    assert 'sk-secret-1' not in json.dumps(state)
    assert state['auth']['key_fingerprint'] == key_fingerprint('sk-secret-1')
    assert state['auth']['fields'] == ['tokens'] and state['auth']['mode'] == '0644'
    assert state['auth']['private'] is False
    assert state['config']['text'] == 'model = "x"\r\n' and state['config']['mode'] == '0640'


def test_read_broken_auth_has_line_and_column_but_no_content(tmp_path):
    write(tmp_path / 'auth.json', '{\n  "OPENAI_API_KEY": "sk-secret-2",\n  oops\n}')
    state = target.phase_read(read_request(tmp_path))
    error = state['auth']['error']
    assert state['auth']['valid'] is False and error['line'] == 3 and error['column'] == 3
    assert 'sk-secret-2' not in json.dumps(state)


def test_read_non_utf8_config(tmp_path):
    write(tmp_path / 'config.toml', b'a = 1\nb = "\xff"\n')
    error = target.phase_read(read_request(tmp_path))['config']['error']
    assert error == {'msg': 'not valid UTF-8', 'line': 2, 'column': 6}


def test_owner_home_default(tmp_path):
    import pwd
    me = pwd.getpwuid(os.geteuid()).pw_name
    state = target.phase_read({'home': None, 'owner': me, 'want_auth': True})
    assert state['home']['path'] == os.path.join(pwd.getpwnam(me).pw_dir, '.codex')
    assert target._resolve_home('~/x', {'home': '/home/alice'}) == '/home/alice/x'
    with pytest.raises(target.TargetError, match='does not exist'):
        target.phase_read({'owner': 'no-such-user-codex-test'})


def request(home, text=None, expect=None, op=None, **extra):
    config = {'mode': '0600', 'uid': None, 'gid': None}
    if text is not None:
        config.update(text=text, expect_sha256=expect, backup=extra.get('backup', False))
    auth = {'op': op, 'force': extra.get('force', False), 'backup': extra.get('backup', False),
            'uid': None, 'gid': None, 'attrs': False}
    return {'home': str(home), 'create_home': extra.get('create_home'), 'config': config, 'auth': auth}


def test_write_creates_home_and_private_files(tmp_path):
    home = tmp_path / 'codex'
    req = request(home, 'model = "m"\n', None, 'set', create_home={'mode': '0700', 'uid': None, 'gid': None})
    result = target.phase_write(FakeModule(), req, 'sk-new')
    assert result['config']['changed'] and result['auth']['changed'] and result['home_created']
    assert mode_of(home) == 0o700 and mode_of(home / 'auth.json') == 0o600 and mode_of(home / 'config.toml') == 0o600
    assert json.loads((home / 'auth.json').read_text()) == {'auth_mode': 'apikey', 'OPENAI_API_KEY': 'sk-new'}
    assert result['auth']['key_fingerprint'] == key_fingerprint('sk-new')
    assert sorted(os.listdir(home)) == ['auth.json', 'config.toml']  # no temp files left


def test_write_keeps_other_auth_fields_and_backs_up_privately(tmp_path):
    write(tmp_path / 'auth.json', json.dumps({'OPENAI_API_KEY': 'sk-old', 'tokens': {'a': 1}}), 0o644)
    result = target.phase_write(FakeModule(), request(tmp_path, op='set', backup=True), 'sk-new')
    data = json.loads((tmp_path / 'auth.json').read_text())
    assert data == {'OPENAI_API_KEY': 'sk-new', 'tokens': {'a': 1}, 'auth_mode': 'apikey'}
    backup = result['auth']['backup_file']
    assert mode_of(backup) == 0o600 and 'sk-old' in open(backup).read()
    assert mode_of(tmp_path / 'auth.json') == 0o600


def test_write_through_symlink_keeps_link(tmp_path):
    real = tmp_path / 'dotfiles' / 'codex.toml'
    real.parent.mkdir()
    write(real, '# mine\n', 0o640)
    home = tmp_path / 'home'
    home.mkdir()
    os.symlink(str(real), str(home / 'config.toml'))
    old = target.phase_read(read_request(home))['config']
    req = request(home, '# mine\nmodel = "m"\n', old['sha256'])
    req['config']['mode'] = '0640'
    target.phase_write(FakeModule(), req, None)
    assert os.path.islink(home / 'config.toml')
    assert real.read_text() == '# mine\nmodel = "m"\n' and mode_of(real) == 0o640


def test_concurrent_change_is_detected_not_clobbered(tmp_path):
    write(tmp_path / 'config.toml', 'a = 1\n')
    old = target.phase_read(read_request(tmp_path))['config']['sha256']
    write(tmp_path / 'config.toml', 'a = 2\n')  # another run got there first
    with pytest.raises(target.TargetError, match='changed on the host'):
        target.phase_write(FakeModule(), request(tmp_path, 'a = 3\n', old, 'set'), 'sk-x')
    assert (tmp_path / 'config.toml').read_text() == 'a = 2\n'
    assert not (tmp_path / 'auth.json').exists()  # nothing written at all


def test_same_result_written_concurrently_is_fine(tmp_path):
    write(tmp_path / 'config.toml', 'a = 2\n')
    result = target.phase_write(FakeModule(), request(tmp_path, 'a = 2\n', 'stale'), None)
    assert result['config']['changed'] is False


def test_broken_auth_fails_before_config_written(tmp_path):
    write(tmp_path / 'auth.json', '{broken')
    with pytest.raises(target.TargetError, match='line 1, column 2'):
        target.phase_write(FakeModule(), request(tmp_path, 'a = 1\n', None, 'set'), 'sk-x')
    assert not (tmp_path / 'config.toml').exists()
    assert (tmp_path / 'auth.json').read_text() == '{broken'


def test_force_replaces_broken_auth_after_private_backup(tmp_path):
    write(tmp_path / 'auth.json', '{broken', 0o644)
    result = target.phase_write(FakeModule(), request(tmp_path, op='set', force=True), 'sk-x')
    assert json.loads((tmp_path / 'auth.json').read_text())['OPENAI_API_KEY'] == 'sk-x'
    assert mode_of(result['auth']['backup_file']) == 0o600


def test_remove_key_keeps_other_fields_or_deletes_empty_file(tmp_path):
    write(tmp_path / 'auth.json', json.dumps({'auth_mode': 'apikey', 'OPENAI_API_KEY': 'sk-x', 'last_refresh': 'y'}))
    target.phase_write(FakeModule(), request(tmp_path, op='remove'), None)
    assert json.loads((tmp_path / 'auth.json').read_text()) == {'last_refresh': 'y'}
    write(tmp_path / 'auth.json', json.dumps({'auth_mode': 'apikey', 'OPENAI_API_KEY': 'sk-x'}))
    target.phase_write(FakeModule(), request(tmp_path, op='remove'), None)
    assert not (tmp_path / 'auth.json').exists()


def test_remove_only_matching_key(tmp_path):
    write(tmp_path / 'auth.json', json.dumps({'OPENAI_API_KEY': 'sk-other'}))
    req = request(tmp_path, op='remove')
    req['auth']['only_fingerprint'] = key_fingerprint('sk-mine')
    assert target.phase_write(FakeModule(), req, None)['auth']['changed'] is False
    assert 'sk-other' in (tmp_path / 'auth.json').read_text()


def test_attrs_only(tmp_path):
    write(tmp_path / 'config.toml', 'a = 1\n', 0o644)
    req = request(tmp_path)
    result = target.phase_write(FakeModule(), req, None)
    assert result['config']['changed'] and mode_of(tmp_path / 'config.toml') == 0o600


def _racer(home, value, queue):
    try:
        state = target.phase_read(read_request(home))
        text = 'a = %d\n' % value
        req = request(home, text, state['config'].get('sha256'), 'set')
        target.phase_write(FakeModule(), req, 'sk-%d' % value)
        queue.put(('ok', value))
    except target.TargetError as exc:
        queue.put(('conflict', str(exc)))


def test_concurrent_runs_never_tear_or_empty_a_file(tmp_path):
    import multiprocessing
    write(tmp_path / 'config.toml', 'a = 0\n')
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    procs = [context.Process(target=_racer, args=(str(tmp_path), n, queue)) for n in range(1, 7)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    outcomes = [queue.get(timeout=5) for dummy in procs]
    winners = [value for kind, value in outcomes if kind == 'ok']
    assert winners, outcomes
    assert all('changed on the host' in msg for kind, msg in outcomes if kind == 'conflict')
    final = (tmp_path / 'config.toml').read_text()
    assert final in ['a = %d\n' % value for value in winners]  # whole, and written by a winner
    assert json.loads((tmp_path / 'auth.json').read_text())['OPENAI_API_KEY'].startswith('sk-')
    assert sorted(os.listdir(tmp_path)) == ['auth.json', 'config.toml']


# --- hardening (real-world review) -----------------------------------------------------------------

def test_relative_codex_home_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(target.TargetError, match='absolute path'):
        target.phase_read(read_request('codex-rel'))
    assert os.listdir(tmp_path) == []


def test_dangling_symlink_into_missing_directory_fails_at_read(tmp_path):
    (tmp_path / 'codex').mkdir()
    os.symlink(str(tmp_path / 'no-such-dir' / 'config.toml'), str(tmp_path / 'codex' / 'config.toml'))
    with pytest.raises(target.TargetError, match='whose directory does not exist'):
        target.phase_read(read_request(tmp_path / 'codex'))


def test_dangling_symlink_into_existing_directory_is_created_through(tmp_path):
    (tmp_path / 'codex').mkdir()
    (tmp_path / 'dotfiles').mkdir()
    link = tmp_path / 'codex' / 'config.toml'
    os.symlink(str(tmp_path / 'dotfiles' / 'codex.toml'), str(link))
    state = target.phase_read(read_request(tmp_path / 'codex'))
    assert state['config']['exists'] is False and state['config']['is_link'] is True
    target.phase_write(FakeModule(), request(tmp_path / 'codex', text='model = "x"\n'), None)
    assert os.path.islink(str(link)) and (tmp_path / 'dotfiles' / 'codex.toml').read_text() == 'model = "x"\n'
    assert mode_of(tmp_path / 'dotfiles' / 'codex.toml') == 0o600


def test_read_reports_the_effective_uid(tmp_path):
    assert target.phase_read(read_request(tmp_path))['euid'] == os.geteuid()
