# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File access of codex_config under the trust rule. Internal.

Everything under an account's home is controlled by that account. These helpers open every path
component from ``/`` with ``O_NOFOLLOW|O_DIRECTORY`` and judge each object by ``fstat`` of what was
opened, so a name swapped between two checks changes nothing: what is used is what was checked.
They run as the account (a child process of the module that dropped root, see ``_codex_drop``), as
root only for root-owned Codex homes, and ``root_create_home`` is the one place where root creates
something in a path that leads to an account.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import os
import posixpath
import pwd
import stat
import time

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bytes4096.codex.plugins.module_utils import _codex_protocol as proto

CONFIG_NAME = proto.CONFIG_NAME
AUTH_NAME = proto.AUTH_NAME
MAX_LINK_DEPTH = 8


class TargetError(Exception):
    """A refusal or failure on the host; the message names the path and never holds file content."""


class NeedRootCreate(Exception):
    """The account cannot create its Codex home (the parent is not writable by it)."""


def mode_str(st):
    return '%04o' % stat.S_IMODE(st.st_mode)


def kind_of(st):
    if stat.S_ISREG(st.st_mode):
        return 'file'
    if stat.S_ISDIR(st.st_mode):
        return 'directory'
    return 'other'


def kind_name(st):
    mode = st.st_mode
    for test, name in ((stat.S_ISFIFO, 'a FIFO'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISDIR, 'a directory'), (stat.S_ISLNK, 'a symlink')):
        if test(mode):
            return name
    return 'not a regular file'


def strerror(exc):
    return to_native(exc.strerror or exc)


# ----------------------------------------------------------------------------------------------
# Who we are and whom we act for


class Context(object):
    """The account, how I/O is done (access) and which owners are trusted."""

    def __init__(self, owner, group=None):
        self.euid = os.geteuid()
        try:
            entry = pwd.getpwnam(owner) if owner is not None else pwd.getpwuid(self.euid)
        except KeyError:
            raise TargetError('owner %r does not exist on the host' % owner)
        self.name, self.uid, self.gid, self.home = entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir
        self.group_gid = None
        if group is not None:
            try:
                self.group_gid = grp.getgrnam(group).gr_gid
            except KeyError:
                raise TargetError('group %r does not exist on the host' % group)
        if self.euid != 0:
            self.access = 'self'
        elif self.uid == 0:
            self.access = 'root'
        else:
            self.access = 'account'
        if self.access == 'account' and self.group_gid is not None and \
                self.group_gid not in os.getgrouplist(self.name, self.gid):
            raise TargetError('group %r: %s is not a member, and files in its Codex home are written as %s; '
                              'add %s to the group or leave group unset' % (group, self.name, self.name, self.name))

    def account(self):
        return {'name': self.name, 'uid': self.uid, 'gid': self.gid, 'home': self.home}

    def owns(self, st):
        return st.st_uid == self.uid

    def trusted_dir(self, st):
        """Directories above the Codex home may belong to root or to the account."""
        return st.st_uid in (0, self.uid)


def resolve_home(raw, ctx):
    def home_of(name):
        return pwd.getpwnam(name).pw_dir
    try:
        return proto.resolve_posix(raw, ctx.home, home_of)
    except proto.ProtocolError as exc:
        raise TargetError(str(exc))


# ----------------------------------------------------------------------------------------------
# Path walking through file descriptors.
#
# Every directory is opened component by component from "/" with O_NOFOLLOW|O_DIRECTORY, and every
# object is judged by fstat of what was opened, so a name swapped between two checks changes
# nothing: what is used is what was checked.

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)


