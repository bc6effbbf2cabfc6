#!/usr/bin/env python3
"""Writes the fuzz_open seed files: small HDF5 files of every layout,
filter, chunk index, byte order and CF convention the test suite writes,
into tests/fuzz/corpus/fuzz_open/ (or the directory given).  The committed
seeds were made by this script; rerun it only to change them.

Each file stays small (a few KiB): mutations of small files reach the
interesting bytes (headers, chunk indexes, filter pipelines) far more
often than mutations of data."""
import os
import sys

import h5py
import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_open")

TYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8"]


def data(dt, shape):
    n = int(np.prod(shape))
    return (np.arange(n) % 100 + 1).astype(dt).reshape(shape)


def write(name, fill, libver="earliest", **kw):
    with h5py.File(os.path.join(OUT, name + ".h5"), "w", libver=libver,
                   **kw) as f:
        fill(f)


def main():
    os.makedirs(OUT, exist_ok=True)
    write("contiguous", lambda f: (
        f.create_dataset("data", data=data("f8", (40,))),
        f.create_dataset("grid", data=data("i2", (6, 7)))))
    write("compact", compact)
    write("chunked", lambda f: f.create_dataset(
        "data", data=data("f4", (20, 30)), chunks=(8, 16)))
    write("chunked_3d", lambda f: f.create_dataset(
        "data", data=data("u2", (5, 6, 7)), chunks=(2, 6, 7)))
    write("deflate", lambda f: f.create_dataset(
        "data", data=data("i4", (30, 20)), chunks=(10, 20),
        compression="gzip", compression_opts=4))
    write("shuffle_deflate", lambda f: f.create_dataset(
        "data", data=data("f8", (24, 10)), chunks=(8, 10), shuffle=True,
        compression="gzip"))
    write("fletcher32", lambda f: f.create_dataset(
        "data", data=data("u4", (16, 16)), chunks=(8, 8), fletcher32=True))
    write("shuffle_deflate_fletcher32", lambda f: f.create_dataset(
        "data", data=data("i8", (12, 12)), chunks=(6, 12), shuffle=True,
        compression="gzip", fletcher32=True))
    write("big_endian", lambda f: [f.create_dataset(
        "be_" + t, data=data(">" + t, (9,))) for t in TYPES])
    write("big_endian_deflate", lambda f: [f.create_dataset(
        "be_" + t, data=data(">" + t, (9, 4)), chunks=(3, 4),
        compression="gzip") for t in ("i2", "u8", "f4", "f8")])
    write("little_endian_all", lambda f: [f.create_dataset(
        "le_" + t, data=data("<" + t, (3, 3))) for t in TYPES])
    write("partial_fill", partial_fill)
    write("unwritten", lambda f: f.create_dataset(
        "data", shape=(50,), dtype="f4", chunks=(10,)))
    write("cf", cf)
    write("scalar_empty", lambda f: (
        f.create_dataset("scalar", data=np.float64(2.5)),
        f.create_dataset("empty", shape=(0, 4), dtype="i4"),
        f.create_dataset("null", data=h5py.Empty("f4"))))
    write("unlimited_v110", lambda f: f.create_dataset(
        "data", data=data("f4", (10, 6)), maxshape=(None, 6), chunks=(4, 6)),
        libver=("v110", "v110"))
    write("unlimited2_v110", lambda f: f.create_dataset(
        "data", data=data("i2", (8, 8)), maxshape=(None, None),
        chunks=(4, 4), compression="gzip"), libver=("v110", "v110"))
    write("fixed_v110", lambda f: f.create_dataset(
        "data", data=data("u1", (16, 8)), chunks=(4, 8), shuffle=True,
        compression="gzip"), libver=("v110", "v110"))
    write("userblock", lambda f: f.create_dataset(
        "data", data=data("f8", (8,))), userblock_size=512)
    write("groups", lambda f: (
        f.create_dataset("a/b/c", data=data("i4", (4,))),
        f.create_dataset("a/d", data=data("f4", (2, 2))),
        f.create_dataset("strings", data=np.array([b"ab", b"cd"]))))


def compact(f):
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    arr = data("i4", (5, 4))
    space = h5py.h5s.create_simple(arr.shape)
    ds = h5py.h5d.create(f.id, b"data", h5py.h5t.STD_I32LE, space, dcpl=dcpl)
    ds.write(h5py.h5s.ALL, h5py.h5s.ALL, arr)


def partial_fill(f):
    d = f.create_dataset("data", shape=(40, 10), dtype="f4", chunks=(10, 10),
                         fillvalue=-9.5)
    d[0:10] = 1.0
    d[30:40] = 2.0


def cf(f):
    d = f.create_dataset("packed", data=data("i2", (30,)), chunks=(10,),
                         compression="gzip", fillvalue=-1)
    d.attrs["_FillValue"] = np.int16(-1)
    d.attrs["missing_value"] = np.array([7, 8], dtype="i2")
    d.attrs["valid_range"] = np.array([0, 90], dtype="i2")
    d.attrs["scale_factor"] = np.float32(0.5)
    d.attrs["add_offset"] = np.float64(10)
    d.attrs["_Unsigned"] = "true"
    e = f.create_dataset("bounds", data=data("f4", (12,)))
    e.attrs["valid_min"] = np.float32(2)
    e.attrs["valid_max"] = np.float64(50)
    e.attrs["missing_value"] = np.float32(np.nan)


if __name__ == "__main__":
    main()
