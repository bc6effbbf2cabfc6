"""h5cl on Dask: one h5cl run per task, over a share of a dataset's rows.

    import h5cl, h5cl.dask
    with h5cl.open("run.h5") as f:
        d = f["/fields/u"]
        st = h5cl.dask.stats(d[100:], shares=16).compute()   # a Stats
        h = h5cl.dask.histogram(d, bins=64).compute()         # a Histogram
        c = h5cl.dask.cov_state(f["/samples"]).compute()       # a Covariance
        h5cl.dask.map(d, "sqrt(x)", out="u.h5:/s").compute()   # a MapResult

Each call returns a dask.delayed.Delayed whose graph has one task per share
of the selection's rows (h5cl_dataset_split: on chunk boundaries, so no
chunk is read by two tasks).  A task opens the file in the worker with
h5cl (the worker's device: its H5CL_DEVICE, else the default, or device=),
runs the ordinary pipeline over its rows (h5cl_ctx_set_share) and returns
the serialised partial state; a tree of merge tasks with a fixed fan-in
combines them, and a last task turns the state into the ordinary result
object, equal to the single-process run's (integer statistics and
histogram counts exactly, float sums within rounding).  .compute() runs it
on the threaded scheduler, or on a dask.distributed Client when one is
active (LocalCluster or a real cluster: the file's path must be valid on
the workers).  Statistics, histograms and covariances have .run None: the
work ran in many places; a MapResult's .run adds the tasks' figures up.

A histogram without range= gets the data's range from a statistics graph
over the same shares first, so every share bins with the same edges.  Maps
write one file per task (OUT.partNNNN.h5 beside OUT) and join them as an
HDF5 virtual dataset at the output (h5cl_map_join).
"""

import os
import threading

import numpy as np
from dask import delayed

from . import _ffi
from ._core import (Covariance, Dataset, Histogram, MapResult, Stats,
                    _check_bins, _check_range, _execute, _figure_flags,
                    _figures, _run_info, _split_out, open as _open)

__all__ = ["stats", "histogram", "cov_state", "map", "split"]

FAN_IN = 8
# rows of the default shares: about this many bytes each (a few dozen
# tiles: a task's setup is then small beside its streaming)
SHARE_BYTES = 256 << 20

# ---- where tasks run ----------------------------------------------------

_local = threading.local()


def _worker_file(path, device):
    """This thread's h5cl.File of path on device, kept between tasks (a
    context per thread: contexts are used by one thread at a time) and
    reopened when the file changed on disk."""
    files = getattr(_local, "files", None)
    if files is None:
        files = _local.files = {}
    st = os.stat(path)
    key = (os.path.realpath(path), device)
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    f = files.get(key)
    if f is not None and (f[1] != stamp or f[0].closed):
        f[0].close()
        f = None
    if f is None:
        f = files[key] = (_open(path, device), stamp)
    return f[0]


class _Source:
    """What a task needs to find its view: picklable, no handles."""

    def __init__(self, view, device):
        if not isinstance(view, Dataset):
            raise TypeError("h5cl.dask works on an h5cl Dataset (or a view "
                            "of one), not %s" % type(view).__name__)
        self.path = os.path.abspath(view.file.filename)
        self.name = view.name
        self.sel = list(view._sel)
        self.device = device

    def view(self):
        f = _worker_file(self.path, self.device)
        return Dataset(f[self.name]._h, list(self.sel))


def _on_share(src, share, what, opts, call, read, free):
    """Runs call on rows [share) of the source's selection, in this
    worker; returns read(result)."""
    view = src.view()
    ctx = view.file._check()
    ops = view._operands(what, opts.get("expr"), opts.get("name", "x"), {},
                         opts.get("axis", -1), opts.get("tile_bytes", 0),
                         opts.get("slots", 0), None,
                         opts.get("mask_fill", False), opts.get("cf", False))
    ops.figures = opts.get("figures", 0)
    # the file is this thread's own: no other run can see the share
    _ffi.ctx_set_share(ctx, share[0], share[1])
    try:
        return _execute(view.file, ops, False, call, read, free)
    finally:
        _ffi.ctx_set_share(ctx, 0, 2 ** 64 - 1)


# ---- shares and the tree -------------------------------------------------