def close_fd(fd):
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def open_dir(path, ctx, trust_link, trust_dir, depth=0):
    """Open the directory ``path``; returns (fd, real path). Links are followed only when
    ``trust_link(lstat)`` accepts them; every directory passed must satisfy ``trust_dir(fstat)``.
    Raises TargetError naming the refused component, or OSError(ENOENT) when a component is missing."""
    if depth > MAX_LINK_DEPTH:
        raise TargetError('%s: too many levels of symbolic links' % path)
    path = posixpath.normpath('/' + path.lstrip('/'))
    parts = [p for p in path.split('/') if p]
    fd = os.open('/', DIR_FLAGS)
    real = '/'
    try:
        index = 0
        while index < len(parts):
            name = parts[index]
            here = posixpath.join(real, name)
            try:
                lst = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise OSError(errno.ENOENT, 'No such file or directory', here)
                raise
            if stat.S_ISLNK(lst.st_mode):
                if not trust_link(lst):
                    raise TargetError('%s is a symlink owned by uid %d; only links that belong to %s (or '
                                      'root) are followed; nothing was done' % (here, lst.st_uid, ctx.name))
                target = os.readlink(name, dir_fd=fd)
                rest = '/'.join(parts[index + 1:])
                joined = target if target.startswith('/') else posixpath.join(real, target)
                close_fd(fd)
                fd = None
                fd, real = open_dir(posixpath.join(joined, rest) if rest else joined, ctx, trust_link,
                                    trust_dir, depth + 1)
                return fd, real
            if not stat.S_ISDIR(lst.st_mode):
                raise TargetError('%s is %s, not a directory; nothing was done' % (here, kind_name(lst)))
            try:
                new = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise TargetError('%s: %s (as %s); nothing was done' % (here, strerror(exc), ctx.name))
            st = os.fstat(new)
            if not trust_dir(st):
                close_fd(new)
                raise TargetError('%s belongs to uid %d, neither root nor %s: the Codex home must not lie '
                                  'under another account\'s directory; nothing was done'
                                  % (here, st.st_uid, ctx.name if ctx.uid else 'the account'))
            close_fd(fd)
            fd, real = new, here
            index += 1
        return fd, real
    except BaseException:
        close_fd(fd)
        raise


