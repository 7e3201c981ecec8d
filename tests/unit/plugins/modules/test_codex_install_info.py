# -*- coding: utf-8 -*-
"""codex_install_info: the pure decisions (install method by real path, PATH shadowing, version and
PATH parsing, OS family), the bounded reads and child processes, and, as root, an inspection that
really runs as an unprivileged account."""
from __future__ import annotations

import functools
import json
import os
import pwd
import shutil
import tempfile
import time

import pytest

from ansible_collections.bytes4096.codex.plugins.modules import codex_install_info as info

PKG = '@openai/codex'


@pytest.mark.parametrize(('realpath', 'homes', 'method'), [
    ('/home/alice/.codex/packages/standalone/releases/0.169.0-x86_64-unknown-linux-musl/bin/codex',
     ['/home/alice/.codex'], 'script'),
    ('/srv/ci/codex/packages/standalone/releases/0.169.0-x/bin/codex', [], 'script'),
    ('/opt/codex/packages/standalone/current/codex', ['/opt/codex/'], 'script'),
    ('/home/alice/.local/lib/node_modules/@openai/codex/bin/codex.js', [], 'npm'),
    ('/usr/local/lib/node_modules/@openai/codex/bin/codex.js', [], 'npm'),
    ('/opt/homebrew/Caskroom/codex/0.169.0/codex-aarch64-apple-darwin', [], 'homebrew'),
    ('/usr/local/Caskroom/codex/0.169.0/codex', [], 'homebrew'),
    ('/home/linuxbrew/.linuxbrew/bin/codex', [], 'homebrew'),
    ('/usr/bin/codex', [], 'system'),
    ('/usr/lib/codex/codex', [], 'system'),
    ('/home/alice/bin/codex', ['/home/alice/.codex'], 'unknown'),
    ('/usr/local/bin/codex', [], 'unknown'),
    ('', [], ''),
])
def test_method_by_real_path(realpath, homes, method):
    assert info.classify(realpath, PKG, homes) == method


def test_npm_classification_follows_the_package_name():
    assert info.classify('/x/lib/node_modules/@acme/codex/bin/codex.js', '@acme/codex') == 'npm'
    assert info.classify('/x/lib/node_modules/@acme/codex/bin/codex.js', PKG) == 'unknown'


def test_first_codex_on_path_wins_and_the_others_are_shadowed():
    found = [
        {'path': '/home/a/.local/bin/codex', 'realpath': '/home/a/.codex/packages/standalone/current/codex'},
        {'path': '/usr/local/bin/codex', 'realpath': '/usr/local/lib/node_modules/@openai/codex/bin/codex.js'},
        {'path': '/usr/bin/codex', 'realpath': '/usr/bin/codex'},
    ]
    first, shadowed = info.resolve_on_path(found)
    assert first == found[0]
    assert shadowed == found[1:]


def test_the_same_file_twice_on_path_is_not_a_second_install():
    found = [
        {'path': '/usr/local/bin/codex', 'realpath': '/usr/lib/node_modules/@openai/codex/bin/codex.js'},
        {'path': '/usr/bin/codex', 'realpath': '/usr/lib/node_modules/@openai/codex/bin/codex.js'},
        {'path': '/bin/codex', 'realpath': '/usr/lib/node_modules/@openai/codex/bin/codex.js'},
    ]
    first, shadowed = info.resolve_on_path(found)
    assert first == found[0]
    assert shadowed == []


def test_nothing_on_path():
    assert info.resolve_on_path([]) == (None, [])


def test_path_entries_keep_order_and_drop_empty_ones():
    assert info.split_path('/a::/b:') == ['/a', '/b']
    assert info.split_path('') == []


def test_codex_on_path_skips_relative_entries_and_non_executables(tmp_path):
    good, plain, rel = tmp_path / 'good', tmp_path / 'plain', 'relative'
    good.mkdir()
    plain.mkdir()
    (good / 'codex').write_text('#!/bin/sh\n')
    (good / 'codex').chmod(0o755)
    (plain / 'codex').write_text('not executable')
    (plain / 'codex').chmod(0o644)
    found = info.codex_on_path([rel, str(plain), str(good), str(tmp_path / 'missing')])
    assert [f['path'] for f in found] == [str(good / 'codex')]


