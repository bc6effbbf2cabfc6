"""Files, datasets, statistics runs.  Plain Python over h5cl._ffi."""

import dataclasses
import os
import sys
import signal
import threading
import weakref
from typing import Any, Optional

import numpy as np

from . import _ffi
from .errors import AxisError, H5clError

__all__ = ["Device", "devices", "open", "File", "Dataset", "Stats", "RunInfo"]

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
    and is re-raised after it."""

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
        if self.user is not None or self.want_bar:
            self.c_fn = _ffi.make_progress(self._call)

    def _call(self, done, total, nbytes):
        try:
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


class File:
    """An HDF5 file opened for h5cl runs.  Owns one h5cl context (one
    device).  Use as a context manager, or call close()."""

    def __init__(self, path, device=None):
        self._ctx = None
        self._path = os.fspath(path)
        self._handles = weakref.WeakSet()
        self._lock = threading.Lock()
        ctx = _ffi.ctx_create()
        try:
            if device is not None:
                _ffi.use_device(ctx, str(device))
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


def open(path, device=None):  # noqa: A001 - mirrors h5py.File / builtins.open
    """Opens an HDF5 file for h5cl runs.  device: None for the default, "gpu",
    "cpu", "accelerator", "P:D" or part of a device name."""
    return File(path, device)


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
              "min_u", "max_f", "max_i", "max_u", "argmin", "argmax"],
    "formats": ["=i4", "=i4", "=u8", "=u8", "=f8", "=i8", "=u8", "=f8", "=i8",
                "=f8", "=f8", "=f8", "=i8", "=u8", "=f8", "=i8", "=u8", "=u8",
                "=u8"],
    "offsets": [0, 4, 8, 16, 24, 24, 24, 32, 40, 48, 56, 64, 64, 64, 72, 72, 72,
                80, 88],
    "itemsize": 96,
})


@dataclasses.dataclass
class RunInfo:
    """What a run did: bytes streamed, wall seconds, busy seconds per stage,
    overlap (wall / busiest stage), zero-copy, and the per-tile timeline."""

    bytes: int
    tiles: int
    tile_bytes: int
    slots: int
    seconds: float
    stage_seconds: dict
    overlap: float
    zero_copy: bool
    _timeline: Optional[dict] = dataclasses.field(default=None, repr=False)

    @property
    def throughput(self):
        """Bytes per second."""
        return self.bytes / self.seconds if self.seconds > 0 else float("nan")

    def timeline(self):
        """Per-tile stage times as a plain dict of lists: "tile", "bytes" and
        "<lane>_begin"/"<lane>_end" for lanes read, upload, kernel, download,
        merge, in seconds since the run started (pandas.DataFrame-ready)."""
        if self._timeline is None:
            raise RuntimeError(
                "no timeline: the loaded libh5cl (%s, %s) has no "
                "h5cl_stats_timeline" % (_ffi.version(), _ffi.library_path))
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


def _run_info(summary, timeline):
    names = _ffi.stage_names()
    return RunInfo(summary.get("bytes", 0), summary.get("tiles", 0),
                   summary.get("tile_bytes", 0), summary.get("slots", 0),
                   summary.get("seconds", 0.0),
                   dict(zip(names, summary.get("stage_seconds", [0.0] * 5))),
                   summary.get("overlap", float("nan")),
                   bool(summary.get("zero_copy", 0)), timeline)


@dataclasses.dataclass
class Stats:
    """All figures of one run.  Whole-selection results are numpy scalars
    (a Python int for an integer sum beyond 64 bits); per-axis results are
    numpy arrays of the result shape (an object array of Python ints for
    integer sums beyond 64 bits).  NaNs are excluded from every figure but
    nan_count.  Undefined figures (of no values) are NaN; argmin/argmax of no
    values are -1."""

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

    def as_dict(self):
        return {f: getattr(self, f) for f in
                ("count", "nan_count", "sum", "mean", "var", "std", "min",
                 "max", "argmin", "argmax")}

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
        return self._h.info["path"]

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

    def stats(self, axis=None, ddof=0, progress=None, tile_bytes=0, slots=0,
              trace=None):
        """Every statistic in one pass: a Stats (count, nan_count, sum,
        mean, var, std, min, max, argmin, argmax, and .run).

        axis: None for the whole selection, else the axis to reduce (numbers
        as in .shape).  ddof: divisor count - ddof for var/std.
        progress: True for a tqdm bar, False for none, a callable
        (tiles_done, tiles_total, bytes_done) -> truthy to cancel, or None
        (a bar only in interactive sessions).  tile_bytes/slots tune the
        pipeline; trace writes a Chrome trace-event JSON file."""
        if int(ddof) < 0:
            raise ValueError("ddof must be >= 0")
        c_axis, live = self._c_axis(axis)
        ptr = self._h.get()
        file = self._h.file
        prog = _Progress(progress, self.nbytes, self.name)
        select = self.selection

        def work():
            return _ffi.stats_compute(ptr, c_axis, select, tile_bytes, slots,
                                      prog.c_fn, True, trace)

        with file._lock:
            try:
                st = _run_cancellable(file._check(), work, prog)
                try:
                    shape, raw, summary, timeline = _ffi.stats_read(st)
                finally:
                    _ffi.stats_free(st)
            finally:
                prog.close()
        # result shape: drop integer-indexed axes (the reduced one is gone)
        if c_axis >= 0:
            keep = [ax for ax in range(len(self._sel)) if ax != c_axis]
            shape = tuple(n for n, ax in zip(shape, keep)
                          if not self._sel[ax][2])
        run = _run_info(summary, timeline)
        self._h.last_run = run
        return Stats(ddof=int(ddof), run=run,
                     **_figures(raw, shape, self.dtype, int(ddof)))

    @property
    def last_run(self):
        """RunInfo of the latest run on this dataset (any view), or None."""
        return getattr(self._h, "last_run", None)

    def sum(self, axis=None, progress=None):
        """Like numpy.nansum; integer sums are exact (int64/uint64, or a
        Python int beyond 64 bits); float sums are float64."""
        return self.stats(axis, progress=progress).sum

    def mean(self, axis=None, progress=None):
        """Like numpy.nanmean, always float64."""
        return self.stats(axis, progress=progress).mean

    def var(self, axis=None, ddof=0, progress=None):
        return self.stats(axis, ddof, progress=progress).var

    def std(self, axis=None, ddof=0, progress=None):
        return self.stats(axis, ddof, progress=progress).std

    def min(self, axis=None, progress=None):
        """Like numpy.nanmin (NaN where there are no values)."""
        return self.stats(axis, progress=progress).min

    def max(self, axis=None, progress=None):
        return self.stats(axis, progress=progress).max

    def argmin(self, axis=None, progress=None):
        """Like numpy.nanargmin: ValueError where there are no values."""
        return _arg(self.stats(axis, progress=progress).argmin)

    def argmax(self, axis=None, progress=None):
        return _arg(self.stats(axis, progress=progress).argmax)


def _arg(v):
    if np.any(np.asarray(v) < 0):
        raise ValueError("All-NaN slice encountered (or no values)")
    return v


def _run_cancellable(ctx, work, prog):
    """Runs work() (a blocking C call that releases the GIL) in a worker
    thread and waits in short steps, so Ctrl-C reaches Python: then the run
    is cancelled with h5cl_cancel, joined, and KeyboardInterrupt re-raised.
    The context stays usable."""
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
                # h5cl_stats_compute clears the cancel flag when it
                # starts, so keep asking until the run is over
                _ffi.cancel(ctx)
                t.join(0.02)
            else:
                t.join(0.05)
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    if pending:
        if "value" in box:
            _ffi.stats_free(box["value"])
        raise KeyboardInterrupt
    if prog.error is not None:
        if "value" in box:
            _ffi.stats_free(box["value"])
        raise prog.error
    if "error" in box:
        raise box["error"]
    return box["value"]
