"""Run as a hostile account: keep swapping its ~/.codex between a real directory and a link to a
root-owned directory, with renameat2(RENAME_EXCHANGE) so every swap is atomic, until killed.
Writes the number of swaps to ~/racer.count on SIGTERM (the test asserts the race really ran).
"""

import ctypes
import os
import random
import signal
import sys
import time

RENAME_EXCHANGE = 2
AT_FDCWD = -100


def main(target):
    home = os.path.expanduser("~")
    live, spare = os.path.join(home, ".codex"), os.path.join(home, ".codex-spare")
    if not os.path.lexists(live):
        os.mkdir(live, 0o700)
    if not os.path.lexists(spare):
        os.symlink(target, spare)
    libc = ctypes.CDLL(None, use_errno=True)
    swaps = [0]

    def stop(*_):
        with open(os.path.join(home, "racer.count"), "w") as out:
            out.write("%d\n" % swaps[0])
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    a, b = live.encode(), spare.encode()
    while True:
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
            raise OSError(ctypes.get_errno(), "renameat2")
        swaps[0] += 1
        # Short, irregular pauses: the swap lands at every point of a root run's trips.
        time.sleep(random.random() / 500)


if __name__ == "__main__":
    main(sys.argv[1])
