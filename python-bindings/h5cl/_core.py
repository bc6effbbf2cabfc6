"""Files, datasets, statistics runs.  Plain Python over h5cl._ffi."""

import contextlib
import dataclasses
import os
import sys
import signal
import threading
import warnings
import weakref
from typing import Any, Optional

import numpy as np

from . import _ffi, errors
from .errors import AxisError, H5clError, ShapeMismatch

__all__ = ["Device", "devices", "open", "File", "Dataset", "Stats", "RunInfo",
           "Histogram", "MapResult", "dot", "check_expression"]

# ---------------------------------------------------------------------------
# Devices


@dataclasses.dataclass(frozen=True)
class Device:
    platform_index: int
    device_index: int
    type: str
    name: str
    platform: str
    vendor: str
    driver_version: str
    opencl_version: str
    fp64: bool
    unified_memory: bool
    compute_units: int
    global_mem_bytes: int
    max_alloc_bytes: int
    max_work_group_size: int
    is_default: bool

    @property
    def spec(self):
        """The "P:D" string that selects this device."""
        return "%d:%d" % (self.platform_index, self.device_index)


def _device(d):
    return Device(d["platform_index"], d["device_index"], d["type"],
                  d["device_name"], d["platform_name"], d["vendor"],
                  d["driver_version"], d["opencl_version"], bool(d["has_fp64"]),
                  bool(d["host_unified_memory"]), d["compute_units"],
                  d["global_mem_bytes"], d["max_alloc_bytes"],
                  d["max_work_group_size"], bool(d["is_default"]))


def devices():
    """Every OpenCL device, as Device dataclasses; is_default marks the one a
    File uses when no device is named."""
    ctx = _ffi.ctx_create()
    try:
        return [_device(d) for d in _ffi.list_devices(ctx)]
    finally:
        _ffi.ctx_destroy(ctx)


# ---------------------------------------------------------------------------
# Progress

progress_default = None  # None: automatic (interactive sessions only)


def _interactive():
    ipy = sys.modules.get("IPython")
    if ipy is not None:
        try:
            shell = ipy.get_ipython()
            if shell is not None and hasattr(shell, "kernel"):
                return True
        except Exception:
            pass
    return hasattr(sys, "ps1") and sys.stderr is not None and sys.stderr.isatty()


class _Progress:
    """Owns the C callback object for one run and what it drives: a tqdm bar
    and/or a user callable(tiles_done, tiles_total, bytes_done) whose truthy
    return cancels the run.  An exception in the callable cancels the run
    and is re-raised after it.  Runs of several passes (a histogram over the
    data's range, quantiles) count from zero again each pass: the bar then
    starts over, labelled with the pass."""

    def __init__(self, progress, total_bytes, desc):
        self.user = progress if callable(progress) else None
        if progress is None:
            progress = progress_default
            if progress is None:
                progress = _interactive()
        self.want_bar = progress is True
        self.total_bytes, self.desc = total_bytes, desc
        self.bar = None
        self.error = None
        self.c_fn = None
        self.passes, self.last_done = 1, 0
        if self.user is not None or self.want_bar:
            self.c_fn = _ffi.make_progress(self._call)

    def _call(self, done, total, nbytes):
        try:
            if done <= self.last_done:  # the run started another pass
                self.passes += 1
                if self.bar is not None:
                    self.bar.reset(total=self.total_bytes)
                    self.bar.set_description("%s (pass %d)"
                                             % (self.desc, self.passes))
            self.last_done = done
            if self.want_bar:
                if self.bar is None:
                    self.bar = _make_bar(self.total_bytes, self.desc)
                    if self.bar is None:
                        self.want_bar = False
                if self.bar is not None:
                    self.bar.update(nbytes - self.bar.n)
            if self.user is not None:
                return bool(self.user(done, total, nbytes))
        except BaseException as e:  # raised again on the caller's thread
            self.error = e
            return True
        return False

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _make_bar(total, desc):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True,
                unit_divisor=1024, leave=False)


# ---------------------------------------------------------------------------
# Files


_ISOLATE_LIMITS = ("memory_bytes", "cpu_seconds", "wall_seconds")


def _isolation(isolate):
    """(enabled, limits) from open()'s isolate argument: None is the
    default, on unless H5CL_ISOLATE=0; a dict of limits means on with
    them."""
    if isinstance(isolate, dict):
        unknown = set(isolate) - set(_ISOLATE_LIMITS)
        if unknown:
            raise ValueError("isolate: unknown limit(s) %s; use %s"
                             % (", ".join(sorted(unknown)),
                                ", ".join(_ISOLATE_LIMITS)))
        return True, isolate
    if isolate is None:
        return os.environ.get("H5CL_ISOLATE") != "0", {}
    return bool(isolate), {}


