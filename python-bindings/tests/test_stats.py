"""Every binding against numpy on files written by h5py."""
import ctypes

import h5py
import numpy as np
import pytest

import h5cl
from h5cl import _ffi

DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64",
          "uint64", "float32", "float64", ">i4", ">f8", ">u2"]


def make(tmp_path, data, name="d", **kw):
    p = tmp_path / "t.h5"
    with h5py.File(p, "a") as f:
        f.create_dataset(name, data=data, **kw)
    return p


def rand(rng, dtype, shape, nans=False):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        a = (rng.standard_normal(shape) * 100).astype(dt)
        if nans and a.size:
            a.flat[rng.integers(0, a.size, max(1, a.size // 7))] = np.nan
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, size=shape, dtype=dt.newbyteorder("="),
                         endpoint=True).astype(dt)
    return a


def exact_sum(a, axis=None):
    if a.dtype.kind == "f":
        return np.nansum(a.astype(np.float64), axis=axis)
    obj = a.astype(object)
    return obj.sum(axis=axis)


def check(d, a, axis=None, ddof=0):
    s = d.stats(axis=axis, ddof=ddof)
    a64 = a.astype(np.float64)
    assert np.array_equal(s.count, np.sum(~np.isnan(a64), axis=axis))
    assert np.array_equal(s.nan_count, np.sum(np.isnan(a64), axis=axis))
    if a.dtype.kind == "f":
        np.testing.assert_allclose(s.sum, exact_sum(a, axis), rtol=1e-9, atol=1e-9)
    else:
        want = exact_sum(a, axis)
        got = s.sum
        assert np.array_equal(np.asarray(got, dtype=object), np.asarray(want, dtype=object))
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        np.testing.assert_allclose(s.mean, np.nanmean(a64, axis=axis), rtol=1e-9)
        np.testing.assert_allclose(s.var, np.nanvar(a64, axis=axis, ddof=ddof), rtol=1e-7)
        np.testing.assert_allclose(s.std, np.nanstd(a64, axis=axis, ddof=ddof), rtol=1e-7)
        np.testing.assert_array_equal(s.min, np.nanmin(a, axis=axis))
        np.testing.assert_array_equal(s.max, np.nanmax(a, axis=axis))
        np.testing.assert_array_equal(s.argmin, np.nanargmin(a, axis=axis))
        np.testing.assert_array_equal(s.argmax, np.nanargmax(a, axis=axis))
    if axis is None:
        assert np.ndim(s.mean) == 0
    else:
        assert np.shape(s.mean) == np.nanmean(a64, axis=axis).shape
    return s


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes_whole_and_axis(tmp_path, dtype):
    rng = np.random.default_rng(abs(hash(dtype)) % 2**32)
    a = rand(rng, dtype, (37, 23), nans=False)
    p = make(tmp_path, a, chunks=(8, 16))
    with h5cl.open(p) as f:
        d = f["d"]
        assert d.shape == a.shape and d.dtype == np.dtype(dtype)
        assert d.chunks == (8, 16) and d.layout == "chunked"
        assert d.nbytes == a.nbytes and d.size == a.size and d.ndim == 2
        check(d, a)
        check(d, a, axis=0)
        check(d, a, axis=-1, ddof=1)


@pytest.mark.parametrize("seed", range(6))
def test_random_shapes_chunkings_nans(tmp_path, seed):
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 4))
    shape = tuple(int(x) for x in rng.integers(1, 30, rank))
    dtype = ["float32", "float64"][seed % 2]
    a = rand(rng, dtype, shape, nans=True)
    a.flat[0] = 1.0  # at least one value per whole selection
    kw = [{}, {"chunks": True}, {"chunks": True, "compression": "gzip",
                                 "shuffle": True}][seed % 3]
    p = make(tmp_path, a, **kw)
    with h5cl.open(p) as f:
        d = f["d"]
        if kw.get("compression"):
            assert "deflate" in d.filters
        check(d, a)
        for ax in range(rank):
            sub = np.isnan(a).all(axis=ax)
            if not sub.any():
                check(d, a, axis=ax, ddof=seed % 2)


def test_selections_and_slicing(tmp_path):
    rng = np.random.default_rng(7)
    a = rand(rng, "float64", (20, 15, 6))
    p = make(tmp_path, a, chunks=(4, 5, 3), compression="gzip")
    with h5cl.open(p) as f:
        d = f["d"]
        for key in [np.s_[3:9], np.s_[-5:], np.s_[:, 2:7], np.s_[..., 1:3],
                    np.s_[4], np.s_[-1, 3:], np.s_[2:10, 4, 1:5],
                    np.s_[:, :, -2], np.s_[5:50]]:
            v = d[key]
            want = a[key]
            assert v.shape == want.shape, key
            check(v, want)
            for ax in range(want.ndim):
                check(v, want, axis=ax)
        v = d[2:5][1][3:9]
        check(v, a[2:5][1][3:9])
        assert v.selection == "3:4,3:9,0:6"
        with pytest.raises(IndexError):
            d[20]
        with pytest.raises(IndexError):
            d[::2]
        with pytest.raises(IndexError):
            d[1, 2, 3, 4]


