"""Errors, cancellation, lifetimes, timeline."""
import _thread
import gc
import os
import threading

import h5py
import numpy as np
import pytest

import h5cl
from h5cl import _ffi, errors


@pytest.fixture
def big(tmp_path):
    p = tmp_path / "big.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(2_000_000, dtype=np.float32),
                         chunks=(4096,))
        f["s"] = np.array([b"a", b"b"])
        f["y"] = np.arange(12.0).reshape(3, 4)
    return p


def test_every_status_has_a_class():
    # every C status but OK has exactly one class, and no class is stale
    assert len(_ffi.STATUS_NAMES) == len(errors.BY_NAME) + 1 == 35
    for code, name in _ffi.STATUS_NAMES.items():
        if code:
            cls = errors.class_for(code)
            assert cls is not errors.H5clError and cls.name == name


def test_error_cases(tmp_path, big):
    with pytest.raises(h5cl.FileNotFound) as e:
        h5cl.open(tmp_path / "missing.h5")
    assert isinstance(e.value, FileNotFoundError) and e.value.code == -8
    (tmp_path / "junk.h5").write_bytes(b"not hdf5" * 100)
    with pytest.raises(h5cl.NotHDF5):
        h5cl.open(tmp_path / "junk.h5")
    with h5cl.open(big) as f:
        with pytest.raises(h5cl.DatasetNotFound) as e:
            f["/xx"]
        assert isinstance(e.value, KeyError) and "/x" in str(e.value)
        assert e.value.name == "H5CL_ERR_DATASET_NOT_FOUND"
        with pytest.raises(h5cl.UnsupportedType) as e:
            f["s"]
        assert isinstance(e.value, TypeError)
        with pytest.raises(h5cl.AxisError):
            f["y"].stats(axis=2)
        with pytest.raises(IndexError):
            f["y"].mean(axis=-3)
        with pytest.raises(ValueError):
            f["y"].var(ddof=-1)
    with pytest.raises(h5cl.DeviceError) as e:
        h5cl.open(big, device="no-such-device-xyz")
    assert isinstance(e.value, h5cl.DeviceNotFound) and str(e.value)


def test_cancel_from_progress_callback(big):
    with h5cl.open(big) as f:
        d = f["x"]
        calls = []
        with pytest.raises(h5cl.Cancelled):
            d.stats(progress=lambda *a: calls.append(a) or len(calls) >= 3,
                    tile_bytes=16384)
        assert len(calls) == 3 and calls[-1][1] > 3

        def boom(*a):
            raise RuntimeError("stop here")
        with pytest.raises(RuntimeError, match="stop here"):
            d.stats(progress=boom, tile_bytes=16384)
        assert d.sum() == np.arange(2_000_000, dtype=np.float64).sum()


def test_cancel_from_thread(big):
    with h5cl.open(big) as f:
        d = f["x"]
        ctx = f._ctx
        slow = lambda *a: threading.Event().wait(0.002) and False  # noqa: E731
        t = threading.Timer(0.2, _ffi.cancel, (ctx,))
        t.start()
        with pytest.raises(h5cl.Cancelled):
            d.stats(progress=slow, tile_bytes=16384)
        t.join()
        assert d.count if False else d.stats().count == 2_000_000


def test_keyboard_interrupt(big):
    with h5cl.open(big) as f:
        d = f["x"]
        slow = lambda *a: threading.Event().wait(0.002) and False  # noqa: E731
        t = threading.Timer(0.2, _thread.interrupt_main)
        t.start()
        with pytest.raises(KeyboardInterrupt):
            d.stats(progress=slow, tile_bytes=16384)
        t.join()
        assert d[:10].sum() == 45.0


def _fds():
    return len(os.listdir("/proc/self/fd"))


def test_open_close_cycles_no_leak(big):
    with h5cl.open(big) as f:  # device and programs loaded once
        f["y"].sum()
    before = _fds()
    for i in range(60):
        f = h5cl.open(big)
        d = f["y"]
        v = d[1:].mean()
        if i % 2:
            f.close()
            f.close()
            with pytest.raises(ValueError):
                d.sum()
            with pytest.raises(ValueError):
                f["y"]
        del f, d
    assert _fds() <= before + 2
    assert v == np.arange(4.0, 12.0).mean()


def _rss_bytes():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_stays_flat(big):
    """Many open/run/close cycles: resident memory settles after warm-up.
    A leaked tile buffer, state array or OpenCL object per run would add
    at least kilobytes a cycle; the bound allows allocator noise only."""
    def cycle():
        with h5cl.open(big) as f:
            d = f["x"]  # 8 MB: tiles of 1 MiB, 3 slots of them per run
            d.stats(tile_bytes=1 << 20)
            d.histogram(bins=64, tile_bytes=1 << 20)
            f["y"].mean(axis=0)
    for _ in range(20):
        cycle()
    gc.collect()
    before = _rss_bytes()
    for _ in range(150):
        cycle()
    gc.collect()
    grown = _rss_bytes() - before
    assert grown < 4 << 20, "resident memory grew by %d bytes over 150 runs" % grown