class File:
    """An HDF5 file opened for h5cl runs.  Owns one h5cl context (one
    device).  Use as a context manager, or call close().

    isolate: every HDF5 call on the file (and on the files of datasets
    bound to its runs) runs in a child process, so a file that crashes or
    hangs libhdf5 raises ReaderCrashed / TimeLimit / ResourceLimit instead
    of killing the interpreter.  None (the default): on, unless
    H5CL_ISOLATE=0 in the environment; True / False; or a dict of limits
    (memory_bytes, cpu_seconds, wall_seconds per request), which implies
    True.

    strict: a dataset whose data would not all come from the file (nothing
    written and no fill value, chunks missing) raises h5cl.MissingData
    instead of warning with h5cl.MissingDataWarning."""

    def __init__(self, path, device=None, isolate=None, strict=False):
        self._ctx = None
        self._path = os.fspath(path)
        self._handles = weakref.WeakSet()
        self._lock = threading.Lock()
        enabled, limits = _isolation(isolate)
        ctx = _ffi.ctx_create()
        try:
            _ffi.set_isolation(ctx, enabled, **limits)
            if device is not None:
                _ffi.use_device(ctx, str(device))
            _ffi.ctx_set_strict(ctx, strict)
            self._names = _ffi.list_datasets(ctx, self._path)
        except BaseException:
            _ffi.ctx_destroy(ctx)
            raise
        self._ctx = ctx

    # lifetime
    @property
    def closed(self):
        return self._ctx is None

    def _check(self):
        if self._ctx is None:
            raise ValueError("I/O operation on a closed h5cl.File (%s)"
                             % self._path)
        return self._ctx

    def close(self):
        """Closes every dataset opened from this file, then the context.
        Safe to call twice."""
        ctx, self._ctx = self._ctx, None
        if ctx is None:
            return
        with self._lock:  # waits for a run in another thread
            for h in list(self._handles):
                h.close()
            _ffi.ctx_destroy(ctx)

    def trim(self):
        """Frees the host slots and device buffers kept from the last run
        (a File keeps them so that the next run need not make them again:
        pinned memory is slow to make on GPUs).  For a long-lived File
        that should hold no memory between runs; the next run makes its
        buffers anew.  Waits for a run in another thread."""
        ctx = self._check()
        with self._lock:
            _ffi.ctx_trim(ctx)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self, _destroy=_ffi.ctx_destroy):
        # no dataset handle can be alive here: each holds its File
        ctx = getattr(self, "_ctx", None)
        if ctx is not None:
            self._ctx = None
            try:
                _destroy(ctx)
            except Exception:
                pass

    def __repr__(self):
        state = "closed" if self.closed else "%d datasets" % len(self._names)
        return "<h5cl.File %r (%s)>" % (self._path, state)

    # contents
    @property
    def filename(self):
        return self._path

    @property
    def isolation(self):
        """The isolation settings in force: enabled, memory_bytes,
        cpu_seconds, wall_seconds (defaults resolved)."""
        return _ffi.get_isolation(self._check())

    def datasets(self):
        """[(path, supported)] for every dataset, depth-first in name order;
        supported is False for types h5cl cannot read (strings, compounds)."""
        self._check()
        return list(self._names)

    def keys(self):
        return [p for p, _ in self.datasets()]

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __contains__(self, path):
        path = "/" + path.lstrip("/")
        return any(p == path for p in self.keys())

    def __getitem__(self, path):
        ctx = self._check()
        with self._lock:
            h = _Handle(self, _ffi.dataset_open(ctx, self._path, path))
        self._handles.add(h)
        for w in _ffi.dataset_warnings(h.ptr):
            warnings.warn(w, errors.MissingDataWarning, stacklevel=2)
        return Dataset(h)

    @property
    def device(self):
        """The device this file's runs use (opens it if not yet open)."""
        ctx = self._check()
        with self._lock:
            return _device(_ffi.ctx_device(ctx))

    def build_programs(self):
        """Builds (or loads from cache) every kernel now, so runs never
        compile."""
        ctx = self._check()
        with self._lock:
            _ffi.build_programs(ctx)

    def map(self, expr, out, *, dtype=None, gzip=0, shuffle=False,
            overwrite=False, chunks=None, progress=None, tile_bytes=0,
            slots=0, trace=None, mask_fill=False, cf=False, **inputs):
        """Evaluates expr element by element over the datasets bound by
        keyword and writes the values to a new dataset:

            f.map("sqrt(u*u + v*v)", u=f["/u"], v="/v", out="speed.h5:/speed")

        Inputs are Datasets (of this file or another) or paths in this
        file; they must have one shape, and views must select alike
        (f["/u"][10:20] with f["/v"][10:20]; the output has the selection's
        shape).  The first input sets the output's chunking.
        out: "file.h5:/path" (split at the last ":/") or (file, path);
        missing groups are made; the file must not be an input's file.
        dtype: the output's type (default: the expression's, see
        check_expression); gzip: deflate level 1..9 (True: 4), shuffle;
        chunks: a tuple (default: the first input's chunks, or rows of
        about 1 MiB when compressing a contiguous input), False for a
        contiguous output; overwrite: replace
        an existing dataset of that name (else OutputExists).

        All or nothing: the output is written to a temporary file renamed
        over the target when complete, so an error or Ctrl-C leaves the
        target as it was.  The dataset records the expression and its
        sources in attributes h5cl_expression and h5cl_sources.

        mask_fill, cf: decode the inputs first, as for Dataset.stats():
        masked elements are written as NaN (0 in an integer dtype) and
        counted in .masked; an unpacked variable is float32 when its
        scale_factor/add_offset are float32, else float64.  With either,
        expr may be None: the decoded first input is written.
        Returns a MapResult (file, path, shape, dtype, run, masked)."""
        self._check()
        if not inputs:
            raise TypeError("map() needs at least one input dataset, bound "
                            "by keyword (u=f['/u'])")
        if expr is None and (mask_fill or cf):
            expr = next(iter(inputs))  # the decoded data itself
        if not isinstance(expr, str):
            raise TypeError("expr must be a str, not %s" % type(expr).__name__)
        out_file, out_path = _split_out(out)
        names, views = list(inputs), []
        for k, v in inputs.items():
            if isinstance(v, str):
                v = self[v]
            elif not isinstance(v, Dataset):
                raise TypeError(
                    "map() got an unexpected keyword argument %r (keywords "
                    "beyond the parameters bind Datasets or dataset paths "
                    "to expression names, not %s)" % (k, type(v).__name__))
            if any(dropped for _, _, dropped in v._sel):
                raise IndexError(
                    "%s=%r is indexed with an integer: a map writes the "
                    "selection's box, so use a slice of length 1 (d[3:4]) "
                    "to keep that axis" % (k, v))
            views.append(v)
        if dtype is not None:
            dt = np.dtype(dtype)
            if dt.byteorder == ">":
                raise ValueError("maps write native little-endian types, "
                                 "not %s" % dt.str)
            dtype = dt.name
            _ffi.dtype_code(dtype)  # ValueError for a type h5cl lacks
        level = 4 if gzip is True else int(gzip or 0)
        if chunks is True:
            chunks = None
        if chunks is not None and chunks is not False:
            chunks = tuple(int(c) for c in chunks)
        ops = _Operands(views, names, _shared_selection(names, views), expr,
                        -1, tile_bytes, slots, trace, mask_fill=mask_fill,
                        cf=cf)
        # decoded inputs have their decoded types (an unpacked variable is
        # float32 or float64): they set the default output type
        types = []
        for v in views:
            info = v.decoding(cf, mask_fill) if (mask_fill or cf) else None
            types.append(info["decoded_dtype"] if info and info["flags"]
                         else v.dtype.name)
        with self._lock:
            result = dtype or _ffi.expr_check(self._check(), expr, names,
                                              types)
        summary = _execute(
            self, ops, progress,
            lambda ptr, run: _ffi.map_run(ptr, out_file, out_path, dtype,
                                          level, shuffle, overwrite, chunks,
                                          **run),
            desc="%s:%s" % (os.path.basename(out_file), out_path))
        return MapResult(out_file, out_path, views[0].shape, np.dtype(result),
                         expr, {n: "%s:%s" % (v.file.filename, v.name)
                                for n, v in zip(names, views)},
                         _run_info(summary))


def open(path, device=None, isolate=None, strict=False):  # noqa: A001
    """Opens an HDF5 file for h5cl runs (mirrors h5py.File).  device: None
    for the default, "gpu", "cpu", "accelerator", "P:D" or part of a device
    name.  isolate: read the file in a child process (the default; see
    File).  Opening a dataset whose data would not all come from the file
    (nothing written and no fill value, chunks missing, a short external
    file) warns with h5cl.MissingDataWarning; strict=True raises
    h5cl.MissingData instead."""
    return File(path, device, isolate, strict)


class _Handle:
    """One h5cl_dataset; keeps its File (and so the context) alive."""

    def __init__(self, file, ptr):
        self.file = file
        self.ptr = ptr
        self.info = _ffi.dataset_info(ptr)

    def get(self):
        self.file._check()
        if self.ptr is None:
            raise ValueError("h5cl dataset %s is closed" % self.info["path"])
        return self.ptr

    def close(self):
        ptr, self.ptr = self.ptr, None
        if ptr is not None:
            _ffi.dataset_close(ptr)

    def __del__(self, _close=_ffi.dataset_close):
        ptr = getattr(self, "ptr", None)
        if ptr is not None:
            self.ptr = None
            try:
                _close(ptr)
            except Exception:
                pass


# ---------------------------------------------------------------------------
# Results

