"""h5cl: streamed statistics over HDF5 datasets on OpenCL devices.

    import h5cl
    h5cl.devices()
    with h5cl.open("run.h5") as f:
        d = f["/fields/u"]
        d.stats(), d.mean(axis=0), d[1000:2000].sum()
        counts, edges = d.histogram(bins=256, range=(0, 1))
        d.quantile([0.5, 0.99]), d.stats(expr="(x - 3.5)**2")
        f.map("sqrt(u*u + v*v)", u=d, v="/fields/v", out="speed.h5:/speed")
        x = f["/samples"]           # 2-D: rows are samples
        x.cov(), x.corrcoef(), x.pca(3, out="proj.h5:/y")
"""

from . import errors
from ._core import (PCA, Covariance, Dataset, Device, File, Histogram,
                    MapResult, RunInfo, Stats, check_expression, devices,
                    dot, open)
from ._ffi import HAS_TIMELINE as has_timeline
from ._ffi import library_path, version as _version
from .errors import *  # noqa: F401,F403 - the exception classes

__version__ = "0.1.0"
library_version = _version()

__all__ = ["devices", "open", "File", "Dataset", "Device", "Stats", "RunInfo",
           "Histogram", "MapResult", "Covariance", "PCA", "dot", "check_expression", "errors",
           "has_timeline", "library_path", "library_version",
           "set_progress"] + [n for n in dir(errors) if n[0].isupper()
                              and n not in ("BY_NAME",)]


def set_progress(value):
    """Default for progress= on every run: True (tqdm bar), False, or None
    (automatic: a bar only in Jupyter or an interactive terminal)."""
    from . import _core
    _core.progress_default = value
