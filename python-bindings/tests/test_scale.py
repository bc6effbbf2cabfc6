"""Scaling out against the single-process runs on the same files: h5cl.dask
on the threaded scheduler, then on one dask.distributed LocalCluster of 2
worker processes (a few seconds to start, so one test does all its
checks), and h5cl.multi (several devices in one process).
Integer statistics, arg-extrema and histogram counts must be equal; float
sums, means and variances within 1e-12 relative (the shares add the same
values in other groupings); covariances within 1e-9."""

import numpy as np
import pytest

import h5cl

dask = pytest.importorskip("dask")
import h5cl.dask as hd  # noqa: E402

h5py = pytest.importorskip("h5py")

EXACT = ("count", "nan_count", "min", "max", "argmin", "argmax")


def same_stats(got, want, integer):
    for k in EXACT + (("sum",) if integer else ()):
        assert np.array_equal(got[k], want[k], equal_nan=True), k
    for k in ("mean", "var", "std") + (() if integer else ("sum",)):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=0,
                                   equal_nan=True, err_msg=k)


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(5)
    ints = rng.integers(-2**31, 2**31 - 1, size=(1001, 23), dtype=np.int32)
    ints[[100, 800], 4] = -2**31   # ties in different shares: the first wins
    ints[[50, 950], 7] = 2**31 - 1
    floats = rng.normal(50, 3, size=(703, 5))
    floats[[2, 400], 1] = np.nan
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("i", data=ints, chunks=(30, 23))
        f.create_dataset("f", data=floats, chunks=(16, 5))
    return path


def check_all(f, tmp_path, scheduler, tag):
    """Every operation of h5cl.dask against the single run."""
    i, x = f["/i"], f["/f"]
    kw = dict(scheduler=scheduler)
    same_stats(hd.stats(i, shares=7, fan_in=2).compute(**kw), i.stats(), True)
    same_stats(hd.stats(i[5:990, 2:20], axis=0, shares=4).compute(**kw),
               i[5:990, 2:20].stats(axis=0), True)
    same_stats(hd.stats(x, ddof=1, shares=5).compute(**kw), x.stats(ddof=1),
               False)
    got = hd.histogram(x, bins=13, shares=6).compute(**kw)
    want = x.histogram(bins=13)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert (got.nan, got.under, got.over) == (want.nan, want.under, want.over)
    assert got.range_from_data
    got = hd.histogram(i, bins=5, range=(-1e9, 1e9), axis=0,
                       shares=3).compute(**kw)
    want = i.histogram(bins=5, range=(-1e9, 1e9), axis=0)
    assert np.array_equal(got[0], want[0])
    c = hd.cov_state(x, shares=4).compute(**kw)
    np.testing.assert_allclose(c.cov(), x.cov(), rtol=1e-9, equal_nan=True)
    out = tmp_path / ("out-%s.h5" % tag)
    r = hd.map(i, "x * 0.5 + 1", out="%s:/g/y" % out, shares=3).compute(**kw)
    assert r.shape == i.shape and r.run.bytes == i.nbytes
    with h5py.File(out, "r") as o:
        assert o["g/y"].is_virtual and len(o["g/y"].virtual_sources()) == 3
        with h5py.File(f.filename, "r") as src:
            want = src["i"][:].astype(np.float64) * 0.5 + 1
        np.testing.assert_array_equal(o["g/y"][:], want.astype(r.dtype))


def test_threaded(data, tmp_path):
    with h5cl.open(data) as f:
        check_all(f, tmp_path, "threads", "threads")


def test_shares_and_errors(data):
    with h5cl.open(data) as f:
        s = hd.split(f["/i"], 4)
        # chunk rows of 30: boundaries on multiples of 30, nothing empty
        assert s[0][0] == 0 and s[-1][1] == 1001 and len(s) == 4
        assert all(b % 30 == 0 for _, b in s[:-1])
        assert all(a < b for a, b in s)
        with pytest.raises(ValueError, match="first axis"):
            hd.stats(f["/i"], axis=1)
        with pytest.raises(TypeError):
            hd.stats(np.zeros(3))
        # a task's failure reaches the caller with the library's message
        with pytest.raises(h5cl.DeviceNotFound, match="no such device"):
            hd.stats(f["/i"], shares=2, device="no such device").compute(
                scheduler="sync")


def test_local_cluster(data, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=True, dashboard_address=None) \
            as cluster, distributed.Client(cluster) as client:
        with h5cl.open(data) as f:
            check_all(f, tmp_path, client.get, "cluster")


def test_multi_device(data):
    """h5cl.multi: two contexts on the one device, against the single run
    (two PoCL devices are checked by tools/scale-check.sh)."""
    import h5cl.multi as hm
    with h5cl.open(data) as f:
        spec = f.device.spec
        two = [spec, spec]
        i, x = f["/i"], f["/f"]
        same_stats(hm.stats(i, devices=two, tile_bytes=8192), i.stats(), True)
        same_stats(hm.stats(i[7:], axis=0, devices=two, tile_bytes=8192),
                   i[7:].stats(axis=0), True)
        got = hm.histogram(x, bins=9, devices=two, tile_bytes=4096)
        want = x.histogram(bins=9)
        assert np.array_equal(got[0], want[0]) and got.nan == want.nan
        assert got.run.bytes == want.run.bytes  # both passes, all devices
        np.testing.assert_allclose(
            hm.cov_state(x, devices=",".join(two), tile_bytes=4096).cov(),
            x.cov(), rtol=1e-9, equal_nan=True)
        assert hm.device_specs("all")  # every device, as "P:D"
        with pytest.raises(h5cl.DeviceNotFound):
            hm.stats(i, devices=[spec, "no such device"])
