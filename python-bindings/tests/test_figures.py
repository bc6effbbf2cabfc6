"""stats(figures=...): only the figures asked for, equal to the full run's;
the one-figure methods; the byte form and merges of sets (Dask)."""
import h5py
import numpy as np
import pytest

import h5cl
from h5cl import _ffi


def make(tmp_path):
    rng = np.random.default_rng(21)
    p = tmp_path / "t.h5"
    a = (rng.standard_normal(50000) * 40 + 7).astype(np.float32)
    a[[17, 30001]] = np.nan
    with h5py.File(p, "w") as f:
        f["f"] = a
        f["i"] = rng.integers(-2**15, 2**15, 40001).astype(np.int16)
    return p


@pytest.mark.parametrize("name", ["f", "i"])
def test_sets_equal_full_run(tmp_path, name):
    with h5cl.open(make(tmp_path)) as f:
        d = f[name]
        full = d.stats()
        assert full.figures == tuple(full.keys())
        # the kernel variants the C suite builds (a fresh cache compiles
        # each): int16 has no min/max-only one there
        for figs, held in (
                ("sum", ("count", "nan_count", "sum", "mean")),
                (("var",), ("count", "nan_count", "sum", "mean", "var", "std")),
                ("min", ("count", "nan_count", "min", "max", "argmin",
                         "argmax")))[:3 if name == "f" else 2]:
            s = d.stats(figures=figs)
            assert s.figures == held
            assert tuple(s.keys()) == held
            for k in full.keys():
                if k not in held:
                    assert getattr(s, k) is None, k
                elif k in ("sum", "mean", "var", "std") and name == "f":
                    assert getattr(s, k) == pytest.approx(getattr(full, k),
                                                          rel=1e-12)
                else:  # counts, integer sums, extrema, indices: exact
                    assert getattr(s, k) == getattr(full, k), k


def test_methods_compute_their_figure(tmp_path):
    with h5cl.open(make(tmp_path)) as f:
        with h5py.File(f.filename) as g:
            x, y = g["i"][()], g["f"][()]
        d = f["i"]
        assert d.sum() == int(x.astype(np.int64).sum())
        assert d.mean() == pytest.approx(x.astype(np.float64).mean(), rel=1e-15)
        e = f["f"]
        assert e.min() == np.nanmin(y) and e.argmax() == int(np.nanargmax(y))
        assert e.last_run is not None


def test_axis_and_bad_names(tmp_path):
    with h5cl.open(make(tmp_path)) as f:
        s = f["f"].stats(axis=0, figures="sum")  # 1-D: a scalar position
        assert s.figures == tuple(s.keys()) and s.var is not None
        with pytest.raises(ValueError, match="unknown name"):
            f["f"].stats(figures="sum,median")
        with pytest.raises(ValueError, match="at least one"):
            f["f"].stats(figures=())


def test_c_getters_and_byte_form(tmp_path):
    with h5cl.open(make(tmp_path)) as f:
        d = f["f"]  # its handle must outlive the call
        st = _ffi.stats_compute(d._h.ptr, figures=_ffi.FIG_SUM)
        try:
            _, raw, _, _ = _ffi.stats_read(st)
            data = _ffi.stats_serialize(st)
        finally:
            _ffi.stats_free(st)
    c = _ffi.state_figures(raw)
    assert np.isfinite(c["sum"]) and np.isnan(c["var"]) and np.isnan(c["min"])
    back = _ffi.stats_first_state(data)
    assert back.missing == _ffi.FIG_VAR | _ffi.FIG_MINMAX | _ffi.FIG_ARG
    assert back.argmin == 2**64 - 1


def test_dask_merges_sets(tmp_path):
    pytest.importorskip("dask")
    from h5cl import dask as h5dask
    with h5cl.open(make(tmp_path)) as f:
        d = f["f"]
        full = d.stats()
        s = h5dask.stats(d, shares=3, figures="sum").compute()
    assert s.figures == ("count", "nan_count", "sum", "mean")
    assert s.sum == pytest.approx(full.sum, rel=1e-12)
    assert s.count == full.count and s.min is None