@pytest.mark.parametrize(('output', 'version'), [
    ('codex-cli 0.169.0\n', '0.169.0'),
    ('WARNING: proxy\ncodex-cli 0.170.0-alpha.2\n', '0.170.0-alpha.2'),
    ('1.2.3\n', '1.2.3'),
    ('codex-cli\n', ''),
    ('', ''),
])
def test_version_parsing(output, version):
    assert info.parse_version(output) == version


def test_path_comes_from_the_last_env_line_after_profile_noise():
    text = 'Welcome!\nPATH=/fake\nHOME=/home/a\nPATH=/home/a/bin:/usr/bin\nSHELL=/bin/bash\n'
    assert info.path_from_env_output(text) == '/home/a/bin:/usr/bin'
    assert info.path_from_env_output('HOME=/x\n') is None


@pytest.mark.parametrize(('release', 'family', 'dist'), [
    ({'ID': 'debian', 'VERSION_ID': '12'}, 'Debian', 'Debian'),
    ({'ID': 'ubuntu', 'ID_LIKE': 'debian'}, 'Debian', 'Ubuntu'),
    ({'ID': 'rocky', 'ID_LIKE': 'rhel centos fedora'}, 'RedHat', 'Rocky'),
    ({'ID': 'opensuse-leap', 'ID_LIKE': 'suse opensuse'}, 'Suse', 'openSUSE Leap'),
    ({'ID': 'mydistro', 'ID_LIKE': 'ubuntu', 'NAME': 'My Distro'}, 'Debian', 'My Distro'),
    ({'ID': 'plan9'}, 'Linux', 'Plan9'),
    ({}, 'Linux', 'Linux'),
])
def test_os_family_and_distribution(release, family, dist):
    assert info.os_family('Linux', release) == family
    assert info.distribution('Linux', release) == dist


def test_macos():
    assert info.os_family('Darwin', {}) == 'Darwin'
    assert info.distribution('Darwin', {}) == 'MacOSX'


def test_os_release_parsing():
    text = '# comment\nNAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="12"\n\nbroken line\n'
    assert info.parse_os_release(text) == {'NAME': 'Debian GNU/Linux', 'ID': 'debian', 'VERSION_ID': '12'}


def test_home_expansion():
    assert info.expand_home('~/.local/bin', '/home/a') == '/home/a/.local/bin'
    assert info.expand_home('~', '/home/a') == '/home/a'
    assert info.expand_home('/opt/x', '/home/a') == '/opt/x'
    assert info.expand_home('~bob/x', '/home/a') == '~bob/x'


def test_reads_never_block_on_a_fifo_and_are_capped(tmp_path):
    fifo = tmp_path / 'fifo'
    os.mkfifo(str(fifo))
    started = time.monotonic()
    assert info.read_regular(str(fifo)) is None
    assert time.monotonic() - started < 2
    big = tmp_path / 'big'
    big.write_bytes(b'x' * 5000)
    assert len(info.read_regular(str(big), cap=100)) == 100
    assert info.read_regular(str(tmp_path / 'missing')) is None
    assert info.read_regular(str(tmp_path)) is None


def test_a_hanging_program_is_killed_at_the_deadline():
    started = time.monotonic()
    rc = info.run_bounded(['/bin/sh', '-c', 'sleep 30 & sleep 30'], {'PATH': '/usr/bin:/bin'}, '/', 1)[0]
    assert rc is None
    assert time.monotonic() - started < 5


def test_a_descendant_holding_the_output_open_is_not_waited_for():
    started = time.monotonic()
    rc, out, _err = info.run_bounded(['/bin/sh', '-c', 'sleep 30 & echo codex-cli 1.2.3'], {'PATH': '/usr/bin:/bin'}, '/', 10)
    assert (rc, out.strip()) == (0, 'codex-cli 1.2.3')
    assert time.monotonic() - started < 5


def test_a_program_that_cannot_run_reports_127():
    rc, _out, err = info.run_bounded(['/nonexistent/codex', '--version'], {}, '/', 5)
    assert rc == 127
    assert 'cannot run /nonexistent/codex' in err


def test_output_is_capped():
    command = 'head -c 300000 /dev/zero | tr "\\0" x'
    out = info.run_bounded(['/bin/sh', '-c', command], {'PATH': '/usr/bin:/bin'}, '/', 10)[1]
    assert len(out) == info.OUTPUT_CAP


