#!/usr/bin/env python3
"""Resident memory against malloc's heap over many h5cl runs: tells a leak
(memory in use grows) from fragmentation (the heap grows, in-use does not).
Runs the cycle of python-bindings' test_memory_stays_flat (open, stats,
histogram, per-axis mean, close) `cycles` times after 20 warm-up cycles and
prints the growth of RSS, of the heap (mallinfo2: arena, mmapped) and of the
bytes in use.  Usage, from the repository root:

    PYTHONPATH=python-bindings H5CL_LIBRARY=build/libh5cl.so \\
        python3 bench/heap_growth.py [cycles] [file]
"""
import ctypes
import gc
import sys

import h5py
import numpy as np

import h5cl


class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks "
        "fordblks keepcost").split()]


def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def main():
    cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    path = sys.argv[2] if len(sys.argv) > 2 else "/tmp/h5cl-heap-growth.h5"
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(2_000_000, dtype=np.float32),
                         chunks=(4096,))
        f["y"] = np.arange(12.0).reshape(3, 4)

    def cycle():
        with h5cl.open(path) as f:
            d = f["x"]
            d.stats(tile_bytes=1 << 20)
            d.histogram(bins=64, tile_bytes=1 << 20)
            f["y"].mean(axis=0)

    for _ in range(20):
        cycle()
    gc.collect()
    r0, m0 = rss(), libc.mallinfo2()
    for _ in range(cycles):
        cycle()
    gc.collect()
    m1 = libc.mallinfo2()
    print("over %d cycles: RSS +%d B, heap (sbrk) +%d B, mmapped +%d B, "
          "in use +%d B" % (cycles, rss() - r0, m1.arena - m0.arena,
                             m1.hblkhd - m0.hblkhd, m1.uordblks - m0.uordblks))


if __name__ == "__main__":
    main()
