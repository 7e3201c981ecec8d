"""Judges the root runs of converge.yml against hostile accounts (issue: a root run must never be
turned against the host by the account it configures).

Everything is read from the controller's runs/ directory that converge.yml filled: each run's
output (-v --diff), rc and wall time, and a snapshot of /etc, /root, /opt, /usr/local, /var and /srv
after it. A run may fail, as long as it ends within its bound and its failure names the file that
was refused; it may never change, create or remove anything outside the accounts' homes, print
root-only content or print a key.
"""
import hashlib
import json
import os
import re
from pathlib import Path

import pytest

STATE = Path(os.environ['MOLECULE_EPHEMERAL_DIRECTORY']) / 'security'
RUNS = STATE / 'runs'
RUN_NAMES = ('r1-deploy-check', 'r2-deploy', 'r2b-redeploy', 'r3-rotate', 'r4-install-profile', 'r5-audit',
             'r6-offboard', 'r7-offboard-cli', 'r8-http-installer')
AFTER_USERDEL = {'r6-offboard', 'r7-offboard-cli', 'r8-http-installer'}
BOUND = int(os.environ.get('SECURITY_RUN_TIMEOUT') or 240)
ACCOUNT_DB = re.compile(r'^/etc/(passwd|shadow|group|gshadow|subuid|subgid)-?$')


def _load(name):
    return json.loads((RUNS / name).read_text())


def _seconds(delta):
    hours, minutes, seconds = delta.split(':')
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@pytest.fixture(scope='module')
def baseline():
    return _load('baseline.snap.json')['files']


@pytest.fixture(scope='module')
def userdel_delta():
    """What `userdel mallory-gone` itself changed in the account database (and nothing else)."""
    pre, post = _load('userdel-pre.snap.json')['files'], _load('userdel-post.snap.json')['files']
    return {p: (pre.get(p), post.get(p)) for p in set(pre) | set(post)
            if ACCOUNT_DB.match(p) and pre.get(p) != post.get(p)}


@pytest.fixture(scope='module')
def runs():
    out = {}
    for name in RUN_NAMES:
        meta = _load(name + '.json')
        meta['seconds'] = _seconds(meta['delta'])
        meta['out'] = (RUNS / (name + '.out')).read_text(errors='replace')
        meta['snap'] = _load(name + '.snap.json')
        out[name] = meta
    return out


@pytest.fixture(scope='module')
def secrets():
    keys = [(STATE / (k + '.key')).read_text() for k in ('deploy', 'rotated', 'planted')]
    return {'keys': keys, 'marker': (STATE / 'marker').read_text()}


def expected(baseline, userdel_delta, run):
    files = dict(baseline)
    if run in AFTER_USERDEL:
        for path, (pre, post) in userdel_delta.items():
            if files.get(path) == pre:
                if post is None:
                    files.pop(path, None)
                else:
                    files[path] = post
    return files


def host_changes(baseline, userdel_delta, runs, run):
    want, got = expected(baseline, userdel_delta, run), runs[run]['snap']['files']
    return sorted('%s: %s -> %s' % (p, want.get(p, 'absent'), got.get(p, 'absent'))
                  for p in set(want) | set(got) if want.get(p) != got.get(p))


def failures(out):
    """The failed/fatal result records of an ansible-playbook output, one text block each."""
    records, current = [], None
    for line in out.splitlines():
        if re.match(r'^(failed|fatal): ', line):
            current = [line]
            records.append(current)
        elif current is not None and (line.startswith(' ') or not line.strip()):
            current.append(line)
        else:
            current = None
    return ['\n'.join(r) for r in records]


def assert_refusal_names(runs, run, *paths):
    """The run failed for this account with a message naming (one of) the offending path(s)."""
    blocks = failures(runs[run]['out'])
    assert any(any(p in b for p in paths) for b in blocks), (
        '%s: no failure message names %s; failures were:\n%s'
        % (run, ' or '.join(paths), '\n---\n'.join(b[:1500] for b in blocks) or '(none)'))


def unchanged(runs, baseline, path, run_names=RUN_NAMES):
    return ['%s after %s: %s' % (path, r, runs[r]['snap']['files'].get(path, 'absent'))
            for r in run_names if runs[r]['snap']['files'].get(path) != baseline.get(path)]


