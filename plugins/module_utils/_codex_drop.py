# -*- coding: utf-8 -*-
# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a function as an account: a child process that dropped root for good. Internal.

The parent (root) forks; the child sets the account's groups, gid and uid, proves that root cannot
be regained, runs the function and answers JSON over a pipe. The parent caps the answer's size,
stops the child after a wall-clock timeout, and treats the answer as untrusted input (the caller
validates it against ``_codex_protocol``). After the drop the kernel marks the child non-dumpable,
so the account cannot ptrace it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bytes4096.codex.plugins.module_utils._codex_fs import NeedRootCreate, TargetError, strerror

# what the parent reads from a child at most: a 1 MiB config.toml can grow ~6x as JSON text
MAX_CHILD_OUTPUT = 8 * 1024 * 1024


def drop_to(ctx):
    """In the child: become the account for good (groups, gid, uid), and prove root is gone."""
    os.setgroups(os.getgrouplist(ctx.name, ctx.gid))
    os.setresgid(ctx.gid, ctx.gid, ctx.gid)
    os.setresuid(ctx.uid, ctx.uid, ctx.uid)
    try:
        os.setresuid(0, 0, 0)
    except OSError:
        pass
    else:
        raise RuntimeError('root could be regained after dropping to %s' % ctx.name)
    if os.geteuid() != ctx.uid or os.getegid() != ctx.gid:
        raise RuntimeError('could not drop to %s' % ctx.name)
    os.chdir('/')


def run_as_account(ctx, func, timeout, home_path):
    """Run ``func()`` in a child dropped to the account; returns its JSON answer (untrusted)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (covered by the tests through its answer)
        code = 0
        try:
            os.close(rfd)
            os.umask(0o077)
            drop_to(ctx)
            answer = func()
        except NeedRootCreate:
            answer = {'need_root_create': True}
        except TargetError as exc:
            answer = {'error': str(exc)}
        except OSError as exc:
            answer = {'error': '%s: %s' % (to_native(getattr(exc, 'filename', '') or home_path), strerror(exc))}
        except BaseException as exc:  # noqa: B902 - the child must always answer and exit
            answer = {'error': 'internal error as %s: %s' % (ctx.name, type(exc).__name__)}
            code = 1
        try:
            data = json.dumps(answer).encode('utf-8', 'surrogatepass')
            view = memoryview(data)
            while view:
                view = view[os.write(wfd, view):]
        finally:
            os._exit(code)
    os.close(wfd)
    chunks, total = [], 0
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise TargetError('%s: the work as %s did not finish within %d s; it was stopped'
                                  % (home_path, ctx.name, timeout))
            ready = select.select([rfd], [], [], min(left, 1.0))[0]
            if not ready:
                continue
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_CHILD_OUTPUT:
                os.kill(pid, signal.SIGKILL)
                raise TargetError('%s: the answer of the work as %s is too big' % (home_path, ctx.name))
            chunks.append(chunk)
    finally:
        os.close(rfd)
        _reap(pid)
    try:
        answer = json.loads(b''.join(chunks).decode('utf-8', 'surrogatepass'))
    except ValueError:
        raise TargetError('%s: the work as %s ended without an answer' % (home_path, ctx.name))
    if not isinstance(answer, dict):
        raise TargetError('%s: the work as %s gave a malformed answer' % (home_path, ctx.name))
    return answer


def _reap(pid):
    for dummy in range(50):
        done, dummy_status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os.waitpid(pid, 0)