def test_a_hanging_inspection_fails_within_the_timeout():
    me = pwd.getpwuid(os.geteuid())
    started = time.monotonic()
    with pytest.raises(TimeoutError, match='did not finish within 1 seconds'):
        info.as_account(me, lambda: time.sleep(30), 1)
    assert time.monotonic() - started < 5


def test_an_error_in_the_child_is_reported():
    me = pwd.getpwuid(os.geteuid())

    def boom():
        raise ValueError('boom')

    with pytest.raises(RuntimeError, match='ValueError: boom'):
        info.as_account(me, boom, 5)


# ----- As root: the inspection really runs as the account --------------------------------------

root_only = pytest.mark.skipif(os.geteuid() != 0, reason='dropping to another account needs root')


class Account:
    """A pwd entry for the nobody account with a home in a temporary directory."""

    def __init__(self, home, shell='/bin/sh'):
        nobody = pwd.getpwnam('nobody')
        self.pw_name, self.pw_uid, self.pw_gid = nobody.pw_name, nobody.pw_uid, nobody.pw_gid
        self.pw_dir, self.pw_shell = home, shell


@pytest.fixture
def nobody_home():
    top = tempfile.mkdtemp(prefix='codex-install-info-')
    os.chmod(top, 0o755)
    home = os.path.join(top, 'home')
    os.mkdir(home)
    nobody = pwd.getpwnam('nobody')
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    yield top, home
    shutil.rmtree(top)


def params(**overrides):
    values = dict(users=['nobody'], user_installs=True, user_bin_dir='~/.local/bin', user_codex_home='~/.codex',
                  npm_user_prefix='~/.local', system_bin_dir='/usr/local/bin', system_codex_home='/opt/codex',
                  npm_package=PKG, npm_executable='', homebrew_cask='codex', version='run', timeout=20,
                  lookup_users=[], npm_prefix_source='config')
    values.update(overrides)
    return values


def as_nobody(path, text, mode=0o644):
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, mode)
    nobody = pwd.getpwnam('nobody')
    os.lchown(path, nobody.pw_uid, nobody.pw_gid)


@root_only
def test_the_account_codex_runs_as_the_account_and_shadowing_is_seen(nobody_home):
    top, home = nobody_home
    nobody = pwd.getpwnam('nobody')
    for sub in ('bin', 'other'):
        os.mkdir(os.path.join(home, sub))
        os.chown(os.path.join(home, sub), nobody.pw_uid, nobody.pw_gid)
    witness = os.path.join(home, 'ran-as')
    as_nobody(os.path.join(home, 'bin', 'codex'), '#!/bin/sh\nid -u > "%s"\necho "codex-cli 9.8.7"\n' % witness, 0o755)
    as_nobody(os.path.join(home, 'other', 'codex'), '#!/bin/sh\necho other\n', 0o755)
    as_nobody(os.path.join(home, '.profile'), 'PATH="$HOME/bin:$HOME/other:$PATH"\nexport PATH\necho noise\n')
    account = Account(home)
    result = info.as_account(account, functools.partial(info.inspect_account, account, params(), ['/opt/codex'],
                                                        time.monotonic() + 20), 22)
    assert result['path_source'] == 'login_shell'
    assert result['path'][:2] == [home + '/bin', home + '/other']
    assert result['codex'] == home + '/bin/codex'
    assert result['method'] == 'unknown'
    assert result['version'] == '9.8.7'
    assert [s['path'] for s in result['shadowed']] == [home + '/other/codex']
    with open(witness) as handle:
        assert handle.read().strip() == str(nobody.pw_uid)


