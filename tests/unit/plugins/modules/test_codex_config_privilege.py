# -*- coding: utf-8 -*-
"""The trust rule, with real throwaway accounts: a root run over an account's home works as that
account (a child process that dropped root), and every trick the account can play in its own home
is refused by name or defeated by the kernel, never followed as root."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import threading
import time

import pytest

from ansible_collections.bytes4096.codex.plugins.modules import codex_config as target
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_auth import key_fingerprint
from ansible_collections.bytes4096.codex.plugins.module_utils._codex_drop import MAX_CHILD_OUTPUT

from _requests import mode_of, read_request, snapshot, write_request

BLOCK = 'model = "gpt-5.5"\n'


def read(account, home=None, **kwargs):
    return target.phase_read(read_request(home, owner=account.name, **kwargs))


def deploy(account, secret='sk-fleet-1', home=None, **kwargs):
    """What a deploy does: read, then write the block and the key."""
    state = read(account, home)
    req = write_request(state['home']['path'], owner=account.name, text=kwargs.pop('text', BLOCK),
                        expect=state['config'].get('sha256'), op=kwargs.pop('op', 'set'), **kwargs)
    return target.phase_write(req, secret)


def refused(func, *args, match, **kwargs):
    with pytest.raises(target.TargetError, match=match) as info:
        func(*args, **kwargs)
    return str(info.value)


# ---- the drop itself ------------------------------------------------------------------------------

def test_read_and_write_happen_as_the_account(alice):
    state = read(alice)
    assert state['access'] == 'account' and state['account']['uid'] == alice.uid
    assert state['home']['create_as'] == 'account'
    written, error = deploy(alice)
    assert error is None and written['access'] == 'account' and written['home_created']
    for name in ('', 'config.toml', 'auth.json'):
        st = os.lstat(os.path.join(alice.codex, name))
        assert (st.st_uid, st.st_gid) == (alice.uid, alice.gid)  # created by the account itself
    assert mode_of(alice.codex) == 0o700 and mode_of(os.path.join(alice.codex, 'auth.json')) == 0o600
    assert written['auth']['key_fingerprint'] == key_fingerprint('sk-fleet-1')


def test_the_child_cannot_regain_root(alice):
    ctx = target.Context(alice.name)

    def probe():
        answer = {'euid': os.geteuid(), 'groups': sorted(os.getgroups())}
        try:
            os.setuid(0)
            answer['root'] = True
        except OSError:
            answer['root'] = False
        try:
            open('/etc/shadow', 'rb').close()
            answer['shadow'] = True
        except OSError:
            answer['shadow'] = False
        return answer
    answer = target.run_as_account(ctx, probe, 10, alice.codex)
    assert answer == {'euid': alice.uid, 'groups': sorted(os.getgrouplist(alice.name, alice.gid)),
                      'root': False, 'shadow': False}


def test_a_child_that_hangs_is_stopped(alice):
    ctx = target.Context(alice.name)
    started = time.monotonic()
    refused(target.run_as_account, ctx, lambda: time.sleep(60), 2, alice.codex,
            match='did not finish within 2 s')
    assert time.monotonic() - started < 10


def test_a_child_answer_is_capped(alice):
    ctx = target.Context(alice.name)
    refused(target.run_as_account, ctx, lambda: {'x': 'y' * (MAX_CHILD_OUTPUT + 10)}, 20, alice.codex,
            match='too big')


# ---- links ----------------------------------------------------------------------------------------

def test_config_link_to_a_root_file_is_refused(alice, root_dir):
    alice.mkdir(alice.codex)
    victim = root_dir / 'secret.conf'
    before = snapshot(victim)
    alice.symlink(str(victim), os.path.join(alice.codex, 'config.toml'))
    message = refused(read, alice, match='directory that belongs to uid 0')
    assert os.path.join(alice.codex, 'config.toml') in message and 'root-only' not in message
    written, error = target.phase_write(write_request(alice.codex, owner=alice.name, text=BLOCK, op='set'), 'sk-x')
    assert 'config.toml' in error and not target.written_changed(written)
    assert snapshot(victim) == before


def test_dangling_auth_link_out_of_the_home_is_refused(alice, root_dir):
    alice.mkdir(alice.codex)
    alice.symlink(str(root_dir / 'ld.so.preload'), os.path.join(alice.codex, 'auth.json'))
    refused(read, alice, match='auth.json is a symlink to .*belongs to uid 0')
    written, error = target.phase_write(write_request(alice.codex, owner=alice.name, op='set'), 'sk-x')
    assert error and not os.path.exists(str(root_dir / 'ld.so.preload'))


def test_codex_home_link_to_a_root_directory_is_refused(alice, root_dir):
    alice.symlink(str(root_dir), alice.codex)
    message = refused(read, alice, match='belongs to uid 0, not to')
    assert alice.codex in message
    written, error = target.phase_write(write_request(alice.codex, owner=alice.name, text=BLOCK, op='set'), 'sk-x')
    assert error and sorted(os.listdir(str(root_dir))) == ['secret.conf']


def test_codex_home_link_owned_by_someone_else_is_refused(alice, mallory):
    mallory.mkdir(mallory.codex)
    alice.symlink(mallory.codex, alice.codex)
    refused(read, alice, match='belongs to uid %d' % mallory.uid)


def test_dotfile_links_of_the_account_keep_working(alice):
    dotfiles = alice.mkdir(os.path.join(alice.home, 'dotfiles'), 0o755)
    real = alice.write(os.path.join(dotfiles, 'codex-config.toml'), '# mine\n', 0o640)
    alice.symlink(os.path.join(alice.home, 'dotfiles', 'codex'), alice.codex)
    alice.mkdir(os.path.join(dotfiles, 'codex'))
    alice.symlink('../codex-config.toml', os.path.join(dotfiles, 'codex', 'config.toml'))
    state = read(alice)
    assert state['home']['is_link'] and state['config']['is_link'] and state['config']['real_path'] == real
    written, error = deploy(alice, text='# mine\n' + BLOCK, backup=True)
    assert error is None
    assert os.path.islink(os.path.join(dotfiles, 'codex', 'config.toml'))
    assert open(real).read() == '# mine\n' + BLOCK and mode_of(real) == 0o640
    assert os.lstat(real).st_uid == alice.uid
    assert written['config']['backup_file'].startswith(dotfiles + '/codex-config.toml.')


def test_a_link_to_a_link_is_refused(alice):
    alice.mkdir(alice.codex)
    alice.write(os.path.join(alice.home, 'real.toml'), 'a = 1\n')
    alice.symlink(os.path.join(alice.home, 'real.toml'), os.path.join(alice.home, 'hop.toml'))
    alice.symlink(os.path.join(alice.home, 'hop.toml'), os.path.join(alice.codex, 'config.toml'))
    refused(read, alice, match='symlink again')


def test_a_path_component_of_another_account_is_refused(alice, mallory):
    shared = mallory.mkdir(os.path.join(mallory.home, 'shared'), 0o777)
    refused(target.phase_read, read_request(os.path.join(shared, 'codex'), owner=alice.name),
            match='%s belongs to uid %d, neither root nor %s' % (mallory.home, mallory.uid, alice.name))


# ---- what is not a plain file of the account ------------------------------------------------------

def test_fifo_is_refused_without_blocking(alice):
    alice.mkdir(alice.codex)
    fifo = os.path.join(alice.codex, 'auth.json')
    os.mkfifo(fifo, 0o600)
    alice.own(fifo)
    started = time.monotonic()
    refused(read, alice, match='auth.json is a FIFO')
    written, error = target.phase_write(write_request(alice.codex, owner=alice.name, op='set'), 'sk-x')
    assert 'auth.json is a FIFO' in error and not target.written_changed(written)
    assert time.monotonic() - started < 10


def test_link_to_a_fifo_of_the_account_is_refused_without_blocking(alice):
    alice.mkdir(alice.codex)
    fifo = os.path.join(alice.home, 'pipe')
    os.mkfifo(fifo, 0o600)
    alice.own(fifo)
    alice.symlink(fifo, os.path.join(alice.codex, 'config.toml'))
    started = time.monotonic()
    refused(read, alice, match='is a FIFO')
    assert time.monotonic() - started < 10


def test_devices_are_refused(alice):
    alice.mkdir(alice.codex)
    alice.symlink('/dev/zero', os.path.join(alice.codex, 'auth.json'))
    refused(read, alice, match='auth.json is a symlink to /dev/zero, in a directory that belongs to uid 0')
    os.unlink(os.path.join(alice.codex, 'auth.json'))
    os.mknod(os.path.join(alice.codex, 'config.toml'), 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    alice.own(os.path.join(alice.codex, 'config.toml'))
    refused(read, alice, match='config.toml is a character device')


def test_oversize_files_are_refused(alice):
    alice.mkdir(alice.codex)
    alice.write(os.path.join(alice.codex, 'config.toml'), b'#' * (1024 * 1024 + 1))
    refused(read, alice, match='1048577 bytes, more than the 1048576')
    os.unlink(os.path.join(alice.codex, 'config.toml'))
    alice.write(os.path.join(alice.codex, 'auth.json'), b' ' * (256 * 1024 + 1))
    refused(read, alice, match='262145 bytes')


def test_hard_link_to_a_root_file_is_refused_and_never_chowned(alice, root_dir):
    alice.mkdir(alice.codex)
    victim = root_dir / 'secret.conf'
    before = snapshot(victim)
    # what an account can do where fs.protected_hardlinks=0 (root makes the link here)
    os.link(str(victim), os.path.join(alice.codex, 'config.toml'))
    refused(read, alice, match='config.toml belongs to uid 0, not to')
    written, error = target.phase_write(write_request(alice.codex, owner=alice.name, text=BLOCK, op='set'), 'sk-x')
    assert error and snapshot(victim) == before


def test_hard_link_of_an_own_file_is_refused(alice):
    alice.mkdir(alice.codex)
    alice.write(os.path.join(alice.home, 'elsewhere'), '{}')
    os.link(os.path.join(alice.home, 'elsewhere'), os.path.join(alice.codex, 'auth.json'))
    refused(read, alice, match='auth.json has 2 hard links')


def test_foreign_owned_file_is_refused(alice, mallory):
    alice.mkdir(alice.codex)
    path = mallory.write(os.path.join(alice.codex, 'config.toml'), 'a = 1\n', 0o666)
    refused(read, alice, match='config.toml belongs to uid %d' % mallory.uid)
    assert mode_of(path) == 0o666 and os.lstat(path).st_uid == mallory.uid


# ---- locks, modes, offboarding ---------------------------------------------------------------------

def test_a_held_lock_fails_clearly_after_lock_timeout(alice):
    alice.mkdir(alice.codex)
    holder = subprocess.Popen(['setpriv', '--reuid', str(alice.uid), '--regid', str(alice.gid), '--clear-groups',
                               'flock', alice.codex, 'sleep', '30'], start_new_session=True)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        written, error = deploy(alice, lock_timeout=2)
        took = time.monotonic() - started
        assert 'locked by another process' in error and 'lock_timeout=2' in error and alice.codex in error
        assert 2 <= took < 10 and not target.written_changed(written)
        assert os.listdir(alice.codex) == []
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # flock and its sleep: the account must be removable
        holder.wait()


def test_loose_modes_are_reported_and_repaired(alice):
    alice.mkdir(alice.codex, 0o777)
    config = alice.write(os.path.join(alice.codex, 'config.toml'), BLOCK, 0o666)
    stored = json.dumps({'OPENAI_API_KEY': 'sk-fleet-1', 'auth_mode': 'apikey'})
    auth = alice.write(os.path.join(alice.codex, 'auth.json'), stored, 0o644)
    backup = alice.write(os.path.join(alice.codex, 'auth.json.2025-01-01@00:00:00~'), '{}', 0o644)
    state = read(alice)
    assert sorted((item['path'], item['mode'], item['wanted']) for item in state['loose_modes']) == sorted([
        (alice.codex, '0777', '0700'), (config, '0666', '0644'), (auth, '0644', '0600'), (backup, '0644', '0600')])
    written, error = deploy(alice)
    assert error is None
    assert (mode_of(alice.codex), mode_of(config), mode_of(auth), mode_of(backup)) == (0o700, 0o644, 0o600, 0o600)
    assert sorted(written['repaired']) == sorted([
        '%s: 0777 -> 0700' % alice.codex, '%s: 0666 -> 0644' % config, '%s: 0644 -> 0600' % auth,
        '%s: 0644 -> 0600' % backup])
    assert read(alice)['loose_modes'] == []


def test_absent_removes_the_key_its_backups_and_temp_files(alice):
    written, error = deploy(alice, backup=True)
    written, error = deploy(alice, secret='sk-fleet-2', backup=True)
    assert error is None and written['auth']['backup_file']
    alice.write(os.path.join(alice.codex, '.auth.json.deadbeef.tmp'), '{"OPENAI_API_KEY": "sk-half"}')
    state = read(alice)
    assert {item['kind'] for item in state['leftovers']} == {'auth_backup', 'temp'}
    req = write_request(alice.codex, owner=alice.name, text='', expect=state['config']['sha256'], op='remove',
                        state='absent', backup=True, purge=True)
    written, error = target.phase_write(req, None)
    assert error is None
    remaining = sorted(os.listdir(alice.codex))
    # no key anywhere: no auth.json, no key backup, no temp file (the config backup holds no key)
    assert remaining[0] == 'config.toml' and [n[:12] for n in remaining[1:]] == ['config.toml.'], remaining
    assert written['auth']['backup_file'] is None  # offboarding makes no new copy of the key
    assert written['auth']['credentials'] == 'none' and written['auth']['key_fingerprint'] is None
    assert os.path.join(alice.codex, 'auth.json') in written['removed_files']
    assert any(name.endswith('.auth.json.deadbeef.tmp') for name in written['removed_files'])
    assert sum('auth.json.' in name and name.endswith('~') for name in written['removed_files']) == 1


def test_absent_with_a_corrupt_auth_json_fails_without_force_and_deletes_with_force(alice):
    alice.mkdir(alice.codex)
    auth = alice.write(os.path.join(alice.codex, 'auth.json'), '{"OPENAI_API_KEY": "sk-fleet-1", oops')
    req = write_request(alice.codex, owner=alice.name, op='remove', state='absent', purge=True)
    written, error = target.phase_write(req, None)
    assert 'force=true deletes it' in error and os.path.exists(auth) and not target.written_changed(written)
    assert 'sk-fleet-1' not in error
    req = write_request(alice.codex, owner=alice.name, op='remove', state='absent', purge=True, force=True)
    written, error = target.phase_write(req, None)
    assert error is None and not os.path.exists(auth) and written['removed_files'] == [auth]
    assert os.listdir(alice.codex) == []


def test_root_creates_a_home_the_account_cannot_create_then_works_as_the_account(alice, tmp_path):
    parent = tmp_path / 'var-lib'
    parent.mkdir(mode=0o755)
    os.chmod(str(tmp_path), 0o755)
    path = str(parent)
    while path not in ('/', '/tmp'):
        os.chmod(path, os.stat(path).st_mode | 0o055)
        path = os.path.dirname(path)
    home = str(parent / 'ci-codex')
    state = read(alice, home)
    assert state['home']['create_as'] == 'root'
    written, error = deploy(alice, home=home)
    assert error is None and written['home_created']
    for name in ('', 'config.toml', 'auth.json'):
        assert os.lstat(os.path.join(home, name)).st_uid == alice.uid
    assert mode_of(home) == 0o700


def test_group_must_be_one_of_the_account(alice):
    refused(read, alice, group='root', match="group 'root': .* is not a member")


# ---- the racer ---------------------------------------------------------------------------------------

def test_swapping_the_codex_home_for_a_root_link_never_wins(alice, root_dir):
    """The account keeps swapping ~/.codex between a real directory and a link to a root directory
    while root deploys: whatever the interleaving, nothing appears in or changes under root's dir."""
    stop = threading.Event()
    swap = os.path.join(alice.home, 'swap')

    swaps = [0]

    def racer():
        count = 0
        while not stop.is_set():
            count += 1
            try:
                if os.path.lexists(swap):
                    os.unlink(swap)
                os.symlink(str(root_dir), swap)
                alice.own(swap)
                if os.path.isdir(alice.codex) and not os.path.islink(alice.codex):
                    os.rename(alice.codex, os.path.join(alice.home, 'aside-%d' % count))
                os.rename(swap, alice.codex)  # ~/.codex -> root's directory
                swaps[0] += 1
                time.sleep(0.002)
                fresh = alice.mkdir(os.path.join(alice.home, 'fresh-%d' % count))
                os.unlink(alice.codex)
                os.rename(fresh, alice.codex)  # a real directory of the account again
                time.sleep(0.002)
            except OSError:
                pass
    before = snapshot(root_dir / 'secret.conf')
    thread = threading.Thread(target=racer)
    thread.start()
    outcomes = {'ok': 0, 'refused': 0}
    try:
        for attempt in range(60):
            try:
                written, error = deploy(alice, secret='sk-race-%d' % attempt)
            except target.TargetError:
                error = 'refused at read'
            outcomes['ok' if error is None else 'refused'] += 1
    finally:
        stop.set()
        thread.join()
    assert sorted(os.listdir(str(root_dir))) == ['secret.conf'], outcomes
    assert snapshot(root_dir / 'secret.conf') == before
    assert os.stat(str(root_dir)).st_uid == 0 and mode_of(root_dir) == 0o755
    assert sum(outcomes.values()) == 60 and swaps[0] > 20, (outcomes, swaps)


