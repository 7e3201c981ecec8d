"""Snapshot of everything outside the accounts' homes that a root run could damage.

Prints one JSON object: ``files`` maps every path under the watched roots (minus paths that change
on their own) to ``[kind, uid, gid, mode, content]`` (content: SHA-256 of a regular file, size and
mtime for big ones, the target of a symlink); ``probe`` describes the paths given as arguments
(lstat, link target, and for links whether the target is readable) without following anything
the accounts control. Standard library only: it runs inside the test container as it is.
"""

import hashlib
import json
import os
import stat
import sys

ROOTS = ["/etc", "/root", "/opt", "/usr/local", "/var", "/srv"]
# Paths that change without any help from the collection (ansible's and npm's own scratch space,
# root's own Codex state when codex runs as root, the stand-in's log, logs of logins, caches).
VOLATILE = [
    "/root/.ansible", "/root/.npm", "/root/.cache", "/root/.codex", "/var/cache", "/var/tmp", "/var/log",
    "/var/lib/apt", "/var/lib/dpkg", "/opt/codex-standin", "/var/lib/sudo", "/var/mail",
    "/var/spool/mail", "/etc/ld.so.cache",
]
BIG = 8 * 1024 * 1024
# Probed files whose text the tests read (config files without a key in them).
TEXT_PROBES = ("/home/alice/dotfiles/codex.toml", "/home/mallory-jinja/.codex/config.toml")


def kind(mode):
    for name, test in (("dir", stat.S_ISDIR), ("file", stat.S_ISREG), ("link", stat.S_ISLNK),
                       ("fifo", stat.S_ISFIFO), ("char", stat.S_ISCHR), ("block", stat.S_ISBLK),
                       ("socket", stat.S_ISSOCK)):
        if test(mode):
            return name
    return "other"


def content(path, st):
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(path)
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_size > BIG:
        return "size=%d mtime=%d" % (st.st_size, st.st_mtime_ns)
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def entry(path):
    st = os.lstat(path)
    return [kind(st.st_mode), st.st_uid, st.st_gid, "%04o" % stat.S_IMODE(st.st_mode), content(path, st)]


def walk():
    files = {}
    for root in ROOTS:
        for top, dirs, names in os.walk(root):
            if any(top == v or top.startswith(v + "/") for v in VOLATILE):
                dirs[:] = []
                continue
            dirs[:] = [d for d in dirs if os.path.join(top, d) not in VOLATILE]
            files[top] = entry(top)
            for name in names + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
                path = os.path.join(top, name)
                if path in VOLATILE:
                    continue
                try:
                    files[path] = entry(path)
                except FileNotFoundError:
                    pass
    return files


def probe(path):
    info = {"exists": os.path.lexists(path)}
    if not info["exists"]:
        return info
    st = os.lstat(path)
    info.update(kind=kind(st.st_mode), uid=st.st_uid, gid=st.st_gid, mode="%04o" % stat.S_IMODE(st.st_mode),
                nlink=st.st_nlink)
    if stat.S_ISLNK(st.st_mode):
        info["target"] = os.readlink(path)
    elif stat.S_ISREG(st.st_mode) and path in TEXT_PROBES:
        # config files without a key in them: the test reads what Codex will read.
        with open(path, encoding="utf-8") as handle:
            info["text"] = handle.read()
    return info


def main(argv):
    json.dump({"files": walk(), "probe": {p: probe(p) for p in argv}}, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