def created_under(runs, baseline, prefix, run_names=RUN_NAMES):
    return sorted({'%s (after %s)' % (p, r) for r in run_names for p in runs[r]['snap']['files']
                   if p.startswith(prefix) and p not in baseline})


# ------------------------------------------------------------------------------------ every run
@pytest.mark.parametrize('run', RUN_NAMES)
def test_run_ends_within_its_bound(runs, run):
    meta = runs[run]
    assert meta['rc'] not in (124, 137), '%s hung: killed by timeout after %.0f s' % (run, meta['seconds'])
    assert meta['seconds'] < BOUND


@pytest.mark.parametrize('run', RUN_NAMES)
def test_nothing_outside_the_homes_changed(baseline, userdel_delta, runs, run):
    """Every root-owned file keeps content, owner and mode; no file appears or disappears."""
    assert host_changes(baseline, userdel_delta, runs, run) == []


@pytest.mark.parametrize('run', RUN_NAMES)
def test_no_key_and_no_root_only_content_in_output(runs, secrets, run):
    out = runs[run]['out']
    assert secrets['marker'] not in out, '%s printed the content of a root-only file' % run
    assert not [k for k in secrets['keys'] if k in out], '%s printed a key' % run


def test_no_key_and_no_root_only_content_in_reports(secrets):
    for report in (STATE / 'reports').rglob('*'):
        if report.is_file():
            text = report.read_text(errors='replace')
            assert secrets['marker'] not in text and not [k for k in secrets['keys'] if k in text], report


# ------------------------------------------------------------------ one test per finding
def test_config_link_to_root_file(runs, baseline):
    """~/.codex/config.toml -> /etc/<root file>: not rewritten, not chowned; refused by name."""
    assert unchanged(runs, baseline, '/etc/codex-victim.toml') == []
    assert_refusal_names(runs, 'r2-deploy', '/home/mallory-etc/.codex/config.toml')
    # also when the survey read her home first (its error is an answer; codex_config reads again)
    assert_refusal_names(runs, 'r2b-redeploy', '/home/mallory-etc/.codex/config.toml')


def test_auth_link_to_missing_root_file(runs, baseline):
    """~/.codex/auth.json -> /etc/profile.d/<missing>: a key-only run creates nothing there."""
    assert created_under(runs, baseline, '/etc/profile.d/') == []
    assert_refusal_names(runs, 'r3-rotate', '/home/mallory-etc/.codex/auth.json', '/home/mallory-etc/.codex/config.toml')


def test_codex_home_link_to_root_dir(runs, baseline):
    """~/.codex -> /root/<0700 dir>: nothing created or changed inside it."""
    assert created_under(runs, baseline, '/root/codex-private') == []
    assert unchanged(runs, baseline, '/root/codex-private/notes') == []
    assert_refusal_names(runs, 'r2-deploy', '/home/mallory-rootdir/.codex')


def test_key_only_run_leaves_linked_empty_root_file(runs, baseline):
    """config.toml -> /etc/<empty root file>, key-only run (rotate_key): not chowned. (A key-only
    run may refuse the link or leave config.toml alone; deploy, which writes it, must refuse.)"""
    assert unchanged(runs, baseline, '/etc/codex-victim-empty') == []
    assert_refusal_names(runs, 'r2-deploy', '/home/mallory-empty/.codex/config.toml')


def test_force_does_not_replace_shadow_group_file(runs, baseline):
    """auth.json -> /etc/<root:shadow 0640 file>, force: true: not replaced, no backup in /etc."""
    assert unchanged(runs, baseline, '/etc/codex-victim-shadow') == []
    assert created_under(runs, baseline, '/etc/codex-victim-shadow') == []
    assert_refusal_names(runs, 'r2-deploy', '/home/mallory-shadow/.codex/auth.json')


def test_offboard_does_not_delete_linked_root_apikey_file(runs, baseline):
    """auth.json -> /etc/<root file holding only an apikey>, state absent: root does not delete it."""
    assert unchanged(runs, baseline, '/etc/codex-victim-apikey.json') == []
    assert_refusal_names(runs, 'r6-offboard', '/home/mallory-apikey/.codex/auth.json')


