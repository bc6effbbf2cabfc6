"""Guards and promise 5 through Python: a dataset whose data would not all
come from the file warns with h5cl.MissingDataWarning, or with strict=True
raises h5cl.MissingData; types off the whitelist are refused by name."""

import warnings

import h5py
import numpy as np
import pytest

import h5cl


@pytest.fixture
def sparse(tmp_path):
    """Chunks of 10 over 100 elements, only the first chunk written."""
    path = str(tmp_path / "sparse.h5")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("s", shape=(100,), chunks=(10,), dtype="f4",
                             fillvalue=-1)
        d[0:10] = np.arange(10, dtype="f4")
        f.create_dataset("full", data=np.arange(100, dtype="f4"),
                         chunks=(10,))
        f.create_dataset("half", data=np.zeros(4, dtype="f2"))
    return path


def test_missing_chunks_warn(sparse):
    with h5cl.open(sparse) as f:
        with pytest.warns(h5cl.MissingDataWarning,
                          match="1 of the 10 chunks") as rec:
            f["/s"]
    assert "/s" in str(rec[0].message) and sparse in str(rec[0].message)


def test_complete_dataset_is_silent(sparse):
    with h5cl.open(sparse) as f, warnings.catch_warnings():
        warnings.simplefilter("error")
        f["/full"]


def test_strict_refuses_missing_chunks(sparse):
    with h5cl.open(sparse, strict=True) as f:
        with pytest.raises(h5cl.MissingData, match="strict mode") as e:
            f["/s"]
        assert e.value.name == "H5CL_ERR_MISSING_DATA"
        f["/full"]  # complete data opens in strict mode too


def test_float16_refused_by_name(sparse):
    with h5cl.open(sparse) as f:
        with pytest.raises(h5cl.UnsupportedType, match="float of 2 bytes"):
            f["/half"]
        assert ("/half", False) in f.datasets()