@root_only
def test_links_into_root_only_places_are_seen_with_the_account_rights(nobody_home):
    top, home = nobody_home
    secret_dir = os.path.join(top, 'root-only')
    os.makedirs(os.path.join(secret_dir, 'standalone', 'releases', '1.2.3-x'))
    os.symlink(os.path.join(secret_dir, 'standalone', 'releases', '1.2.3-x'),
               os.path.join(secret_dir, 'standalone', 'current'))
    with open(os.path.join(secret_dir, 'standalone', 'releases', '1.2.3-x', 'codex'), 'w') as handle:
        handle.write('#!/bin/sh\n')
    os.chmod(os.path.join(secret_dir, 'standalone', 'releases', '1.2.3-x', 'codex'), 0o755)
    os.chmod(secret_dir, 0o700)
    root_profile = os.path.join(top, 'root-profile')
    with open(root_profile, 'w') as handle:
        handle.write('# >>> Codex installer >>>\n')
    os.chmod(root_profile, 0o600)
    nobody = pwd.getpwnam('nobody')
    os.mkdir(os.path.join(home, '.codex'))
    os.chown(os.path.join(home, '.codex'), nobody.pw_uid, nobody.pw_gid)
    os.symlink(secret_dir, os.path.join(home, '.codex', 'packages'))
    os.symlink(root_profile, os.path.join(home, '.bashrc'))
    os.mkfifo(os.path.join(home, '.zshrc'))
    account = Account(home, shell='/usr/sbin/nologin')
    started = time.monotonic()
    result = info.as_account(account, functools.partial(info.inspect_account, account, params(), ['/opt/codex'],
                                                        time.monotonic() + 20), 22)
    assert time.monotonic() - started < 10
    assert result['path_source'] == 'default'
    script, npm = result['installs']
    # As root these would read version 1.2.3 through the link and the installer block.
    assert script['version'] == '' and not script['exists'] and script['profiles'] == []
    assert npm['version'] == '' and npm['profiles'] == []


def test_npmrc_prefix_takes_the_last_plain_setting():
    assert info.npmrc_prefix('# c\nprefix=/usr/local\ncache=/x\nprefix = "/opt/npm"\n') == '/opt/npm'
    assert info.npmrc_prefix('prefix=${HOME}/x\n') is None
    assert info.npmrc_prefix(None) is None


def test_npm_prefix_from_config_files(tmp_path):
    # npm installed the Debian way: /usr/bin/npm -> <share>/npm/bin/npm-cli.js, builtin npmrc beside bin/.
    share = tmp_path / 'share' / 'npm'
    (share / 'bin').mkdir(parents=True)
    (share / 'bin' / 'npm-cli.js').write_text('')
    npm = tmp_path / 'npm'
    npm.symlink_to(share / 'bin' / 'npm-cli.js')
    node_prefix = tmp_path / 'node'
    (node_prefix / 'bin').mkdir(parents=True)
    (node_prefix / 'bin' / 'node').write_text('')
    home = tmp_path / 'home'
    home.mkdir()
    node = str(node_prefix / 'bin' / 'node')
    assert info.npm_prefix_from_config(str(npm), node, str(home)) == str(node_prefix)
    (share / 'npmrc').write_text('prefix=/usr/local\n')
    assert info.npm_prefix_from_config(str(npm), node, str(home)) == '/usr/local'
    (home / '.npmrc').write_text('prefix=~/npm-global\n')
    assert info.npm_prefix_from_config(str(npm), node, str(home)) == str(home / 'npm-global')
    assert info.npm_prefix_from_config('', node, str(home)) == ''


# ----- Version from the install layout, passwd look-ups ---------------------------------------------

@pytest.mark.parametrize(('name', 'expected'), [
    ('0.169.0-x86_64-unknown-linux-musl', ('0.169.0', 'x86_64-unknown-linux-musl')),
    ('0.169.0-aarch64-apple-darwin', ('0.169.0', 'aarch64-apple-darwin')),
    ('0.170.0-alpha.2-x86_64-unknown-linux-gnu', ('0.170.0-alpha.2', 'x86_64-unknown-linux-gnu')),
    ('0.170.0-alpha-arm64-apple-darwin', ('0.170.0-alpha', 'arm64-apple-darwin')),
    ('0.169.0', ('', '')),
    ('current', ('', '')),
    ('.staging.0.169.0-x86_64-unknown-linux-musl.42', ('', '')),
    ('', ('', '')),
])
def test_release_directory_names(name, expected):
    assert info.split_release(name) == expected