_STATE_DTYPE = np.dtype({
    "names": ["kind", "overflow", "count", "nan_count", "sum_f", "sum_i",
              "sum_u", "sum_comp", "sum_hi", "mean", "m2", "min_f", "min_i",
              "min_u", "max_f", "max_i", "max_u", "argmin", "argmax",
              "missing"],
    "formats": ["=i4", "=i4", "=u8", "=u8", "=f8", "=i8", "=u8", "=f8", "=i8",
                "=f8", "=f8", "=f8", "=i8", "=u8", "=f8", "=i8", "=u8", "=u8",
                "=u8", "=u4"],
    "offsets": [0, 4, 8, 16, 24, 24, 24, 32, 40, 48, 56, 64, 64, 64, 72, 72, 72,
                80, 88, 96],
    "itemsize": 104,
})

# Figure names (those of Stats, and "arg" for both indices) and the
# H5CL_FIG_* flag each needs.
_FIGURE_FLAGS = {
    "count": _ffi.FIG_COUNT, "nan_count": _ffi.FIG_COUNT,
    "sum": _ffi.FIG_SUM, "mean": _ffi.FIG_SUM,
    "var": _ffi.FIG_VAR, "std": _ffi.FIG_VAR,
    "min": _ffi.FIG_MINMAX, "max": _ffi.FIG_MINMAX,
    "argmin": _ffi.FIG_ARG, "argmax": _ffi.FIG_ARG, "arg": _ffi.FIG_ARG,
}
_STATS_FIGURES = ("count", "nan_count", "sum", "mean", "var", "std", "min",
                  "max", "argmin", "argmax")


def _figure_flags(figures):
    """FIG_* flags of figures=: None (all), "sum,var" or names."""
    if figures is None:
        return 0
    names = figures.split(",") if isinstance(figures, str) else list(figures)
    flags = 0
    for n in names:
        n = str(n).strip()
        if n not in _FIGURE_FLAGS:
            raise ValueError("figures: unknown name %r; names are %s, arg"
                             % (n, ", ".join(_STATS_FIGURES)))
        flags |= _FIGURE_FLAGS[n]
    if not flags:
        raise ValueError("figures: name at least one figure")
    return flags


@dataclasses.dataclass
class RunInfo:
    """What a run did: bytes read (all inputs), wall seconds, busy seconds
    per stage, overlap (wall / busiest stage), zero-copy, bytes written (maps),
    masked (elements masked by mask_fill= or cf=) and, for statistics runs,
    the per-tile timeline."""

    bytes: int
    tiles: int
    tile_bytes: int
    slots: int
    seconds: float
    stage_seconds: dict
    overlap: float
    zero_copy: bool
    bytes_written: int = 0
    _timeline: Optional[dict] = dataclasses.field(default=None, repr=False)
    masked: int = 0
    bytes_direct: int = 0
    read_threads: int = 0
    bytes_mapped: int = 0

    @property
    def throughput(self):
        """Bytes per second."""
        return self.bytes / self.seconds if self.seconds > 0 else float("nan")

    def timeline(self):
        """Per-tile stage times as a plain dict of lists: "tile", "bytes" and
        "<lane>_begin"/"<lane>_end" for lanes read, upload, kernel, download,
        merge, write, in seconds since the run started
        (pandas.DataFrame-ready).  Statistics runs only: the library keeps
        no timeline of histograms and maps."""
        if self._timeline is None:
            if not _ffi.HAS_TIMELINE:
                raise RuntimeError(
                    "no timeline: the loaded libh5cl (%s, %s) has no "
                    "h5cl_stats_timeline" % (_ffi.version(),
                                             _ffi.library_path))
            raise RuntimeError("no timeline: the library keeps one for "
                               "statistics runs only")
        return {k: list(v) for k, v in self._timeline.items()}

    def plot_timeline(self, ax=None):
        """Draws the timeline with matplotlib: one row per lane, one bar per
        tile.  Returns the Axes."""
        import matplotlib.pyplot as plt  # optional dependency, loaded lazily

        t = self.timeline()
        lanes = _ffi.stage_names()
        if ax is None:
            _, ax = plt.subplots(figsize=(10, 0.5 + 0.5 * len(lanes)))
        colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
        for row, lane in enumerate(lanes):
            bars = [(b, e - b) for b, e in zip(t[lane + "_begin"], t[lane + "_end"])
                    if e >= b]
            ax.broken_barh(bars, (row - 0.4, 0.8),
                           facecolors=colors[row % len(colors)],
                           edgecolors="black", linewidth=0.3)
        ax.set_yticks(range(len(lanes)))
        ax.set_yticklabels(lanes)
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the run started")
        ax.set_title("h5cl: %d tiles, %.3g s, overlap %.2f"
                     % (self.tiles, self.seconds, self.overlap))
        return ax


def _run_info(summary, timeline=None):
    names = _ffi.stage_names()
    return RunInfo(summary.get("bytes", 0), summary.get("tiles", 0),
                   summary.get("tile_bytes", 0), summary.get("slots", 0),
                   summary.get("seconds", 0.0),
                   dict(zip(names, summary.get("stage_seconds",
                                               [0.0] * len(names)))),
                   summary.get("overlap", float("nan")),
                   bool(summary.get("zero_copy", 0)),
                   summary.get("bytes_written", 0), timeline,
                   int(summary.get("masked", 0)),
                   int(summary.get("bytes_direct", 0)),
                   int(summary.get("read_threads", 0)),
                   int(summary.get("bytes_mapped", 0)))


@dataclasses.dataclass
class Stats:
    """All figures of one run.  Whole-selection results are numpy scalars
    (a Python int for an integer sum beyond 64 bits); per-axis results are
    numpy arrays of the result shape (an object array of Python ints for
    integer sums beyond 64 bits).  NaNs are excluded from every figure but
    nan_count.  Undefined figures (of no values) are NaN; argmin/argmax of no
    values are -1.  masked: elements masked by mask_fill= or cf= (they are
    NaN to the run, so nan_count includes them).  figures: the names the
    run computed (stats(figures=...)); the others are None and left out of
    as_dict() and keys()."""

    count: Any
    nan_count: Any
    sum: Any
    mean: Any
    var: Any
    std: Any
    min: Any
    max: Any
    argmin: Any
    argmax: Any
    ddof: int = 0
    run: Optional[RunInfo] = dataclasses.field(default=None, repr=False)
    masked: int = 0
    figures: tuple = _STATS_FIGURES

    def as_dict(self):
        return {f: getattr(self, f) for f in self.figures}

    def __getitem__(self, key):  # stats["mean"] as well as stats.mean
        return self.as_dict()[key]

    def keys(self):
        return self.as_dict().keys()


