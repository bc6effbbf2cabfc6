#!/usr/bin/env python3
"""Runs on one context with the slot buffers kept between runs (lib/slots.c)
against the same runs each making its own (h5cl_ctx_trim after every run:
what every run did before the cache).  Usage:
    slot_reuse.py path/to/libh5cl.so [runs] [MiB of data] [MiB per tile]
                  [device spec, default: the library's default]
Writes a float32 dataset of that size (h5py) into a temporary directory,
then per mode prints the seconds per run (median, after 3 warm-up runs)
and the resident memory grown over the runs.  H5CL_ZERO_COPY,
H5CL_PATTERN and H5CL_ISOLATE choose the path as usual (in-process unless
H5CL_ISOLATE=1).  A library without h5cl_ctx_trim (older than the cache)
runs the one mode it has, under the name "per-run buffers"."""
import os
import shutil
import statistics
import sys
import tempfile
import time


def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(h5cl, path, runs, tile, device, trim):
    iso = os.environ.get("H5CL_ISOLATE") == "1"
    with h5cl.open(path, device=device, isolate=iso) as f:
        d = f["x"]
        for _ in range(3):
            d.stats(tile_bytes=tile, progress=False)
            if trim:
                f.trim()
        before = rss()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            d.stats(tile_bytes=tile, progress=False)
            if trim:
                f.trim()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), rss() - before


def main():
    os.environ["H5CL_LIBRARY"] = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    mib = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    tile = (int(sys.argv[4]) if len(sys.argv) > 4 else 1) << 20
    device = sys.argv[5] if len(sys.argv) > 5 else None
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, os.pardir, os.pardir,
                                    "python-bindings"))
    import h5py
    import numpy as np
    import h5cl
    from h5cl import _ffi
    work = tempfile.mkdtemp(prefix="h5cl-slot-reuse-")
    try:
        path = os.path.join(work, "x.h5")
        n = (mib << 20) // 4
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=np.random.default_rng(1).random(
                n, dtype=np.float32), chunks=(min(n, 1 << 20),))
        modes = [("kept", False), ("trimmed", True)]
        if _ffi.h5cl_ctx_trim is None:
            modes = [("per-run buffers", False)]
        for name, trim in modes:
            sec, grown = measure(h5cl, path, runs, tile, device, trim)
            print("slot_reuse: %-15s %d runs of %d MiB, %d MiB tiles: "
                  "%.2f ms per run (median), RSS %+d KiB"
                  % (name, runs, mib, tile >> 20, 1000 * sec, grown >> 10),
                  flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