@pytest.mark.parametrize(('realpath', 'homes', 'version'), [
    ('/home/a/.codex/packages/standalone/releases/0.169.0-x86_64-unknown-linux-musl/bin/codex',
     ['/home/a/.codex'], '0.169.0'),
    ('/home/a/.codex/packages/standalone/releases/0.169.0-x86_64-unknown-linux-musl/codex', [], '0.169.0'),
    ('/opt/codex/packages/standalone/0.168.0-aarch64-unknown-linux-musl/codex', ['/opt/codex/'], '0.168.0'),
    ('/opt/codex/packages/standalone/current/codex', ['/opt/codex'], ''),
    ('/opt/codex/packages/standalone/releases/0.169.0-x86_64-unknown-linux-musl', ['/opt/codex'], ''),
    ('/home/a/bin/codex', ['/home/a/.codex'], ''),
])
def test_script_layout_version(realpath, homes, version):
    assert info.script_layout_version(realpath, homes) == version
    assert info.layout_version(realpath, 'script', PKG, homes) == version


def test_npm_layout_version_walks_up_to_the_package(tmp_path):
    package = tmp_path / 'lib' / 'node_modules' / '@openai' / 'codex'
    (package / 'bin').mkdir(parents=True)
    binary = str(package / 'bin' / 'codex.js')
    assert info.npm_layout_version(binary, PKG) == ''  # no package.json
    (package / 'package.json').write_text('{"name": "@openai/codex", "version": "0.166.0"}')
    assert info.npm_layout_version(binary, PKG) == '0.166.0'
    assert info.layout_version(binary, 'npm', PKG) == '0.166.0'
    assert info.layout_version(binary, 'unknown', PKG) == ''
    # Another package's manifest, a broken one, one without a version: not a layout the module knows.
    for text in ('{"name": "@acme/codex", "version": "1.0.0"}', '{"name": "@openai/codex"',
                 '{"name": "@openai/codex"}', '{"name": "@openai/codex", "version": "latest"}', '[]'):
        (package / 'package.json').write_text(text)
        assert info.npm_layout_version(binary, PKG) == '', text
    assert info.npm_layout_version('/usr/bin/codex', PKG) == ''


def test_npm_layout_version_is_read_with_the_reader_it_is_given():
    seen = []

    def read(path):
        seen.append(path)
        return '{"name": "@openai/codex", "version": "1.2.3"}'

    realpath = '/p/lib/node_modules/@openai/codex/bin/codex.js'
    assert info.npm_layout_version(realpath, PKG, read) == '1.2.3'
    assert seen == ['/p/lib/node_modules/@openai/codex/package.json']


class FakeAccount:
    """A pwd-like entry for the user running the tests, with a home of the test's own."""

    def __init__(self, home, shell='/bin/sh'):
        me = pwd.getpwuid(os.geteuid())
        self.pw_name, self.pw_uid, self.pw_gid = me.pw_name, me.pw_uid, me.pw_gid
        self.pw_dir, self.pw_shell, self.pw_gecos = str(home), shell, ''