def test_direct_reads_reported(tmp_path, monkeypatch):
    """Uncompressed chunks of 1 MiB and more are read by pread on the pool;
    H5CL_DIRECT=0 sends them through H5Dread; the figures do not change."""
    p = tmp_path / "direct.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(2_000_000, dtype=np.float32),
                         chunks=(262_144,))
    monkeypatch.setenv("H5CL_THREADS", "3")
    with h5cl.open(p) as f:
        s = f["x"].stats(tile_bytes=1 << 20)
        assert s.run.bytes_direct == 8_000_000 and s.run.read_threads == 3
        monkeypatch.setenv("H5CL_DIRECT", "0")
        t = f["x"].stats(tile_bytes=1 << 20)
        assert t.run.bytes_direct == 0 and t.run.read_threads == 1
    assert (s.sum, s.min, s.argmax) == (t.sum, t.min, t.argmax) == (
        np.arange(2_000_000, dtype=np.float64).sum(), 0, 1_999_999)


def test_mapped_reads_reported(tmp_path, monkeypatch):
    """On a device that reads host memory in place, tiles that are one run
    of the file are mapped, not read (H5CL_MMAP=1: at any size), in-process
    and isolated (the child locates them, this process maps them); =0 reads
    them; the figures do not change."""
    p = tmp_path / "mapped.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(2_000_000, dtype=np.float32))
    monkeypatch.setenv("H5CL_MMAP", "1")
    with h5cl.open(p, isolate=True) as f:
        u = f["x"].stats(tile_bytes=1 << 20)
        assert u.run.bytes_mapped == (8_000_000 if u.run.zero_copy else 0)
        assert u.run.bytes_direct == 8_000_000
    with h5cl.open(p, isolate=False) as f:
        s = f["x"].stats(tile_bytes=1 << 20)
        assert s.run.bytes_mapped == (8_000_000 if s.run.zero_copy else 0)
        assert s.run.bytes_direct == 8_000_000
        monkeypatch.setenv("H5CL_MMAP", "0")
        t = f["x"].stats(tile_bytes=1 << 20)
        assert t.run.bytes_mapped == 0 and t.run.bytes_direct == 8_000_000
    assert (s.sum, s.min, s.argmax) == (t.sum, t.min, t.argmax) == (
        u.sum, u.min, u.argmax) == (
        np.arange(2_000_000, dtype=np.float64).sum(), 0, 1_999_999)


def test_view_keeps_file_alive(big):
    d = h5cl.open(big)["y"][1]
    assert d.mean(axis=0) == 5.5  # axis 0 of the view is the file's axis 1
    assert d.argmax() == 3
    assert d.shape == (4,)


@pytest.mark.skipif(not _ffi.HAS_TIMELINE,
                    reason="the loaded libh5cl has no h5cl_stats_timeline")
def test_timeline(big):
    with h5cl.open(big) as f:
        x = f["x"]
        s = x.stats(tile_bytes=65536)
        run = s.run
        assert run.bytes == 8_000_000 and run.tiles > 1 and run.seconds > 0
        assert set(run.stage_seconds) == {"read", "upload", "kernel",
                                          "download", "merge", "write"}
        assert run.stage_seconds["write"] == 0 and run.bytes_written == 0
        t = run.timeline()
        assert t["tile"] == list(range(run.tiles))
        assert sum(t["bytes"]) == run.bytes
        for lane in run.stage_seconds:
            for b, e in zip(t[lane + "_begin"], t[lane + "_end"]):
                assert 0 <= b <= e <= run.seconds + 1e-3
        for i in range(run.tiles):  # data flows read -> ... -> merge
            assert t["read_end"][i] <= t["merge_end"][i] + 1e-9
        assert x.last_run is run


def test_plot_timeline(big):
    plt = pytest.importorskip("matplotlib.pyplot")
    if not _ffi.HAS_TIMELINE:
        pytest.skip("no h5cl_stats_timeline in the library")
    with h5cl.open(big) as f:
        ax = f["x"].stats(tile_bytes=65536).run.plot_timeline()
        assert len(ax.get_yticklabels()) == len(_ffi.stage_names()) == 6
        plt.close("all")


def test_progress_bar_runs(big):
    pytest.importorskip("tqdm")
    with h5cl.open(big) as f:
        assert f["x"].stats(progress=True, tile_bytes=1 << 20).count == 2_000_000


def test_trim_gives_slots_back(tmp_path, monkeypatch):
    """A File keeps its last run's slot buffers (2 or 3 slots of 16 MiB
    here, filled by the reader: H5CL_MMAP=0 so tiles are not mapped from
    the file instead) until trim(); the next run makes them anew and gives
    the same result."""
    monkeypatch.setenv("H5CL_MMAP", "0")
    p = tmp_path / "trim.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(12_000_000, dtype=np.float32),
                         chunks=(1 << 20,))
    with h5cl.open(p, isolate=False) as f:
        first = f["x"].stats(tile_bytes=16 << 20)
        held = _rss_bytes()
        f.trim()
        assert held - _rss_bytes() >= 16 << 20
        again = f["x"].stats(tile_bytes=16 << 20)
        assert (first.sum, first.min, first.max, first.argmax) == (
            again.sum, again.min, again.max, again.argmax)
    with pytest.raises(ValueError):
        f.trim()
