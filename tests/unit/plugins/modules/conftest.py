# -*- coding: utf-8 -*-
"""Throwaway host accounts for the codex_config host-side tests.

The privilege drop is run for real: the tests need root (the CI machine and the test containers run
them as root) and create accounts with ``useradd``, removed again at the end of the session. Without
root, the tests that need an account are skipped with the reason.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess

import pytest

PREFIX = 'cxt%d' % (os.getpid() % 100000)


def _need_root():
    if os.geteuid() != 0 or not shutil.which('useradd'):
        pytest.skip('needs root and useradd: the tests drop privileges to real throwaway accounts')


class Account(object):
    def __init__(self, name):
        entry = pwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, entry.pw_uid, entry.pw_gid, entry.pw_dir
        self.codex = os.path.join(self.home, '.codex')

    def reset(self):
        """An empty home owned by the account (0755), nothing else."""
        for entry in os.listdir(self.home):
            path = os.path.join(self.home, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        os.chown(self.home, self.uid, self.gid)
        os.chmod(self.home, 0o755)

    def own(self, *paths):
        for path in paths:
            os.lchown(path, self.uid, self.gid)

    def mkdir(self, path, mode=0o700):
        os.mkdir(path)
        os.chmod(path, mode)
        self.own(path)
        return path

    def write(self, path, data, mode=0o600):
        with open(path, 'wb') as handle:
            handle.write(data if isinstance(data, bytes) else data.encode('utf-8'))
        os.chmod(path, mode)
        self.own(path)
        return path

    def symlink(self, target, path):
        os.symlink(target, path)
        self.own(path)
        return path


def _make(name):
    subprocess.run(['useradd', '-m', '-s', '/bin/sh', name], check=True, capture_output=True)
    return Account(name)


@pytest.fixture(scope='session')
def _accounts():
    _need_root()
    made = []
    try:
        made = [_make('%s%s' % (PREFIX, suffix)) for suffix in ('a', 'b')]
        yield made
    finally:
        for account in made:
            subprocess.run(['userdel', '-r', account.name], capture_output=True, check=False)


@pytest.fixture
def alice(_accounts):
    account = _accounts[0]
    account.reset()
    return account


@pytest.fixture
def mallory(_accounts):
    """A second account: files of another account are foreign to alice."""
    account = _accounts[1]
    account.reset()
    return account


@pytest.fixture
def root_dir(tmp_path):
    """A root-owned directory with root-only content the accounts must never affect."""
    path = tmp_path / 'rootonly'
    path.mkdir(mode=0o755)
    secret = path / 'secret.conf'
    secret.write_text('root-only content\n')
    os.chmod(str(secret), 0o600)
    os.chmod(str(tmp_path), 0o755)
    # pytest's base temp dir is 0700 root: the account could not even reach it; open it up so that
    # a refusal is ours, not the kernel's
    parent = str(tmp_path)
    while parent not in ('/', '/tmp'):
        os.chmod(parent, os.stat(parent).st_mode | 0o055)
        parent = os.path.dirname(parent)
    return path