def executable(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


def witness_codex(home, version):
    """A codex that leaves a file behind when it runs and prints `codex-cli VERSION`."""
    return '#!/bin/sh\ntouch "%s/ran"\necho "codex-cli %s"\n' % (home, version)


@pytest.fixture
def npm_home(tmp_path):
    home = tmp_path / 'home'
    package = home / '.local' / 'lib' / 'node_modules' / '@openai' / 'codex'
    executable(package / 'bin' / 'codex.js', witness_codex(home, '9.9.9'))
    (package / 'package.json').write_text('{"name": "@openai/codex", "version": "0.166.0"}')
    (home / '.local' / 'bin').mkdir(parents=True)
    (home / '.local' / 'bin' / 'codex').symlink_to('../lib/node_modules/@openai/codex/bin/codex.js')
    (home / '.profile').write_text('PATH="$HOME/.local/bin:$PATH"\nexport PATH\n')
    return home


def inspect(home, **overrides):
    """inspect_account() for the test user with the given home, version=auto unless overridden."""
    account = FakeAccount(home)
    return info.inspect_account(account, params(**dict({'version': 'auto'}, **overrides)), ['/opt/codex'],
                                time.monotonic() + 20)


def test_auto_reads_an_npm_install_version_without_running_it(npm_home):
    result = inspect(npm_home, version='auto')
    assert result['codex'] == str(npm_home / '.local' / 'bin' / 'codex')
    assert result['method'] == 'npm'
    assert (result['version'], result['version_source'], result['version_output']) == ('0.166.0', 'layout', '')
    assert not (npm_home / 'ran').exists()
    # The install entry reads the same package.json: the role's check compares the two.
    assert [i['version'] for i in result['installs'] if i['slot'] == 'npm_user'] == ['0.166.0']


def test_run_always_runs_the_account_codex(npm_home):
    result = inspect(npm_home, version='run')
    assert (result['version'], result['version_source'], result['version_output']) == (
        '9.9.9', 'run', 'codex-cli 9.9.9')
    assert (npm_home / 'ran').exists()


def test_skip_leaves_the_version_empty(npm_home):
    result = inspect(npm_home, version='skip')
    assert (result['version'], result['version_source']) == ('', '')
    assert result['codex'] and not (npm_home / 'ran').exists()


def test_auto_reads_a_script_install_version_from_the_release_directory(tmp_path):
    home = tmp_path / 'home'
    standalone = home / '.codex' / 'packages' / 'standalone'
    release = standalone / 'releases' / '0.169.0-x86_64-unknown-linux-musl'
    executable(release / 'bin' / 'codex', witness_codex(home, '9.9.9'))
    (release / 'codex').symlink_to('bin/codex')
    (standalone / 'current').symlink_to(release)
    (home / '.local' / 'bin').mkdir(parents=True)
    (home / '.local' / 'bin' / 'codex').symlink_to(standalone / 'current' / 'codex')
    (home / '.profile').write_text('PATH="$HOME/.local/bin:$PATH"\nexport PATH\n')
    result = inspect(home)
    assert result['codex_realpath'] == str(release / 'bin' / 'codex')
    assert (result['method'], result['version'], result['version_source']) == ('script', '0.169.0', 'layout')
    assert not (home / 'ran').exists()
    script = [i for i in result['installs'] if i['slot'] == 'script_user'][0]
    assert (script['version'], script['target'], script['complete']) == ('0.169.0', 'x86_64-unknown-linux-musl', True)


def test_auto_runs_a_codex_outside_the_known_layouts(tmp_path):
    home = tmp_path / 'home'
    executable(home / 'bin' / 'codex', witness_codex(home, '1.2.3'))
    (home / '.profile').write_text('PATH="$HOME/bin:$PATH"\nexport PATH\n')
    result = inspect(home)
    assert (result['method'], result['version'], result['version_source']) == ('unknown', '1.2.3', 'run')
    assert (home / 'ran').exists()


def test_auto_runs_an_npm_codex_whose_manifest_is_not_the_package(npm_home):
    manifest = npm_home / '.local' / 'lib' / 'node_modules' / '@openai' / 'codex' / 'package.json'
    manifest.write_text('{"name": "something-else", "version": "0.166.0"}')
    result = inspect(npm_home)
    assert (result['version'], result['version_source']) == ('9.9.9', 'run')


def test_no_codex_has_no_version_source(tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    result = inspect(home)
    assert (result['codex'], result['version'], result['version_source']) == ('', '', '')


def test_passwd_lookups_return_entries_and_null_for_missing_names():
    root = pwd.getpwnam('root')
    entries = info.lookup_passwd(['root', 'no-such-account-cx', 'bad\0name', 'root'])
    assert entries['root'] == ['root', '0', str(root.pw_gid), root.pw_gecos, root.pw_dir, root.pw_shell]
    assert entries['no-such-account-cx'] is None
    assert entries['bad\0name'] is None
    assert list(entries) == ['root', 'no-such-account-cx', 'bad\0name']
    # Entries already looked up (the surveyed accounts) come first and are not looked up again.
    known = FakeAccount('/nowhere')
    entries = info.lookup_passwd(['root'], [known])
    assert list(entries) == [known.pw_name] + ([] if known.pw_name == 'root' else ['root'])
    assert entries[known.pw_name] == [known.pw_name, str(known.pw_uid), str(known.pw_gid), '', '/nowhere', '/bin/sh']


class FakeModule:
    def __init__(self):
        self.failed = None

    def fail_json(self, **kwargs):
        self.failed = kwargs
        raise SystemExit(1)


def test_the_survey_returns_passwd_for_surveyed_and_looked_up_accounts(monkeypatch):
    me = pwd.getpwuid(os.geteuid())
    seen = []

    def fake_as_account(account, work, seconds):
        seen.append(account.pw_name)
        return {'path': [], 'path_source': 'default', 'codex': '', 'codex_realpath': '', 'method': '',
                'version': '', 'version_source': '', 'version_output': '', 'shadowed': [], 'warnings': [],
                'installs': []}

    monkeypatch.setattr(info, 'as_account', fake_as_account)
    result, _warnings = info.survey(FakeModule(), params(users=[me.pw_name], lookup_users=['root', 'no-such-cx']))
    # Only the surveyed account is inspected; the looked-up ones are only in passwd.
    assert seen == [me.pw_name]
    assert [a['user'] for a in result['accounts']] == [me.pw_name]
    assert result['passwd'][me.pw_name][0] == me.pw_name
    assert result['passwd']['root'][4] == pwd.getpwnam('root').pw_dir
    assert result['passwd']['no-such-cx'] is None


def test_a_missing_surveyed_account_still_fails():
    module = FakeModule()
    with pytest.raises(SystemExit):
        info.survey(module, params(users=['no-such-cx'], lookup_users=['root']))
    assert module.failed['msg'] == 'codex_install_info: no such account: no-such-cx'


@pytest.mark.parametrize(('source', 'installed', 'asks_npm'), [
    ('config', False, False),
    ('query', True, True),
    ('auto', True, False),   # a converged host: Codex is where the npm configuration says, no Node.js start
    ('auto', False, True),   # not there (yet): npm's own answer, so an install goes where npm puts it
])
def test_npm_prefix_source(monkeypatch, tmp_path, source, installed, asks_npm):
    prefix = tmp_path / 'prefix'
    if installed:
        package = prefix / 'lib' / 'node_modules' / PKG
        package.mkdir(parents=True)
        (package / 'package.json').write_text(json.dumps({'name': PKG, 'version': '0.169.0'}))
    asked = []
    monkeypatch.setattr(info, 'find_tools', lambda npm_executable: {'npm': '/usr/bin/npm', 'node': '/usr/bin/node'})
    monkeypatch.setattr(info, 'npm_prefix_from_config', lambda npm, node, home: str(prefix))

    def fake_query(npm, seconds):
        asked.append(npm)
        return str(prefix), ''

    monkeypatch.setattr(info, 'npm_global_prefix', fake_query)
    result, _warnings = info.survey(FakeModule(), params(users=[], user_installs=False, npm_prefix_source=source))
    assert bool(asked) is asks_npm
    npm_system = [i for i in result['installs'] if i['slot'] == 'npm_system'][0]
    assert npm_system['version'] == ('0.169.0' if installed else '')


# --- codex_homes: codex_config's read trip, made in the survey's trip ---------------------------

def _home_item(**item):
    return dict({'codex_home': None, 'owner': None, 'group': None, 'config_mode': None}, **item)


@pytest.mark.skipif(os.geteuid() != 0, reason='reads as root, as the role runs the survey')
def test_codex_homes_answer_as_codex_configs_read_trip(tmp_path):
    from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto
    home = tmp_path / 'codex'
    home.mkdir(mode=0o700)
    (home / 'config.toml').write_text('model = "gpt-5.5"\n')
    answer = info.read_codex_home(_home_item(codex_home=str(home), owner='root', config_mode='644'))
    assert answer['request'] == {'protocol': proto.PROTOCOL_VERSION, 'codex_home': str(home), 'owner': 'root',
                                 'group': None, 'config_mode': '0644', 'want_auth': True}
    proto.validate_response('read', answer['state'])
    assert answer['state']['config']['text'] == 'model = "gpt-5.5"\n'
    assert answer['state']['auth']['exists'] is False and 'error' not in answer


@pytest.mark.parametrize('item, message', [
    (_home_item(owner='codex-no-such-account'), 'codex-no-such-account'),
    (_home_item(owner='root', group='codex-no-such-group'), 'codex-no-such-group'),
    (_home_item(codex_home='relative/.codex', owner='root'), 'absolute path'),
    (_home_item(codex_home='~codex-no-such-account/x', owner='root'), 'codex-no-such-account'),
    (_home_item(owner='root', config_mode='rw-r--r--'), 'rw-r--r--'),
])
def test_a_codex_home_that_cannot_be_read_is_an_answer_not_a_failure(item, message):
    answer = info.read_codex_home(item)
    assert 'state' not in answer and message in answer['error']