def split(view, n=None):
    """Shares of view's rows on chunk boundaries: [(start, stop), ...],
    counted from the selection's first row.  n: at most this many (None:
    about one per SHARE_BYTES bytes)."""
    if n is None:
        n = max(1, min(4096, -(-view.nbytes // SHARE_BYTES)))
    with view.file._lock:
        view.file._check()
        b = _ffi.dataset_split(view._h.get(), view.selection, int(n))
    return list(zip(b[:-1], b[1:]))


def _parts(view, shares):
    """The shares a graph uses: a list of (start, stop) as given, else
    split(view, shares)."""
    return shares if isinstance(shares, list) else split(view, shares)


def _tree(parts, merge, fan_in):
    """A reduction tree of merge tasks, fan_in parts each."""
    if fan_in < 2:
        raise ValueError("fan_in must be at least 2")
    while len(parts) > 1:
        parts = [delayed(merge)(*parts[i:i + fan_in])
                 for i in range(0, len(parts), fan_in)]
    return parts[0]


def _merged(deserialize, merge, serialize, free):
    def run(*blobs):
        acc = deserialize(blobs[0])
        try:
            for b in blobs[1:]:
                part = deserialize(b)
                try:
                    merge(acc, part)
                finally:
                    free(part)
            return serialize(acc)
        finally:
            free(acc)
    return run


_merge_stats = _merged(_ffi.stats_deserialize, _ffi.stats_merge,
                       _ffi.stats_serialize, _ffi.stats_free)
_merge_hist = _merged(_ffi.hist_deserialize, _ffi.hist_merge,
                      _ffi.hist_serialize, _ffi.hist_free)
_merge_cov = _merged(_ffi.cov_deserialize, _ffi.cov_merge,
                     _ffi.cov_serialize, _ffi.cov_free)


def _c_axis(view, axis):
    c_axis, _ = view._c_axis(axis)
    if c_axis > 0:
        raise ValueError("h5cl.dask reduces the whole selection or its "
                         "first axis (the shares are rows), not axis %r"
                         % (axis,))
    return c_axis


# ---- statistics ------------------------------------------------------------

def _stats_part(src, share, opts):
    return _on_share(src, share, "stats", opts,
                     lambda ptr, run: _ffi.stats_compute(ptr, **run),
                     _ffi.stats_serialize, _ffi.stats_free)


def _stats_graph(src, parts, opts, fan_in):
    return _tree([delayed(_stats_part)(src, s, opts) for s in parts],
                 _merge_stats, fan_in)


def _stats_result(data, shape, dtype, ddof):
    st = _ffi.stats_deserialize(data)
    try:
        _, raw, _, _ = _ffi.stats_read(st)
    finally:
        _ffi.stats_free(st)
    return Stats(ddof=ddof, run=None, **_figures(raw, shape, dtype, ddof))


def _value_dtype(view, expr, mask_fill, cf):
    """The type the statistics see: floats for an expression or decoded
    data (as Dataset.stats)."""
    if expr is not None or ((mask_fill or cf) and
                            view.decoding(cf, mask_fill)["flags"]):
        return np.dtype(np.float64)
    return view.dtype


def stats(view, axis=None, ddof=0, *, shares=None, fan_in=FAN_IN,
          device=None, tile_bytes=0, slots=0, expr=None, name="x",
          mask_fill=False, cf=False, figures=None):
    """Dataset.stats as a Dask graph: a Delayed of a Stats.  axis: None or
    the first axis.  shares: how many tasks (at most; see split()), or a
    list of (start, stop) rows.  fan_in: merges per tree node.  device:
    the device spec tasks open (None: each worker's default).  figures: as
    for Dataset.stats, in every task."""
    src = _Source(view, device)  # TypeError for anything else
    if int(ddof) < 0:
        raise ValueError("ddof must be >= 0")
    c_axis = _c_axis(view, axis)
    parts = _parts(view, shares)
    opts = dict(axis=c_axis, expr=expr, name=name, tile_bytes=tile_bytes,
                slots=slots, mask_fill=mask_fill, cf=cf,
                figures=_figure_flags(figures))
    dtype = _value_dtype(view, expr, mask_fill, cf)
    return delayed(_stats_result)(_stats_graph(src, parts, opts, fan_in),
                                  _result_shape(view, c_axis), dtype,
                                  int(ddof))


# ---- histograms ------------------------------------------------------------

def _hist_part(src, share, opts, bins, lo_hi, range_data):
    state = None if range_data is None else _ffi.stats_first_state(range_data)
    return _on_share(src, share, "histogram", opts,
                     lambda ptr, run: _ffi.hist_compute(
                         ptr, bins, lo_hi, range_state=state, **run),
                     _ffi.hist_serialize, _ffi.hist_free)


def histogram(view, bins=10, range=None, axis=None, *, shares=None,
              fan_in=FAN_IN, device=None, tile_bytes=0, slots=0, expr=None,
              name="x", mask_fill=False, cf=False):
    """Dataset.histogram as a Dask graph: a Delayed of a Histogram (the
    whole selection's, or one per position with axis=0)."""
    src = _Source(view, device)  # TypeError for anything else
    nbins = _check_bins(bins)
    lo_hi = _check_range(range)
    c_axis = _c_axis(view, axis)
    parts = _parts(view, shares)
    opts = dict(axis=c_axis, expr=expr, name=name, tile_bytes=tile_bytes,
                slots=slots, mask_fill=mask_fill, cf=cf)
    range_data = None
    if lo_hi is None:  # the whole selection's extremes, for every share
        range_data = _stats_graph(src, parts, dict(opts, axis=-1), fan_in)
    tree = _tree([delayed(_hist_part)(src, s, opts, nbins, lo_hi, range_data)
                  for s in parts], _merge_hist, fan_in)
    return delayed(Histogram.from_bytes)(tree, _result_shape(view, c_axis))


def _result_shape(view, c_axis):
    """The shape of the result as Dataset's methods give it: () for the
    whole selection; for axis 0 the library's positions (the selection's
    other axes, integer-indexed ones kept with length 1) as numpy has
    them.  Worked out here: tasks must not hold the view (its File)."""
    if c_axis < 0:
        return ()
    return view._result_shape(tuple(e - s for s, e, _ in view._sel[1:]), 0)


# ---- covariance --------------------------------------------------------------

def _cov_part(src, share, opts):
    return _on_share(src, share, "cov", opts,
                     lambda ptr, run: _ffi.cov_compute(ptr, **run),
                     _ffi.cov_serialize, _ffi.cov_free)


def cov_state(view, *, shares=None, fan_in=FAN_IN, device=None,
              tile_bytes=0, slots=0, expr=None, name="x", mask_fill=False,
              cf=False):
    """Dataset.cov_state as a Dask graph: a Delayed of a Covariance (use
    .cov(ddof), .corrcoef() on the result)."""
    src = _Source(view, device)  # TypeError for anything else
    parts = _parts(view, shares)
    opts = dict(expr=expr, name=name, tile_bytes=tile_bytes, slots=slots,
                mask_fill=mask_fill, cf=cf)
    tree = _tree([delayed(_cov_part)(src, s, opts) for s in parts],
                 _merge_cov, fan_in)
    return delayed(Covariance.from_bytes)(tree)


# ---- maps --------------------------------------------------------------------

def _map_part(src, share, opts, out_file, out_path, dtype, overwrite):
    return _on_share(src, share, "map", opts,
                     lambda ptr, run: _ffi.map_run(
                         ptr, out_file, out_path, dtype, 0, False,
                         overwrite, None, **run),
                     None, None)


def _join(summaries, parts, out_path, out_file, overwrite):
    """Makes the virtual dataset; returns the tasks' summaries combined
    (counts added, the longest task's seconds, busy times added)."""
    ctx = _ffi.ctx_create()
    try:
        _ffi.map_join(ctx, parts, out_path, out_file, out_path, overwrite)
    finally:
        _ffi.ctx_destroy(ctx)
    total = dict(summaries[0])
    for s in summaries[1:]:
        for k in ("bytes", "bytes_written", "tiles", "masked",
                  "bytes_direct"):
            total[k] = total.get(k, 0) + s.get(k, 0)
        total["seconds"] = max(total["seconds"], s["seconds"])
        total["stage_seconds"] = [a + b for a, b in zip(
            total["stage_seconds"], s["stage_seconds"])]
    return total


def map(view, expr, out, *, dtype=None, overwrite=False, shares=None,  # noqa: A001
        device=None, tile_bytes=0, slots=0, name="x", mask_fill=False,
        cf=False):
    """File.map of one input as a Dask graph: a Delayed of a MapResult.
    Task i writes rows of share i to OUT.partNNNN.h5 (beside OUT, dataset
    OUT's path; uncompressed, the input's chunks), and a last task makes
    OUT:path a virtual dataset of them; OUT must not be the input file."""
    src = _Source(view, device)  # TypeError for anything else
    if any(dropped for _, _, dropped in view._sel):
        raise IndexError("%r is indexed with an integer: a map writes the "
                         "selection's box (use a slice of length 1)" % view)
    if expr is None and (mask_fill or cf):
        expr = name  # the decoded data itself, as File.map
    out_file, out_path = _split_out(out)
    parts = _parts(view, shares)
    stem = out_file[:-3] if out_file.endswith(".h5") else out_file
    files = ["%s.part%04d.h5" % (stem, i) for i in range(len(parts))]
    if dtype is not None:
        dtype = np.dtype(dtype).name
    opts = dict(expr=expr, name=name, tile_bytes=tile_bytes, slots=slots,
                mask_fill=mask_fill, cf=cf)
    done = [delayed(_map_part)(src, s, opts, f, out_path, dtype, overwrite)
            for s, f in zip(parts, files)]
    # a decoded input has its decoded type (File.map's default dtype rule)
    info = view.decoding(cf, mask_fill) if (mask_fill or cf) else None
    vtype = info["decoded_dtype"] if info and info["flags"] else \
        view.dtype.name
    with view.file._lock:
        result = dtype or _ffi.expr_check(view.file._check(), expr, [name],
                                          [vtype])
    joined = delayed(_join)(done, files, out_path, out_file, overwrite)
    return delayed(_map_result)(joined, out_file, out_path, view.shape,
                                np.dtype(result), expr,
                                {name: "%s:%s" % (view.file.filename,
                                                  view.name)})


def _map_result(summary, file, path, shape, dtype, expr, inputs):
    return MapResult(file, path, shape, dtype, expr, inputs,
                     _run_info(summary))
