"""Fill values and CF conventions (mask_fill=, cf=) against a numpy decode
of netCDF-4-style files written by h5py (attributes by hand), and of the
shared corpus's GOES-16 product when it is beside the checkout."""
import os

import h5py
import numpy as np
import pytest

import h5cl

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir,
                      os.pardir, os.pardir, "shared", "corpus")


def attr1(d, name):
    if name not in d.attrs:
        return None
    return np.atleast_1d(np.asarray(d.attrs[name]))


def decode(d, cf=True, mask_fill=False):
    """(float64 values, NaN where masked; masked count), by the CF rules."""
    raw = d[()]
    uns = attr1(d, "_Unsigned") if cf else None
    if uns is not None and raw.dtype.kind == "i":
        text = uns[0].decode() if isinstance(uns[0], bytes) else str(uns[0])
        if text.strip().lower() == "true":
            raw = raw.view("u%d" % raw.dtype.itemsize)
    rt = raw.dtype

    def as_raw(v):
        v = np.asarray(v)
        if v.dtype.kind in "iu" and rt.kind in "iu" and \
                v.dtype.itemsize == rt.itemsize:
            return v.view(rt)
        return v.astype(rt)
    fills = []
    if mask_fill and d.id.get_create_plist().fill_value_defined() == \
            h5py.h5d.FILL_VALUE_USER_DEFINED:
        fills.append(as_raw(np.array(d.fillvalue, dtype=d.dtype)))
    for name in ("_FillValue", "missing_value"):
        v = attr1(d, name)
        if v is not None:
            fills.extend(as_raw(v))
    mask = np.zeros(raw.shape, dtype=bool)
    for f in fills:
        mask |= np.isnan(raw) if np.isnan(f) else raw == f
    val = raw.astype(np.float64)
    if cf:
        vr = attr1(d, "valid_range")
        lo = as_raw(vr)[0] if vr is not None else None
        hi = as_raw(vr)[1] if vr is not None else None
        if vr is None and attr1(d, "valid_min") is not None:
            lo = as_raw(attr1(d, "valid_min"))[0]
        if vr is None and attr1(d, "valid_max") is not None:
            hi = as_raw(attr1(d, "valid_max"))[0]
        if lo is not None:
            mask |= raw < lo
        if hi is not None:
            mask |= raw > hi
        sf, ao = attr1(d, "scale_factor"), attr1(d, "add_offset")
        if sf is not None:
            val = val * np.float64(sf[0])
        if ao is not None:
            val = val + np.float64(ao[0])
    val[mask] = np.nan
    return val, int(mask.sum())


@pytest.fixture
def nc(tmp_path):
    """cf.nc: t int16 packed (float32 scale/offset, _FillValue, valid_range,
    chunked); u int8 _Unsigned (fixed string); v int16 _Unsigned
    (variable-length string), missing_value array, float64 add_offset; m
    float32 with an HDF5 fill value and missing_value; bad with a string
    _FillValue."""
    rng = np.random.default_rng(5)
    p = tmp_path / "cf.nc"
    with h5py.File(p, "w") as f:
        t = rng.integers(-32768, 32768, (120, 90)).astype(np.int16)
        t[rng.random(t.shape) < 0.05] = -32767
        d = f.create_dataset("t", data=t, chunks=(40, 45), compression="gzip",
                             fillvalue=np.int16(-32767))
        d.attrs["scale_factor"] = np.array([0.01], np.float32)
        d.attrs["add_offset"] = np.array([273.15], np.float32)
        d.attrs["_FillValue"] = np.array([-32767], np.int16)
        d.attrs["valid_range"] = np.array([-30000, 30000], np.int16)
        u = rng.integers(-128, 128, 4000).astype(np.int8)
        u[::13] = -1
        d = f.create_dataset("u", data=u)
        d.attrs["_Unsigned"] = np.bytes_(b"true")
        d.attrs["_FillValue"] = np.array([-1], np.int8)
        d.attrs["valid_min"] = np.array([10], np.int8)
        d.attrs["scale_factor"] = np.array([0.5], np.float32)
        v = rng.integers(-32768, 32768, 6000).astype(np.int16)
        d = f.create_dataset("v", data=v)
        d.attrs["_Unsigned"] = "true"
        d.attrs["missing_value"] = np.array([0, 1, -2], np.int16)
        d.attrs["add_offset"] = np.float64(-1000.5)
        m = rng.standard_normal((50, 40)).astype(np.float32)
        m[rng.random(m.shape) < 0.1] = -999
        m[rng.random(m.shape) < 0.02] = np.nan
        m.flat[::37] = 1e20
        f.create_dataset("m", data=m, fillvalue=np.float32(1e20))
        f["m"].attrs["missing_value"] = np.array([-999], np.float32)
        b = f.create_dataset("bad", data=np.arange(10, dtype=np.int16))
        b.attrs["_FillValue"] = np.bytes_(b"n/a")
        f["plain"] = np.arange(100, dtype=np.int32)
    return p


