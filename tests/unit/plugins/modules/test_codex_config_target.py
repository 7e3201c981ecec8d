# -*- coding: utf-8 -*-
"""The host side of codex_config run as root on root-owned directories (access=root): reading,
writing, concurrency, offboarding. Account-owned homes are in test_codex_config_privilege.py."""
from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from ansible_collections.bytes4096.codex.plugins.modules import codex_config as target
from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint

from _requests import mode_of, read_request, write_request

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='access=root is what a root run does on root-owned homes')


def write(path, data, mode=0o600):
    with open(str(path), 'wb') as handle:
        handle.write(data if isinstance(data, bytes) else data.encode('utf-8'))
    os.chmod(str(path), mode)


def ok(request, secret=None):
    written, error = target.phase_write(request, secret)
    assert error is None, error
    return written


def test_read_missing_home(tmp_path):
    state = target.phase_read(read_request(tmp_path / 'codex'))
    assert state['access'] == 'root' and state['account']['uid'] == 0
    assert state['home']['exists'] is False and state['home']['parent_exists'] is True
    assert state['config']['exists'] is False and state['auth']['credentials'] == 'none'
    proto.validate_response('read', state)


def test_read_reports_fingerprint_not_key(tmp_path):
    write(tmp_path / 'auth.json', json.dumps({'OPENAI_API_KEY': 'sk-secret-1', 'tokens': {'x': 1}}), 0o644)
    write(tmp_path / 'config.toml', 'model = "x"\r\n', 0o640)
    state = target.phase_read(read_request(tmp_path))
    assert 'sk-secret-1' not in json.dumps(state)
    auth = state['auth']
    assert auth['key_fingerprint'] == key_fingerprint('sk-secret-1')
    assert auth['fields'] == ['tokens'] and auth['mode'] == '0644' and auth['private'] is False
    assert auth['tokens'] == 'unparseable' and auth['credentials'] == 'unreadable'
    assert state['config']['text'] == 'model = "x"\r\n' and state['config']['mode'] == '0640'
    assert {'path': str(tmp_path / 'auth.json'), 'mode': '0644', 'wanted': '0600'} in state['loose_modes']


def test_read_broken_auth_has_line_and_column_but_no_content(tmp_path):
    write(tmp_path / 'auth.json', '{\n  "OPENAI_API_KEY": "sk-secret-2",\n  oops\n}')
    auth = target.phase_read(read_request(tmp_path))['auth']
    assert auth['valid'] is False and auth['error']['line'] == 3 and auth['error']['column'] == 3
    assert auth['credentials'] == 'unreadable' and 'sk-secret-2' not in json.dumps(auth)


def test_read_non_utf8_config(tmp_path):
    write(tmp_path / 'config.toml', b'a = 1\nb = "\xff"\n')
    error = target.phase_read(read_request(tmp_path))['config']['error']
    assert error == {'msg': 'not valid UTF-8', 'line': 2, 'column': 6}


def test_write_creates_home_and_private_files(tmp_path):
    home = tmp_path / 'codex'
    written = ok(write_request(home, text='model = "m"\n', op='set'), 'sk-new')
    assert written['home_created'] and written['config']['content_changed'] and written['auth']['content_changed']
    assert mode_of(home) == 0o700 and mode_of(home / 'auth.json') == 0o600 and mode_of(home / 'config.toml') == 0o600
    assert json.loads((home / 'auth.json').read_text()) == {'auth_mode': 'apikey', 'OPENAI_API_KEY': 'sk-new'}
    assert written['auth']['key_fingerprint'] == key_fingerprint('sk-new')
    assert written['auth']['credentials'] == 'apikey' and written['auth']['auth_mode'] == 'apikey'
    assert sorted(os.listdir(str(home))) == ['auth.json', 'config.toml']  # no temp files left
    proto.validate_response('write', written)


