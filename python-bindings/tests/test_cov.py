"""Covariance, correlation, PCA and projections against numpy on files
written by h5py (one process: CLBlast compiles its routines once)."""
import h5py
import numpy as np
import pytest

import h5cl


def make(tmp_path, data, name="x", **kw):
    p = tmp_path / "c.h5"
    with h5py.File(p, "a") as f:
        f.create_dataset(name, data=data, **kw)
    return p


def fp64():
    return h5cl.devices()[0].fp64 if h5cl.devices() else True


def close(got, want, rel):
    """Entry-wise, relative to the columns' spread (sqrt(C_ii C_jj))."""
    d = np.sqrt(np.abs(np.diag(want)))
    scale = np.outer(d, d)
    assert got.shape == want.shape
    np.testing.assert_array_less(np.abs(got - want), rel * scale + 1e-300)


@pytest.mark.parametrize("dtype,shape,chunks,tile", [
    ("float64", (1003, 7), None, 4096),
    ("float32", (517, 5), (10, 2), 1000),
    ("int16", (301, 3), (64, 3), 0),
    ("float64", (999, 1), None, 3000),
    ("uint8", (64, 33), (10, 4), 0),
])
def test_random_matrices(tmp_path, dtype, shape, chunks, tile):
    rng = np.random.default_rng(shape[0])
    if np.dtype(dtype).kind == "f":
        X = (rng.standard_normal(shape) * 10 + 3).astype(dtype)
    else:
        X = rng.integers(0, 100, shape).astype(dtype)
    p = make(tmp_path, X, chunks=chunks)
    ref = X.astype(np.float64)
    rel = 1e-10 if fp64() else 1e-4
    with h5cl.open(p) as f:
        d = f["/x"]
        for ddof in (0, 1, 3):
            close(np.atleast_2d(d.cov(ddof=ddof, tile_bytes=tile)),
                  np.atleast_2d(np.cov(ref, rowvar=False, ddof=ddof)), rel)
        np.testing.assert_allclose(
            np.atleast_2d(d.corrcoef(tile_bytes=tile)),
            np.atleast_2d(np.corrcoef(ref, rowvar=False)), atol=10 * rel)
        # rows not a multiple of the tile, through a selection too
        close(d[3:-5].cov(tile_bytes=tile),
              np.atleast_2d(np.cov(ref[3:-5], rowvar=False)), rel)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_large_mean(tmp_path, dtype):
    """1e6 + noise: naive sums of squares lose every digit in float32 and
    most in float64; numpy's two-pass float64 result is the reference."""
    rng = np.random.default_rng(5)
    n = 30011
    base = rng.random(n) - 0.5
    X = np.stack([1e6 + base,
                  1e6 + base + 1e-3 * (rng.random(n) - 0.5),
                  -3e5 + 10 * rng.random(n)], axis=1).astype(dtype)
    p = make(tmp_path, X)
    ref = X.astype(np.float64)
    with h5cl.open(p) as f:
        d = f["/x"]
        rel = 1e-9 if fp64() else 1e-3
        close(d.cov(tile_bytes=8192), np.cov(ref, rowvar=False), rel)
        np.testing.assert_allclose(d.corrcoef(tile_bytes=8192),
                                   np.corrcoef(ref, rowvar=False),
                                   atol=10 * rel)


def test_ill_conditioned(tmp_path):
    """Nearly collinear columns: the covariance matrix has a condition
    number near 1e12; its entries must still match."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal(5000)
    X = np.stack([a, a * 3 + 1e-6 * rng.standard_normal(5000),
                  rng.standard_normal(5000)], axis=1)
    p = make(tmp_path, X)
    with h5cl.open(p) as f:
        close(f["/x"].cov(tile_bytes=10000), np.cov(X, rowvar=False),
              1e-10 if fp64() else 1e-4)


def test_state_merge_bytes(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((800, 4)) + 50
    p = make(tmp_path, X)
    with h5cl.open(p) as f:
        d = f["/x"]
        a, b = d[:300].cov_state(), d[300:].cov_state()
        assert a.rows == 300 and b.rows == 500 and a.run is not None
        m = h5cl.Covariance.from_bytes(a.to_bytes()) + b
        assert m.rows == 800
        np.testing.assert_allclose(m.mean, X.mean(axis=0), rtol=1e-12)
        close(m.cov(), np.cov(X, rowvar=False), 1e-10 if fp64() else 1e-4)
        with pytest.raises(h5cl.BadState):
            h5cl.Covariance.from_bytes(a.to_bytes()[:-1])
        with pytest.raises(h5cl.InvalidArgument):
            a + d[:, :3].cov_state()


def test_pca_and_projection(tmp_path):
    if not fp64():
        pytest.skip("tolerances below are for double precision")
    rng = np.random.default_rng(4)
    z = rng.standard_normal((2003, 2))
    X = z @ rng.standard_normal((2, 6)) * 5 + 0.1 * rng.standard_normal(
        (2003, 6)) + 1e5
    p = make(tmp_path, X, chunks=(100, 6))
    C = np.cov(X, rowvar=False)
    w, v = np.linalg.eigh(C)
    w, v = w[::-1], v[:, ::-1]
    out = tmp_path / "proj.h5"
    with h5cl.open(p) as f:
        r = f["/x"].pca(3, out="%s:/g/y" % out, tile_bytes=20000)
    np.testing.assert_allclose(r.explained_variance, w[:3], rtol=1e-9)
    np.testing.assert_allclose(r.explained_variance_ratio, w[:3] / w.sum(),
                               rtol=1e-9)
    for i in range(3):  # up to sign; h5cl makes the largest entry positive
        s = np.sign(v[np.argmax(np.abs(v[:, i])), i])
        np.testing.assert_allclose(r.components[i], s * v[:, i], atol=1e-6)
        assert r.components[i][np.argmax(np.abs(r.components[i]))] > 0
    with h5py.File(out, "r") as g:
        Y = g["/g/y"][:]
    assert Y.shape == (2003, 3) and r.projection.shape == (2003, 3)
    np.testing.assert_allclose(Y, (X - X.mean(axis=0)) @ r.components.T,
                               atol=1e-7 * np.sqrt(w[0]))
    with h5cl.open(p) as f:
        with pytest.raises(h5cl.OutputExists):
            f["/x"].pca(3, out=(str(out), "/g/y"))
        with pytest.raises(h5cl.InvalidArgument):
            f["/x"].pca(7)


def test_errors(tmp_path):
    p = make(tmp_path, np.zeros((3, 4, 5)), name="cube")
    with h5py.File(p, "a") as f:
        f["/x"] = np.ones((10, 3))
        f["/nan"] = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 1.0]])
    with h5cl.open(p) as f:
        with pytest.raises(h5cl.InvalidArgument, match="2-D"):
            f["/cube"].cov()
        C = f["/nan"].cov()
        ref = np.cov(np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 1.0]]),
                     rowvar=False)
        assert np.array_equal(np.isnan(C), np.isnan(ref))
        with pytest.raises(h5cl.InvalidArgument, match="column 1"):
            f["/nan"].pca(1)
        with pytest.raises(ValueError):
            f["/x"].cov(ddof=-1)


def test_too_many_columns(tmp_path, monkeypatch):
    p = make(tmp_path, np.ones((4, 300), dtype=np.float32))
    monkeypatch.setenv("H5CL_TEST_MAX_ALLOC", "80000")
    with h5cl.open(p) as f:
        with pytest.raises(h5cl.DeviceMemoryError,
                           match="at most %d columns" %
                           (100 if fp64() else 141)):
            f["/x"].cov()
