#!/usr/bin/env python3
"""Builds the file trees of scripts/bench.sh, much faster than a shell loop.

Every tree has 100 files per directory: ROOT/d<D>/f<F>.<ext>.

  mktree.py text N ROOT      N files "bench file D/F\\n"
  mktree.py empty N ROOT...  N empty files in each ROOT, all with the same
                             mtime (so that the trees are equal, as after a sync)
  mktree.py mixed N ROOT     N files of random bytes, about 30 KiB each on
                             average: in every 1,000 files, 1 large (12 MiB),
                             20 medium (512 KiB) and 979 small (1 to 16 KiB)

It prints the number of bytes written to each ROOT.
"""

import os
import random
import sys

PER_DIR = 100
FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def dirs(root, n):
    """Yields (directory fd, directory number, count) for the N files under
    root, the fd open only until the next one is yielded."""
    for d in range((n + PER_DIR - 1) // PER_DIR):
        p = os.path.join(root, "d%d" % d)
        os.makedirs(p, exist_ok=True)
        dfd = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
        try:
            yield dfd, d, min(PER_DIR, n - d * PER_DIR)
        finally:
            os.close(dfd)


def write(dfd, name, data, mtime=None):
    fd = os.open(name, FLAGS, 0o644, dir_fd=dfd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if mtime is not None:
            os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


def text(n, root):
    total = 0
    for dfd, d, k in dirs(root, n):
        for f in range(k):
            b = b"bench file %d/%d\n" % (d, f)
            write(dfd, "f%d.txt" % f, b)
            total += len(b)
    print(total)


def empty(n, roots):
    for root in roots:
        for dfd, _, k in dirs(root, n):
            for f in range(k):
                write(dfd, "f%d" % f, b"", mtime=1_600_000_000)
        print(0)


def mixed_size(i, rng):
    if i % 1000 == 999:
        return 12 << 20
    if i % 50 == 25:
        return 512 << 10
    return rng.randint(1 << 10, 16 << 10)


def mixed(n, root):
    rng = random.Random(n)
    total = 0
    for dfd, d, k in dirs(root, n):
        for f in range(k):
            size = mixed_size(d * PER_DIR + f, rng)
            write(dfd, "f%d.dat" % f, os.urandom(size))
            total += size
    print(total)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    kind, n, roots = argv[0], int(argv[1]), argv[2:]
    if kind == "text" and len(roots) == 1:
        text(n, roots[0])
    elif kind == "empty":
        empty(n, roots)
    elif kind == "mixed" and len(roots) == 1:
        mixed(n, roots[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