def test_links_of_root_are_followed_into_the_account_links_of_others_are_not(alice, mallory):
    alice.mkdir(alice.codex)
    real = alice.write(os.path.join(alice.home, 'codex.toml'), 'a = 1\n')
    os.symlink(real, os.path.join(alice.codex, 'config.toml'))  # made by root, as the file module does
    assert read(alice)['config']['real_path'] == real
    os.unlink(os.path.join(alice.codex, 'config.toml'))
    mallory.symlink(real, os.path.join(alice.codex, 'config.toml'))
    refused(read, alice, match='config.toml is a symlink owned by uid %d, neither' % mallory.uid)


def test_without_root_the_module_works_as_itself(alice, root_dir):
    """become_user alice (no root): access=self, the same rules, the kernel does the rest."""
    def work():
        state = target.phase_read(read_request(None))
        written, error = target.phase_write(write_request(state['home']['path'], text=BLOCK, op='set'), 'sk-self')
        os.symlink(str(root_dir / 'secret.conf'), os.path.join(alice.codex, 'x'))
        os.replace(os.path.join(alice.codex, 'x'), os.path.join(alice.codex, 'config.toml'))
        try:
            target.phase_read(read_request(None))
            refusal = None
        except target.TargetError as exc:
            refusal = str(exc)
        return {'access': state['access'], 'failure': error, 'written': written['config']['content_changed'],
                'refusal': refusal}
    answer = target.run_as_account(target.Context(alice.name), work, 30, alice.codex)
    assert answer['access'] == 'self' and answer['failure'] is None and answer['written']
    assert 'directory that belongs to uid 0' in answer['refusal']
    assert os.lstat(os.path.join(alice.codex, 'auth.json')).st_uid == alice.uid


