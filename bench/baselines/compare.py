#!/usr/bin/env python3
"""h5cl against its peers, side by side, on the same HDF5 file.

Runs `h5cl-bench --json` for each case, then the same cases with:

  numpy+h5py chunks   dset.iter_chunks() + read_direct into one reused
                      buffer, numpy with float64 accumulators, nan-aware
  numpy+h5py read-all dset[...] once, then numpy (only when the dataset
                      and its float64 temporaries fit in memory)
  dask                da.from_array(h5py dataset, chunks = a multiple of the
                      dataset's chunks near 96 MiB), threaded scheduler; one
                      dask.compute of the nan-aware reductions,
                      da.histogram, da.to_hdf5
  pyopencl            stats, hist and map: chunks read with h5py into
                      pinned host slots, uploaded, processed and read back
                      on the same OpenCL device (3 slots in flight,
                      non-blocking commands chained by events, one
                      in-order queue); map outputs written with h5py

Cases (the same definitions as h5cl-bench):
  stats  count nan_count sum mean var std min max argmin argmax, one pass
  hist   256 bins over --hist-range (np.histogram semantics)
  map    x * 2 + 1, float32, into a new uncompressed file with the input's
         chunks, made durable like h5cl's output: temporary file, close,
         fsync, rename, fsync of the directory
  cov    the covariance (ddof 1) of rank-2 data, on h5cl-bench's own
         generated file for the cov case (rows x 128 columns unless
         --cols): numpy accumulates X_chunk.T @ X_chunk and the column sums
         in float64 over the chunks (numpy's advice for data larger than
         memory), then (G - n m m^T) / (n - 1); read-all is np.cov; Dask
         computes the same Gram matrix and sums in one dask.compute; no
         PyOpenCL row (h5cl-bench measures CLBlast's own SYRK instead).
         Also reported in GFLOP/s: rows x cols x (cols + 1) flops, the
         SYRK count, over the wall time

One warm-up of each system, then --reps timed repetitions; GB/s = dataset
bytes / wall seconds (1e9 B/s), median [min-max].  Every system's result is
checked against h5cl's (and against the numpy chunk loop for the figures
h5cl-bench does not print: the covariance matrix, which h5cl-bench checks
itself); a disagreement makes the row an error.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover
    sys.exit("compare.py needs h5py: python3 -m pip install h5py")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DASK_PIP = "python3 -m pip install 'dask[array]'"
PYOPENCL_PIP = "python3 -m pip install pyopencl"

TOL_MEAN = 1e-4  # relative, as h5cl-bench's own check
TOL_VAR = 1e-3
TOL_COV = 1e-9  # float64 everywhere; relative to sqrt(var_a var_b)
MAP_EXPR = "x * 2 + 1"


def log(msg):
    print("compare: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# h5cl-bench


def run_h5cl_bench(args, case, path):
    """Runs h5cl-bench for one case on path (None: its generated file);
    returns its JSON rows."""
    cmd = [args.bench, "--json", "--case", case, "--reps", str(args.reps),
           "--hist-range", args.hist_range]
    if path:
        cmd += ["--file", path, "--dataset", args.dataset]
    else:  # generated into (and cached in) --dir, like the map outputs
        cmd += ["--keep", "--size", args.size, "--dir", args.dir]
        if args.cols and case == "cov":
            cmd += ["--cols", str(args.cols)]
    if args.device:
        cmd += ["--device", args.device]
    if args.trace:
        cmd += ["--trace", "%s-%s.json" % (args.trace, case)]
    log("running " + " ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    rows = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode not in (0, 1) or not rows:
        raise RuntimeError("%s failed (exit %d)" % (" ".join(cmd), p.returncode))
    return rows


# ---------------------------------------------------------------------------
# Timing


def measure(fn, reps, nbytes):
    """One warm-up, then reps timed calls; returns (samples, last result)."""
    result = fn()
    secs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        secs.append(time.perf_counter() - t0)
    return secs, result


def summary(secs, nbytes):
    gbps = [nbytes / s / 1e9 for s in secs]
    return {"gbps_median": statistics.median(gbps), "gbps_min": min(gbps),
            "gbps_max": max(gbps), "seconds_median": statistics.median(secs),
            "reps": len(secs)}


# ---------------------------------------------------------------------------
# Stats: one chunk's figures, and merging them (Chan et al.)


def chunk_stats(x, flat0):
    """Figures of one block x (any shape, float32), first flat index flat0."""
    x = x.reshape(-1)
    nanmask = np.isnan(x)
    nnan = int(np.count_nonzero(nanmask))
    xv = x[~nanmask] if nnan else x
    n = xv.size
    if n == 0:
        return {"n": 0, "nan": nnan, "mean": 0.0, "m2": 0.0, "sum": 0.0,
                "min": math.inf, "max": -math.inf, "argmin": -1, "argmax": -1}
    s = float(np.add.reduce(xv, dtype=np.float64))
    mean = s / n
    d = np.subtract(xv, mean, dtype=np.float64)
    m2 = float(np.dot(d, d))
    if nnan:
        imin, imax = int(np.nanargmin(x)), int(np.nanargmax(x))
    else:
        imin, imax = int(np.argmin(x)), int(np.argmax(x))
    return {"n": n, "nan": nnan, "mean": mean, "m2": m2, "sum": s,
            "min": float(x[imin]), "max": float(x[imax]),
            "argmin": flat0 + imin, "argmax": flat0 + imax}


def merge_stats(a, b):
    if a is None:
        return b
    n = a["n"] + b["n"]
    out = {"n": n, "nan": a["nan"] + b["nan"], "sum": a["sum"] + b["sum"]}
    if n == 0:
        out.update(mean=0.0, m2=0.0)
    else:
        d = b["mean"] - a["mean"]
        out["mean"] = a["mean"] + d * b["n"] / n
        out["m2"] = a["m2"] + b["m2"] + d * d * a["n"] * b["n"] / n
    # ties: the lower flat index wins (numpy's first occurrence)
    for k, better in (("min", lambda u, v: u < v), ("max", lambda u, v: u > v)):
        ka = "arg" + k
        if b["n"] and (a["n"] == 0 or better(b[k], a[k]) or
                       (b[k] == a[k] and b[ka] < a[ka])):
            out[k], out[ka] = b[k], b[ka]
        else:
            out[k], out[ka] = a[k], a[ka]
    return out


def final_stats(m):
    n = m["n"]
    var = m["m2"] / n if n else math.nan
    return {"count": n, "nan_count": m["nan"], "sum": m["sum"],
            "mean": m["mean"] if n else math.nan, "var": var,
            "std": math.sqrt(var), "min": m["min"], "max": m["max"],
            "argmin": m["argmin"], "argmax": m["argmax"]}


def flat_index(sl, shape):
    """Flat C-order index of the first element of a chunk's slices."""
    idx = 0
    for s, d in zip(sl, shape):
        idx = idx * d + s.start
    return idx