def test_methods_match_numpy(tmp_path):
    rng = np.random.default_rng(3)
    a = rand(rng, "float32", (40, 9), nans=True)
    a[0, 0] = 5
    p = make(tmp_path, a, chunks=(10, 9))
    with h5cl.open(p) as f:
        d = f["d"]
        a64 = a.astype(np.float64)
        assert np.isclose(d.sum(), np.nansum(a64))
        assert np.isclose(d.mean(), np.nanmean(a64))
        assert np.isclose(d.var(ddof=1), np.nanvar(a64, ddof=1))
        assert np.isclose(d.std(), np.nanstd(a64))
        assert d.min() == np.nanmin(a) and d.max() == np.nanmax(a)
        assert d.argmin() == np.nanargmin(a) and d.argmax() == np.nanargmax(a)
        np.testing.assert_allclose(d.mean(axis=1), np.nanmean(a64, axis=1))
        np.testing.assert_array_equal(d.argmax(axis=0), np.nanargmax(a, axis=0))
        s = d.stats()
        assert s["count"] == s.count and set(s.keys()) >= {"mean", "argmax"}


def test_exact_integer_sums(tmp_path):
    big = np.full((64,), 2**63 - 1, dtype=np.int64)
    ubig = np.full((64,), 2**64 - 1, dtype=np.uint64)
    fits = np.array([2**62, 2**62, -5], dtype=np.int64)
    p = tmp_path / "t.h5"
    with h5py.File(p, "w") as f:
        f["big"], f["ubig"], f["fits"] = big, ubig, fits
        f["big2"] = np.tile(big, (3, 1))
    with h5cl.open(p) as f:
        s = f["big"].sum()
        assert isinstance(s, int) and s == 64 * (2**63 - 1)
        assert f["ubig"].sum() == 64 * (2**64 - 1)
        v = f["fits"].sum()
        assert isinstance(v, np.int64) and v == 2**63 - 5
        per = f["big2"].sum(axis=1)
        assert list(per) == [64 * (2**63 - 1)] * 3
        assert f["big"].mean() == float(2**63 - 1)
        assert isinstance(f["fits"][:1].sum(), np.int64)
        assert isinstance(f["ubig"][:1].sum(), np.uint64)


def test_numpy_figures_match_c(tmp_path):
    """The vectorised figures equal the library's own h5cl_stats_state_*."""
    rng = np.random.default_rng(11)
    p = tmp_path / "t.h5"
    with h5py.File(p, "w") as f:
        f["i"] = rng.integers(-1000, 1000, (13, 7)).astype(np.int32)
        f["u"] = rng.integers(0, 1000, (13, 7)).astype(np.uint16)
        f["f"] = rng.standard_normal((13, 7))
    with h5cl.open(p) as f:
        for name in "iuf":
            d = f[name]
            st = _ffi.stats_compute(d._h.ptr, axis=0)
            try:
                shape, raw, _, _ = _ffi.stats_read(st)
            finally:
                _ffi.stats_free(st)
            s = d.stats(axis=0, ddof=1)
            for j in range(shape[0]):
                size = ctypes.sizeof(_ffi.StatsState)
                c = _ffi.state_figures(raw[size * j:size * (j + 1)], 1)
                assert c["mean"] == s.mean[j]
                assert c["var"] == s.var[j] and c["std"] == s.std[j]
                assert c["min"] == s.min[j] and c["max"] == s.max[j]
                assert c["sum"] == float(s.sum[j])


def test_scalar_and_empty(tmp_path):
    p = tmp_path / "t.h5"
    with h5py.File(p, "w") as f:
        f["s"] = np.float64(4.5)
        f["e"] = np.arange(10.0)
    with h5cl.open(p) as f:
        s = f["s"]
        assert s.shape == () and s.size == 1
        st = s.stats()
        assert st.count == 1 and st.mean == 4.5 and st.argmax == 0
        e = f["e"][5:5]
        st = e.stats()
        assert st.count == 0 and np.isnan(st.mean) and st.argmin == -1
        with pytest.raises(ValueError):
            e.argmin()


def test_listing_and_metadata(tmp_path):
    p = tmp_path / "t.h5"
    with h5py.File(p, "w") as f:
        f["a"] = np.arange(4)
        f.create_group("g")["b"] = np.arange(6.0).reshape(2, 3)
        f["g/txt"] = np.array([b"x", b"y"])
    with h5cl.open(p) as f:
        assert f.keys() == ["/a", "/g/b", "/g/txt"]
        assert dict(f.datasets())["/g/txt"] is False
        assert "/g/b" in f and "g/b" in f and list(f) == f.keys()
        d = f["/g/b"]
        assert d.chunks is None and d.layout in ("contiguous", "compact")
        assert d.name == "/g/b" and "shape (2, 3)" in repr(d)
        assert isinstance(f.device, h5cl.Device)


def test_devices():
    ds = h5cl.devices()
    assert ds and sum(d.is_default for d in ds) == 1
    d = ds[0]
    assert d.type in ("gpu", "cpu", "accelerator", "other") and d.name