def test_write_keeps_other_auth_fields_and_backs_up_privately(tmp_path):
    tokens = {'id_token': 'e30.eyJzdWIiOiJ4In0.c2ln', 'access_token': 'a', 'refresh_token': 'r'}
    write(tmp_path / 'auth.json', json.dumps({'OPENAI_API_KEY': 'sk-old', 'tokens': tokens}), 0o644)
    written = ok(write_request(tmp_path, op='set', backup=True), 'sk-new')
    data = json.loads((tmp_path / 'auth.json').read_text())
    assert data == {'OPENAI_API_KEY': 'sk-new', 'tokens': tokens, 'auth_mode': 'apikey'}
    backup = written['auth']['backup_file']
    assert mode_of(backup) == 0o600 and 'sk-old' in open(backup).read()
    assert mode_of(tmp_path / 'auth.json') == 0o600
    assert '%s: 0644 -> 0600' % (tmp_path / 'auth.json') in written['repaired']
    assert written['auth']['dropped_fields'] == [] and written['auth']['credentials'] == 'apikey'


def test_unparseable_tokens_go_to_a_private_backup(tmp_path):
    write(tmp_path / 'auth.json', json.dumps({'auth_mode': 'chatgpt', 'tokens': {'refresh_token': 'r'}}))
    written = ok(write_request(tmp_path, op='set'), 'sk-new')
    assert json.loads((tmp_path / 'auth.json').read_text()) == {'auth_mode': 'apikey', 'OPENAI_API_KEY': 'sk-new'}
    assert written['auth']['dropped_fields'] == ['tokens']
    assert '"refresh_token"' in open(written['auth']['backup_file']).read()
    assert mode_of(written['auth']['backup_file']) == 0o600


def test_concurrent_change_is_detected_not_clobbered(tmp_path):
    write(tmp_path / 'config.toml', 'a = 1\n')
    old = target.phase_read(read_request(tmp_path))['config']['sha256']
    write(tmp_path / 'config.toml', 'a = 2\n')  # another run got there first
    written, error = target.phase_write(write_request(tmp_path, text='a = 3\n', expect=old, op='set'), 'sk-x')
    assert 'changed on the host' in error
    assert target.written_changed(written) is False and written['auth']['key_fingerprint'] is None
    assert (tmp_path / 'config.toml').read_text() == 'a = 2\n'
    assert not (tmp_path / 'auth.json').exists()  # nothing written at all


def test_same_result_written_concurrently_is_fine(tmp_path):
    write(tmp_path / 'config.toml', 'a = 2\n')
    written = ok(write_request(tmp_path, text='a = 2\n', expect='stale', auth=False))
    assert written['config']['changed'] is False


def test_broken_auth_fails_before_config_written(tmp_path):
    write(tmp_path / 'auth.json', '{broken')
    written, error = target.phase_write(write_request(tmp_path, text='a = 1\n', op='set'), 'sk-x')
    assert 'line 1, column 2' in error and 'force=true' in error
    assert not target.written_changed(written)
    assert not (tmp_path / 'config.toml').exists()
    assert (tmp_path / 'auth.json').read_text() == '{broken'


def test_force_replaces_broken_auth_after_private_backup(tmp_path):
    write(tmp_path / 'auth.json', '{broken', 0o644)
    written = ok(write_request(tmp_path, op='set', force=True), 'sk-x')
    assert json.loads((tmp_path / 'auth.json').read_text())['OPENAI_API_KEY'] == 'sk-x'
    assert mode_of(written['auth']['backup_file']) == 0o600


def test_remove_key_keeps_other_fields_or_deletes_empty_file(tmp_path):
    write(tmp_path / 'auth.json', json.dumps({'auth_mode': 'apikey', 'OPENAI_API_KEY': 'sk-x', 'last_refresh': 'y'}))
    ok(write_request(tmp_path, op='remove', state='absent', purge=True))
    assert json.loads((tmp_path / 'auth.json').read_text()) == {'last_refresh': 'y'}
    write(tmp_path / 'auth.json', json.dumps({'auth_mode': 'apikey', 'OPENAI_API_KEY': 'sk-x'}))
    written = ok(write_request(tmp_path, op='remove', state='absent', purge=True))
    assert not (tmp_path / 'auth.json').exists()
    assert written['removed_files'] == [str(tmp_path / 'auth.json')] and written['auth']['credentials'] == 'none'