class ChunkReader:
    """The dataset's chunks in storage order, read with read_direct into
    one reused buffer per chunk shape (h5py's recommended fast path)."""

    def __init__(self, dset):
        self.dset = dset
        self.bufs = {}

    def __iter__(self):
        for sl in self.dset.iter_chunks():
            shape = tuple(s.stop - s.start for s in sl)
            buf = self.bufs.get(shape)
            if buf is None:
                buf = self.bufs[shape] = np.empty(shape, self.dset.dtype)
            self.dset.read_direct(buf, source_sel=sl)
            yield sl, buf


# ---------------------------------------------------------------------------
# numpy + h5py


def numpy_chunks_stats(dset):
    m = None
    for sl, buf in ChunkReader(dset):
        m = merge_stats(m, chunk_stats(buf, flat_index(sl, dset.shape)))
    return final_stats(m)


def numpy_chunks_hist(dset, lo, hi, bins):
    counts = np.zeros(bins, np.int64)
    for _, buf in ChunkReader(dset):
        counts += np.histogram(buf, bins=bins, range=(lo, hi))[0]
    return counts


def durable_h5(out_path, write):
    """write(h5py.File) into a temporary file next to out_path, then close,
    fsync, rename and fsync the directory (what h5cl does)."""
    tmp = out_path + ".tmp"
    with h5py.File(tmp, "w") as f:
        write(f)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, out_path)
    dfd = os.open(os.path.dirname(os.path.abspath(out_path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def numpy_chunks_map(dset, out_path):
    def write(f):
        out = f.create_dataset("data", shape=dset.shape, dtype=np.float32,
                               chunks=dset.chunks)
        for sl, buf in ChunkReader(dset):
            np.multiply(buf, np.float32(2), out=buf)
            np.add(buf, np.float32(1), out=buf)
            out.write_direct(buf, dest_sel=sl)
    durable_h5(out_path, write)


def numpy_all_stats(dset):
    return final_stats(chunk_stats(dset[...], 0))


def numpy_all_hist(dset, lo, hi, bins):
    return np.histogram(dset[...], bins=bins, range=(lo, hi))[0]


def numpy_all_map(dset, out_path):
    def write(f):
        x = dset[...]
        np.multiply(x, np.float32(2), out=x)
        np.add(x, np.float32(1), out=x)
        f.create_dataset("data", data=x, chunks=dset.chunks)
    durable_h5(out_path, write)


def numpy_chunks_cov(dset):
    """Gram matrix and column sums in float64, chunk by chunk."""
    p = dset.shape[1]
    g = np.zeros((p, p))
    s = np.zeros(p)
    for _, buf in ChunkReader(dset):
        x = buf.astype(np.float64)
        g += x.T @ x
        s += x.sum(axis=0)
    return gram_cov(g, s, dset.shape[0])


def gram_cov(g, s, n):
    """The covariance (ddof 1) from X^T X and the column sums."""
    m = s / n
    return (g - n * np.outer(m, m)) / (n - 1)


def numpy_all_cov(dset):
    return np.cov(dset[...].astype(np.float64), rowvar=False)


# ---------------------------------------------------------------------------
# Dask


def dask_chunks(dset, target=96 << 20):
    """The dataset's chunks grown along axis 0 to a multiple near target."""
    ch = dset.chunks or dset.shape
    cbytes = int(np.prod(ch)) * dset.dtype.itemsize
    k = max(1, round(target / cbytes))
    return (min(dset.shape[0], ch[0] * k),) + tuple(ch[1:])


def dask_stats(dset, da, dask):
    a = da.from_array(dset, chunks=dask_chunks(dset))
    f8 = np.float64
    nan = da.isnan(a).sum()
    r = dask.compute(nan, da.nansum(a, dtype=f8), da.nanmean(a, dtype=f8),
                     da.nanvar(a, dtype=f8), da.nanstd(a, dtype=f8),
                     da.nanmin(a), da.nanmax(a), da.nanargmin(a),
                     da.nanargmax(a), scheduler="threads")
    nnan = int(r[0])
    return {"count": a.size - nnan, "nan_count": nnan, "sum": float(r[1]),
            "mean": float(r[2]), "var": float(r[3]), "std": float(r[4]),
            "min": float(r[5]), "max": float(r[6]), "argmin": int(r[7]),
            "argmax": int(r[8])}


def dask_hist(dset, lo, hi, bins, da, dask):
    a = da.from_array(dset, chunks=dask_chunks(dset))
    h, _ = da.histogram(a, bins=bins, range=(lo, hi))
    return np.asarray(h.compute(scheduler="threads"), dtype=np.int64)


def dask_cov(dset, da, dask):
    """The Gram formula on chunks of whole rows (one read of the data;
    da.cov centres first, which reads it twice)."""
    a = da.from_array(dset, chunks=dask_chunks(dset)).astype(np.float64)
    g, s = dask.compute(a.T @ a, a.sum(axis=0), scheduler="threads")
    return gram_cov(np.asarray(g), np.asarray(s), dset.shape[0])


def dask_map(dset, out_path, da, dask):
    a = da.from_array(dset, chunks=dask_chunks(dset))
    y = a * np.float32(2) + np.float32(1)
    tmp = out_path + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    with dask.config.set(scheduler="threads"):
        da.to_hdf5(tmp, "/data", y, chunks=dset.chunks)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, out_path)
    dfd = os.open(os.path.dirname(os.path.abspath(out_path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# ---------------------------------------------------------------------------
# PyOpenCL: stats, hist and map on the same device as h5cl
#
# The three share one pipeline (ClPipeline): each chunk is read with h5py
# into a pinned host slot (CL_MEM_ALLOC_HOST_PTR, mapped once), then
# uploaded, processed and (for stats and map) read back with non-blocking
# commands chained by events on one in-order queue, SLOTS chunks in
# flight, so that the device works on chunk k while Python reads chunk
# k + 1.  That is the overlap PyOpenCL's documentation allows from one
# Python thread: the GIL serialises the h5py reads, the merges and the
# writes, which h5cl runs on threads of their own.

CL_STATS = r"""
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
/* Work-item g reduces x[g], x[g + G], x[g + 2G], ... (adjacent work-items
 * read adjacent values) into shifted double sums and first-index extrema. */
__kernel void stats(__global const float *x, const ulong n, const ulong flat0,
                    const double shift, __global double *s1,
                    __global double *s2, __global ulong *cnt,
                    __global float *mn, __global float *mx,
                    __global ulong *imn, __global ulong *imx)
{
    const size_t g = get_global_id(0), G = get_global_size(0);
    double a = 0.0, b = 0.0;
    ulong c = 0, jmin = (ulong)-1, jmax = (ulong)-1;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = g; i < n; i += G) {
        float v = x[i];
        if (isnan(v))
            continue;
        double d = (double)v - shift;
        a += d;
        b += d * d;
        c++;
        if (v < lo) { lo = v; jmin = i; }
        if (v > hi) { hi = v; jmax = i; }
    }
    s1[g] = a; s2[g] = b; cnt[g] = c; mn[g] = lo; mx[g] = hi;
    imn[g] = jmin == (ulong)-1 ? jmin : flat0 + jmin;
    imx[g] = jmax == (ulong)-1 ? jmax : flat0 + jmax;
}
"""

CL_HIST = r"""
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
/* numpy's bin rule in double (the estimate, then one step of correction
 * against the edges lo + i * step), counted in local memory per work-group
 * and added to the global counters: bins, then NaN, under, over. */
__kernel void hist(__global const float *x, const ulong n, const double lo,
                   const double hi, const uint bins,
                   __global uint *counts, __local uint *loc)
{
    const double norm = hi - lo, step = norm / bins;
    for (uint b = get_local_id(0); b < bins + 3; b += get_local_size(0))
        loc[b] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t i = get_global_id(0); i < n; i += get_global_size(0)) {
        const double v = x[i];
        uint k;
        if (isnan(v)) {
            k = bins;
        } else if (v < lo) {
            k = bins + 1;
        } else if (v > hi) {
            k = bins + 2;
        } else {
            k = (uint)((v - lo) / norm * bins);
            if (k == bins)
                k--;
            if (v < k * step + lo)
                k--;
            else if (k != bins - 1 && v >= (k + 1) * step + lo)
                k++;
        }
        atomic_inc(&loc[k]);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint b = get_local_id(0); b < bins + 3; b += get_local_size(0))
        atomic_add(&counts[b], loc[b]);
}
"""

CL_MAP = r"""
/* y = x * 2 + 1 in float, as numpy computes it on float32 arrays (2x is
 * exact, so a contracted multiply-add rounds the same). */
__kernel void map(__global const float *x, __global float *y, const ulong n)
{
    for (size_t i = get_global_id(0); i < n; i += get_global_size(0))
        y[i] = x[i] * 2.0f + 1.0f;
}
"""


class ClPipeline:
    """The chunk pipeline shared by the PyOpenCL baselines (see above).
    Subclasses give the kernel source and name and define enqueue(slot,
    n, sl, upload_event) -> events and retire(slot); begin() and end()
    bracket a run."""
    SLOTS = 3
    ITEMS = 4096

    def __init__(self, cl, dset, device, source, name):
        self.cl = cl
        devs = [d for p in cl.get_platforms() for d in p.get_devices()]
        if device:
            devs = [d for d in devs if device.lower() in d.name.lower()] or devs
        self.dev = devs[0]
        self.ctx = cl.Context([self.dev])
        self.q = cl.CommandQueue(self.ctx)
        self.kernel = cl.Kernel(cl.Program(self.ctx, source).build(), name)
        self.dset = dset
        self.chunk_elems = int(np.prod(dset.chunks or dset.shape))
        self.slots = [self._slot() for _ in range(self.SLOTS)]

    def pinned(self, n, dtype, flags):
        """A mapped CL_MEM_ALLOC_HOST_PTR buffer as a numpy array."""
        cl = self.cl
        nbytes = n * np.dtype(dtype).itemsize
        buf = cl.Buffer(self.ctx, flags | cl.mem_flags.ALLOC_HOST_PTR, nbytes)
        arr, _ = cl.enqueue_map_buffer(
            self.q, buf, cl.map_flags.READ | cl.map_flags.WRITE, 0, (n,),
            dtype, is_blocking=True)
        return buf, arr

    def _slot(self):
        mf = self.cl.mem_flags
        hbuf, host = self.pinned(self.chunk_elems, np.float32, mf.READ_ONLY)
        slot = {"hbuf": hbuf, "host": host, "events": None,
                "din": self.cl.Buffer(self.ctx, mf.READ_ONLY, host.nbytes)}
        self.add_buffers(slot)
        return slot

    def add_buffers(self, slot):
        pass

    def begin(self):
        pass

    def _retire(self, slot):
        self.cl.wait_for_events(slot["events"])
        slot["events"] = None
        self.retire(slot)

    def run(self):
        self.begin()
        k = 0
        for sl in self.dset.iter_chunks():
            slot = self.slots[k % self.SLOTS]
            if slot["events"] is not None:
                self._retire(slot)
            shape = tuple(s.stop - s.start for s in sl)
            n = int(np.prod(shape))
            self.dset.read_direct(slot["host"][:n].reshape(shape),
                                  source_sel=sl)
            up = self.cl.enqueue_copy(self.q, slot["din"], slot["host"][:n],
                                      is_blocking=False)
            slot["n"], slot["sl"] = n, sl
            slot["events"] = self.enqueue(slot, n, sl, up)
            self.q.flush()
            k += 1
        for i in range(k, k + self.SLOTS):
            slot = self.slots[i % self.SLOTS]
            if slot["events"] is not None:
                self._retire(slot)
        return self.end()


class ClStats(ClPipeline):
    def __init__(self, cl, dset, device=None):
        super().__init__(cl, dset, device, CL_STATS, "stats")
        self.shift = 0.0

    def add_buffers(self, slot):
        G, mf = self.ITEMS, self.cl.mem_flags
        slot["outs"] = {"s1": np.empty(G, np.float64),
                        "s2": np.empty(G, np.float64),
                        "cnt": np.empty(G, np.uint64),
                        "mn": np.empty(G, np.float32),
                        "mx": np.empty(G, np.float32),
                        "imn": np.empty(G, np.uint64),
                        "imx": np.empty(G, np.uint64)}
        slot["dbufs"] = {k: self.cl.Buffer(self.ctx, mf.WRITE_ONLY, v.nbytes)
                         for k, v in slot["outs"].items()}

    def begin(self):
        self.acc = {"n": 0, "s1": 0.0, "s2": 0.0, "mn": None, "mx": None}

    def enqueue(self, slot, n, sl, up):
        cl, d = self.cl, slot["dbufs"]
        self.kernel.set_args(slot["din"], np.uint64(n),
                             np.uint64(flat_index(sl, self.dset.shape)),
                             np.float64(self.shift), d["s1"], d["s2"],
                             d["cnt"], d["mn"], d["mx"], d["imn"], d["imx"])
        ke = cl.enqueue_nd_range_kernel(self.q, self.kernel, (self.ITEMS,),
                                        None, wait_for=[up])
        return [cl.enqueue_copy(self.q, slot["outs"][name], d[name],
                                is_blocking=False, wait_for=[ke])
                for name in slot["outs"]]

    def retire(self, slot):
        o, acc = slot["outs"], self.acc
        acc["n"] += int(o["cnt"].sum())
        acc["s1"] += float(o["s1"].sum())
        acc["s2"] += float(o["s2"].sum())
        for k, ik, pick in (("mn", "imn", np.min), ("mx", "imx", np.max)):
            live = o["cnt"] > 0
            if not live.any():
                continue
            v = pick(o[k][live])
            j = int(o[ik][live & (o[k] == v)].min())
            cur = acc[k]
            if (cur is None or (v < cur[0] if k == "mn" else v > cur[0]) or
                    (v == cur[0] and j < cur[1])):
                acc[k] = (float(v), j)

    def end(self):
        acc, shift = self.acc, self.shift
        n = acc["n"]
        mean_d = acc["s1"] / n
        var = max(acc["s2"] / n - mean_d * mean_d, 0.0)
        return {"count": n, "nan_count": self.dset.size - n,
                "sum": acc["s1"] + shift * n, "mean": shift + mean_d,
                "var": var, "std": math.sqrt(var), "min": acc["mn"][0],
                "max": acc["mx"][0], "argmin": acc["mn"][1],
                "argmax": acc["mx"][1]}


class ClHist(ClPipeline):
    def __init__(self, cl, dset, device, lo, hi, bins):
        if dset.size >= 1 << 32:  # the counters are uint32
            raise ValueError("more than 2^32 values")
        super().__init__(cl, dset, device, CL_HIST, "hist")
        self.lo, self.hi, self.bins = lo, hi, bins
        self.counts = np.zeros(bins + 3, np.uint32)
        self.dcounts = cl.Buffer(self.ctx, cl.mem_flags.READ_WRITE,
                                 self.counts.nbytes)
        wg = self.kernel.get_work_group_info(
            cl.kernel_work_group_info.WORK_GROUP_SIZE, self.dev)
        self.local = min(256, wg)

    def begin(self):
        self.counts[:] = 0
        self.cl.enqueue_copy(self.q, self.dcounts, self.counts,
                             is_blocking=False)

    def enqueue(self, slot, n, sl, up):
        cl = self.cl
        self.kernel.set_args(slot["din"], np.uint64(n), np.float64(self.lo),
                             np.float64(self.hi), np.uint32(self.bins),
                             self.dcounts, cl.LocalMemory(self.counts.nbytes))
        return [cl.enqueue_nd_range_kernel(self.q, self.kernel, (self.ITEMS,),
                                           (self.local,), wait_for=[up])]

    def retire(self, slot):
        pass

    def end(self):
        self.cl.enqueue_copy(self.q, self.counts, self.dcounts,
                             is_blocking=True)
        return self.counts[:self.bins].astype(np.int64)


class ClMap(ClPipeline):
    def __init__(self, cl, dset, device=None):
        super().__init__(cl, dset, device, CL_MAP, "map")

    def add_buffers(self, slot):
        mf = self.cl.mem_flags
        slot["hobuf"], slot["hout"] = self.pinned(self.chunk_elems,
                                                  np.float32, mf.WRITE_ONLY)
        slot["dout"] = self.cl.Buffer(self.ctx, mf.WRITE_ONLY,
                                      slot["hout"].nbytes)

    def enqueue(self, slot, n, sl, up):
        cl = self.cl
        self.kernel.set_args(slot["din"], slot["dout"], np.uint64(n))
        ke = cl.enqueue_nd_range_kernel(self.q, self.kernel, (self.ITEMS,),
                                        None, wait_for=[up])
        return [cl.enqueue_copy(self.q, slot["hout"][:n], slot["dout"],
                                is_blocking=False, wait_for=[ke])]

    def retire(self, slot):
        shape = tuple(s.stop - s.start for s in slot["sl"])
        self.out.write_direct(slot["hout"][:slot["n"]].reshape(shape),
                              dest_sel=slot["sl"])

    def end(self):
        return None

    def to_file(self, out_path):
        """The map into out_path, made durable like h5cl's output."""
        def write(f):
            self.out = f.create_dataset("data", shape=self.dset.shape,
                                        dtype=np.float32,
                                        chunks=self.dset.chunks)
            self.run()
        durable_h5(out_path, write)
        return out_path


# ---------------------------------------------------------------------------
# Checks


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def check_stats(got, ref, h5cl_row):
    """Errors (a list of text) of a stats result against the numpy chunk
    loop's reference and h5cl's printed figures."""
    errs = []
    for k in ("count", "nan_count", "min", "max", "argmin", "argmax"):
        if got[k] != ref[k]:
            errs.append("%s %r != reference %r" % (k, got[k], ref[k]))
    for k, tol in (("mean", TOL_MEAN), ("sum", TOL_MEAN), ("var", TOL_VAR),
                   ("std", TOL_VAR)):
        if not rel(got[k], ref[k]) <= tol:
            errs.append("%s %.9g vs reference %.9g" % (k, got[k], ref[k]))
    h = (h5cl_row or {}).get("result")
    if h:
        for k in ("count", "nan_count"):
            if got[k] != h[k]:
                errs.append("%s %r != h5cl %r" % (k, got[k], h[k]))
        for k in ("min", "max"):  # h5cl-bench prints 6 digits
            if not rel(got[k], h[k]) <= 1e-5:
                errs.append("%s %.9g vs h5cl %.9g" % (k, got[k], h[k]))
        for k, tol in (("mean", TOL_MEAN), ("std", TOL_VAR)):
            if not rel(got[k], h[k]) <= tol:
                errs.append("%s %.9g vs h5cl %.9g" % (k, got[k], h[k]))
    return errs


def check_hist(counts, h5cl_row, n_total):
    h = (h5cl_row or {}).get("result")
    if not h:
        return ["no h5cl histogram to compare with"]
    errs = []
    in_bins = int(counts.sum())
    if in_bins != h["in_bins"]:
        errs.append("in_bins %d != h5cl %d" % (in_bins, h["in_bins"]))
    if int(counts.max()) != h["max_bin_count"]:
        errs.append("max bin %d != h5cl %d" % (counts.max(), h["max_bin_count"]))
    if n_total - in_bins != h["nan"] + h["under"] + h["over"]:
        errs.append("outside bins %d != h5cl nan+under+over %d" %
                    (n_total - in_bins, h["nan"] + h["under"] + h["over"]))
    return errs


def check_map(dset, out_path, h5cl_out, nsample=4):
    """Sampled chunks of the output equal float32(x * 2 + 1) exactly, and
    equal h5cl's output where h5cl-bench left it."""
    errs = []
    chunks = list(dset.iter_chunks())
    picks = sorted(set(np.linspace(0, len(chunks) - 1, nsample).astype(int)))
    with h5py.File(out_path, "r") as f:
        out = f["data"]
        if out.shape != dset.shape or out.dtype != np.float32:
            return ["output %s %s" % (out.shape, out.dtype)]
        hf = h5py.File(h5cl_out, "r") if h5cl_out and os.path.exists(h5cl_out) else None
        try:
            for i in picks:
                sl = chunks[i]
                x = dset[sl]
                want = x * np.float32(2) + np.float32(1)
                got = out[sl]
                if not np.array_equal(got, want, equal_nan=True):
                    errs.append("chunk %d differs from x*2+1" % i)
                if hf is not None:
                    hd = hf[next(iter(hf.keys()))]
                    if not np.array_equal(got, hd[sl], equal_nan=True):
                        errs.append("chunk %d differs from h5cl's output" % i)
        finally:
            if hf is not None:
                hf.close()
    return errs


# ---------------------------------------------------------------------------
# The run


def check_cov(got, ref, h5cl_row):
    """Errors of a covariance against the numpy chunk loop's, relative to
    sqrt(var_a var_b), NaN where the reference is; and its shape and NaN
    columns against what h5cl-bench checked."""
    errs = []
    if got.shape != ref.shape:
        return ["shape %s != reference %s" % (got.shape, ref.shape)]
    if not np.array_equal(np.isnan(got), np.isnan(ref)):
        errs.append("NaN entries differ from the reference")
    d = np.sqrt(np.abs(np.diag(ref)))
    scale = np.maximum(np.outer(d, d), np.finfo(np.float64).tiny)
    ok = ~np.isnan(ref)
    err = np.abs(got - ref)[ok] / scale[ok]
    if err.size and not err.max() <= TOL_COV:
        errs.append("largest relative error %.2e" % err.max())
    h = (h5cl_row or {}).get("result")
    if h:
        if h["columns"] != got.shape[0]:
            errs.append("%d columns, h5cl %d" % (got.shape[0], h["columns"]))
        nan_cols = int(np.isnan(np.diag(got)).sum())
        if nan_cols != h["nan_columns"]:
            errs.append("%d NaN columns, h5cl %d" % (nan_cols,
                                                     h["nan_columns"]))
    return errs


def cov_flops(dset):
    """The SYRK count, as h5cl-bench reports it."""
    n, p = dset.shape
    return n * p * (p + 1)


def fits_in_memory(nbytes):
    """The read-all path holds the float32 data, a NaN mask and float64
    deviations: about 4x the dataset.  Half the available memory at most."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    return 4 * nbytes <= avail // 2, avail
    except OSError:
        pass
    return False, 0


def row(system, case, status, message="", stats=None, **extra):
    r = {"system": system, "case": case, "status": status,
         "message": message}
    if stats:
        r.update(stats)
    r.update(extra)
    return r


def run_case(case, args, dset, h5rows, systems, ctx):
    """Rows of one case: h5cl's (from h5cl-bench), then each system's."""
    rows = []
    nbytes = dset.size * dset.dtype.itemsize
    ceiling = next((r for r in h5rows if not r["row"].startswith("h5cl")), None)
    main = {"stats": "h5cl-stats", "hist": "h5cl-hist",
            "map": "h5cl-map", "cov": "h5cl-cov"}[case]
    h5 = next((r for r in h5rows if r["row"] == main), None)
    keys = ("gbps_median", "gbps_min", "gbps_max", "seconds_median", "reps")
    if ceiling:
        rows.append(row("ceiling (" + ceiling["row"] + ")", case,
                        ceiling["status"], ceiling.get("message", ""),
                        {k: ceiling.get(k) for k in keys}))
    if h5:
        extra = {}
        if case == "cov" and h5.get("status") == "ok":
            extra = {"gflops_median": h5.get("gflops_median"),
                     "device_syrk_gflops": h5.get("device_syrk", {}).get(
                         "gflops_median")}
        rows.append(row("h5cl", case, h5["status"], h5.get("message", ""),
                        {k: h5.get(k) for k in keys},
                        device=h5.get("device"),
                        overlap=h5.get("overlap_median"), **extra))
    lo, hi = (float(v) for v in args.hist_range.split(":"))
    outdir = args.dir
    ref = ctx.get("ref")

    for name, fn in systems[case]:
        if isinstance(fn, str):  # skipped, with the reason
            rows.append(row(name, case, "skipped", fn))
            continue
        log("%s: %s" % (case, name))
        try:
            secs, res = measure(fn, args.reps, nbytes)
        except Exception as e:  # a failing system is a row, not a crash
            rows.append(row(name, case, "error", "%s: %s" % (type(e).__name__, e)))
            continue
        errs = []
        if case == "stats":
            if ref is None:
                ref = ctx["ref"] = res  # the numpy chunk loop runs first
            errs = check_stats(res, ref, h5)
        elif case == "hist":
            errs = check_hist(res, h5, dset.size)
        elif case == "cov":
            if ctx.get("cov_ref") is None:
                ctx["cov_ref"] = res  # the numpy chunk loop runs first
            errs = check_cov(res, ctx["cov_ref"], h5)
        else:
            errs = check_map(dset, res, ctx.get("h5cl_map_out"))
            try:
                os.unlink(res)
            except OSError:
                pass
        st = summary(secs, nbytes)
        if case == "cov":
            st["gflops_median"] = cov_flops(dset) / st["seconds_median"] / 1e9
        r = row(name, case, "error" if errs else "ok", "; ".join(errs), st)
        if case == "stats":
            r["result"] = res
        rows.append(r)

    if h5 and h5.get("status") == "ok":
        for r in rows:
            if r["system"] != "h5cl" and r.get("gbps_median"):
                r["ratio_h5cl"] = h5["gbps_median"] / r["gbps_median"]
    return rows


def build_systems(args, dset, ctx):
    lo, hi = (float(v) for v in args.hist_range.split(":"))
    bins = args.bins
    outdir = args.dir
    s = {"stats": [], "hist": [], "map": []}

    def out(name):
        return os.path.join(outdir, "compare-map-%s.h5" % name)

    s["stats"].append(("numpy+h5py chunks", lambda: numpy_chunks_stats(dset)))
    s["hist"].append(("numpy+h5py chunks",
                      lambda: numpy_chunks_hist(dset, lo, hi, bins)))
    s["map"].append(("numpy+h5py chunks",
                     lambda: (numpy_chunks_map(dset, out("numpy-chunks")),
                              out("numpy-chunks"))[1]))

    nbytes = dset.size * dset.dtype.itemsize
    fits, avail = fits_in_memory(nbytes)
    if fits:
        s["stats"].append(("numpy+h5py read-all", lambda: numpy_all_stats(dset)))
        s["hist"].append(("numpy+h5py read-all",
                          lambda: numpy_all_hist(dset, lo, hi, bins)))
        s["map"].append(("numpy+h5py read-all",
                         lambda: (numpy_all_map(dset, out("numpy-all")),
                                  out("numpy-all"))[1]))
    else:
        why = ("skipped: needs about %.1f GB (4x the dataset), %.1f GB "
               "available" % (4 * nbytes / 1e9, avail / 1e9))
        for c in s:
            s[c].append(("numpy+h5py read-all", why))

    try:
        import dask
        import dask.array as da
    except ImportError:
        why = "dask is not installed: " + DASK_PIP
        log(why)
        for c in s:
            s[c].append(("dask", why))
    else:
        s["stats"].append(("dask", lambda: dask_stats(dset, da, dask)))
        s["hist"].append(("dask", lambda: dask_hist(dset, lo, hi, bins, da, dask)))
        s["map"].append(("dask", lambda: (dask_map(dset, out("dask"), da, dask),
                                          out("dask"))[1]))

    try:
        import pyopencl as cl
        clstats = ClStats(cl, dset, args.device)
        clhist = ClHist(cl, dset, args.device, lo, hi, bins)
        clmap = ClMap(cl, dset, args.device)
    except Exception as e:  # ImportError, or no platform/device
        why = ("pyopencl unavailable (%s: %s): %s" %
               (type(e).__name__, e, PYOPENCL_PIP))
        log(why)
        for c in s:
            s[c].append(("pyopencl", why))
    else:
        ctx["pyopencl_device"] = clstats.dev.name.strip()
        shift = float(np.nanmean(dset[tuple(slice(0, min(d, 4096)) for d in dset.shape)]))
        clstats.shift = shift if math.isfinite(shift) else 0.0
        s["stats"].append(("pyopencl", clstats.run))
        s["hist"].append(("pyopencl", clhist.run))
        s["map"].append(("pyopencl",
                         lambda: clmap.to_file(out("pyopencl"))))
    return s


def cov_systems(dset):
    """The cov case's systems (its own 2-D file)."""
    s = [("numpy+h5py chunks", lambda: numpy_chunks_cov(dset))]
    fits, avail = fits_in_memory(dset.size * dset.dtype.itemsize)
    s.append(("numpy+h5py read-all", (lambda: numpy_all_cov(dset)) if fits
              else "skipped: needs about %.1f GB, %.1f GB available" %
              (4 * dset.size * dset.dtype.itemsize / 1e9, avail / 1e9)))
    try:
        import dask
        import dask.array as da
    except ImportError:
        s.append(("dask", "dask is not installed: " + DASK_PIP))
    else:
        s.append(("dask", lambda: dask_cov(dset, da, dask)))
    s.append(("pyopencl", "skipped: no PyOpenCL SYRK here; h5cl-bench's "
              "device_syrk is CLBlast's own rate on this device"))
    return {"cov": s}


def fmt_row(r):
    if r.get("gbps_median") is None:
        return [r["system"], r["case"], r["status"], "", "", "",
                r.get("message", "")]
    g = "%.3f [%.3f-%.3f]" % (r["gbps_median"], r["gbps_min"], r["gbps_max"])
    ratio = "%.2f" % r["ratio_h5cl"] if r.get("ratio_h5cl") else ""
    note = r.get("message", "")
    if r.get("gflops_median"):
        note = ("%.3f GFLOP/s" % r["gflops_median"] +
                (" (device SYRK %.3f)" % r["device_syrk_gflops"]
                 if r.get("device_syrk_gflops") else "") +
                ("; " + note if note else ""))
    return [r["system"], r["case"], r["status"], g,
            "%.4f" % r["seconds_median"], ratio, note]


def print_table(rows, info):
    print("file %s  dataset %s  %s %s  chunks %s  %.3f GB  reps %d" % (
        info["file"], info["dataset"], info["dtype"], info["shape"],
        info["chunks"], info["nbytes"] / 1e9, info["reps"]))
    if any(r["case"] == "cov" for r in rows):
        print("device %s  cov ddof 1 of %d columns; GFLOP/s = rows x cols x "
              "(cols + 1) / wall seconds" % (info.get("device"),
                                             info["shape"][-1]))
    else:
        print("device %s  hist %d bins over [%s]  map %s" % (
            info.get("device"), info["bins"], info["hist_range"], MAP_EXPR))
    head = ["system", "case", "status", "GB/s median [min-max]", "s median",
            "h5cl/system", "note"]
    body = [fmt_row(r) for r in rows]
    w = [max(len(str(x[i])) for x in body + [head]) for i in range(6)]
    line = lambda c: "  ".join(str(c[i]).ljust(w[i]) for i in range(6)) + \
        ("  " + c[6] if c[6] else "")
    print(line(head))
    print("  ".join("-" * n for n in w))
    for b in body:
        print(line(b))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", default="all",
                    choices=["stats", "hist", "map", "cov", "all"],
                    help="all: stats, hist, map and cov")
    ap.add_argument("--file", help="HDF5 file (default: h5cl-bench's "
                    "generated file for --size, made and kept if absent)")
    ap.add_argument("--dataset", default="/data")
    ap.add_argument("--size", default="1G", help="generated size (1G)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cols", type=int, help="columns of the cov case's "
                    "generated file (h5cl-bench --cols; default its 128)")
    ap.add_argument("--hist-range", default="5:25")
    ap.add_argument("--bins", type=int, default=256)
    ap.add_argument("--device", help="h5cl-bench --device and PyOpenCL "
                    "device name filter")
    ap.add_argument("--bench", default=os.path.join(ROOT, "build",
                                                    "h5cl-bench"))
    ap.add_argument("--dir", default=os.path.join(ROOT, "build",
                                                  "bench-data"))
    ap.add_argument("--trace", help="h5cl-bench --trace PREFIX (PREFIX-CASE.json)")
    ap.add_argument("--json", action="store_true",
                    help="one JSON object per row on stdout")
    ap.add_argument("--json-out", metavar="FILE",
                    help="also write the JSON rows to FILE (for plot.py)")
    args = ap.parse_args(argv)
    if args.bins != 256:
        ap.error("h5cl-bench's histogram has 256 bins")
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    os.makedirs(args.dir, exist_ok=True)
    cases = (["stats", "hist", "map", "cov"] if args.case == "all"
             else [args.case])

    # the cov case reads its own generated 2-D file; the others share one
    h5rows, paths = {}, {}
    for c in cases:
        key = "cov" if c == "cov" and not args.file else "flat"
        h5rows[c] = run_h5cl_bench(args, c, args.file or paths.get(key))
        paths.setdefault(key, h5rows[c][0]["file"])
    ctx = {}
    for r in h5rows.get("map", []):
        if r["row"] == "h5cl-map":
            ctx["h5cl_map_out"] = r.get("output", {}).get("file")

    rows, infos = [], []
    for key, path in paths.items():
        group = [c for c in cases
                 if ("cov" if c == "cov" and not args.file else "flat") == key]
        with h5py.File(path, "r") as f:
            dset = f[args.dataset]
            if dset.dtype != np.float32:
                sys.exit("compare.py: the baselines read float32 data, %s is "
                         "%s" % (args.dataset, dset.dtype))
            if "cov" in group and dset.ndim != 2:
                sys.exit("compare.py: the cov case needs 2-D data, %s is %s"
                         % (args.dataset, dset.shape))
            info = {"file": path, "dataset": args.dataset,
                    "dtype": str(dset.dtype), "shape": list(dset.shape),
                    "chunks": list(dset.chunks) if dset.chunks else None,
                    "nbytes": dset.size * 4, "reps": args.reps,
                    "bins": args.bins, "hist_range": args.hist_range,
                    "device": h5rows[group[0]][0].get("device"),
                    "dask_chunks": list(dask_chunks(dset))}
            systems = (cov_systems(dset) if key == "cov"
                       else build_systems(args, dset, ctx))
            info["pyopencl_device"] = ctx.get("pyopencl_device")
            for c in group:
                got = run_case(c, args, dset, h5rows[c], systems, ctx)
                rows += [dict(r, info=info) for r in got]
            infos.append((info, len(rows)))

    lines = [json.dumps(r, sort_keys=True) for r in rows]
    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write("\n".join(lines) + "\n")
    if args.json:
        print("\n".join(lines))
    else:
        start = 0
        for info, end in infos:
            if start:
                print()
            print_table(rows[start:end], info)
            start = end
    return 1 if any(r["status"] == "error" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
