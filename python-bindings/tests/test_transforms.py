"""Expressions, maps, fused reductions, histograms and quantiles against
numpy, on files written by h5py."""
import _thread
import gc
import os
import pickle
import threading
import warnings

import h5py
import numpy as np
import pytest

import h5cl


@pytest.fixture
def src(tmp_path):
    """in.h5: u, v float32 (50, 40) chunked and compressed; w float64;
    i16, i32 integers; n float64 with NaNs; long 1-D data."""
    rng = np.random.default_rng(42)
    p = tmp_path / "in.h5"
    with h5py.File(p, "w") as f:
        kw = dict(chunks=(10, 20), compression="gzip", shuffle=True)
        f.create_dataset("u", data=rng.standard_normal((50, 40)).astype(np.float32), **kw)
        f.create_dataset("v", data=rng.standard_normal((50, 40)).astype(np.float32), **kw)
        f["w"] = rng.standard_normal((50, 40))
        f["i16"] = rng.integers(-300, 300, (50, 40)).astype(np.int16)
        f["i32"] = rng.integers(-10**6, 10**6, (50, 40)).astype(np.int32)
        n = rng.standard_normal((50, 40)) * 3
        n.flat[rng.integers(0, n.size, 150)] = np.nan
        f["n"] = n
        f["short"] = np.arange(12.0)
        f.create_dataset("long", data=np.arange(2_000_000, dtype=np.float32),
                         chunks=(4096,))
    return p


def read(path, name):
    with h5py.File(path, "r") as f:
        return f[name][()]


def snapshot(directory):
    """{name: bytes} of every file in a directory."""
    return {n: (directory / n).read_bytes() for n in sorted(os.listdir(directory))}


# ---------------------------------------------------------------------------
# Expressions


def test_check_expression_dtypes():
    f32 = dict(u="float32", v=np.float32)
    assert h5cl.check_expression("sqrt(u*u + v*v)", **f32) == np.float32
    assert h5cl.check_expression("u > v", **f32) == np.uint8
    assert h5cl.check_expression("isnan(u) || v < 0", **f32) == np.uint8
    assert h5cl.check_expression("u + v", u="float32", v="float64") == np.float64
    assert h5cl.check_expression("a * 2", a="int32") == np.float64
    assert h5cl.check_expression("a * 2", a=">u8") == np.float64
    assert h5cl.check_expression("a * 2", a="int16") == np.float32
    assert h5cl.check_expression("a + b", a="uint8", b="int8") == np.float32
    assert isinstance(h5cl.check_expression("1.5", ), np.dtype)


def test_expression_errors_name_the_column():
    with pytest.raises(h5cl.ExpressionError) as e:
        h5cl.check_expression("sqrt(uu*uu + v*v)", u="float32", v="float32")
    err = e.value
    assert isinstance(err, ValueError) and err.name == "H5CL_ERR_EXPRESSION"
    assert "column 6" in str(err) and err.column == 6
    assert "uu" in str(err) and "'u'" in str(err)  # did you mean 'u'?
    for bad in ["u +", "u + (v", "nosuchfn(u)", "u ** ** v", "", "u v",
                "sqrt(u, v)", "1e999 +", "u $ v"]:
        with pytest.raises(h5cl.ExpressionError) as e:
            h5cl.check_expression(bad, u="float32", v="float32")
        assert 1 <= e.value.column <= len(bad) + 1, (bad, str(e.value))
    with pytest.raises(ValueError):
        h5cl.check_expression("u", u="complex64")


def test_check_expression_takes_datasets(src):
    with h5cl.open(src) as f:
        assert h5cl.check_expression("a + b", a=f["i16"], b=f["w"]) == np.float64


# ---------------------------------------------------------------------------
# Maps


