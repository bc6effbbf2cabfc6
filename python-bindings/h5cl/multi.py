"""Several devices in one process (the library's h5cl_multi_* calls).

    import h5cl, h5cl.multi
    with h5cl.open("run.h5") as f:
        st = h5cl.multi.stats(f["/u"][100:], devices="all")
        h = h5cl.multi.histogram(f["/u"], bins=64, devices=["0:0", "0:1"])

One context per device, each streaming the ordinary pipeline over shares
of the selection's rows that it takes from a common queue (a faster device
takes more); the partial results are merged into the ordinary result
object, equal to the single-device run's (integer statistics and histogram
counts exactly, float sums within rounding).  devices: "all", a comma list
("0:0,0:1", "gpu,cpu") or a list of specs.  With one PoCL device, two
specs naming it run two contexts on it; POCL_DEVICES="pthread pthread"
makes PoCL show two devices.  The view's File is not used for the run
(its context is one device); progress and trace are not available.
"""

import numpy as np

from . import _ffi
from ._core import (Covariance, Dataset, Histogram, Stats, _check_bins,
                    _check_range, _figure_flags, _figures, _run_info)

__all__ = ["stats", "histogram", "cov_state", "device_specs"]


def device_specs(devices):
    """The list of device specs devices= names."""
    if isinstance(devices, str):
        if devices == "all":
            ctx = _ffi.ctx_create()
            try:
                return ["%d:%d" % (d["platform_index"], d["device_index"])
                        for d in _ffi.list_devices(ctx)]
            finally:
                _ffi.ctx_destroy(ctx)
        devices = devices.split(",")
    specs = [str(d).strip() for d in devices]
    if not specs or not all(specs):
        raise ValueError("devices=%r names no device" % (devices,))
    return specs


def _run(view, devices, call, read, free, **opts):
    """call(ctxs, file, path, **run options) on one context per device;
    returns read(result)."""
    if not isinstance(view, Dataset):
        raise TypeError("h5cl.multi works on an h5cl Dataset (or a view of "
                        "one), not %s" % type(view).__name__)
    ctxs = []
    try:
        for spec in device_specs(devices):
            ctxs.append(_ffi.ctx_create())
            _ffi.use_device(ctxs[-1], spec)
        res = call(ctxs, view.file.filename, view.name,
                   select=view.selection, **opts)
        try:
            return read(res)
        finally:
            free(res)
    finally:
        for c in ctxs:
            _ffi.ctx_destroy(c)


def _axis(view, axis):
    c_axis, _ = view._c_axis(axis)
    if c_axis > 0:
        raise ValueError("h5cl.multi reduces the whole selection or its "
                         "first axis (the shares are rows), not axis %r"
                         % (axis,))
    return c_axis


def stats(view, axis=None, ddof=0, *, devices="all", tile_bytes=0, slots=0,
          expr=None, name="x", mask_fill=False, cf=False, figures=None):
    """Dataset.stats on several devices: a Stats (its .run: bytes and
    tiles of all devices, the call's wall time).  figures: as for
    Dataset.stats, on every device."""
    if int(ddof) < 0:
        raise ValueError("ddof must be >= 0")
    c_axis = _axis(view, axis)
    shape, raw, summary, _ = _run(
        view, devices, _ffi.multi_stats, _ffi.stats_read, _ffi.stats_free,
        axis=c_axis, tile_bytes=tile_bytes, slots=slots, expr=expr,
        name=name if expr is not None else None, mask_fill=mask_fill, cf=cf,
        figures=_figure_flags(figures))
    floats = expr is not None or ((mask_fill or cf) and
                                  view.decoding(cf, mask_fill)["flags"])
    dtype = np.dtype(np.float64) if floats else view.dtype
    return Stats(ddof=int(ddof), run=_run_info(summary),
                 masked=int(summary.get("masked", 0)),
                 **_figures(raw, view._result_shape(shape, c_axis), dtype,
                            int(ddof)))


def histogram(view, bins=10, range=None, axis=None, *, devices="all",
              tile_bytes=0, slots=0, expr=None, name="x", mask_fill=False,
              cf=False):
    """Dataset.histogram on several devices: a Histogram."""
    nbins = _check_bins(bins)
    lo_hi = _check_range(range)
    c_axis = _axis(view, axis)
    d = _run(view, devices,
             lambda ctxs, file, path, **run: _ffi.multi_hist(
                 ctxs, file, path, nbins, lo_hi, **run),
             _ffi.hist_read, _ffi.hist_free, axis=c_axis,
             tile_bytes=tile_bytes, slots=slots, expr=expr,
             name=name if expr is not None else None, mask_fill=mask_fill,
             cf=cf)
    return Histogram._from_read(d, view._result_shape(d["shape"], c_axis),
                                _run_info(d["summary"]))


def cov_state(view, *, devices="all", tile_bytes=0, slots=0, expr=None,
              name="x", mask_fill=False, cf=False):
    """Dataset.cov_state on several devices: a Covariance."""
    d = _run(view, devices, _ffi.multi_cov, _ffi.cov_read, _ffi.cov_free,
             tile_bytes=tile_bytes, slots=slots, expr=expr,
             name=name if expr is not None else None, mask_fill=mask_fill,
             cf=cf)
    return Covariance(d["state"], _run_info(d["summary"]))