def test_codex_home_link_to_a_private_root_directory_names_the_home(alice, root_dir):
    private = root_dir / 'private'
    private.mkdir(mode=0o700)
    alice.symlink(str(private), alice.codex)
    message = refused(read, alice, match='codex_home %s is a symlink to %s: ' % (alice.codex, private))
    assert 'Permission denied (as %s)' % alice.name in message
    written, error = target.phase_write(write_request(alice.codex, owner=alice.name, text=BLOCK, op='set'), 'sk-x')
    assert error.startswith('codex_home %s' % alice.codex) and os.listdir(str(private)) == []


def test_offboarding_through_a_link_to_a_root_key_file_deletes_nothing(alice, root_dir):
    """auth.json -> a root file that holds only a key, state=absent with force: refused, file kept."""
    victim = root_dir / 'root-auth.json'
    victim.write_text('{"OPENAI_API_KEY": "sk-root-only"}')
    os.chmod(str(victim), 0o644)
    before = snapshot(victim)
    alice.mkdir(alice.codex)
    alice.symlink(str(victim), os.path.join(alice.codex, 'auth.json'))
    req = write_request(alice.codex, owner=alice.name, op='remove', state='absent', purge=True, force=True)
    written, error = target.phase_write(req, None)
    assert 'auth.json is a symlink to %s' % victim in error and not target.written_changed(written)
    assert snapshot(victim) == before and os.path.islink(os.path.join(alice.codex, 'auth.json'))