def _figures(raw, shape, dtype, ddof):
    """Vectorised derived figures of the states (same formulas as
    lib/stats_state.c; tests cross-check them against the C functions)."""
    s = np.frombuffer(raw, dtype=_STATE_DTYPE).reshape(shape)
    count = s["count"].astype(np.int64)
    nan_count = s["nan_count"].astype(np.int64)
    empty = count == 0
    n = np.where(empty, 1, count)
    with np.errstate(all="ignore"):
        if dtype.kind == "f":
            total = s["sum_f"] + s["sum_comp"]
            fmean = s["mean"]
            mean = np.where(np.isfinite(total) | ~np.isfinite(fmean),
                            total / n, fmean)
            lo, hi = s["min_f"].astype(dtype), s["max_f"].astype(dtype)
        else:
            signed = dtype.kind == "i"
            low = s["sum_i"] if signed else s["sum_u"]
            hi_words = s["sum_hi"]
            if np.any(hi_words != 0):
                flat = [int(a) + int(b) * 2 ** 64
                        for a, b in zip(low.ravel(), hi_words.ravel())]
                total = np.empty(len(flat), dtype=object)
                total[:] = flat
                total = total.reshape(shape)
                mean = np.array([_exact_mean(t, int(c)) for t, c in
                                 zip(flat, count.ravel())],
                                dtype=np.float64).reshape(shape)
            else:
                total = low
                nn = n.astype(np.int64) if signed else n.astype(np.uint64)
                q = total // nn
                r = total - q * nn
                if signed:  # C division truncates toward zero
                    fix = (r != 0) & (total < 0)
                    q = np.where(fix, q + 1, q)
                    r = np.where(fix, r - nn, r)
                mean = q.astype(np.float64) + r.astype(np.float64) / n
            lo = (s["min_i"] if signed else s["min_u"]).astype(dtype)
            hi = (s["max_i"] if signed else s["max_u"]).astype(dtype)
        mean = np.where(empty, np.nan, mean)
        var = np.where(count > ddof, s["m2"] / np.maximum(count - ddof, 1),
                       np.nan)
        std = np.sqrt(var)
    if np.any(empty):
        lo = np.where(empty, np.nan, lo.astype(np.float64))
        hi = np.where(empty, np.nan, hi.astype(np.float64))
    argmin = np.where(empty, -1, s["argmin"].astype(np.int64))
    argmax = np.where(empty, -1, s["argmax"].astype(np.int64))
    out = dict(count=count, nan_count=nan_count, sum=total, mean=mean,
               var=var, std=std, min=lo, max=hi, argmin=argmin, argmax=argmax)
    if shape == ():
        for k, v in out.items():
            v = np.asarray(v)[()]
            out[k] = v if not isinstance(v, int) else _narrow(v, dtype)
    # a figure any state lacks (a run of selected figures) is None
    missing = int(np.bitwise_or.reduce(s["missing"].ravel())) if s.size else 0
    out["figures"] = tuple(f for f in _STATS_FIGURES
                           if not missing & _FIGURE_FLAGS[f])
    for f in _STATS_FIGURES:
        if f not in out["figures"]:
            out[f] = None
    return out


def _exact_mean(total, count):
    if count == 0:
        return float("nan")
    q, r = abs(total) // count, abs(total) % count
    sign = -1 if total < 0 else 1
    return float(sign * q) + float(sign * r) / count


def _narrow(v, dtype):
    """An exact integer sum as numpy int64/uint64 where it fits, else int."""
    if dtype.kind == "u" and 0 <= v < 2 ** 64:
        return np.uint64(v)
    if dtype.kind == "i" and -2 ** 63 <= v < 2 ** 63:
        return np.int64(v)
    return v