def test_remove_only_matching_key(tmp_path):
    write(tmp_path / 'auth.json', json.dumps({'OPENAI_API_KEY': 'sk-other'}))
    req = write_request(tmp_path, op='remove', state='absent', only_fingerprint=key_fingerprint('sk-mine'))
    assert ok(req)['auth']['changed'] is False
    assert 'sk-other' in (tmp_path / 'auth.json').read_text()


def test_config_mode_applied_and_group_other_write_cleared(tmp_path):
    write(tmp_path / 'config.toml', 'a = 1\n', 0o600)
    assert ok(write_request(tmp_path, config_mode='0644', auth=False))['config']['changed']
    assert mode_of(tmp_path / 'config.toml') == 0o644
    write(tmp_path / 'config.toml', 'a = 1\n', 0o666)
    written = ok(write_request(tmp_path, auth=False))
    assert mode_of(tmp_path / 'config.toml') == 0o644
    assert written['repaired'] == ['%s: 0666 -> 0644' % (tmp_path / 'config.toml')]


def test_system_layer_home_keeps_its_mode_but_loses_group_other_write(tmp_path):
    home = tmp_path / 'etc-codex'
    home.mkdir()
    os.chmod(str(home), 0o777)
    state = target.phase_read(read_request(home, config_mode='0644'))
    assert state['loose_modes'] == [{'path': str(home), 'mode': '0777', 'wanted': '0755'}]
    written = ok(write_request(home, text='a = 1\n', config_mode='0644', auth=False))
    assert mode_of(home) == 0o755 and mode_of(home / 'config.toml') == 0o644
    assert written['repaired'] == ['%s: 0777 -> 0755' % home]


def _racer(home, value, queue):
    try:
        state = target.phase_read(read_request(home))
        written, error = target.phase_write(
            write_request(home, text='a = %d\n' % value, expect=state['config'].get('sha256'), op='set'),
            'sk-%d' % value)
        queue.put(('ok', value) if error is None else ('conflict', error))
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(('crash', repr(exc)))