def check_stats(s, val, masked):
    good = val[~np.isnan(val)]
    assert s.count == good.size
    assert s.nan_count == np.isnan(val).sum()
    assert s.masked == masked and s.run.masked == masked
    assert s.min == good.min() and s.max == good.max()
    assert s.mean == pytest.approx(good.mean(), rel=1e-12)
    assert s.sum == pytest.approx(good.sum(), rel=1e-12,
                                  abs=1e-12 * np.abs(good).sum())


@pytest.mark.parametrize("name,cf,mask_fill", [
    ("t", True, False), ("u", True, False), ("v", True, False),
    ("m", False, True), ("t", False, True), ("t", True, True),
    ("m", True, True)])
def test_stats(nc, name, cf, mask_fill):
    with h5py.File(nc, "r") as g:
        val, masked = decode(g[name], cf, mask_fill)
    with h5cl.open(nc) as f:
        s = f[name].stats(cf=cf, mask_fill=mask_fill)
    check_stats(s, val, masked)
    assert isinstance(s.min, (float, np.floating))


def test_axis_and_selection(nc):
    with h5py.File(nc, "r") as g:
        val, _ = decode(g["t"])
    with h5cl.open(nc) as f:
        d = f["t"]
        s = d.stats(axis=0, cf=True)
        assert np.array_equal(s.count, (~np.isnan(val)).sum(axis=0))
        assert np.array_equal(s.nan_count, np.isnan(val).sum(axis=0))
        assert np.allclose(s.mean, np.nanmean(val, axis=0), rtol=1e-12)
        assert s.masked == np.isnan(val).sum()
        sub = d[10:50, 5:20]
        assert sub.max(cf=True) == np.nanmax(val[10:50, 5:20])
        assert sub.sum(cf=True) == pytest.approx(np.nansum(val[10:50, 5:20]),
                                                 rel=1e-12)


def test_decoding(nc):
    with h5cl.open(nc) as f:
        info = f["u"].decoding()
        assert info["applied"] == ["_Unsigned", "_FillValue", "valid_min",
                                   "scale_factor"]
        assert info["raw_dtype"] == "uint8" and info["dtype"] == "int8"
        assert info["decoded_dtype"] == "float32"
        assert info["fill_values"] == [(255, ["_FillValue"])]
        assert info["valid_min"] == 10 and info["valid_max"] is None
        assert info["scale_factor"] == 0.5 and info["add_offset"] == 0.0
        info = f["t"].decoding(cf=True, mask_fill=True)
        assert info["fill_values"] == [(-32767, ["HDF5 fill value",
                                                 "_FillValue"])]
        assert "valid_range" in info["applied"]
        assert (info["valid_min"], info["valid_max"]) == (-30000, 30000)
        assert f["t"].decoding(cf=False)["applied"] == []
        assert f["m"].decoding(cf=False, mask_fill=True)["applied"] == [
            "HDF5 fill value", "missing_value"]