def test_map_two_inputs_values_filters_attributes(src, tmp_path):
    out = tmp_path / "speed.h5"
    with h5cl.open(src) as f:
        r = f.map("sqrt(u*u + v*v)", u=f["u"], v=f["/v"], out="%s:/g/speed" % out,
                  gzip=4, shuffle=True)
    assert isinstance(r, h5cl.MapResult)
    assert r.file == str(out) and r.path == "/g/speed"
    assert r.shape == (50, 40) and r.dtype == np.float32
    assert r.run.bytes == 2 * 50 * 40 * 4 and r.bytes_written == 50 * 40 * 4
    assert r.run.stage_seconds.keys() >= {"read", "kernel", "write"}
    u, v = read(src, "u").astype(np.float64), read(src, "v").astype(np.float64)
    with h5py.File(out, "r") as g:
        d = g["g/speed"]
        assert d.dtype == np.float32 and d.shape == (50, 40)
        assert d.compression == "gzip" and d.compression_opts == 4 and d.shuffle
        assert d.chunks == (10, 20)  # the first input's
        np.testing.assert_allclose(d[()], np.sqrt(u * u + v * v), rtol=1e-6)
        np.testing.assert_array_equal(d[()], np.sqrt(u * u + v * v).astype(np.float32))
        assert d.attrs["h5cl_expression"] in ("sqrt(u*u + v*v)", b"sqrt(u*u + v*v)")
        sources = d.attrs["h5cl_sources"]
        sources = sources.decode() if isinstance(sources, bytes) else sources
        assert "u=" in sources and "v=" in sources and "/v" in sources


def test_map_dtypes_and_booleans(src, tmp_path):
    out = tmp_path / "o.h5"
    i16 = read(src, "i16")
    with h5cl.open(src) as f:
        assert f.map("a * 2", a="/i16", out=(out, "f")).dtype == np.float32
        f.map("a * 2", a="/i16", out=(out, "/i"), dtype="int16")
        f.map("a > 0", a="/i16", out=(out, "/b"))
        f.map("x * 1", x="/i32", out=(out, "/d"))
        f.map("x", x="/w", out=(out, "/copy"))
        with pytest.raises(ValueError):
            f.map("x", x="/w", out=(out, "/bad"), dtype=">f8")
        with pytest.raises(ValueError):
            f.map("x", x="/w", out=(out, "/bad"), dtype=bool)
    with h5py.File(out, "r") as g:
        assert g["f"].dtype == np.float32
        np.testing.assert_array_equal(g["f"][()], i16 * 2)
        assert g["i"].dtype == np.int16
        np.testing.assert_array_equal(g["i"][()], i16 * 2)
        assert g["b"].dtype == np.uint8
        np.testing.assert_array_equal(g["b"][()], (i16 > 0).astype(np.uint8))
        assert g["d"].dtype == np.float64
        np.testing.assert_array_equal(g["d"][()], read(src, "i32"))
        np.testing.assert_array_equal(g["copy"][()], read(src, "w"))
        assert "bad" not in g


def test_map_integer_conversion_truncates_and_saturates(tmp_path):
    p = tmp_path / "c.h5"
    v = np.array([1.0, np.inf, -np.inf, np.nan, 1e12, -1e12, 2.7, -2.7, 255.5])
    with h5py.File(p, "w") as f:
        f["v"] = v
    out = tmp_path / "o.h5"
    with h5cl.open(p) as f:
        for dt in ("int8", "uint8", "int32", "int64"):
            f.map("x", x="/v", out=(out, dt), dtype=dt)
    for dt in ("int8", "uint8", "int32", "int64"):
        info = np.iinfo(dt)
        want = [0 if np.isnan(x) else info.max if x >= info.max else
                info.min if x <= info.min else int(x) for x in v]
        assert read(out, dt).tolist() == want, dt