def test_concurrent_runs_never_tear_or_empty_a_file(tmp_path):
    write(tmp_path / 'config.toml', 'a = 0\n')
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    procs = [context.Process(target=_racer, args=(str(tmp_path), n, queue)) for n in range(1, 9)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    outcomes = [queue.get(timeout=5) for dummy in procs]
    winners = [value for kind, value in outcomes if kind == 'ok']
    assert winners, outcomes
    assert all(kind != 'crash' for kind, dummy in outcomes), outcomes
    assert all('changed on the host' in msg for kind, msg in outcomes if kind == 'conflict')
    final = (tmp_path / 'config.toml').read_text()
    assert final in ['a = %d\n' % value for value in winners]  # whole, and written by a winner
    assert json.loads((tmp_path / 'auth.json').read_text())['OPENAI_API_KEY'] in ['sk-%d' % v for v in winners]
    assert sorted(os.listdir(str(tmp_path))) == ['auth.json', 'config.toml']


def test_relative_codex_home_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    for raw in ('codex-rel', './codex', '$HOME/.codex', '%USERPROFILE%\\.codex', ''):
        with pytest.raises(proto.ProtocolError, match='absolute path or start with ~'):
            target.phase_read(read_request(raw))
    assert os.listdir(str(tmp_path)) == []


def test_tilde_forms_resolve_on_the_host(tmp_path):
    import pwd
    root_home = pwd.getpwuid(0).pw_dir
    assert target.phase_read(read_request('~'))['home']['path'] == root_home
    assert target.phase_read(read_request('~/x/../.codex'))['home']['path'] == root_home + '/.codex'
    assert target.phase_read(read_request('~root/.codex'))['home']['path'] == root_home + '/.codex'
    assert target.phase_read(read_request(None))['home']['path'] == root_home + '/.codex'
    with pytest.raises(target.TargetError, match='no account no-such-user-cx'):
        target.phase_read(read_request('~no-such-user-cx/.codex'))
    with pytest.raises(target.TargetError, match='does not exist on the host'):
        target.phase_read(read_request(None, owner='no-such-user-cx'))


def test_temp_files_of_a_killed_run_do_not_survive_the_next_write(tmp_path):
    write(tmp_path / 'config.toml', 'a = 1\n')
    write(tmp_path / '.config.toml.0123abcd.tmp', 'half')
    write(tmp_path / '.auth.json.0123abcd.tmp', '{"OPENAI_API_KEY": "sk-half"}')
    state = target.phase_read(read_request(tmp_path))
    assert sorted(item['name'] for item in state['leftovers'] if item['kind'] == 'temp') == [
        '.auth.json.0123abcd.tmp', '.config.toml.0123abcd.tmp']
    written = ok(write_request(tmp_path, auth=False))
    assert sorted(os.listdir(str(tmp_path))) == ['config.toml'] and len(written['removed_files']) == 2


def test_write_request_is_validated(tmp_path):
    req = write_request(tmp_path)
    req['surprise'] = 1
    with pytest.raises(proto.ProtocolError, match='unknown field'):
        target.phase_write(req, None)
    req = write_request(tmp_path)
    req['protocol'] = 1
    with pytest.raises(proto.ProtocolError, match='do not match'):
        target.phase_write(req, None)


@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs as the Codex home's file system."""
    import subprocess
    mnt = tmp_path / 'small'
    mnt.mkdir()
    if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', str(mnt)], check=False).returncode:
        pytest.skip('cannot mount a tmpfs here')
    try:
        yield mnt
    finally:
        subprocess.run(['umount', '-l', str(mnt)], check=False)


def test_disk_full_fails_naming_the_file_and_keeps_the_old_one(small_fs):
    write(small_fs / 'config.toml', 'a = 1\n')
    write(small_fs / 'auth.json', json.dumps({'OPENAI_API_KEY': 'sk-old', 'auth_mode': 'apikey'}))
    state = target.phase_read(read_request(small_fs))
    big = 'b = "%s"\n' % ('x' * 200 * 1024)
    written, error = target.phase_write(write_request(small_fs, text=big, expect=state['config']['sha256'],
                                                      op='set'), 'sk-new')
    assert error.startswith('%s: No space left on device; the old file is intact' % (small_fs / 'config.toml'))
    assert (small_fs / 'config.toml').read_text() == 'a = 1\n' and 'sk-old' in (small_fs / 'auth.json').read_text()
    assert not target.written_changed(written) and written['auth']['key_fingerprint'] is None
    assert sorted(os.listdir(str(small_fs))) == ['auth.json', 'config.toml']  # no temp file left


def test_failure_after_config_was_written_reports_it(small_fs):
    """config.toml fits, auth.json does not: the answer says config.toml changed, the key did not."""
    write(small_fs / 'config.toml', 'a = 1\n')
    write(small_fs / 'filler', b'x' * (64 * 1024 - 8192))
    state = target.phase_read(read_request(small_fs))
    written, error = target.phase_write(write_request(small_fs, text='a = 2\n', expect=state['config']['sha256'],
                                                      op='set'), 'k' * 8192)
    assert error.startswith('%s: No space left on device' % (small_fs / 'auth.json'))
    assert written['config']['content_changed'] is True and written['auth']['changed'] is False
    assert target.written_changed(written) and written['auth']['key_fingerprint'] is None
    assert (small_fs / 'config.toml').read_text() == 'a = 2\n' and not (small_fs / 'auth.json').exists()


def test_read_only_file_system_fails_naming_the_file(small_fs):
    import subprocess
    write(small_fs / 'config.toml', 'a = 1\n')
    subprocess.run(['mount', '-o', 'remount,ro', str(small_fs)], check=True)
    state = target.phase_read(read_request(small_fs))
    written, error = target.phase_write(write_request(small_fs, text='a = 2\n', expect=state['config']['sha256'],
                                                      auth=False), None)
    assert 'Read-only file system' in error and str(small_fs) in error
    assert (small_fs / 'config.toml').read_text() == 'a = 1\n' and not target.written_changed(written)
