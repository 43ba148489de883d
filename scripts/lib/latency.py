#!/usr/bin/env python3
"""Times how long a change made to one path takes to show at another, for
the change latency measurements of scripts/bench.sh.

  latency.py write SRC DST TEXT [TIMEOUT]
      writes TEXT to SRC (creating or rewriting it), then reads DST every
      10 ms until it holds exactly TEXT
  latency.py delete SRC DST [TIMEOUT]
      removes SRC, then checks DST every 10 ms until it is gone

It prints the seconds from just before the change until DST showed it.
After TIMEOUT seconds (default 30) it prints TIMEOUT and exits with 3.
"""

import os
import sys
import time

POLL = 0.01


def holds(path, want):
    try:
        with open(path, "rb") as f:
            return f.read() == want
    except OSError:
        return False


def gone(path):
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def wait(check, t0, timeout):
    while not check():
        if time.monotonic() - t0 > timeout:
            print("%.3f" % timeout)
            sys.exit(3)
        time.sleep(POLL)
    print("%.3f" % (time.monotonic() - t0))


def main(argv):
    if len(argv) >= 4 and argv[0] == "write":
        src, dst, text = argv[1], argv[2], argv[3].encode()
        timeout = float(argv[4]) if len(argv) > 4 else 30.0
        t0 = time.monotonic()
        with open(src, "wb") as f:
            f.write(text)
        wait(lambda: holds(dst, text), t0, timeout)
    elif len(argv) >= 3 and argv[0] == "delete":
        src, dst = argv[1], argv[2]
        timeout = float(argv[3]) if len(argv) > 3 else 30.0
        t0 = time.monotonic()
        os.remove(src)
        wait(lambda: gone(dst), t0, timeout)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