class Home(object):
    """The opened Codex home: directory fd and facts."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self.real = None
        self.lst = None
        self.st = None
        self.parent_exists = None
        self.create_as = None
        self.link_target = None

    def close(self):
        close_fd(self.fd)
        self.fd = None


def link_ok_for(ctx):
    return lambda lst: lst.st_uid in (0, ctx.uid)


def open_home(path, ctx):
    """Open the Codex home ``path`` (may be missing: fd None)."""
    home = Home(path)
    parent, name = posixpath.split(path)
    try:
        pfd, preal = open_dir(parent, ctx, link_ok_for(ctx), ctx.trusted_dir)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            home.parent_exists = False
            return home
        raise
    try:
        home.parent_exists = True
        try:
            home.lst = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
            # in a child dropped to the account, access() answers for the account
            home.create_as = 'account' if (ctx.access != 'account' or os.access(preal, os.W_OK)) else 'root'
            return home
        if stat.S_ISLNK(home.lst.st_mode):
            if home.lst.st_uid not in (0, ctx.uid):
                raise TargetError('codex_home %s is a symlink owned by uid %d, neither %s nor root; it is not '
                                  'followed; nothing was done' % (path, home.lst.st_uid, ctx.name))
            target = home.link_target = os.readlink(name, dir_fd=pfd)
            try:
                fd, real = open_dir(target if target.startswith('/') else posixpath.join(preal, target),
                                    ctx, link_ok_for(ctx), ctx.trusted_dir)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise TargetError('codex_home %s is a symlink to %s, which does not exist; nothing was done'
                                      % (path, target))
                raise
            except TargetError as exc:
                raise TargetError('codex_home %s is a symlink to %s: %s' % (path, target, exc))
        elif stat.S_ISDIR(home.lst.st_mode):
            fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
            real = path
        else:
            raise TargetError('codex_home %s is %s, not a directory; nothing was done' % (path, kind_name(home.lst)))
        st = os.fstat(fd)
        if not ctx.owns(st):
            close_fd(fd)
            raise TargetError('codex_home %s%s belongs to uid %d, not to %s; nothing was done'
                              % (path, '' if real == path else ' (link to %s)' % real, st.st_uid, ctx.name))
        home.fd, home.real, home.st = fd, real, st
        return home
    finally:
        close_fd(pfd)


class FileRef(object):
    """A file of the Codex home, opened for reading (or missing) with its facts."""

    def __init__(self, path):
        self.path = path            # name in the Codex home
        self.exists = False
        self.is_link = False
        self.link_target = None
        self.real_path = path
        self.dir_fd = None          # fd of the directory that holds the real file (owned by us)
        self.name = None            # basename of the real file in dir_fd
        self.st = None
        self.data = None
        self.own_dir = False        # dir_fd must be closed by us

    def close(self):
        if self.own_dir:
            close_fd(self.dir_fd)
        self.dir_fd = None


def _check_owned_single(ref, st, ctx):
    where = ref.path if ref.real_path == ref.path else '%s (link to %s)' % (ref.path, ref.real_path)
    if not ctx.owns(st):
        raise TargetError('%s belongs to uid %d, not to %s; it is neither read nor changed; nothing was done'
                          % (where, st.st_uid, ctx.name))
    if st.st_nlink > 1:
        raise TargetError('%s has %d hard links; a hard-linked file is neither read nor changed (it may be '
                          'another file of the host); nothing was done' % (where, st.st_nlink))


def open_file(home, name, ctx, cap):
    """Read ``name`` of the opened Codex home under the rules: regular file, owned by the account,
    one hard link, at most ``cap`` bytes; a link only when it and its target belong to the account."""
    ref = FileRef(posixpath.join(home.path, name))
    ref.dir_fd, ref.name = home.fd, name
    try:
        lst = os.stat(name, dir_fd=home.fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return ref
        raise
    if stat.S_ISLNK(lst.st_mode):
        ref.is_link = True
        ref.link_target = os.readlink(name, dir_fd=home.fd)
        # a link made by root (a provisioning tool) or by the account; either way its target's
        # directory must belong to the account, checked below on the opened directory
        if lst.st_uid not in (0, ctx.uid):
            raise TargetError('%s is a symlink owned by uid %d, neither %s nor root; it is not followed; nothing '
                              'was done' % (ref.path, lst.st_uid, ctx.name))
        target = ref.link_target
        real = posixpath.normpath(target if target.startswith('/') else posixpath.join(home.real, target))
        ref.real_path = real
        tdir, tname = posixpath.split(real)
        try:
            dfd, dreal = open_dir(tdir, ctx, link_ok_for(ctx), ctx.trusted_dir)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise TargetError('%s is a symlink to %s, whose directory does not exist; nothing was done'
                                  % (ref.path, real))
            raise
        ref.dir_fd, ref.name, ref.own_dir = dfd, tname, True
        dst = os.fstat(dfd)
        if not ctx.owns(dst):
            raise TargetError('%s is a symlink to %s, in a directory that belongs to uid %d, not to %s; nothing '
                              'was done' % (ref.path, real, dst.st_uid, ctx.name))
        try:
            lst = os.stat(tname, dir_fd=dfd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return ref  # a dangling dotfile link in the account's own directory: created there
            raise
        if stat.S_ISLNK(lst.st_mode):
            raise TargetError('%s is a symlink to %s, which is a symlink again; only one level is followed; '
                              'nothing was done' % (ref.path, real))
    if not stat.S_ISREG(lst.st_mode):
        raise TargetError('%s%s is %s, not a regular file; it is not opened; nothing was done'
                          % (ref.path, '' if ref.real_path == ref.path else ' (link to %s)' % ref.real_path,
                             kind_name(lst)))
    _check_owned_single(ref, lst, ctx)  # judged before opening, and again on the opened file
    try:
        fd = os.open(ref.name, FILE_FLAGS, dir_fd=ref.dir_fd)
    except OSError as exc:
        raise TargetError('%s: %s (as %s); nothing was done' % (ref.path, strerror(exc), ctx.name))
    try:
        st = os.fstat(fd)
        where = ref.path if ref.real_path == ref.path else '%s (link to %s)' % (ref.path, ref.real_path)
        if not stat.S_ISREG(st.st_mode):
            raise TargetError('%s is %s, not a regular file; nothing was done' % (where, kind_name(st)))
        _check_owned_single(ref, st, ctx)
        if st.st_size > cap:
            raise TargetError('%s is %d bytes, more than the %d this module reads; nothing was done'
                              % (where, st.st_size, cap))
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise TargetError('%s grew beyond %d bytes while being read; nothing was done' % (where, cap))
        ref.data = b''.join(chunks)
        ref.st = st
        ref.exists = True
        return ref
    finally:
        close_fd(fd)


# ----------------------------------------------------------------------------------------------
# Leftovers of this module (temp files, backups), by name only

HOME_BASES = (CONFIG_NAME, AUTH_NAME)


def list_leftovers(dir_fd, bases=HOME_BASES):
    """(name, kind, lstat) of our temp files and backups of the files ``bases`` in a directory.

    Temp files: ``.<base>.<random>.tmp``; backups: ``<base>.<stamp>~``. The last base is auth.json's
    (its backups hold keys). Names only, no content is read."""
    found = []
    for name in sorted(os.listdir(dir_fd)):
        kind = None
        for index, base in enumerate(bases):
            if not base:
                continue
            if name.startswith('.%s.' % base) and name.endswith(proto.TEMP_SUFFIX):
                kind = 'temp'
            elif name.startswith('%s.' % base) and name.endswith(proto.BACKUP_SUFFIX):
                kind = 'auth_backup' if index == len(bases) - 1 else 'config_backup'
        if kind is None:
            continue
        try:
            lst = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        found.append((name, kind, lst))
    return found


# ----------------------------------------------------------------------------------------------
# Writing, locking, creating
#
# The syscall sequence of one file (config.toml first, then auth.json), kept simple on purpose so
# that a SIGKILL anywhere leaves the old or the new file (fault-injection tests rely on it):
#   openat(dir, ".<name>.<random>.tmp", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW, 0600)
#   write()...; fchmod(tmp); [fchown(tmp, -1, group)]; fsync(tmp); close(tmp)
#   renameat(dir, tmp, dir, name); fsync(dir)
# A backup is the same sequence with the backup's name as destination, before the file's own one.
# A temp file left by a kill is removed by the next write trip, under the lock.


def _tmp_name(name):
    return '.%s.%s%s' % (name, os.urandom(6).hex(), proto.TEMP_SUFFIX)


def atomic_write(dir_fd, name, data, mode, gid, shown):
    """Write ``data`` as ``name`` in ``dir_fd`` atomically; ``shown`` names the file in errors."""
    tmp = _tmp_name(name)
    fd = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0),
                     0o600, dir_fd=dir_fd)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)
        if gid is not None:
            os.fchown(fd, -1, gid)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        tmp = None
        os.fsync(dir_fd)
    except OSError as exc:
        raise TargetError('%s: %s; the old file is intact' % (shown, strerror(exc)))
    finally:
        close_fd(fd)
        if tmp is not None:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass


def backup_name(dir_fd, name):
    stamp = time.strftime('%Y-%m-%d@%H:%M:%S')
    candidate = '%s.%s~' % (name, stamp)
    try:
        os.stat(candidate, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return candidate
    return '%s.%s.%d~' % (name, stamp, os.getpid())


def lock_home(home, timeout):
    deadline = time.monotonic() + max(0, timeout)
    while True:
        try:
            fcntl.flock(home.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            raise TargetError('%s is locked by another process (another run, or a process of %s holding a lock '
                              'on it) for more than lock_timeout=%d s; nothing was written'
                              % (home.path, home_owner_name(home), timeout))
        time.sleep(0.1)


def home_owner_name(home):
    try:
        return pwd.getpwuid(home.st.st_uid).pw_name
    except KeyError:
        return 'uid %d' % home.st.st_uid


def create_home_as_account(path, ctx, mode):
    parent, name = posixpath.split(path)
    pfd, dummy = open_dir(parent, ctx, link_ok_for(ctx), ctx.trusted_dir)
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM) and ctx.access == 'account':
                raise NeedRootCreate()
            if exc.errno != errno.EEXIST:
                raise TargetError('cannot create %s: %s; nothing was written' % (path, strerror(exc)))
            return False
        fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
        try:
            os.fchmod(fd, mode)
            if ctx.group_gid is not None:
                os.fchown(fd, -1, ctx.group_gid)
        finally:
            close_fd(fd)
        return True
    finally:
        close_fd(pfd)


# ----------------------------------------------------------------------------------------------
# Root: creating a Codex home the account cannot create, through file descriptors


def root_create_home(path, ctx, mode):
    """mkdir as root in a root-owned parent (every component root-owned, links only root's), then
    fchown/fchmod the new directory's fd to the account. Never a path-based chown/chmod."""
    parent, name = posixpath.split(path)

    def root_only(st):
        return st.st_uid == 0

    pfd, preal = open_dir(parent, ctx, root_only, root_only)
    try:
        pst = os.fstat(pfd)
        if stat.S_IMODE(pst.st_mode) & 0o022 and not pst.st_mode & stat.S_ISVTX:
            raise TargetError('%s is writable by others; the Codex home %s is not created there as root'
                              % (preal, path))
        try:
            os.mkdir(name, 0o700, dir_fd=pfd)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise TargetError('cannot create %s: %s; nothing was written' % (path, strerror(exc)))
        fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
        try:
            st = os.fstat(fd)
            if st.st_uid != 0 or os.listdir(fd):
                raise TargetError('%s was replaced while this task created it; nothing was written' % path)
            os.fchown(fd, ctx.uid, ctx.group_gid if ctx.group_gid is not None else ctx.gid)
            os.fchmod(fd, mode)
        finally:
            close_fd(fd)
        return True
    finally:
        close_fd(pfd)