def test_racer_never_wins():
    """~/.codex swapped with a link to /etc/codex-race during deploy and rotate_key."""
    live = _load('live.json')
    assert live['racer_swaps'] > 100, 'the racer did not race (%s swaps)' % live['racer_swaps']
    for run in ('r2-deploy', 'r3-rotate'):
        snap = _load(run + '.snap.json')['files']
        assert sorted(p for p in snap if p.startswith('/etc/codex-race/')) == [], run
        assert snap.get('/etc/codex-race') == _load('baseline.snap.json')['files']['/etc/codex-race'], run


def test_check_mode_diff_does_not_print_root_only_file(runs, secrets):
    """--check --diff with config.toml -> /etc/<root-only 0600 file>: its content never printed."""
    for run in RUN_NAMES:
        assert secrets['marker'] not in runs[run]['out'], run
    assert_refusal_names(runs, 'r1-deploy-check', '/home/mallory-diff/.codex/config.toml')


def test_install_role_does_not_follow_profile_links(runs, baseline):
    """~/.profile -> /etc/<file> and a dangling ~/.profile -> /etc/<new file> (per-user npm)."""
    assert unchanged(runs, baseline, '/etc/codex-victim-profile') == []
    assert created_under(runs, baseline, '/etc/profile.d/') == []
    assert_refusal_names(runs, 'r4-install-profile', '/home/mallory-profile/.profile', '/etc/codex-victim-profile')
    assert_refusal_names(runs, 'r4-install-profile', '/home/mallory-dangling/.profile',
                         '/etc/profile.d/zz-mallory-dangling.sh')


def test_install_role_remove_does_not_follow_packages_link(runs, baseline):
    """~/.codex/packages -> /opt/<root 0700 dir>: removing the CLI deletes nothing in it."""
    for path in ('/opt/codex-victim-pkgs', '/opt/codex-victim-pkgs/standalone',
                 '/opt/codex-victim-pkgs/standalone/keep'):
        assert unchanged(runs, baseline, path) == []


def test_audit_ends_with_fifo_and_dev_zero(runs):
    """auth.json as a FIFO (mallory-fifo) and a link to /dev/zero (mallory-zero): every run ends."""
    for run in ('r2-deploy', 'r3-rotate', 'r5-audit', 'r6-offboard'):
        assert runs[run]['rc'] not in (124, 137), '%s hung' % run
    assert 'mallory-fifo' in runs['r5-audit']['out'] and 'mallory-zero' in runs['r5-audit']['out']


def test_held_lock_fails_clearly_within_timeout(runs):
    """mallory-flock holds flock on her Codex home during rotate_key: a clear lock error, no hang."""
    live = _load('live.json')
    assert live['lock_holder'].startswith('holding'), live['lock_holder']
    assert runs['r3-rotate']['rc'] not in (124, 137)
    blocks = [b for b in failures(runs['r3-rotate']['out']) if '/home/mallory-flock/.codex' in b]
    assert any(re.search(r'lock', b, re.I) for b in blocks), blocks or 'no failure names /home/mallory-flock/.codex'


def test_hard_link_to_root_file_not_changed(runs, baseline):
    """config.toml and auth.json hard-linked to root files (fs.protected_hardlinks=0 on some hosts);
    the root auth.json already holds what deploy writes, so only owner and mode could change."""
    assert unchanged(runs, baseline, '/etc/codex-victim-hardlink.toml') == []
    assert unchanged(runs, baseline, '/etc/codex-victim-hardlink.json') == []


def test_loose_modes_repaired_and_reported(runs):
    """A 0777 ~/.codex with a 0666 config.toml: repaired by deploy and said so; reported by audit."""
    probe = runs['r2-deploy']['snap']['probe']
    assert probe['/home/mallory-loose/.codex']['mode'] == '0700'
    assert int(probe['/home/mallory-loose/.codex/config.toml']['mode'], 8) & 0o022 == 0
    assert probe['/home/mallory-loose/.codex/auth.json']['mode'] == '0600'
    for run in ('r2-deploy', 'r5-audit'):
        lines = [line for line in runs[run]['out'].splitlines()
                 if '/home/mallory-loose/.codex' in line
                 and re.search(r'mode|permission|writable|0[0-7]{3} -> 0[0-7]{3}', line, re.I)]
        assert lines, '%s does not report the loose modes of /home/mallory-loose/.codex' % run