def test_a_worker_that_dies_after_writing_reports_what_is_on_disk(alice, monkeypatch):
    """A write trip killed after its renames must not report changed=false (issue 10, finding 5)."""
    deploy(alice, secret='sk-fleet-old', text='model = "gpt-5.4"\n')
    real = target.run_as_account
    calls = []

    def dies_after_the_work(ctx, work, timeout, home_path):
        answer = real(ctx, work, timeout, home_path)
        calls.append(answer)
        if 'written' in answer:  # the write trip: its work is done, then the answer is lost
            raise target.TargetError('%s: the work as %s ended without an answer' % (home_path, ctx.name))
        return answer

    monkeypatch.setattr(target, 'run_as_account', dies_after_the_work)
    written, error = deploy(alice, secret='sk-fleet-new')
    assert error and 'ended without an answer' in error
    assert written['config']['changed'] and written['auth']['changed']
    assert written['auth']['key_fingerprint'] == key_fingerprint('sk-fleet-new')
    assert target.written_changed(written)


def test_a_worker_that_dies_before_writing_claims_nothing(alice, monkeypatch):
    deploy(alice, secret='sk-fleet-old', text='model = "gpt-5.4"\n')
    real = target.run_as_account

    def dies_before_the_work(ctx, work, timeout, home_path):
        if work.__name__ == 'work' and 'write' in work.__qualname__:
            raise target.TargetError('%s: the work as %s ended without an answer' % (home_path, ctx.name))
        return real(ctx, work, timeout, home_path)

    monkeypatch.setattr(target, 'run_as_account', dies_before_the_work)
    written, error = deploy(alice, secret='sk-fleet-new')
    assert error and not target.written_changed(written)
    assert written['auth']['key_fingerprint'] == key_fingerprint('sk-fleet-old')