def test_histogram_quantile(nc):
    with h5py.File(nc, "r") as g:
        val, masked = decode(g["t"])
    good = val[~np.isnan(val)]
    with h5cl.open(nc) as f:
        h = f["t"].histogram(bins=9, cf=True)
        counts, edges = np.histogram(good, bins=9)
        assert np.array_equal(h.counts, counts)
        assert np.allclose(h.edges, edges, rtol=0, atol=0)
        assert h.nan == np.isnan(val).sum() and h.run.masked == masked
        q = f["t"].quantile([0, 0.3, 0.5, 1], cf=True)
        assert q.tolist() == np.nanquantile(val, [0, 0.3, 0.5, 1]).tolist()
        assert f["t"].median(cf=True) == np.nanmedian(val)


def test_map(nc, tmp_path):
    out = tmp_path / "out.h5"
    with h5py.File(nc, "r") as g:
        tv, tm = decode(g["t"])
        vv, _ = decode(g["v"])
    with h5cl.open(nc) as f:
        r = f.map(None, out=str(out) + ":/t", cf=True, t=f["t"])
        assert r.dtype == np.float32 and r.masked == tm
        r = f.map("v * 2", out=str(out) + ":/v2", cf=True, v=f["v"])
        assert r.dtype == np.float64  # float64 add_offset
        with pytest.raises(TypeError):
            f.map(None, out=str(out) + ":/x", t=f["t"])  # nothing to decode
    with h5py.File(out, "r") as g:
        assert g["t"].dtype == np.float32
        assert np.array_equal(g["t"][()], tv.astype(np.float32),
                              equal_nan=True)
        assert np.array_equal(g["v2"][()], vv * 2, equal_nan=True)


def test_refused_and_plain(nc):
    with h5cl.open(nc) as f:
        with pytest.raises(h5cl.UnsupportedType, match="_FillValue"):
            f["bad"].stats(cf=True)
        with pytest.raises(h5cl.UnsupportedType, match="_FillValue"):
            f["bad"].decoding()
        with pytest.raises(h5cl.UnsupportedType, match="_FillValue"):
            f["bad"].stats(mask_fill=True)
        s = f["bad"].stats()  # attributes are not read without the options
        assert s.sum == 45 and s.masked == 0
        # nothing to apply: the exact integer run
        s = f["plain"].stats(mask_fill=True, cf=True)
        assert s.sum == 4950 and isinstance(s.sum, np.integer)
        assert s.masked == 0


@pytest.mark.skipif(not os.path.exists(os.path.join(
    CORPUS, "20171025_2056.Cloud_Top_Height.nc")), reason="no shared corpus")
def test_goes16_cloud_top_height():
    path = os.path.join(CORPUS, "20171025_2056.Cloud_Top_Height.nc")
    with h5py.File(path, "r") as g:
        val, masked = decode(g["HT"])
    with h5cl.open(path) as f:
        s = f["HT"].stats(cf=True)
    check_stats(s, val, masked)
    assert (s.count, s.masked) == (92568, 57432)  # MANIFEST.md
    assert s.mean == pytest.approx(7429.053, abs=1e-3)


def test_big_endian_and_integer_output(tmp_path):
    """Big-endian data and attributes decode like little-endian ones; an
    integer map output stores masked elements as 0."""
    p, out = tmp_path / "be.nc", tmp_path / "o.h5"
    raw = np.arange(-50, 950, dtype=">i2")
    with h5py.File(p, "w") as f:
        d = f.create_dataset("b", data=raw, fillvalue=np.int16(-1))
        d.attrs["_FillValue"] = np.array([-1], ">i2")
        d.attrs["missing_value"] = np.array([7, 8], ">i2")
        d.attrs["valid_min"] = np.array([0], ">i2")
        d.attrs["scale_factor"] = np.array([2.0], ">f8")
    with h5py.File(p, "r") as g:
        val, masked = decode(g["b"])
    with h5cl.open(p) as f:
        s = f["b"].stats(cf=True)
        check_stats(s, val, masked)
        assert masked == 50 + 2  # below valid_min (the fill -1 too), 7, 8
        r = f.map(None, out=str(out) + ":/i", dtype="int32", cf=True,
                  b=f["b"])
        assert r.masked == masked
    with h5py.File(out, "r") as g:
        assert np.array_equal(g["i"][()], np.nan_to_num(val).astype(np.int32))