def test_offboard_removes_every_key_copy():
    """auth.json.<stamp>~ backups (and any backup offboard makes): no copy of a key left."""
    left = _load('keys-left.json')
    assert [p for p in left if p.startswith(('/home/mallory-backups/', '/home/alice/'))] == []


def test_offboard_corrupt_auth_json_removed_or_failed_by_name(runs):
    """A corrupt auth.json that still holds the key, force: true: removed, or a failure naming it."""
    left = [p for p in _load('keys-left.json') if p.startswith('/home/mallory-corrupt/')]
    if left:
        assert runs['r6-offboard']['rc'] != 0
        blocks = failures(runs['r6-offboard']['out'])
        for path in left:
            home, name = path.rsplit('/', 1)
            assert any(path in b or (home in b and name in b) for b in blocks), (
                'a key is left in %s and no failure of offboard names it' % path)


def test_offboard_fails_for_deleted_account(runs):
    """An account deleted with userdel (home and key kept): offboard fails and names it."""
    assert runs['r6-offboard']['rc'] != 0
    assert_refusal_names(runs, 'r6-offboard', 'mallory-gone')


def test_plain_http_installer_refused(runs, baseline):
    """codex_install_script_url http://...: refused with a clear error, never downloaded or run."""
    assert runs['r8-http-installer']['rc'] != 0
    blocks = [b for b in failures(runs['r8-http-installer']['out'])
              if 'http://127.0.0.1:18081/install.sh' in b or 'codex_install_script_url' in b]
    assert any('https' in b for b in blocks), blocks or 'no failure names the http:// URL or its variable'
    assert '/etc/codex-http-installer-ran' not in runs['r8-http-installer']['snap']['files']


def test_jinja_in_an_accounts_files_stays_data(runs):
    """mallory-jinja's config.toml and auth.json hold Jinja that would touch a file on the controller
    if the play ever templated what the hosts answer (the install survey reads her Codex home into
    the play's variables for codex_config's prefetched)."""
    assert not os.path.exists('/tmp/bytes4096-codex-jinja-ran')
    for run in ('r2-deploy', 'r2b-redeploy'):
        text = runs[run]['snap']['probe']['/home/mallory-jinja/.codex/config.toml']['text']
        assert "# {{ lookup('ansible.builtin.pipe', 'touch /tmp/bytes4096-codex-jinja-ran') }}" in text
        assert '127.0.0.1:18080' in text
        assert 'mallory-jinja' not in '\n'.join(failures(runs[run]['out']))
    # the re-run handed her home's answer (her Jinja in it) to codex_config, which planned from it
    assert 'prefetched: true' in item_result(runs['r2b-redeploy']['out'], 'mallory-jinja')


def item_result(out, item):
    """The -v result block of a loop item, e.g. the codex_config loop's for one account."""
    match = re.search(r'\(item=%s\) => *\n((?:[ \t]+.*\n)+)' % re.escape(item), out)
    assert match, 'no -v result for item %s' % item
    return match.group(1)


# ------------------------------------------------------------------ the friendly account
@pytest.mark.parametrize('run', RUN_NAMES)
def test_alice_dotfile_link_survives(runs, run):
    probe = runs[run]['snap']['probe']
    link = probe['/home/alice/.codex/config.toml']
    assert link['kind'] == 'link' and link['target'] == '/home/alice/dotfiles/codex.toml'
    target = probe['/home/alice/dotfiles/codex.toml']
    assert target['kind'] == 'file' and target['uid'] == 1000
    assert int(target['mode'], 8) & 0o022 == 0 or run == 'r1-deploy-check'
    assert 'notifications = true' in target['text']


def test_alice_config_written_through_her_link(runs):
    text = runs['r2-deploy']['snap']['probe']['/home/alice/dotfiles/codex.toml']['text']
    assert '127.0.0.1:18080' in text


def test_alice_codex_sends_her_rotated_key(secrets):
    """codex exec as alice (login shell) after rotate_key: the stand-in got the rotated key."""
    alice = _load('live.json')['alice']
    fingerprint = 'sha256:' + hashlib.sha256(secrets['keys'][1].encode()).hexdigest()[:16]
    assert alice['rc'] == 0
    assert alice['authorization'] == ['Bearer ' + fingerprint]