class Histogram(tuple):
    """The result of Dataset.histogram: a (counts, edges) tuple, as
    numpy.histogram returns, with more attributes.

    counts: int64 array of shape (bins,), or (positions..., bins) for a
    per-axis histogram; edges: float64 array of bins + 1 equal-width edges
    (numpy.linspace(lo, hi, bins + 1)).  nan, under, over: what was not
    counted in a bin (NaNs, values below lo, above hi): int64 scalars, or
    arrays of the positions' shape.  range: (lo, hi); range_from_data:
    whether the range was found from the data.  run: RunInfo, or None.

    Histograms of the same bins, range and shape merge exactly (merge());
    to_bytes()/from_bytes() use the library's versioned byte form, so
    partial histograms can be made elsewhere and merged."""

    def __new__(cls, counts, edges, nan, under, over, range, range_from_data,
                state, run=None):
        self = tuple.__new__(cls, (counts, edges))
        self.nan, self.under, self.over = nan, under, over
        self.range, self.range_from_data = range, range_from_data
        self.run = run
        self._state = state
        return self

    @classmethod
    def _from_read(cls, d, shape, run=None):
        bins = d["bins"]
        counts = np.frombuffer(d["counts"], dtype=np.uint64).astype(np.int64)
        counts = counts.reshape(tuple(shape) + (bins,))

        def positions(v):
            a = np.array(v, dtype=np.int64).reshape(shape)
            return a[()] if a.ndim == 0 else a

        edges = np.linspace(d["lo"], d["hi"], bins + 1)
        return cls(counts, edges, positions(d["nan"]), positions(d["under"]),
                   positions(d["over"]), (d["lo"], d["hi"]), d["from_data"],
                   d["state"], run)

    counts = property(lambda self: self[0])
    edges = property(lambda self: self[1])

    @property
    def bins(self):
        return self[0].shape[-1]

    @property
    def shape(self):
        """The positions' shape: () for one histogram."""
        return self[0].shape[:-1]

    @property
    def total(self):
        """Values counted in a bin (not NaN, not outside the range)."""
        t = self[0].sum(axis=-1)
        return t[()] if t.ndim == 0 else t

    def density(self):
        """counts / (total * bin width), as numpy.histogram(density=True)."""
        width = np.diff(self[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return self[0] / np.expand_dims(self.total, -1) / width

    def to_bytes(self):
        """The library's serialised histogram (h5cl_hist_serialize)."""
        return self._state

    @classmethod
    def from_bytes(cls, data, shape=None):
        """A Histogram from to_bytes() output (BadState if invalid).  The
        positions keep the library's shape (integer-indexed axes of the
        original view come back as length 1) unless shape is given."""
        h = _ffi.hist_deserialize(data)
        try:
            d = _ffi.hist_read(h)
        finally:
            _ffi.hist_free(h)
        pos = d["shape"] if shape is None else tuple(shape)
        if int(np.prod(pos, dtype=np.int64)) != len(d["nan"]):
            raise ValueError("shape %s does not hold %d histograms"
                             % (pos, len(d["nan"])))
        return cls._from_read(d, pos)

    def merge(self, other):
        """A new Histogram: self's counts plus other's (and their nan,
        under, over).  Bins, range and shape must agree exactly
        (InvalidArgument otherwise)."""
        if not isinstance(other, Histogram):
            raise TypeError("can only merge a Histogram")
        a = _ffi.hist_deserialize(self._state)
        try:
            b = _ffi.hist_deserialize(other._state)
            try:
                _ffi.hist_merge(a, b)
            finally:
                _ffi.hist_free(b)
            d = _ffi.hist_read(a)
        finally:
            _ffi.hist_free(a)
        return Histogram._from_read(d, self.shape)

    def __reduce__(self):  # pickles through the library's byte form
        return (_histogram_from_bytes, (self._state, self.shape))

    def __repr__(self):
        return ("Histogram(counts=%r, edges=%r, nan=%r, under=%r, over=%r)"
                % (self[0], self[1], self.nan, self.under, self.over))


def _histogram_from_bytes(data, shape):
    return Histogram.from_bytes(data, shape)


def _check_bins(bins):
    if isinstance(bins, (bool, np.bool_)) or not isinstance(
            bins, (int, np.integer)):
        raise TypeError("h5cl histograms have equal-width bins: bins must be "
                        "an int (with range=(lo, hi)), not %s"
                        % type(bins).__name__)
    if not 1 <= int(bins) <= 0xFFFFFFFF:
        raise ValueError("`bins` must be positive, when an integer")
    return int(bins)


def _check_range(r):
    """(lo, hi) as floats, numpy's rules: finite, lo <= hi; lo == hi
    widens to (lo - 0.5, hi + 0.5).  None stays None."""
    if r is None:
        return None
    lo, hi = (float(x) for x in r)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("supplied range of [%r, %r] is not finite" % (lo, hi))
    if lo > hi:
        raise ValueError("max must be larger than min in range parameter.")
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


@dataclasses.dataclass
class MapResult:
    """What File.map wrote: the output file and dataset path, its shape and
    dtype, the expression, the inputs ({name: "file:path"}) and the run
    (RunInfo: bytes read, .bytes_written, seconds per stage)."""

    file: str
    path: str
    shape: tuple
    dtype: np.dtype
    expression: str
    inputs: dict
    run: RunInfo = dataclasses.field(repr=False)

    @property
    def bytes_written(self):
        return self.run.bytes_written

    @property
    def masked(self):
        """Elements written as NaN because mask_fill= or cf= masked them."""
        return self.run.masked


class Covariance:
    """A covariance state (Dataset.cov_state): rows (n), mean (p,) and
    comoment (p, p), the centred sums of products.  Mergeable with +
    (Chan's formula in the library) and serialisable with to_bytes() /
    Covariance.from_bytes(), like every h5cl partial state.  .run is the
    RunInfo of the pass that made it (None after a merge or from bytes)."""

    def __init__(self, state, run=None):
        c = _ffi.cov_deserialize(state)
        try:
            d = _ffi.cov_read(c)
        finally:
            _ffi.cov_free(c)
        p = d["columns"]
        self.rows = d["rows"]
        self.mean = np.frombuffer(d["mean"], dtype=np.float64).copy()
        self.comoment = np.frombuffer(d["comoment"], dtype=np.float64) \
            .reshape(p, p).copy()
        self._state = d["state"]
        self.run = run

    @classmethod
    def from_bytes(cls, data):
        return cls(bytes(data))

    def to_bytes(self):
        return self._state

    def __add__(self, other):
        if not isinstance(other, Covariance):
            return NotImplemented
        a = _ffi.cov_deserialize(self._state)
        try:
            b = _ffi.cov_deserialize(other._state)
            try:
                _ffi.cov_merge(a, b)
            finally:
                _ffi.cov_free(b)
            return Covariance(_ffi.cov_serialize(a))
        finally:
            _ffi.cov_free(a)

    @property
    def columns(self):
        return self.mean.shape[0]

    def cov(self, ddof=1):
        """numpy.cov(X, rowvar=False, ddof=ddof); NaN when rows <= ddof."""
        if int(ddof) < 0:
            raise ValueError("ddof must be >= 0")
        dof = self.rows - int(ddof)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.comoment / (dof if dof > 0 else np.nan)

    def corrcoef(self):
        """numpy.corrcoef(X, rowvar=False): clipped to [-1, 1]."""
        d = np.sqrt(np.diag(self.comoment))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.comoment / d[:, None] / d[None, :]
        return np.clip(r, -1, 1)

    def __repr__(self):
        return "<h5cl.Covariance rows=%d columns=%d>" % (self.rows,
                                                          self.columns)


@dataclasses.dataclass
class PCA:
    """Principal components (Dataset.pca), as scikit-learn names them:
    components (k, p), explained_variance and explained_variance_ratio
    (k,), mean (p,); covariance, the state they come from; projection,
    a MapResult when out= wrote the projected rows."""

    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray
    covariance: Covariance = dataclasses.field(repr=False)
    projection: Optional[MapResult] = None

    def transform(self, X):
        """(X - mean) @ components.T for rows in memory."""
        return (np.asarray(X, dtype=np.float64) - self.mean) @ \
            self.components.T


# ---------------------------------------------------------------------------
# Datasets


class Dataset:
    """A dataset, or a lazy rectangular selection of one (d[10:20, :, 3]).

    Slicing takes ints and slices with step 1 (negative bounds count from the
    end, as in numpy).  An integer index drops that axis from .shape and
    from per-axis result shapes, as numpy does; the run streams just that
    position.  Nothing is read until a statistic is asked for."""

    def __init__(self, handle, sel=None):
        self._h = handle
        info = handle.info
        dims = info["dims"]
        # per dataset axis: [start, stop, dropped]
        self._sel = sel if sel is not None else [(0, d, False) for d in dims]

    # ---- metadata
    @property
    def name(self):
        """The dataset's path, absolute as in h5py ("/g/x")."""
        return "/" + self._h.info["path"].lstrip("/")

    @property
    def file(self):
        return self._h.file

    @property
    def dtype(self):
        info = self._h.info
        return np.dtype(info["dtype"]).newbyteorder(
            ">" if info["big_endian"] else "<")

    @property
    def shape(self):
        return tuple(e - s for s, e, dropped in self._sel if not dropped)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else (
            int(self._h.info["element_count"]) if not self._sel else 1)

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    @property
    def chunks(self):
        c = self._h.info["chunk_dims"]
        return tuple(c) if self._h.info["layout"] == "chunked" and any(c) else None

    @property
    def layout(self):
        return self._h.info["layout"]

    @property
    def filters(self):
        """The filter pipeline, e.g. "deflate(4),shuffle", or ""."""
        return self._h.info["filters"]

    @property
    def storage_bytes(self):
        return int(self._h.info["storage_bytes"])

    @property
    def selection(self):
        """The selection string passed to the library, or None for all."""
        full = all(s == 0 and e == d and not dr for (s, e, dr), d in
                   zip(self._sel, self._h.info["dims"]))
        if full:
            return None
        return ",".join("%d:%d" % (s, e) for s, e, _ in self._sel)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a scalar dataset")
        return self.shape[0]

    def __repr__(self):
        sel = self.selection
        return "<h5cl.Dataset %r shape %s %s%s>" % (
            self.name, self.shape, self.dtype.name,
            "" if sel is None else " [%s]" % sel)

    # ---- slicing
    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        live = [i for i, (_, _, dr) in enumerate(self._sel) if not dr]
        if sum(1 for k in key if k is Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis")
        if Ellipsis in key:
            i = key.index(Ellipsis)
            fill = len(live) - (len(key) - 1)
            key = key[:i] + (slice(None),) * max(fill, 0) + key[i + 1:]
        if len(key) > len(live):
            raise IndexError("too many indices: dataset has %d dimension(s) "
                             "but %d were given" % (len(live), len(key)))
        sel = list(self._sel)
        for ax, k in zip(live, key):
            start, stop, _ = sel[ax]
            n = stop - start
            if isinstance(k, slice):
                a, b, step = k.indices(n)
                if step != 1:
                    raise IndexError("h5cl selections support step 1 only")
                sel[ax] = (start + a, start + max(a, b), False)
            elif isinstance(k, (int, np.integer)):
                i = int(k)
                if i < 0:
                    i += n
                if not 0 <= i < n:
                    raise IndexError("index %d is out of bounds for axis "
                                     "with size %d" % (int(k), n))
                sel[ax] = (start + i, start + i + 1, True)
            else:
                raise TypeError("h5cl datasets take ints, slices and ... as "
                                "indices, not %s" % type(k).__name__)
        return Dataset(self._h, sel)

    # ---- runs
    def _c_axis(self, axis):
        live = [i for i, (_, _, dr) in enumerate(self._sel) if not dr]
        if axis is None:
            return -1, live
        if isinstance(axis, tuple):
            raise TypeError("h5cl reduces one axis at a time")
        a = int(axis)
        if not -len(live) <= a < len(live):
            raise AxisError("axis %d is out of bounds for dataset of "
                            "dimension %d" % (a, len(live)))
        return live[a % len(live)], live

    def _result_shape(self, shape, c_axis):
        """A per-axis result's shape without the integer-indexed axes (the
        library keeps them, with length 1; the reduced one is gone)."""
        if c_axis < 0:
            return tuple(shape)
        keep = [ax for ax in range(len(self._sel)) if ax != c_axis]
        return tuple(n for n, ax in zip(shape, keep) if not self._sel[ax][2])

    def _operands(self, what, expr, name, inputs, axis=-1, tile_bytes=0,
                  slots=0, trace=None, mask_fill=False, cf=False):
        """The run's inputs: this view (bound to name when expr is set) and
        the datasets bound by keyword, checked to share one selection."""
        if expr is None:
            if inputs:
                raise TypeError(
                    "%s() got unexpected keyword argument(s) %s (datasets "
                    "are bound by keyword only together with expr=)"
                    % (what, ", ".join(map(repr, inputs))))
            return _Operands([self], [None], self.selection, None, axis,
                             tile_bytes, slots, trace, mask_fill=mask_fill,
                             cf=cf)
        if not isinstance(expr, str):
            raise TypeError("expr must be a str, not %s" % type(expr).__name__)
        for k, v in inputs.items():
            if not isinstance(v, Dataset):
                raise TypeError(
                    "%s() got an unexpected keyword argument %r (keywords "
                    "beyond the parameters bind h5cl Datasets to expression "
                    "names, not %s)" % (what, k, type(v).__name__))
        names = [name or "x"] + list(inputs)
        views = [self] + list(inputs.values())
        return _Operands(views, names, _shared_selection(names, views), expr,
                         axis, tile_bytes, slots, trace, mask_fill=mask_fill,
                         cf=cf)

    def decoding(self, cf=True, mask_fill=False):
        """What a run with these options decodes (nothing is read but
        attributes), as a dict: applied (the attribute names, "HDF5 fill
        value" for a user-defined fill value), dtype, raw_dtype (the type
        comparisons are made in: unsigned under _Unsigned), decoded_dtype
        (the variable's type in expressions), fill_values [(value,
        [sources])], valid_min, valid_max (None when absent, inclusive, in
        raw units), scale_factor, add_offset.  UnsupportedType for an
        attribute the library cannot interpret."""
        self.file._check()
        with self.file._lock:
            return _ffi.dataset_cf_info(self._h.get(), cf, mask_fill)

    def _decoded(self, ops):
        """Whether a run of ops decodes this dataset (its values are then
        floats to the statistics)."""
        if not (ops.mask_fill or ops.cf):
            return False
        return bool(self.decoding(ops.cf, ops.mask_fill)["flags"])

    def stats(self, axis=None, ddof=0, progress=None, tile_bytes=0, slots=0,
              trace=None, *, expr=None, name="x", mask_fill=False, cf=False,
              figures=None, **inputs):
        """Every statistic in one pass: a Stats (count, nan_count, sum,
        mean, var, std, min, max, argmin, argmax, and .run).

        axis: None for the whole selection, else the axis to reduce (numbers
        as in .shape).  ddof: divisor count - ddof for var/std.
        progress: True for a tqdm bar, False for none, a callable
        (tiles_done, tiles_total, bytes_done) -> truthy to cancel, or None
        (a bar only in interactive sessions).  tile_bytes/slots tune the
        pipeline; trace writes a Chrome trace-event JSON file.

        expr: statistics of an expression's values instead of the data
        (computed on the device, in float64 where it has fp64): this
        dataset is the variable `name` ("x"), and further keywords bind
        more datasets of the same shape and selection, e.g.
        d.stats(expr="(x - 3.5)**2") or u.stats(expr="u*v", name="u", v=v).

        mask_fill: leave out elements equal to the dataset's fill value (a
        user-defined HDF5 fill value, _FillValue, missing_value).  cf:
        decode CF-encoded (netCDF-4) variables first: _Unsigned, _FillValue,
        missing_value, valid_min/valid_max/valid_range (compared in packed
        units), then scale_factor/add_offset.  Masked elements are NaN to
        the run: counted in nan_count, and in .masked.  See decoding().

        figures: compute only these (None: all), e.g. "sum" or
        ("mean", "min"): a sum costs only a sum.  mean comes with sum, std
        with var, argmin/argmax with min/max; "arg" names both indices.  The
        others are None in the result.  Whole-selection runs only: with an
        axis every figure is computed.
        """
        if int(ddof) < 0:
            raise ValueError("ddof must be >= 0")
        c_axis, _ = self._c_axis(axis)
        ops = self._operands("stats", expr, name, inputs, c_axis, tile_bytes,
                             slots, trace, mask_fill, cf)
        ops.figures = _figure_flags(figures)
        ops.timeline = True
        shape, raw, summary, timeline = _execute(
            self.file, ops, progress,
            lambda ptr, run: _ffi.stats_compute(ptr, **run),
            _ffi.stats_read, _ffi.stats_free)
        run = _run_info(summary, timeline)
        self._h.last_run = run
        floats = expr is not None or self._decoded(ops)
        dtype = np.dtype(np.float64) if floats else self.dtype
        return Stats(ddof=int(ddof), run=run, masked=run.masked,
                     **_figures(raw, self._result_shape(shape, c_axis), dtype,
                                int(ddof)))

    def cov_state(self, progress=None, tile_bytes=0, slots=0, trace=None, *,
                  expr=None, name="x", mask_fill=False, cf=False, **inputs):
        """The covariance state of a 2-D dataset's columns (rows are
        samples), in one pass through CLBlast: a Covariance, mergeable and
        serialisable.  Other arguments as for stats()."""
        ops = self._operands("cov", expr, name, inputs, -1, tile_bytes,
                             slots, trace, mask_fill, cf)
        d = _execute(self.file, ops, progress,
                     lambda ptr, run: _ffi.cov_compute(ptr, **run),
                     _ffi.cov_read, _ffi.cov_free)
        run = _run_info(d["summary"])
        self._h.last_run = run
        return Covariance(d["state"], run)

    def cov(self, ddof=1, **kw):
        """Like numpy.cov(X, rowvar=False, ddof=ddof) of this 2-D dataset
        (or selection), streamed: a (p, p) float64 array.  Other arguments
        as for cov_state()."""
        return self.cov_state(**kw).cov(ddof)

    def corrcoef(self, **kw):
        """Like numpy.corrcoef(X, rowvar=False), streamed: (p, p)."""
        return self.cov_state(**kw).corrcoef()

    def pca(self, k, out=None, overwrite=False, progress=None, tile_bytes=0,
            slots=0, trace=None, *, expr=None, name="x", mask_fill=False,
            cf=False, **inputs):
        """The k principal components of a 2-D dataset's columns: a
        covariance pass, then LAPACK on the host (components signed so
        that each one's largest entry is positive).  out: "file.h5:/path"
        or (file, path) to also write the projected rows, (X - mean) @
        components.T, in a second pass (float64, or float32 on devices
        without fp64), all or nothing like map().  Returns a PCA."""
        kw = dict(progress=progress, tile_bytes=tile_bytes, slots=slots,
                  trace=trace, expr=expr, name=name, mask_fill=mask_fill,
                  cf=cf, **inputs)
        state = self.cov_state(**kw)
        k = int(k)
        with self.file._lock:
            ctx = self.file._check()
            c = _ffi.cov_deserialize(state.to_bytes())
            try:
                pca = _ffi.pca_compute(ctx, c, k)
            finally:
                _ffi.cov_free(c)
        try:
            d = _ffi.pca_read(pca)
            result = PCA(
                np.frombuffer(d["components"], np.float64)
                .reshape(k, d["columns"]).copy(),
                np.frombuffer(d["explained_variance"], np.float64).copy(),
                np.frombuffer(d["explained_variance_ratio"],
                              np.float64).copy(),
                np.frombuffer(d["mean"], np.float64).copy(), state)
            if out is not None:
                out_file, out_path = _split_out(out)
                ops = self._operands("pca", expr, name, inputs, -1,
                                     tile_bytes, slots, trace, mask_fill, cf)
                summary = _execute(
                    self.file, ops, progress,
                    lambda ptr, run: _ffi.pca_project(
                        ptr, pca, out_file, out_path, overwrite, **run))
                run = _run_info(summary)
                self._h.last_run = run
                result.projection = MapResult(
                    out_file, out_path, (self.shape[0], k),
                    np.dtype(np.float64 if self.file.device.fp64
                             else np.float32),
                    "pca projection onto %d components" % k,
                    {name or "x": "%s:%s" % (self.file.filename, self.name)},
                    run)
        finally:
            _ffi.pca_free(pca)
        return result

    def histogram(self, bins=10, range=None, axis=None, progress=None,
                  tile_bytes=0, slots=0, trace=None, *, expr=None, name="x",
                  mask_fill=False, cf=False, **inputs):
        """Like numpy.histogram, in one pass over the data (two when the
        range comes from the data): a Histogram, which unpacks as
        (counts, edges).

        bins: the number of equal-width bins (default 10, as numpy).
        range: (lo, hi); None for the data's [min, max] (found by a first
        pass).  Values outside it are not counted in a bin (see .under and
        .over), NaNs neither (.nan).  The last bin includes hi.
        axis: None for one histogram; else one per position of the other
        axes: counts has shape (other axes..., bins).
        progress, tile_bytes, slots, trace, expr, name, mask_fill, cf and
        further keywords as for stats(); masked elements count as .nan."""
        nbins = _check_bins(bins)
        lo_hi = _check_range(range)
        c_axis, _ = self._c_axis(axis)
        ops = self._operands("histogram", expr, name, inputs, c_axis,
                             tile_bytes, slots, trace, mask_fill, cf)
        d = _execute(self.file, ops, progress,
                     lambda ptr, run: _ffi.hist_compute(ptr, nbins, lo_hi,
                                                        **run),
                     _ffi.hist_read, _ffi.hist_free)
        run = _run_info(d["summary"])
        self._h.last_run = run
        return Histogram._from_read(d, self._result_shape(d["shape"], c_axis),
                                    run)

    def quantile(self, q, axis=None, method="linear", progress=None,
                 tile_bytes=0, slots=0, trace=None, *, expr=None, name="x",
                 mask_fill=False, cf=False, **inputs):
        """Exact quantiles, like numpy.nanquantile (NaNs ignored, the
        default "linear" method): a float64 scalar for a scalar q, else an
        array of q's shape; NaN where the selection holds no number.
        Several passes over the data (a fixed number; see the README);
        ask for all the quantiles you need in one call.  Whole selection
        only (axis=None).  Other arguments as for stats(); masked elements
        are ignored like NaNs."""
        if method != "linear":
            raise ValueError("h5cl computes the 'linear' method (numpy's "
                             "default) only, not %r" % (method,))
        if axis is not None:
            raise AxisError("h5cl quantiles are of the whole selection; "
                            "axis must be None, not %r" % (axis,))
        qa = np.asarray(q, dtype=np.float64)
        if not np.all((qa >= 0) & (qa <= 1)):
            raise ValueError("Quantiles must be in the range [0, 1]")
        flat = [float(x) for x in qa.ravel()]
        if not flat:
            return np.empty(qa.shape, dtype=np.float64)
        ops = self._operands("quantile", expr, name, inputs, -1, tile_bytes,
                             slots, trace, mask_fill, cf)
        values, _ = _execute(
            self.file, ops, progress,
            lambda ptr, run: _ffi.quantile_compute(ptr, flat, **run))
        out = np.array(values, dtype=np.float64).reshape(qa.shape)
        return out[()] if out.ndim == 0 else out

    def percentile(self, q, axis=None, method="linear", progress=None, **kw):
        """Like numpy.nanpercentile: quantile(q / 100)."""
        qa = np.asarray(q, dtype=np.float64)
        if not np.all((qa >= 0) & (qa <= 100)):
            raise ValueError("Percentiles must be in the range [0, 100]")
        return self.quantile(qa / 100, axis, method, progress, **kw)

    def median(self, axis=None, progress=None, **kw):
        """Like numpy.nanmedian, exact: quantile(0.5)."""
        return self.quantile(0.5, axis, progress=progress, **kw)

    @property
    def last_run(self):
        """RunInfo of the latest statistics or histogram run on this dataset
        (any view), or None."""
        return getattr(self._h, "last_run", None)

    # The single figures: keywords (expr=, name=, inputs, tile_bytes, ...)
    # as for stats().
    # The one-figure calls compute only what they return (figures=).

    def sum(self, axis=None, progress=None, **kw):
        """Like numpy.nansum; integer sums are exact (int64/uint64, or a
        Python int beyond 64 bits); float sums are float64."""
        return self.stats(axis, progress=progress, figures="sum", **kw).sum

    def mean(self, axis=None, progress=None, **kw):
        """Like numpy.nanmean, always float64."""
        return self.stats(axis, progress=progress, figures="mean", **kw).mean

    def var(self, axis=None, ddof=0, progress=None, **kw):
        return self.stats(axis, ddof, progress=progress, figures="var",
                          **kw).var

    def std(self, axis=None, ddof=0, progress=None, **kw):
        return self.stats(axis, ddof, progress=progress, figures="std",
                          **kw).std

    def min(self, axis=None, progress=None, **kw):
        """Like numpy.nanmin (NaN where there are no values)."""
        return self.stats(axis, progress=progress, figures="min", **kw).min

    def max(self, axis=None, progress=None, **kw):
        return self.stats(axis, progress=progress, figures="max", **kw).max

    def argmin(self, axis=None, progress=None, **kw):
        """Like numpy.nanargmin: ValueError where there are no values."""
        return _arg(self.stats(axis, progress=progress, figures="argmin",
                               **kw).argmin)

    def argmax(self, axis=None, progress=None, **kw):
        return _arg(self.stats(axis, progress=progress, figures="argmax",
                               **kw).argmax)


def _arg(v):
    if np.any(np.asarray(v) < 0):
        raise ValueError("All-NaN slice encountered (or no values)")
    return v


def _run_cancellable(ctx, work, prog, free=None):
    """Runs work() (a blocking C call that releases the GIL) in a worker
    thread and waits in short steps, so Ctrl-C reaches Python: then the run
    is cancelled with h5cl_cancel, joined, and KeyboardInterrupt re-raised.
    The context stays usable.  free(result) releases a result that is
    dropped because of an interrupt or an error in the progress callable."""
    box = {}

    def target():
        try:
            box["value"] = work()
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=target, name="h5cl-run", daemon=True)
    # The C call must end before anything it uses (context, dataset,
    # callback) can go away, and a KeyboardInterrupt can arrive at any
    # bytecode (even inside Thread.start()).  So on the main thread SIGINT
    # is only recorded while the run is going, then acted on here.
    pending = []
    try:
        old = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    except ValueError:  # not the main thread: no KeyboardInterrupt here
        old = None
    try:
        t.start()
        while t.is_alive():
            if pending:
                # a run clears the cancel flag when it
                # starts, so keep asking until the run is over
                _ffi.cancel(ctx)
                t.join(0.02)
            else:
                t.join(0.05)
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    if pending or prog.error is not None:
        if "value" in box and free is not None:
            free(box["value"])
        if pending:
            raise KeyboardInterrupt
        raise prog.error
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclasses.dataclass
class _Operands:
    """The inputs of one run (views[0] is the dataset the op runs on; with
    an expression, views[i] is bound to names[i]) and its options."""

    views: list
    names: list
    select: Optional[str]
    expr: Optional[str]
    axis: int = -1
    tile_bytes: int = 0
    slots: int = 0
    trace: Any = None
    timeline: bool = False
    mask_fill: bool = False
    cf: bool = False
    figures: int = 0  # FIG_* flags of a statistics run; 0: all

    def run_kw(self, ptrs, c_progress):
        """Keyword arguments of _ffi.run_options()."""
        return dict(axis=self.axis, select=self.select,
                    tile_bytes=self.tile_bytes, slots=self.slots,
                    progress=c_progress, timeline=self.timeline,
                    trace_path=os.fspath(self.trace) if self.trace else None,
                    expr=self.expr, name=self.names[0],
                    bindings=list(zip(self.names[1:], ptrs[1:])),
                    mask_fill=bool(self.mask_fill), cf=bool(self.cf),
                    figures=self.figures)


def _shared_selection(names, views):
    """The one selection string of a run over several views (the library
    reads the same selection from every input)."""
    first = views[0]
    for n, v in zip(names[1:], views[1:]):
        if v._sel == first._sel:
            continue
        if v.shape != first.shape:
            raise ShapeMismatch(
                "%s (%s, shape %s) and %s (%s, shape %s) differ in shape; "
                "the inputs of a run must have one shape"
                % (names[0], first.name, first.shape, n, v.name, v.shape))
        raise ValueError(
            "%s (%s [%s]) and %s (%s [%s]) select different parts; h5cl "
            "reads one selection from every input: slice them alike"
            % (names[0], first.name, first.selection or "all", n, v.name,
               v.selection or "all"))
    return first.selection


@contextlib.contextmanager
def _pointers(file, ctx, views):
    """The DatasetPtrs of views in file's context: a view's own where it
    belongs to file, else one opened in file's context for this run (the
    library binds only datasets of the context that runs) and closed
    afterwards."""
    ptrs, opened = [], {}
    try:
        for v in views:
            h = v._h
            ptr = h.get()  # a view of a closed file fails loudly here
            if h.file is not file:
                if id(h) not in opened:
                    opened[id(h)] = _ffi.dataset_open(
                        ctx, h.file.filename, h.info["path"])
                ptr = opened[id(h)]
            ptrs.append(ptr)
        yield ptrs
    finally:
        for ptr in opened.values():
            _ffi.dataset_close(ptr)


def _execute(file, ops, progress, call, read=None, free=None, desc=None):
    """Runs one C operation on file's context: call(ptr, run) blocks in the
    library, with ptr the first input and run the keyword arguments of
    _ffi.run_options().  Holds the file's lock, drives the progress bar or
    callable, cancels on Ctrl-C (_run_cancellable).  With read, returns
    read(result) and frees the result with free; else the result."""
    prog = _Progress(progress, sum(v.nbytes for v in ops.views),
                     desc or ops.views[0].name)
    with file._lock:
        try:
            ctx = file._check()
            with _pointers(file, ctx, ops.views) as ptrs:
                run = ops.run_kw(ptrs, prog.c_fn)
                res = _run_cancellable(ctx, lambda: call(ptrs[0], run), prog,
                                       free)
                if read is None:
                    return res
                try:
                    return read(res)
                finally:
                    free(res)
        finally:
            prog.close()


def _split_out(out):
    """(file, "/path") of map's out= argument."""
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError("out=(file, path) takes two items")
        file, path = os.fspath(out[0]), str(out[1])
    elif isinstance(out, str):
        file, sep, path = out.rpartition(":/")
        if not sep or not file:
            raise ValueError("out=%r: give \"file.h5:/path\" or (file, path)"
                             % (out,))
    else:
        raise TypeError("out must be \"file.h5:/path\" or (file, path), not "
                        "%s" % type(out).__name__)
    path = "/" + path.lstrip("/")
    if path == "/":
        raise ValueError("out=%r names no dataset" % (out,))
    return file, path


def dot(a, b, progress=None, **kw):
    """Sum of a*b over every element (numpy.vdot for real data, or
    np.nansum(a*b): NaN products are skipped), computed on the device in
    float64 (float32 on devices without fp64).  a and b: Datasets (or
    views) of one shape; b may belong to another File.  Returns float64."""
    if not isinstance(a, Dataset) or not isinstance(b, Dataset):
        raise TypeError("dot() takes two h5cl Datasets")
    if b is a or (b._h is a._h and b._sel == a._sel):
        return a.stats(progress=progress, expr="a*a", name="a", **kw).sum
    return a.stats(progress=progress, expr="a*b", name="a", b=b, **kw).sum


def check_expression(expr, **dtypes):
    """Parses and type-checks expr over the variables given by keyword
    (a numpy dtype, a dtype name, or a Dataset whose dtype is used).
    Returns the numpy dtype a map writes by default: uint8 for a boolean
    result, float64 when an input is float64 or a 32/64-bit integer, else
    float32.  Raises ExpressionError (a ValueError) whose message shows the
    column; its .column is that column (1-based)."""
    names, types = [], []
    for k, v in dtypes.items():
        dt = v.dtype if isinstance(v, Dataset) else np.dtype(v)
        names.append(k)
        types.append(dt.name)
    ctx = _ffi.ctx_create()
    try:
        return np.dtype(_ffi.expr_check(ctx, expr, names, types))
    finally:
        _ffi.ctx_destroy(ctx)