def test_map_selection_chunks_and_other_files(src, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g:
        g["v2"] = read(src, "v")
    out = tmp_path / "o.h5"
    with h5cl.open(src) as f, h5cl.open(other) as g:
        u, v = f["u"][5:25, 10:30], g["v2"][5:25, 10:30]
        r = f.map("u - v", u=u, v=v, out=(out, "diff"), chunks=(4, 5))
        assert r.shape == (20, 20)
        assert r.inputs["v"].endswith("other.h5:/v2")
        with pytest.raises(IndexError):
            f.map("u", u=f["u"][3], out=(out, "row"))
        f.map("u", u=f["u"][3:4], out=(out, "row"))
    want = read(src, "u")[5:25, 10:30].astype(np.float64) - read(src, "v")[5:25, 10:30]
    with h5py.File(out, "r") as o:
        assert o["diff"].chunks == (4, 5)
        np.testing.assert_array_equal(o["diff"][()], want.astype(np.float32))
        assert o["row"].shape == (1, 40)


def test_map_into_existing_file_keeps_the_rest(src, tmp_path):
    out = tmp_path / "o.h5"
    with h5py.File(out, "w") as g:
        g["keep"] = np.arange(5)
        g.attrs["note"] = "hello"
    with h5cl.open(src) as f:
        f.map("x + 1", x="/short", out="%s:/plus" % out)
    with h5py.File(out, "r") as g:
        np.testing.assert_array_equal(g["keep"][()], np.arange(5))
        assert g.attrs["note"] == "hello"
        np.testing.assert_array_equal(g["plus"][()], np.arange(12.0) + 1)


def test_map_refusals_leave_the_target_unchanged(src, tmp_path):
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "o.h5"
    with h5cl.open(src) as f:
        f.map("x + 1", x="/short", out=(out, "a"))
        before = snapshot(outdir)
        with pytest.raises(h5cl.OutputExists) as e:
            f.map("x + 2", x="/short", out=(out, "a"))
        assert isinstance(e.value, FileExistsError) and "/a" in str(e.value)
        assert snapshot(outdir) == before
        with pytest.raises(h5cl.ExpressionError) as e:
            f.map("x + y", x="/short", out=(out, "b"))
        assert e.value.column == 5
        assert snapshot(outdir) == before
        with pytest.raises(h5cl.ShapeMismatch):
            f.map("x + y", x="/short", y="/w", out=(out, "b"))
        with pytest.raises(h5cl.ShapeMismatch):  # same view shape, files differ
            f.map("x + y", x=f["long"][:12], y="/short", out=(out, "b"))
        assert snapshot(outdir) == before
        with pytest.raises(ValueError):  # one selection for every input
            f.map("x + y", x=f["u"][:10], y=f["v"][10:20], out=(out, "b"))
        with pytest.raises(h5cl.OutputIsInput):  # inputs are never written
            f.map("x", x="/short", out=(src, "copy"))
        assert snapshot(outdir) == before
        f.map("x + 2", x="/short", out=(out, "a"), overwrite=True)
    np.testing.assert_array_equal(read(out, "a"), np.arange(12.0) + 2)


def test_map_argument_errors(src, tmp_path):
    with h5cl.open(src) as f:
        for bad in ["o.h5", ":/x", "o.h5:/"]:
            with pytest.raises(ValueError):
                f.map("x", x="/short", out=bad)
        with pytest.raises(TypeError):
            f.map("x", out=(tmp_path / "o.h5", "x"))
        with pytest.raises(TypeError):
            f.map("x", x="/short", out=(tmp_path / "o.h5", "x"), gzp=4)
        with pytest.raises(h5cl.DatasetNotFound):
            f.map("x", x="/nope", out=(tmp_path / "o.h5", "x"))
        with pytest.raises(h5cl.InvalidArgument):
            f.map("x", x="/short", out=(tmp_path / "o.h5", "x"), gzip=12)
    assert not (tmp_path / "o.h5").exists()


# ---------------------------------------------------------------------------
# Fused reductions


def test_stats_of_expressions(src):
    w = read(src, "w")
    n = read(src, "n")
    u, v = read(src, "u").astype(np.float64), read(src, "v").astype(np.float64)
    with h5cl.open(src) as f:
        s = f["w"].stats(expr="(x - 3.5)**2")
        want = (w - 3.5) ** 2
        assert s.count == w.size
        np.testing.assert_allclose(s.sum, want.sum(), rtol=1e-12)
        np.testing.assert_allclose(s.var, want.var(), rtol=1e-10)
        assert s.min == pytest.approx(want.min(), rel=1e-14)
        assert s.max == pytest.approx(want.max(), rel=1e-14)
        assert s.argmax == want.argmax()
        s = f["n"].stats(axis=0, expr="abs(x)")  # NaNs stay NaN: skipped
        np.testing.assert_array_equal(s.count, (~np.isnan(n)).sum(axis=0))
        np.testing.assert_allclose(s.mean, np.nanmean(np.abs(n), axis=0), rtol=1e-12)
        s = f["u"].stats(expr="u*v", name="u", v=f["v"])
        np.testing.assert_allclose(s.sum, (u * v).sum(), rtol=1e-12)
        assert f["u"][2:7].sum(expr="u*v", name="u", v=f["v"][2:7]) == pytest.approx(
            (u[2:7] * v[2:7]).sum(), rel=1e-12)
        np.testing.assert_allclose(f["w"].mean(axis=1, expr="x > 0"),
                                   (w > 0).mean(axis=1), rtol=1e-15)
        with pytest.raises(TypeError):
            f["w"].stats(dof=1)  # a typo is not an input
        with pytest.raises(TypeError):
            f["w"].stats(y=f["u"])  # inputs need expr=
        with pytest.raises(TypeError):
            f["w"].stats(expr="x*y", y=np.ones(3))
        with pytest.raises(h5cl.ExpressionError):
            f["w"].stats(expr="x*y")
        with pytest.raises(h5cl.ShapeMismatch):
            f["w"].stats(expr="x*y", y=f["short"])


def test_dot(src, tmp_path):
    u, v = read(src, "u").astype(np.float64), read(src, "v").astype(np.float64)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g:
        g["v"] = read(src, "v")
    with h5cl.open(src) as f, h5cl.open(other) as g:
        assert h5cl.dot(f["u"], f["v"]) == pytest.approx(np.vdot(u, v), rel=1e-12)
        assert h5cl.dot(f["u"], g["v"]) == pytest.approx(np.vdot(u, v), rel=1e-12)
        assert h5cl.dot(f["u"], f["u"]) == pytest.approx(np.vdot(u, u), rel=1e-12)
        assert h5cl.dot(f["u"][3:9], f["v"][3:9]) == pytest.approx(
            np.vdot(u[3:9], v[3:9]), rel=1e-12)
        assert isinstance(h5cl.dot(f["i16"], f["i16"]), np.float64)
        with pytest.raises(h5cl.ShapeMismatch):
            h5cl.dot(f["u"], f["short"])
        with pytest.raises(TypeError):
            h5cl.dot(f["u"], v)


# ---------------------------------------------------------------------------
# Histograms


def test_histogram_given_range_matches_numpy(src):
    w = read(src, "w")
    with h5cl.open(src) as f:
        d = f["w"]
        h = d.histogram(bins=16, range=(-1, 1.5))
        counts, edges = h  # numpy-shaped
        want, want_edges = np.histogram(w, bins=16, range=(-1, 1.5))
        assert counts.dtype == np.int64 and edges.dtype == np.float64
        np.testing.assert_array_equal(counts, want)
        np.testing.assert_array_equal(edges, want_edges)
        assert h.under == (w < -1).sum() and h.over == (w > 1.5).sum()
        assert h.nan == 0 and h.range == (-1.0, 1.5) and not h.range_from_data
        assert h.bins == 16 and h.shape == () and h.total == want.sum()
        assert h[0] is h.counts and len(h) == 2
        np.testing.assert_allclose(
            h.density(), np.histogram(w, bins=16, range=(-1, 1.5), density=True)[0])
        assert h.run.bytes == w.nbytes and d.last_run is h.run
        # default bins: numpy's 10
        np.testing.assert_array_equal(f["w"].histogram(range=(0, 1))[0],
                                      np.histogram(w, range=(0, 1))[0])


def test_histogram_edges_and_types(src):
    i16, i32 = read(src, "i16"), read(src, "i32")
    u = read(src, "u")
    with h5cl.open(src) as f:
        # integer data, edges falling on values: the last bin includes hi
        for name, a, r in [("i16", i16, (-100, 100)), ("i32", i32, (-10**6, 10**6))]:
            c, e = f[name].histogram(bins=20, range=r)
            np.testing.assert_array_equal(c, np.histogram(a, bins=20, range=r)[0])
        c, _ = f["u"].histogram(bins=64, range=(-2, 2))
        np.testing.assert_array_equal(
            c, np.histogram(u.astype(np.float64), bins=64, range=(-2, 2))[0])
        # exact edge values
        c, _ = f["short"].histogram(bins=11, range=(0, 11))
        np.testing.assert_array_equal(c, np.histogram(np.arange(12.0), 11, (0, 11))[0])
        # lo == hi widens as numpy does
        c, e = f["short"].histogram(bins=4, range=(3, 3))
        wc, we = np.histogram(np.arange(12.0), bins=4, range=(3, 3))
        np.testing.assert_array_equal(c, wc)
        np.testing.assert_array_equal(e, we)


def test_histogram_range_from_data(src):
    w = read(src, "w")
    with h5cl.open(src) as f:
        h = f["w"].histogram(bins=33)
        want, want_edges = np.histogram(w, bins=33)
        assert h.range_from_data and h.range == (w.min(), w.max())
        np.testing.assert_array_equal(h.counts, want)
        np.testing.assert_array_equal(h.edges, want_edges)
        assert h.under == 0 and h.over == 0


def test_histogram_nans(src):
    n = read(src, "n")
    finite = n[~np.isnan(n)]
    with h5cl.open(src) as f:
        h = f["n"].histogram(bins=12, range=(-4, 4))
        np.testing.assert_array_equal(h.counts, np.histogram(finite, 12, (-4, 4))[0])
        assert h.nan == np.isnan(n).sum()
        assert h.under == (finite < -4).sum() and h.over == (finite > 4).sum()
        assert h.total + h.nan + h.under + h.over == n.size
        h = f["n"].histogram(bins=12)  # NaNs do not reach the range
        assert h.range == (finite.min(), finite.max())
        np.testing.assert_array_equal(h.counts, np.histogram(finite, 12)[0])


def test_constant_and_empty_histograms(tmp_path):
    p = tmp_path / "c.h5"
    with h5py.File(p, "w") as f:
        f["c"] = np.full(100, 2.5)
        f["e"] = np.arange(10.0)
        f["nan"] = np.full(7, np.nan)
        f["inf"] = np.array([1.0, np.inf, -np.inf, np.nan, -1.0])
    with h5cl.open(p) as f:
        c, e = f["c"].histogram(bins=5)  # numpy: range (2.0, 3.0)
        wc, we = np.histogram(np.full(100, 2.5), bins=5)
        np.testing.assert_array_equal(c, wc)
        np.testing.assert_array_equal(e, we)
        c, e = f["e"][4:4].histogram(bins=3, range=(0, 1))
        assert c.tolist() == [0, 0, 0]
        # no number at all: numpy's empty-data range (numpy raises on NaNs)
        h = f["e"][4:4].histogram(bins=3)
        assert h.range == (0.0, 1.0) and h.total == 0
        h = f["nan"].histogram(bins=3)
        assert h.range == (0.0, 1.0) and h.nan == 7 and h.total == 0
        with pytest.raises(h5cl.InvalidArgument):
            f["inf"].histogram(bins=3)  # give a range
        h = f["inf"].histogram(bins=2, range=(-4, 4))
        assert (h.under, h.over, h.nan, h.total) == (1, 1, 1, 2)


def test_histogram_per_axis(src, tmp_path):
    w = read(src, "w")
    with h5cl.open(src) as f:
        h = f["w"].histogram(bins=8, range=(-2, 2), axis=0)
        assert h.counts.shape == (40, 8) and h.shape == (40,)
        for j in range(40):
            np.testing.assert_array_equal(h.counts[j], np.histogram(w[:, j], 8, (-2, 2))[0])
        np.testing.assert_array_equal(h.under, (w < -2).sum(axis=0))
        np.testing.assert_array_equal(h.over, (w > 2).sum(axis=0))
        h = f["w"][10:20].histogram(bins=5, range=(-1, 1), axis=-1)
        assert h.counts.shape == (10, 5)
        for i in range(10):
            np.testing.assert_array_equal(h.counts[i], np.histogram(w[10 + i], 5, (-1, 1))[0])
        np.testing.assert_array_equal(h.total, h.counts.sum(axis=-1))
    a = np.random.default_rng(5).standard_normal((6, 7, 8))
    p = tmp_path / "a.h5"
    with h5py.File(p, "w") as g:
        g.create_dataset("a", data=a, chunks=(2, 3, 4))
    with h5cl.open(p) as f:
        v = f["a"][:, 2, :]  # an integer index drops the axis, as numpy
        h = v.histogram(bins=6, range=(-2, 2), axis=0)
        assert h.counts.shape == (8, 6)
        for k in range(8):
            np.testing.assert_array_equal(h.counts[k], np.histogram(a[:, 2, k], 6, (-2, 2))[0])
        with pytest.raises(h5cl.AxisError):
            v.histogram(axis=2)


def test_histogram_of_expression(src):
    w = read(src, "w")
    u, v = read(src, "u").astype(np.float64), read(src, "v").astype(np.float64)
    with h5cl.open(src) as f:
        c, _ = f["w"].histogram(bins=8, range=(0, 4), expr="x*x")
        np.testing.assert_array_equal(c, np.histogram(w * w, 8, (0, 4))[0])
        c, _ = f["u"].histogram(bins=10, range=(0, 3), expr="hypot_u", name="hypot_u")
        np.testing.assert_array_equal(c, np.histogram(u, 10, (0, 3))[0])
        c, _ = f["u"].histogram(bins=10, range=(-3, 3), expr="u - v", name="u", v=f["v"])
        np.testing.assert_array_equal(c, np.histogram(u - v, 10, (-3, 3))[0])


def test_histogram_arguments(src):
    with h5cl.open(src) as f:
        d = f["w"]
        with pytest.raises(TypeError):
            d.histogram(bins=[0, 1, 2])
        with pytest.raises(TypeError):
            d.histogram(bins="auto")
        with pytest.raises(ValueError):
            d.histogram(bins=0)
        with pytest.raises(ValueError):
            d.histogram(range=(0, np.inf))
        with pytest.raises(ValueError):
            d.histogram(range=(2, 1))


def test_histogram_merge_and_bytes(src):
    w = read(src, "w")
    with h5cl.open(src) as f:
        a = f["w"][:20].histogram(bins=9, range=(-2, 2))
        b = f["w"][20:].histogram(bins=9, range=(-2, 2))
        whole = f["w"].histogram(bins=9, range=(-2, 2))
        per = f["w"].histogram(bins=9, range=(-2, 2), axis=1)
    m = a.merge(b)
    np.testing.assert_array_equal(m.counts, whole.counts)
    assert (m.under, m.over, m.nan) == (whole.under, whole.over, whole.nan)
    np.testing.assert_array_equal(m.counts, np.histogram(w, 9, (-2, 2))[0])
    assert a.counts.sum() == np.histogram(w[:20], 9, (-2, 2))[0].sum()  # a unchanged
    r = h5cl.Histogram.from_bytes(whole.to_bytes())
    np.testing.assert_array_equal(r.counts, whole.counts)
    np.testing.assert_array_equal(r.edges, whole.edges)
    assert r.range == whole.range and r.run is None
    r = pickle.loads(pickle.dumps(per))
    assert r.shape == (50,) and np.array_equal(r.counts, per.counts)
    np.testing.assert_array_equal(r.under, per.under)
    with pytest.raises(h5cl.InvalidArgument):
        whole.merge(per)  # shapes differ
    with h5cl.open(src) as f:
        other = f["w"].histogram(bins=9, range=(-2, 3))
    with pytest.raises(h5cl.InvalidArgument):
        whole.merge(other)  # ranges differ
    with pytest.raises(h5cl.BadState):
        h5cl.Histogram.from_bytes(b"not a histogram")
    with pytest.raises(h5cl.BadState):
        h5cl.Histogram.from_bytes(whole.to_bytes()[:-3])


# ---------------------------------------------------------------------------
# Quantiles


QS = [0.0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]


def test_quantiles_exact_float64(src):
    n, w = read(src, "n"), read(src, "w")
    with h5cl.open(src) as f:
        got = f["n"].quantile(QS)
        assert got.dtype == np.float64 and got.shape == (len(QS),)
        np.testing.assert_array_equal(got, np.nanquantile(n, QS))
        np.testing.assert_array_equal(f["w"].quantile(QS), np.quantile(w, QS))
        m = f["w"].median()
        assert isinstance(m, np.float64) and m == np.median(w)
        assert f["n"].median() == np.nanmedian(n)
        np.testing.assert_array_equal(f["w"].percentile([5, 95]),
                                      np.percentile(w, [5, 95]))
        q2 = f["w"][7:30, 3:9].quantile([[0.2, 0.4], [0.6, 0.8]])
        np.testing.assert_array_equal(q2, np.quantile(w[7:30, 3:9], [[0.2, 0.4], [0.6, 0.8]]))


def test_quantiles_other_types(src):
    with h5cl.open(src) as f:
        for name in ("u", "i16", "i32"):
            a = read(src, name).astype(np.float64)
            np.testing.assert_allclose(f[name].quantile(QS), np.quantile(a, QS),
                                       rtol=1e-15, atol=0)
        w = read(src, "w")
        np.testing.assert_allclose(f["w"].quantile([0.1, 0.9], expr="x*x"),
                                   np.quantile(w * w, [0.1, 0.9]), rtol=1e-14)


def test_quantile_edge_cases(tmp_path):
    p = tmp_path / "q.h5"
    with h5py.File(p, "w") as f:
        f["nan"] = np.full(10, np.nan)
        f["one"] = np.array([3.25])
        f["big"] = np.array([2**62 + 1, -2**62, 5], dtype=np.int64)
    with h5cl.open(p) as f:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.isnan(f["nan"].median())
            assert np.isnan(f["one"][1:].quantile(0.5))
        assert f["one"].quantile([0, 0.5, 1]).tolist() == [3.25] * 3
        assert f["big"].quantile(1.0) == float(2**62 + 1)
        assert f["one"].quantile([]).shape == (0,)
        with pytest.raises(ValueError):
            f["one"].quantile(1.5)
        with pytest.raises(ValueError):
            f["one"].quantile(np.nan)
        with pytest.raises(ValueError):
            f["one"].quantile(0.5, method="nearest")
        with pytest.raises(h5cl.AxisError):
            f["one"].quantile(0.5, axis=0)


# ---------------------------------------------------------------------------
# Cancellation, Ctrl-C, progress

slow = lambda *a: threading.Event().wait(0.002) and False  # noqa: E731


def test_keyboard_interrupt_during_map_leaves_target(src, tmp_path):
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "o.h5"
    with h5py.File(out, "w") as g:
        g["keep"] = np.arange(3)
    before = snapshot(outdir)
    with h5cl.open(src) as f:
        t = threading.Timer(0.2, _thread.interrupt_main)
        t.start()
        with pytest.raises(KeyboardInterrupt):
            f.map("x * 2", x="/long", out=(out, "twice"), progress=slow,
                  tile_bytes=16384)
        t.join()
        assert snapshot(outdir) == before  # no temporary file left either
        # the context is usable afterwards
        f.map("x * 2", x="/short", out=(out, "twice"))
    np.testing.assert_array_equal(read(out, "twice"), np.arange(12.0) * 2)


def test_cancel_map_from_progress_into_new_file(src, tmp_path):
    out = tmp_path / "new.h5"
    with h5cl.open(src) as f:
        calls = []
        with pytest.raises(h5cl.Cancelled):
            f.map("x", x="/long", out=(out, "x"), tile_bytes=16384,
                  progress=lambda *a: calls.append(a) or len(calls) >= 3)
        assert len(calls) == 3
    assert os.listdir(tmp_path) == ["in.h5"]


def test_keyboard_interrupt_during_histogram_and_quantile(src):
    with h5cl.open(src) as f:
        d = f["long"]
        for run in (lambda: d.histogram(bins=64, progress=slow, tile_bytes=16384),
                    lambda: d.quantile([0.5], progress=slow, tile_bytes=16384)):
            t = threading.Timer(0.2, _thread.interrupt_main)
            t.start()
            with pytest.raises(KeyboardInterrupt):
                run()
            t.join()
        assert d[:10].histogram(bins=2, range=(0, 9))[0].tolist() == [5, 5]


def test_progress_callable_and_passes(src):
    with h5cl.open(src) as f:
        d = f["long"]
        seen = []
        d.histogram(bins=8, progress=lambda *a: seen.append(a), tile_bytes=1 << 20)
        dones = [a[0] for a in seen]
        assert dones and dones.count(1) == 2  # two passes: range, then counts
        seen.clear()
        d.quantile(0.5, progress=lambda *a: seen.append(a), tile_bytes=1 << 20)
        assert seen and [a[0] for a in seen].count(1) >= 2
        with pytest.raises(h5cl.Cancelled):
            d.histogram(bins=8, range=(0, 1), tile_bytes=16384,
                        progress=lambda *a: True)


def test_progress_bars_run(src, tmp_path):
    pytest.importorskip("tqdm")
    with h5cl.open(src) as f:
        d = f["long"]
        assert d.histogram(bins=8, progress=True, tile_bytes=1 << 20).total == d.size
        assert d.median(progress=True) == np.median(np.arange(2_000_000.0))
        f.map("x", x=d, out=(tmp_path / "o.h5", "x"), progress=True)


# ---------------------------------------------------------------------------
# Lifetimes


def _fds():
    return len(os.listdir("/proc/self/fd"))


def test_results_outlive_files(src):
    f = h5cl.open(src)
    h = f["w"].histogram(bins=4, range=(-1, 1))
    q = f["w"].quantile([0.5])
    f.close()
    del f
    gc.collect()
    assert h.counts.sum() == h.total and h.merge(h).total == 2 * h.total
    assert h5cl.Histogram.from_bytes(h.to_bytes()).total == h.total
    assert q.shape == (1,)


def test_closed_files_fail_loudly(src, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g:
        g["w"] = read(src, "w")
    f, g = h5cl.open(src), h5cl.open(other)
    d, e = f["w"], g["w"]
    g.close()
    with pytest.raises(ValueError):
        d.stats(expr="x*y", y=e)
    with pytest.raises(ValueError):
        f.map("x + y", x=d, y=e, out=(tmp_path / "o.h5", "s"))
    f.close()
    for call in (lambda: d.histogram(), lambda: d.median(),
                 lambda: f.map("x", x=d, out=(tmp_path / "o.h5", "s")),
                 lambda: h5cl.dot(d, d)):
        with pytest.raises(ValueError):
            call()
    assert not (tmp_path / "o.h5").exists()


def test_cycles_do_not_leak(src, tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g:
        g["v"] = read(src, "v")
    with h5cl.open(src) as f:  # device and programs loaded once
        f["u"].histogram(bins=4)
        f["u"].median()
        f.map("u", u="/u", out=(tmp_path / "warm.h5", "u"))
    before = _fds()
    for i in range(20):
        f, g = h5cl.open(src), h5cl.open(other)
        u = f["u"]
        u.histogram(bins=4, axis=0)
        u.quantile([0.25, 0.75])
        h5cl.dot(u, g["v"])
        f.map("u + v", u=u, v=g["v"], out=(tmp_path / "o.h5", "s%d" % i))
        if i % 2:
            f.close()
            g.close()
        del f, g, u
    gc.collect()
    assert _fds() <= before + 2
