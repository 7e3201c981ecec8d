"""Run as a hostile account: hold an exclusive flock on its Codex home and on every file in it
(whatever name a lock file has) and wait until killed."""

import fcntl
import os
import sys
import time


def main(home):
    held = []
    for path in [home] + [os.path.join(home, name) for name in sorted(os.listdir(home))]:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.append(fd)
    sys.stdout.write("holding %d locks\n" % len(held))
    sys.stdout.flush()
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1])
