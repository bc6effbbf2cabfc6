#!/bin/sh
# Integration checks of the h5cl command-line tool.
#
#   tools/cli-check.sh [path/to/h5cl]        (default: build/h5cl)
#
# Makes an HDF5 file with h5py, runs the tool on it and compares its JSON
# with numpy's figures (relative tolerances for floats, exact for integer
# sums, min, max and arg indices), then checks the text output, the exit
# codes (0 ok, 1 runtime error, 2 usage error) and the error messages.
# Then the transforms: map outputs read back with h5py (values, types,
# filters, attributes), stats --expr, dot, hist against numpy.histogram,
# quantile against np.nanquantile, and that a map which fails (bad
# expression, refused overwrite, a file-size limit) or is killed with
# SIGKILL leaves an existing target file byte for byte as it was.  Fill
# values and CF decoding (--mask-fill, --cf) against a numpy decode of
# netCDF-4-style files and of the corpus's GOES-16 and soil-moisture
# products.  Isolated mode (the default) against --in-process, a reader
# that crashes or hangs, a missing helper, a parent killed with SIGKILL.
# Uses the default device (H5CL_DEVICE picks another).  Prints one line per
# failed check and exits 1 if any failed.  Needs python3 with numpy, h5py.
set -u

H5CL_BIN=${1:-build/h5cl}
case $H5CL_BIN in
/*) ;;
*) H5CL_BIN=$(pwd)/$H5CL_BIN ;;
esac
if [ ! -x "$H5CL_BIN" ]; then
    echo "cli-check: $H5CL_BIN is not an executable; build it first" >&2
    exit 1
fi
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import numpy, h5py' 2>/dev/null; then
    echo "cli-check: needs $PYTHON with numpy and h5py (make deps)" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/h5cl-cli-check.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
# Keep compiled kernels between the runs of this script, not in $HOME.
: "${H5CL_CACHE_DIR:=$WORK/cache}"
export H5CL_CACHE_DIR

# the checkout's root: ../shared/corpus may stand beside it
ROOT=$(cd "$(dirname "$0")/.." && pwd)
H5CL_BIN=$H5CL_BIN WORK=$WORK ROOT=$ROOT "$PYTHON" - <<'PYEOF'
import glob, hashlib, json, math, os, resource, signal, subprocess, sys, time
import numpy as np
import h5py

BIN = os.environ["H5CL_BIN"]
WORK = os.environ["WORK"]
F = os.path.join(WORK, "data.h5")
failures = []
checks = 0


def fail(what, detail):
    failures.append(what)
    print("FAIL %s: %s" % (what, detail), flush=True)


def run(args, timeout=600):
    p = subprocess.run([BIN] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


# the stable exit status of each library error (README "Exit statuses")
EXIT = {}
for row in subprocess.run([BIN, "exit-codes"], stdout=subprocess.PIPE,
                          check=True).stdout.decode().splitlines():
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    if cells[0].startswith("H5CL_"):
        EXIT[cells[0][len("H5CL_"):]] = int(cells[2])


def lib_failed(code, err):
    """Did the tool exit with the status of the error its message names
    ('h5cl: H5CL_ERR_X: ...')?"""
    names = [w[len("H5CL_"):].rstrip(":") for w in err.split()
             if w.startswith("H5CL_ERR_")]
    return bool(names) and code == EXIT.get(names[-1])


def strict_json(text):
    """JSON without NaN/Infinity tokens (json.loads would take them)."""
    def bad(tok):
        raise ValueError("non-standard JSON token " + tok)
    return json.loads(text, parse_constant=bad)


def run_json(what, args):
    code, out, err = run(args + ["--json", "--quiet"])
    if code != 0:
        fail(what, "exit %d, stderr: %s" % (code, err.strip()))
        return None, err
    try:
        return strict_json(out), err
    except ValueError as e:
        fail(what, "invalid JSON (%s): %r" % (e, out[:400]))
        return None, err


# ---------------------------------------------------------------- data
rng = np.random.default_rng(12345)
data = {}
with h5py.File(F, "w") as f:
    a = rng.standard_normal((300, 257)).astype(np.float32) * 10 + 3
    a[rng.random(a.shape) < 0.01] = np.nan
    data["/f32"] = a
    f.create_dataset("f32", data=a, chunks=(64, 100), compression="gzip",
                     compression_opts=4, shuffle=True)
    b = rng.uniform(-1e6, 1e6, 100003)
    data["/f64"] = b
    f.create_dataset("f64", data=b)
    c = rng.integers(-2**31, 2**31, (17, 33, 29), dtype=np.int32)
    data["/i32"] = c
    f.create_dataset("i32", data=c, chunks=(5, 11, 29))
    d = rng.integers(0, 256, (1000, 37), dtype=np.uint8)
    data["/u8"] = d
    f.create_dataset("u8", data=d)
    e = np.full(1000, 2**62, dtype=np.int64) + np.arange(1000)
    data["/i64big"] = e
    f.create_dataset("i64big", data=e)
    g = np.full(3, 2**62 + 5, dtype=np.uint64)   # sum fits 64 bits unsigned
    data["/u64"] = g
    f.create_dataset("u64", data=g)
    h = rng.integers(-30000, 30000, (64, 64), dtype=np.int16)
    data["/grp/nested/i16"] = h
    f.create_dataset("grp/nested/i16", data=h)
    be = rng.standard_normal(5000).astype(">f8")
    data["/be"] = be
    f.create_dataset("be", data=be)
    n = np.full((10, 4), np.nan, dtype=np.float32)
    data["/allnan"] = n
    f.create_dataset("allnan", data=n)
    f.create_dataset("strings", data=np.array([b"a", b"bc"], dtype="S2"))
    big = rng.standard_normal(8 << 20).astype(np.float32)  # 32 MiB
    f.create_dataset("big", data=big)
with open(os.path.join(WORK, "not.h5"), "w") as f:
    f.write("this is not an HDF5 file\n")

DTYPES = {"/f32": "float32", "/f64": "float64", "/i32": "int32",
          "/u8": "uint8", "/i64big": "int64", "/u64": "uint64",
          "/grp/nested/i16": "int16", "/be": "float64", "/allnan": "float32"}


# ---------------------------------------------------------------- reference
def parse_select(sel, shape):
    if sel is None:
        return tuple(slice(None) for _ in shape)
    parts = sel.split(",")
    out = []
    for p in parts:
        a, b = p.split(":")
        out.append(slice(int(a) if a else None, int(b) if b else None))
    return tuple(out) + tuple(slice(None) for _ in shape[len(out):])


def ref_stats(x, ddof):
    """Reference figures of a flat array (NaNs ignored), None = undefined."""
    x = np.asarray(x).ravel()
    isf = x.dtype.kind == "f"
    valid = x[~np.isnan(x)] if isf else x
    r = {"count": int(valid.size),
         "nan_count": int(x.size - valid.size)}
    if isf:
        r["sum"] = float(np.sum(valid, dtype=np.float64))
    else:
        r["sum"] = int(sum(int(v) for v in valid)) if valid.size < 5000 \
            else int(np.sum(valid.astype(object)))
    if valid.size == 0:
        r.update(mean=None, var=None, std=None, min=None, max=None,
                 argmin=None, argmax=None)
        return r
    v64 = valid.astype(np.float64)
    r["mean"] = float(np.mean(v64))
    r["var"] = float(np.var(v64, ddof=ddof)) if valid.size > ddof else None
    r["std"] = math.sqrt(r["var"]) if r["var"] is not None else None
    if isf:
        r["min"], r["max"] = float(np.nanmin(x)), float(np.nanmax(x))
        r["argmin"], r["argmax"] = int(np.nanargmin(x)), int(np.nanargmax(x))
    else:
        r["min"], r["max"] = int(x.min()), int(x.max())
        r["argmin"], r["argmax"] = int(np.argmin(x)), int(np.argmax(x))
    r["_scale"] = float(np.mean(np.abs(v64))) or 1.0
    r["_sumscale"] = float(np.sum(np.abs(v64))) or 1.0
    r["_sqscale"] = float(np.mean(v64 * v64)) or 1.0
    r["_overflow"] = (not isf) and not (-2**63 <= r["sum"] < 2**63
                                         if x.dtype.kind == "i"
                                         else r["sum"] < 2**64)
    return r


RTOL = 2e-5   # float32 data reduced on devices that may lack fp64


def close(got, want, scale):
    if want is None or got is None:
        return got is None and want is None
    return abs(got - want) <= RTOL * scale + 1e-300


def compare(what, got, want, isfloat):
    """Compares one position's figures; returns a list of mismatches."""
    bad = []
    for k in ("count", "nan_count"):
        if got.get(k) != want[k]:
            bad.append("%s %r != %r" % (k, got.get(k), want[k]))
    if want.get("_overflow"):
        if got.get("sum") is not None:
            bad.append("sum %r, expected null (overflow)" % got.get("sum"))
    elif isfloat:
        if not close(got.get("sum"), want["sum"], want.get("_sumscale", 1)):
            bad.append("sum %r != %r" % (got.get("sum"), want["sum"]))
    elif got.get("sum") != want["sum"] or type(got.get("sum")) is not int:
        bad.append("sum %r != %r (exact)" % (got.get("sum"), want["sum"]))
    for k, sk in (("mean", "_scale"), ("var", "_sqscale"), ("std", "_scale")):
        if not close(got.get(k), want[k], want.get(sk, 1)):
            bad.append("%s %r != %r" % (k, got.get(k), want[k]))
    for k in ("min", "max", "argmin", "argmax"):
        if got.get(k) != want[k]:
            bad.append("%s %r != %r" % (k, got.get(k), want[k]))
    return bad


def check_stats(path, select=None, axis=None, ddof=0, extra=()):
    global checks
    checks += 1
    args = ["stats", F, path] + list(extra)
    what = "stats %s" % path
    if select is not None:
        args += ["--select", select]
        what += " --select " + select
    if axis is not None:
        args += ["--axis", str(axis)]
        what += " --axis %d" % axis
    if ddof:
        args += ["--ddof", str(ddof)]
        what += " --ddof %d" % ddof
    if extra:
        what += " " + " ".join(extra)
    j, err = run_json(what, args)
    if j is None:
        return None
    x = data[path][parse_select(select, data[path].shape)]
    isfloat = x.dtype.kind == "f"
    for k in ("bytes", "seconds", "device", "stages", "tiles", "tile_bytes",
              "slots", "overlap", "zero_copy", "dtype", "shape"):
        if k not in j:
            fail(what, "key %r missing" % k)
    if j.get("dtype") != DTYPES[path]:
        fail(what, "dtype %r" % j.get("dtype"))
    if j.get("bytes") != x.size * x.dtype.itemsize:
        fail(what, "bytes %r != %r" % (j.get("bytes"),
                                       x.size * x.dtype.itemsize))
    st = j.get("stages", {})
    if sorted(st) != sorted(["read", "upload", "kernel", "download",
                             "merge"]):
        fail(what, "stages keys %r" % sorted(st))
    if axis is None:
        if j.get("shape") != list(x.shape):
            fail(what, "shape %r != %r" % (j.get("shape"), list(x.shape)))
        want = ref_stats(x, ddof)
        bad = compare(what, j, want, isfloat)
        if bad:
            fail(what, "; ".join(bad))
        if want.get("_overflow") and "sum overflows 64 bits" not in err:
            fail(what, "no overflow warning on stderr")
        return j
    ax = axis % x.ndim
    rshape = [s for i, s in enumerate(x.shape) if i != ax]
    if j.get("shape") != rshape:
        fail(what, "shape %r != %r" % (j.get("shape"), rshape))
        return j
    moved = np.moveaxis(x, ax, -1).reshape(-1, x.shape[ax])
    n = moved.shape[0]
    for k in ("count", "sum", "mean", "min", "argmax"):
        if not isinstance(j.get(k), list) or len(j[k]) != n:
            fail(what, "%s is not an array of %d" % (k, n))
            return j
    nbad = 0
    for p in range(n):
        got = {k: j[k][p] for k in ("count", "nan_count", "sum", "mean",
                                     "var", "std", "min", "max", "argmin",
                                     "argmax")}
        bad = compare(what, got, ref_stats(moved[p], ddof), isfloat)
        if bad:
            nbad += 1
            if nbad <= 3:
                fail(what, "position %d: %s" % (p, "; ".join(bad)))
    return j


# ---------------------------------------------------------------- stats
for p in DTYPES:
    check_stats(p)
check_stats("/f32", select="10:200,7:250")
check_stats("/f32", select="290:,:5")
check_stats("/f32", axis=0)
check_stats("/f32", axis=1, ddof=1)
check_stats("/f32", axis=-1, select="5:50,:")
check_stats("/i32", axis=1)
check_stats("/i32", axis=2, select="1:16,2:30,3:28")
check_stats("/u8", axis=0)
check_stats("/f64", ddof=1)
check_stats("/i64big", axis=0)
# Small tiles and various slot counts must not change any figure.
j1 = check_stats("/f64", extra=("--tile-bytes", "64K", "--slots", "1"))
j2 = check_stats("/f64", extra=("--tile-bytes", "16384", "--slots", "5"))
check_stats("/f32", axis=0, extra=("--tile-bytes", "8K", "--slots", "2"))
check_stats("/i32", extra=("--tile-bytes", "4K",))
for j in (j1, j2):
    if j and j.get("tiles", 0) < 2:
        fail("small tiles", "tiles %r (expected several)" % j.get("tiles"))
if j2 and j2.get("slots") != 5:
    fail("--slots 5", "slots %r" % j2.get("slots"))

# Trace file.
trace = os.path.join(WORK, "trace.json")
checks += 1
j, _ = run_json("stats --trace", ["stats", F, "/f32", "--trace", trace])
try:
    with open(trace) as tf:
        json.load(tf)
except (OSError, ValueError) as e:
    fail("stats --trace", "trace file: %s" % e)

# Text output for people.
checks += 1
code, out, err = run(["stats", F, "/f32", "--quiet"])
if code != 0:
    fail("stats text", "exit %d: %s" % (code, err.strip()))
else:
    for word in ("count", "nan_count", "mean", "std", "argmax", "GB/s",
                 "GiB/s", "where the time went", "overlap", "zero-copy"):
        if word not in out:
            fail("stats text", "%r missing from the output" % word)
checks += 1
code, out, err = run(["stats", F, "/u8", "--axis", "1", "--quiet"])
if code != 0 or "..." not in out:
    fail("stats --axis text", "exit %d, no '...' row: %s" % (code, err))
if err.strip():
    fail("stats --quiet", "stderr not empty: %r" % err[:200])

# ---------------------------------------------------------------- info
checks += 1
j, _ = run_json("info FILE", ["info", F])
if j is not None:
    want = []
    with h5py.File(F, "r") as f:
        f.visit(lambda n: want.append("/" + n)
                if isinstance(f[n], h5py.Dataset) else None)
    got = [d.get("path") for d in j.get("datasets", [])]
    if sorted(got) != sorted(want):
        fail("info FILE", "datasets %r != %r" % (got, want))
    for d in j.get("datasets", []):
        if d.get("path") == "/strings" and d.get("supported") is not False:
            fail("info FILE", "/strings should be unsupported")
        if d.get("path") in DTYPES:
            if d.get("dtype") != DTYPES[d["path"]]:
                fail("info FILE", "%s dtype %r" % (d["path"], d.get("dtype")))
            if d.get("shape") != list(data[d["path"]].shape):
                fail("info FILE", "%s shape %r" % (d["path"], d.get("shape")))
checks += 1
j, _ = run_json("info FILE /f32", ["info", F, "/f32"])
if j is not None:
    want = {"dtype": "float32", "shape": [300, 257], "layout": "chunked",
            "chunks": [64, 100], "element_count": 300 * 257,
            "nbytes": 300 * 257 * 4, "byte_order": "little"}
    for k, v in want.items():
        if j.get(k) != v:
            fail("info FILE /f32", "%s %r != %r" % (k, j.get(k), v))
    if "deflate" not in j.get("filters", "") or \
            "shuffle" not in j.get("filters", ""):
        fail("info FILE /f32", "filters %r" % j.get("filters"))
    if not 0 < j.get("storage_bytes", 0) < j.get("nbytes", 0):
        fail("info FILE /f32", "storage_bytes %r" % j.get("storage_bytes"))
checks += 1
j, _ = run_json("info FILE /be", ["info", F, "/be"])
if j is not None and (j.get("byte_order") != "big" or
                      j.get("layout") != "contiguous" or
                      j.get("chunks") is not None):
    fail("info FILE /be", "byte_order/layout/chunks %r %r %r" % (
        j.get("byte_order"), j.get("layout"), j.get("chunks")))
checks += 1
code, out, err = run(["info", F, "/f32"])
if code != 0 or "chunked" not in out or "float32" not in out:
    fail("info text", "exit %d: %s" % (code, out + err))

# ---------------------------------------------------------------- devices
checks += 1
j, _ = run_json("devices", ["devices"])
if j is not None:
    devs = j.get("devices", [])
    if not devs or sum(1 for d in devs if d.get("default")) != 1:
        fail("devices", "expected devices with exactly one default: %r"
             % devs)
code, out, err = run(["devices"])
if code != 0 or "*" not in out:
    fail("devices text", "exit %d, no '*' default: %s" % (code, out + err))

# a chunked layout on a scalar dataspace (CVE-2018-11202's file from the
# shared corpus, when it is beside the checkout): refused before any read,
# since HDF5 1.10 allocates without bound reading it
CVE = os.path.join(os.environ["ROOT"], os.pardir, "shared", "corpus",
                   "cve-2018-11202.h5")
if os.path.exists(CVE):
    checks += 1
    code, out, err = run(["info", CVE, "/Compressed_Data"], timeout=30)
    if code != EXIT["ERR_CORRUPT"] or "H5CL_ERR_CORRUPT" not in err or "rank" not in err:
        fail("corrupt layout", "exit %d: %s" % (code, err))

# no OpenCL platform at all: the ICD loader finds no vendor file
checks += 1
empty = os.path.join(WORK, "no-icd")
os.makedirs(empty, exist_ok=True)
p = subprocess.run([BIN, "devices"], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE,
                   env=dict(os.environ, OCL_ICD_VENDORS=empty), timeout=60)
err = p.stderr.decode("utf-8", "replace")
if p.returncode != EXIT["ERR_NO_PLATFORM"] or "H5CL_ERR_NO_PLATFORM" not in err \
        or "pocl-opencl-icd" not in err:
    fail("no platform", "exit %d: %s" % (p.returncode, err))

# ---------------------------------------------------------------- errors
MISSING = os.path.join(WORK, "missing.h5")
NOT = os.path.join(WORK, "not.h5")
cases = [
    # args, exit code, text expected on stderr
    (["stats", MISSING, "/x"], EXIT["ERR_FILE_NOT_FOUND"], "H5CL_ERR_FILE_NOT_FOUND"),
    (["info", MISSING], EXIT["ERR_FILE_NOT_FOUND"], "H5CL_ERR_FILE_NOT_FOUND"),
    (["stats", NOT, "/x"], EXIT["ERR_NOT_HDF5"], "H5CL_ERR_NOT_HDF5"),
    (["stats", F, "/nope"], EXIT["ERR_DATASET_NOT_FOUND"], "H5CL_ERR_DATASET_NOT_FOUND"),
    (["info", F, "/nope"], EXIT["ERR_DATASET_NOT_FOUND"], "H5CL_ERR_DATASET_NOT_FOUND"),
    (["stats", F, "/strings"], EXIT["ERR_UNSUPPORTED_TYPE"], "H5CL_ERR_UNSUPPORTED_TYPE"),
    (["stats", F, "/f32", "--axis", "2"], EXIT["ERR_AXIS"], "H5CL_ERR_AXIS"),
    (["stats", F, "/f32", "--select", "5:3x"], EXIT["ERR_SELECTION"], "H5CL_ERR_SELECTION"),
    (["stats", F, "/f32", "--device", "no-such-device-xyz"], EXIT["ERR_DEVICE_NOT_FOUND"],
     "H5CL_ERR_DEVICE_NOT_FOUND"),
    (["stats", F, "/f32", "--bogus"], 2, "unknown option"),
    (["stats", F], 2, "missing"),
    (["stats", F, "/f32", "--axis"], 2, "needs an argument"),
    (["stats", F, "/f32", "--axis", "x"], 2, "bad axis"),
    (["stats", F, "/f32", "--slots", "0"], 2, "bad slot"),
    (["stats", F, "/f32", "--tile-bytes", "4X"], 2, "bad tile size"),
    (["stats", F, "/f32", "--tile-bytes", "-4M"], 2, "bad tile size"),
    (["stats", F, "/f32", "--ddof", "-1"], 2, "bad ddof"),
    (["stats", F, "/f32", "extra"], 2, "unexpected argument"),
    (["info"], 2, "missing FILE"),
    (["frobnicate"], 2, "unknown command"),
    (["--frobnicate"], 2, "unknown option"),
    ([], 2, "usage"),
    (["devices", "--bogus"], 2, "unknown option"),
]
for args, want_code, want_text in cases:
    checks += 1
    code, out, err = run(args)
    what = "h5cl " + " ".join(a.replace(WORK, "$WORK") for a in args)
    if code != want_code:
        fail(what, "exit %d, expected %d; stderr: %s" % (code, want_code,
                                                          err.strip()))
    elif want_text not in err:
        fail(what, "stderr lacks %r: %r" % (want_text, err.strip()))
    elif out.strip() and want_code:
        fail(what, "error but stdout not empty: %r" % out[:200])
    if want_code > 2 and code == want_code and not err.startswith("h5cl: H5CL_ERR_"):
        fail(what, "message not 'h5cl: <name>: <detail>': %r" % err)

for args in (["--help"], ["help"], ["stats", "--help"], ["--version"]):
    checks += 1
    code, out, err = run(args)
    if code != 0 or not out.strip():
        fail("h5cl " + " ".join(args), "exit %d, stdout %r" % (code, out))
code, out, err = run(["--version"])
if "0." not in out:
    fail("h5cl --version", "no version in %r" % out)

# ---------------------------------------------------------------- SIGINT
# Cancel a run half-way: pick a tile size that makes the run last a while,
# time the process, then interrupt one at the middle of its run.  A device
# too fast for that is noted, not failed.
def timed(tb):
    t0 = time.monotonic()
    code, out, err = run(["stats", F, "/big", "--tile-bytes", tb, "--json",
                          "--quiet"])
    wall = time.monotonic() - t0
    if code != 0:
        fail("stats /big --tile-bytes " + tb, "exit %d: %s" % (code, err))
        return None
    return wall, strict_json(out)["seconds"]


checks += 1
plan = None
for tb in ("16K", "4K", "1K"):
    t = timed(tb)
    if t is None:
        break
    plan = (tb,) + t
    if t[1] >= 0.8:
        break
if plan and plan[2] >= 0.3:
    tb, wall, secs = plan
    p = subprocess.Popen([BIN, "stats", F, "/big", "--tile-bytes", tb,
                          "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(max(wall - secs, 0.0) + secs / 2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=300)
    err = err.decode("utf-8", "replace")
    if p.returncode == 0:
        print("note: SIGINT came after the run ended; cancel not exercised")
    elif p.returncode != EXIT["ERR_CANCELLED"] or "cancelled" not in err or out.strip():
        fail("SIGINT", "exit %d, stdout %r, stderr %r" % (
            p.returncode, out[:200], err))
elif plan:
    print("note: runs too fast (%.3f s) to test SIGINT" % plan[2])

# ---------------------------------------------------------------- transforms
# map, stats --expr, dot, hist, quantile against numpy/h5py; a map that
# fails (bad expression, refused overwrite, full disk) or is killed must
# leave its target file byte for byte as it was.
M = os.path.join(WORK, "map.h5")
T = os.path.join(WORK, "target.h5")
OUTD = os.path.join(WORK, "out")
os.makedirs(OUTD, exist_ok=True)
with h5py.File(M, "w") as f:
    u = rng.standard_normal((200, 300)).astype(np.float32)
    v = rng.standard_normal((200, 300)).astype(np.float32)
    f.create_dataset("u", data=u, chunks=(50, 100))
    f.create_dataset("v", data=v)
    i16 = rng.integers(-1000, 1000, (200, 300), dtype=np.int16)
    f.create_dataset("i16", data=i16, chunks=(64, 64), compression="gzip")
    x = rng.standard_normal(100001) * 1.5
    x[rng.random(x.shape) < 0.02] = np.nan
    f.create_dataset("x", data=x)
    q64 = rng.standard_normal((40, 300)) * 0.8
    q64[rng.random(q64.shape) < 0.01] = np.nan
    f.create_dataset("q64", data=q64)
    f.create_dataset("short", data=np.zeros(7, dtype=np.float32))


def make_target(path):
    """A file with data that must survive a map into it untouched."""
    with h5py.File(path, "w") as f:
        k1 = f.create_dataset("keep1", data=np.arange(5000.0) ** 0.5)
        k1.attrs["unit"] = "m/s"
        f.create_dataset("grp/keep2", data=np.arange(6000).reshape(60, 100),
                         chunks=(16, 16), compression="gzip", shuffle=True)
        f.attrs["title"] = "target"


def target_ok(what, path):
    with h5py.File(path, "r") as f:
        if not np.array_equal(f["keep1"][...], np.arange(5000.0) ** 0.5) or \
                f["keep1"].attrs.get("unit") != "m/s" or \
                not np.array_equal(f["grp/keep2"][...],
                                   np.arange(6000).reshape(60, 100)) or \
                f["grp/keep2"].compression != "gzip" or \
                f.attrs.get("title") != "target":
            fail(what, "the target's other datasets changed")


def sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def temps(path):
    d, b = os.path.split(path)
    return glob.glob(os.path.join(d, "." + glob.escape(b) + ".h5cl-*.tmp"))


def read(path, dset):
    with h5py.File(path, "r") as f:
        return f[dset][...]


def check_map(what, args, dset, want, dtype, out=None, rtol=0.0, src="/u"):
    """Runs a map of M:src with --json and compares its output with
    numpy's values."""
    global checks
    checks += 1
    out = out or os.path.join(OUTD, "o.h5")
    j, err = run_json(what, ["map", M, src] + args +
                      ["-o", out + ":" + dset])
    if j is None:
        return None
    try:
        got = read(out, dset)
    except (OSError, KeyError) as e:
        fail(what, "cannot read the output: %s" % e)
        return None
    if got.dtype != np.dtype(dtype) or got.shape != want.shape:
        fail(what, "dtype/shape %s %s != %s %s" % (got.dtype, got.shape,
                                                  dtype, want.shape))
    elif rtol == 0.0 and not np.array_equal(got, want.astype(dtype)):
        fail(what, "values differ at %d places"
             % int(np.sum(got != want.astype(dtype))))
    elif rtol and not np.allclose(got, want, rtol=rtol, atol=0):
        fail(what, "values differ (max rel %g)" % float(
            np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-30))))
    if j.get("output", {}).get("dtype") != dtype or \
            j.get("output", {}).get("shape") != list(want.shape):
        fail(what, "JSON output %r" % j.get("output"))
    if j.get("bytes_written") != want.size * np.dtype(dtype).itemsize:
        fail(what, "bytes_written %r" % j.get("bytes_written"))
    if "write" not in j.get("stages", {}):
        fail(what, "no write stage in %r" % j.get("stages"))
    return j


u64, v64 = u.astype(np.float64), v.astype(np.float64)
O = os.path.join(OUTD, "o.h5")
# two inputs, the default type of float32 inputs (float32)
j = check_map("map sqrt(u*u+v*v)",
              ["--name", "u", "--with", "v=%s:/v" % M, "-e",
               "sqrt(u*u+v*v)"], "/speed",
              np.sqrt(u64 * u64 + v64 * v64).astype(np.float32), "float32",
              rtol=1e-6)
if j and [b.get("name") for b in j.get("bindings", [])] != ["u", "v"]:
    fail("map sqrt(u*u+v*v)", "bindings %r" % j.get("bindings"))
checks += 1
with h5py.File(O, "r") as f:
    a = dict(f["/speed"].attrs) if "/speed" in f else {}
    e = a.get("h5cl_expression")
    s_ = a.get("h5cl_sources")
    e = e.decode() if isinstance(e, bytes) else e
    s_ = s_.decode() if isinstance(s_, bytes) else s_
    if e != "sqrt(u*u+v*v)" or not s_ or "u=" not in s_ or "v=" not in s_ \
            or "/v" not in s_:
        fail("map attributes", "h5cl_expression %r, h5cl_sources %r" % (e, s_))
# booleans default to uint8; comparisons; an explicit dtype; a group made
check_map("map x > 0", ["-e", "x > 0"], "/grp/sub/pos",
          (u > 0).astype(np.uint8), "uint8")
checks += 1
j, err = run_json("map /i16 --dtype int32",
                  ["map", M, "/i16", "-e", "x*3 - 7", "--dtype", "int32",
                   "-o", O + ":/i32"])
if j is not None and not np.array_equal(read(O, "/i32"),
                                        i16.astype(np.int32) * 3 - 7):
    fail("map /i16 --dtype int32", "values differ")
checks += 1
j, err = run_json("map /i16 default dtype", ["map", M, "/i16", "-e", "x/4",
                                             "-o", O + ":/q"])
if j is not None:
    got = read(O, "/q")
    if got.dtype != np.float32 or not np.array_equal(
            got, (i16.astype(np.float64) / 4).astype(np.float32)):
        fail("map /i16 default dtype", "%s values differ" % got.dtype)
check_map("map float64 x", ["-e", "where(isnan(x), -1, x*x)"], "/xx",
          np.where(np.isnan(x), -1, x * x), "float64", src="/x")
check_map("map --select", ["-e", "x - 1", "--select", "10:50,20:80"], "/sel",
          u[10:50, 20:80].astype(np.float64) - 1, "float32", rtol=1e-7)
# compressed output: readable by h5py with the filters set
check_map("map --gzip --shuffle --chunks",
          ["-e", "x*0.5", "--gzip", "6", "--shuffle", "--chunks", "50,60"],
          "/z", u * np.float32(0.5), "float32")
checks += 1
with h5py.File(O, "r") as f:
    z = f["/z"]
    if z.compression != "gzip" or z.compression_opts != 6 or \
            not z.shuffle or z.chunks != (50, 60):
        fail("map --gzip --shuffle --chunks", "filters %r %r %r %r" % (
            z.compression, z.compression_opts, z.shuffle, z.chunks))
# a contiguous output of a chunked input; filters then refused
check_map("map --chunks none", ["-e", "x*2", "--chunks", "none"], "/contig",
          u * np.float32(2), "float32")
checks += 1
with h5py.File(O, "r") as f:
    if f["/contig"].chunks is not None:
        fail("map --chunks none", "chunks %r" % (f["/contig"].chunks,))
checks += 1
code, out, err = run(["map", M, "/u", "-e", "x", "--chunks", "none",
                      "--gzip", "4", "-o", O + ":/cz", "-q"])
if not lib_failed(code, err) or "contiguous" not in err:
    fail("map --chunks none --gzip", "exit %d: %s" % (code, err.strip()))
# a file name holding ':' (the dataset starts at the last ':/')
colon = os.path.join(OUTD, "a:b.h5")
check_map("map -o 'a:b.h5:/d'", ["-e", "x + 1"], "/d",
          u.astype(np.float64) + 1, "float32", out=colon, rtol=1e-7)
# text output
checks += 1
code, out, err = run(["map", M, "/u", "-e", "x*2", "-o", O + ":/text", "-q"])
if code != 0:
    fail("map text", "exit %d: %s" % (code, err.strip()))
else:
    for word in ("output", "float32", "written", "GB/s", "write",
                 "where the time went"):
        if word not in out:
            fail("map text", "%r missing from the output" % word)

# into an existing file: the other datasets are untouched; a refused
# overwrite and a bad expression leave the file byte for byte as it was
make_target(T)
check_map("map into an existing file", ["-e", "x*2"], "/new",
          u * np.float32(2), "float32", out=T)
target_ok("map into an existing file", T)
h0 = sha(T)
for what, args, want_code, want_text in (
        ("map over an existing dataset", ["-e", "x"], EXIT["ERR_EXISTS"], "H5CL_ERR_EXISTS"),
        ("map bad expression", ["-e", "sqrt(x) + uu*2"], EXIT["ERR_EXPRESSION"], "column"),
        ("map bad function", ["-e", "sqrtt(x)"], EXIT["ERR_EXPRESSION"], "H5CL_ERR_EXPRESSION"),
        ("map shape mismatch", ["-e", "x+s", "--with", "s=%s:/short" % M],
         EXIT["ERR_SHAPE"], "H5CL_ERR_SHAPE")):
    checks += 1
    code, out, err = run(["map", M, "/u"] + args + ["-o", T + ":/new", "-q"])
    if code != want_code or want_text not in err:
        fail(what, "exit %d, stderr %r" % (code, err.strip()))
    if sha(T) != h0:
        fail(what, "the target file changed")
    if temps(T):
        fail(what, "temporary files left: %r" % temps(T))
checks += 1
code, out, err = run(["map", M, "/u", "-e", "x*3", "-o", T + ":/new",
                      "--overwrite", "-q"])
if code != 0:
    fail("map --overwrite", "exit %d: %s" % (code, err.strip()))
elif not np.array_equal(read(T, "/new"), u * np.float32(3)):
    fail("map --overwrite", "the dataset was not replaced")
target_ok("map --overwrite", T)
# inputs are never written
for what, spec in (("map into the input file", M + ":/out"),
                   ("map into a --with file", T + ":/out2")):
    checks += 1
    hm, ht = sha(M), sha(T)
    code, out, err = run(["map", M, "/u", "-e", "x+y", "--with",
                          "y=%s:/new" % T, "-o", spec, "-q"])
    if not lib_failed(code, err):
        fail(what, "exit %d, stderr %r" % (code, err.strip()))
    if sha(M) != hm or sha(T) != ht:
        fail(what, "an input file changed")

# ---------------------------------------------------------------- stats -e
def close_rel(got, want, scale, rtol=1e-9):
    return got is not None and abs(got - want) <= rtol * scale


checks += 1
j, err = run_json("stats --expr", ["stats", M, "/u", "-e", "(x-3.5)**2"])
if j is not None:
    r = (u64 - 3.5) ** 2
    for k, want, scale in (("sum", r.sum(), np.abs(r).sum()),
                           ("mean", r.mean(), r.mean()),
                           ("min", r.min(), r.max()),
                           ("max", r.max(), r.max()),
                           ("var", r.var(), r.var())):
        if not close_rel(j.get(k), float(want), float(scale)):
            fail("stats --expr", "%s %r != %r" % (k, j.get(k), float(want)))
    if j.get("count") != r.size or j.get("argmax") != int(np.argmax(r)):
        fail("stats --expr", "count/argmax %r %r" % (j.get("count"),
                                                     j.get("argmax")))
    if j.get("expr") != "(x-3.5)**2" or len(j.get("bindings", [])) != 1:
        fail("stats --expr", "expr/bindings %r %r" % (j.get("expr"),
                                                      j.get("bindings")))
checks += 1
j, err = run_json("stats --expr --axis", ["stats", M, "/u", "--name", "a",
                                          "--with", "b=%s:/v" % M, "-e",
                                          "a - b", "--axis", "0"])
if j is not None:
    r = (u64 - v64).sum(axis=0)
    got = j.get("sum") or []
    if len(got) != r.size or not all(
            close_rel(g, w, 1e-12 + np.abs(u64 - v64).sum() / r.size)
            for g, w in zip(got, r)):
        fail("stats --expr --axis", "sums differ")
checks += 1
code, out, err = run(["stats", M, "/u", "--with", "v=%s:/v" % M])
if code != 2 or "--expr" not in err:
    fail("stats --with without --expr", "exit %d: %s" % (code, err.strip()))

# ---------------------------------------------------------------- dot
checks += 1
j, err = run_json("dot", ["dot", M, "/u", "--with", "y=%s:/v" % M])
if j is not None:
    want = float(np.dot(u64.ravel(), v64.ravel()))
    if not close_rel(j.get("dot"), want, float(np.abs(u64 * v64).sum())) \
            or j.get("count") != u.size:
        fail("dot", "dot %r count %r, numpy %r" % (j.get("dot"),
                                                   j.get("count"), want))
checks += 1
code, out, err = run(["dot", M, "/u", "--with", "y=%s:/v" % M, "-q"])
if code != 0 or "dot" not in out or "count" not in out:
    fail("dot text", "exit %d: %s" % (code, out + err))
checks += 1
code, out, err = run(["dot", M, "/u"])
if code != 2 or "--with" not in err:
    fail("dot without --with", "exit %d: %s" % (code, err.strip()))

# ---------------------------------------------------------------- hist
def check_hist(what, args, x, bins, rng_=None, per_axis=None):
    global checks
    checks += 1
    j, err = run_json(what, ["hist", M] + args)
    if j is None:
        return None
    flat = np.asarray(x, dtype=np.float64).ravel()
    valid = flat[~np.isnan(flat)]
    lo, hi = rng_ if rng_ else (float(valid.min()), float(valid.max()))
    if j.get("bins") != bins or j.get("range") != [lo, hi] or \
            j.get("range_from_data") != (rng_ is None):
        fail(what, "bins/range/from_data %r %r %r, expected %r %r" % (
            j.get("bins"), j.get("range"), j.get("range_from_data"), bins,
            [lo, hi]))
        return j
    if j.get("edges") != np.linspace(lo, hi, bins + 1).tolist():
        fail(what, "edges differ from numpy.linspace")

    def one(got, xs):
        """Mismatches of one histogram against numpy's."""
        nn = int(np.isnan(xs.astype(np.float64)).sum())
        xs = xs[~np.isnan(xs)] if xs.dtype.kind == "f" else xs
        want, _ = np.histogram(xs, bins, (lo, hi))
        bad = []
        if got.get("counts") != want.tolist():
            bad.append("counts differ at %d bins" % sum(
                a != b for a, b in zip(got.get("counts") or [], want)))
        for k, w in (("nan", nn), ("under", int((xs < lo).sum())),
                     ("over", int((xs > hi).sum()))):
            if got.get(k) != w:
                bad.append("%s %r != %r" % (k, got.get(k), w))
        return bad

    if per_axis is None:
        bad = one(j, np.asarray(x).ravel())
        if bad:
            fail(what, "; ".join(bad))
        return j
    moved = np.moveaxis(np.asarray(x), per_axis, -1)
    rest = list(moved.shape[:-1])
    moved = moved.reshape(-1, moved.shape[-1])
    hs = j.get("histograms") or []
    if j.get("shape") != rest or len(hs) != moved.shape[0]:
        fail(what, "shape %r, %d histograms" % (j.get("shape"), len(hs)))
        return j
    for p in range(moved.shape[0]):
        bad = one(hs[p], moved[p])
        if bad:
            fail(what, "position %d: %s" % (p, "; ".join(bad)))
            break
    return j


check_hist("hist given range", ["/x", "--bins", "10", "--range", "-2:2"],
           x, 10, (-2.0, 2.0))
check_hist("hist from data", ["/x", "--bins", "37"], x, 37)
check_hist("hist float32", ["/u", "--bins", "16", "--range", "-1:1.5"],
           u, 16, (-1.0, 1.5))
check_hist("hist int16 from data", ["/i16", "--bins", "25"], i16, 25)
check_hist("hist --axis 0", ["/q64", "--bins", "8", "--range", "-1:1",
                             "--axis", "0"], q64, 8, (-1.0, 1.0), per_axis=0)
check_hist("hist --axis -1 --select", ["/q64", "--bins", "5", "--range",
                                       "-0.5:0.5", "--axis", "-1",
                                       "--select", "3:9,10:200"],
           q64[3:9, 10:200], 5, (-0.5, 0.5), per_axis=1)
check_hist("hist --expr", ["/u", "--name", "a", "--with", "b=%s:/v" % M,
                           "-e", "a*a + b*b", "--bins", "12", "--range",
                           "0:6"], u64 * u64 + v64 * v64, 12, (0.0, 6.0))
checks += 1
code, out, err = run(["hist", M, "/x", "--bins", "100", "-q"])
if code != 0:
    fail("hist text", "exit %d: %s" % (code, err.strip()))
else:
    for word in ("from data", "nan", "under", "over", "--json gives them all",
                 "peak"):
        if word not in out:
            fail("hist text", "%r missing from the output" % word)
checks += 1
code, out, err = run(["hist", M, "/q64", "--bins", "4", "--range", "-1:1",
                      "-a", "1", "-q"])
if code != 0 or "[19]" not in out or "20 more rows" not in out:
    fail("hist --axis text", "exit %d: %s" % (code, out + err))
for args, want_text in ((["--range", "2:1"], "bad range"),
                        (["--range", "x:1"], "bad range"),
                        (["--bins", "0"], "bad bin count")):
    checks += 1
    code, out, err = run(["hist", M, "/x"] + args)
    if code != 2 or want_text not in err:
        fail("hist " + " ".join(args), "exit %d: %s" % (code, err.strip()))

# ---------------------------------------------------------------- quantile
Q = [0.0, 0.001, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
checks += 1
j, err = run_json("quantile float64",
                  ["quantile", M, "/x", "-q", ",".join(map(repr, Q))])
if j is not None:
    want = np.nanquantile(x, Q).tolist()
    if j.get("values") != want:
        fail("quantile float64", "%r != numpy %r" % (j.get("values"), want))
    if j.get("q") != Q or not isinstance(j.get("passes"), int):
        fail("quantile float64", "q %r passes %r" % (j.get("q"),
                                                     j.get("passes")))
checks += 1
j, err = run_json("quantile --select", ["quantile", M, "/q64", "-q",
                                        "0.5,0.37", "--select", "5:30,7:"])
if j is not None:
    want = np.nanquantile(q64[5:30, 7:], [0.5, 0.37]).tolist()
    if j.get("values") != want:
        fail("quantile --select", "%r != numpy %r" % (j.get("values"), want))
checks += 1
j, err = run_json("quantile int16", ["quantile", M, "/i16", "-q",
                                     "0.1,0.5,0.95"])
if j is not None:
    want = np.nanquantile(i16, [0.1, 0.5, 0.95]).tolist()
    if not all(close_rel(g, w, abs(w) + 1, 1e-12)
               for g, w in zip(j.get("values") or [None] * 3, want)):
        fail("quantile int16", "%r != numpy %r" % (j.get("values"), want))
checks += 1
code, out, err = run(["quantile", M, "/x", "-q", "0.5", "--quiet"])
want = float(np.nanquantile(x, 0.5))
if code != 0 or "passes" not in out or repr(want) not in out.split():
    fail("quantile text", "exit %d, %r not in %r" % (code, repr(want), out))
for args, want_text in ((["-q", "1.5"], "bad quantiles"),
                        (["-q", "0.5,"], "bad quantiles"),
                        ([], "needs -q")):
    checks += 1
    code, out, err = run(["quantile", M, "/x"] + args)
    if code != 2 or want_text not in err:
        fail("quantile " + " ".join(args), "exit %d: %s" % (code, err))

# ---------------------------------------------------------------- fill values, CF
# netCDF-4 conventions written by hand with h5py (netCDF4-python, when it is
# installed, writes one more file below), decoded on the host with numpy by
# the same rules (cf_decode) and compared with --cf / --mask-fill.
def attr1(a, name):
    """An attribute's values as a 1-D numpy array, or None."""
    if name not in a.attrs:
        return None
    return np.atleast_1d(np.asarray(a.attrs[name]))


def cf_decode(d, cf=True, mask_fill=False):
    """(values as float64 with NaN where masked, masked count) of an h5py
    dataset, by the CF rules: _Unsigned, fill values compared in raw units,
    valid_range (else valid_min/valid_max), then scale_factor/add_offset."""
    raw = d[()]
    uns = attr1(d, "_Unsigned") if cf else None
    unsigned = uns is not None and raw.dtype.kind == "i" and (
        uns[0].decode() if isinstance(uns[0], bytes) else str(uns[0])
    ).strip().lower() == "true"
    rt = np.dtype("u%d" % raw.dtype.itemsize) if unsigned else raw.dtype
    raw = raw.view(rt) if unsigned else raw

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
    if cf:
        vr = attr1(d, "valid_range")
        lo = as_raw(vr)[0] if vr is not None else attr1(d, "valid_min")
        hi = as_raw(vr)[1] if vr is not None else attr1(d, "valid_max")
        if vr is None:
            lo = None if lo is None else as_raw(lo)[0]
            hi = None if hi is None else as_raw(hi)[0]
        if lo is not None:
            mask |= raw < lo
        if hi is not None:
            mask |= raw > hi
    val = raw.astype(np.float64)
    if cf:
        sf, ao = attr1(d, "scale_factor"), attr1(d, "add_offset")
        if sf is not None:
            val = val * np.float64(sf[0])
        if ao is not None:
            val = val + np.float64(ao[0])
    val[mask] = np.nan
    return val, int(mask.sum())


def check_decoded(what, j, val, masked):
    """stats JSON against a host decode."""
    good = val[~np.isnan(val)]
    want = {"count": good.size, "nan_count": int(np.isnan(val).sum()),
            "masked": masked}
    for k, w in want.items():
        if j.get(k) != w:
            fail(what, "%s %r, host %r" % (k, j.get(k), w))
    if good.size:
        for k, w in (("min", good.min()), ("max", good.max())):
            if j.get(k) != float(w):
                fail(what, "%s %r, host %r" % (k, j.get(k), float(w)))
        for k, w in (("mean", good.mean()), ("sum", good.sum())):
            if not close_rel(j.get(k), float(w), float(np.abs(good).sum()) /
                             (good.size if k == "mean" else 1) + 1e-300):
                fail(what, "%s %r, host %r" % (k, j.get(k), float(w)))


CF = os.path.join(WORK, "cf.nc")
rng = np.random.default_rng(777)
with h5py.File(CF, "w") as f:
    t = rng.integers(-32768, 32768, (200, 150)).astype(np.int16)
    t[rng.random(t.shape) < 0.05] = -32767
    d = f.create_dataset("t", data=t, chunks=(50, 75), compression="gzip",
                         fillvalue=np.int16(-32767))
    d.attrs["scale_factor"] = np.array([0.01], np.float32)
    d.attrs["add_offset"] = np.array([273.15], np.float32)
    d.attrs["_FillValue"] = np.array([-32767], np.int16)
    d.attrs["valid_range"] = np.array([-30000, 30000], np.int16)
    u = rng.integers(-128, 128, 5000).astype(np.int8)
    u[::17] = -1
    d = f.create_dataset("u", data=u)
    d.attrs["_Unsigned"] = np.bytes_(b"true")            # fixed-length
    d.attrs["_FillValue"] = np.array([-1], np.int8)
    d.attrs["valid_min"] = np.array([10], np.int8)
    d.attrs["scale_factor"] = np.array([0.5], np.float64)
    v = rng.integers(-32768, 32768, 7000).astype(np.int16)
    d = f.create_dataset("v", data=v)
    d.attrs["_Unsigned"] = "true"                         # variable-length
    d.attrs["missing_value"] = np.array([0, 1, -2], np.int16)
    d.attrs["add_offset"] = np.float64(-1000.5)
    m = rng.standard_normal((64, 64)).astype(np.float32)
    m[rng.random(m.shape) < 0.1] = -999
    m[rng.random(m.shape) < 0.02] = np.nan
    d = f.create_dataset("m", data=m, fillvalue=np.float32(1e20))
    m.flat[::101] = 1e20
    d[...] = m
    d.attrs["missing_value"] = np.array([-999], np.float32)
    b = f.create_dataset("bad", data=np.arange(10, dtype=np.int16))
    b.attrs["_FillValue"] = np.bytes_(b"n/a")
    f.create_dataset("plain", data=np.arange(100, dtype=np.int32))

with h5py.File(CF, "r") as f:
    for name, opts in (("t", ["--cf"]), ("u", ["--cf"]), ("v", ["--cf"]),
                       ("m", ["--mask-fill"]), ("t", ["--mask-fill"]),
                       ("t", ["--cf", "--mask-fill"]),
                       ("m", ["--cf", "--mask-fill"])):
        what = "stats %s %s" % (" ".join(opts), name)
        checks += 1
        j, err = run_json(what, ["stats", CF, "/" + name] + opts)
        if j is None:
            continue
        val, masked = cf_decode(f[name], "--cf" in opts, "--mask-fill" in opts)
        check_decoded(what, j, val, masked)
        dec = (j.get("decoding") or [{}])[0]
        if j.get("cf") != ("--cf" in opts) or not dec.get("applied"):
            fail(what, "decoding not stated: %r" % j.get("decoding"))
    # per axis: every position's count and NaNs
    checks += 1
    j, err = run_json("stats --cf --axis", ["stats", CF, "/t", "--cf", "-a",
                                            "0"])
    if j is not None:
        val, masked = cf_decode(f["t"])
        if j.get("count") != (~np.isnan(val)).sum(axis=0).tolist() or \
                j.get("nan_count") != np.isnan(val).sum(axis=0).tolist() or \
                j.get("masked") != masked:
            fail("stats --cf --axis", "per-position counts differ")
    # map without -e: the decoded values, float32 (float32 scale_factor)
    checks += 1
    CO = os.path.join(WORK, "cf-out.h5")
    j, err = run_json("map --cf", ["map", CF, "/t", "--cf", "-o", CO + ":/t"])
    if j is not None:
        val, masked = cf_decode(f["t"])
        with h5py.File(CO, "r") as g:
            got = g["t"][()]
        if got.dtype != np.float32 or j.get("masked") != masked or \
                not np.array_equal(got, val.astype(np.float32), equal_nan=True):
            fail("map --cf", "dtype %s masked %r (host %d), values equal %s"
                 % (got.dtype, j.get("masked"), masked,
                    np.array_equal(got, val.astype(np.float32),
                                   equal_nan=True)))
    checks += 1
    j, err = run_json("map --cf -e", ["map", CF, "/v", "--cf", "-e", "x * 2",
                                      "-o", CO + ":/v2"])
    if j is not None:
        val, masked = cf_decode(f["v"])
        with h5py.File(CO, "r") as g:
            got = g["v2"][()]
        # float64 add_offset: float64 values
        if got.dtype != np.float64 or not np.array_equal(got, val * 2,
                                                         equal_nan=True):
            fail("map --cf -e", "dtype %s or values differ" % got.dtype)
    # histogram: masked elements are NaNs; quantiles ignore them
    checks += 1
    j, err = run_json("hist --cf", ["hist", CF, "/t", "--cf", "--bins", "8"])
    if j is not None:
        val, masked = cf_decode(f["t"])
        good = val[~np.isnan(val)]
        want, _ = np.histogram(good, bins=8)
        if j.get("nan") != int(np.isnan(val).sum()) or \
                j.get("masked") != masked or j.get("counts") != want.tolist():
            fail("hist --cf", "nan %r masked %r counts %r, host %d %d %r"
                 % (j.get("nan"), j.get("masked"), j.get("counts"),
                    int(np.isnan(val).sum()), masked, want.tolist()))
    checks += 1
    j, err = run_json("quantile --cf", ["quantile", CF, "/u", "--cf", "-q",
                                        "0,0.5,1"])
    if j is not None:
        val, _ = cf_decode(f["u"])
        want = np.nanquantile(val, [0, 0.5, 1]).tolist()
        if j.get("values") != want:
            fail("quantile --cf", "%r != numpy %r" % (j.get("values"), want))
# nothing to apply: the plain, exact integer run
checks += 1
j, err = run_json("stats --cf plain", ["stats", CF, "/plain", "--cf"])
if j is not None and (j.get("sum") != 4950 or j.get("masked") != 0 or
                      j["decoding"][0].get("applied") != []):
    fail("stats --cf plain", "sum %r masked %r" % (j.get("sum"),
                                                   j.get("masked")))
checks += 1
code, out, err = run(["stats", CF, "/t", "--cf", "-q"])
if code != 0 or "decoding" not in out or "valid_range" not in out or \
        not any(l.startswith("masked ") for l in out.splitlines()):
    fail("stats --cf text", "exit %d: %s" % (code, out + err))
checks += 1
code, out, err = run(["stats", CF, "/bad", "--cf"])
if code != EXIT["ERR_UNSUPPORTED_TYPE"] or "H5CL_ERR_UNSUPPORTED_TYPE" not in err or \
        "_FillValue" not in err:
    fail("stats --cf, a string _FillValue", "exit %d: %s" % (code, err))
checks += 1
code, out, err = run(["stats", CF, "/bad"])
if code != 0:
    fail("stats without --cf ignores attributes", "exit %d: %s" % (code, err))

# a file written by netCDF4-python, decoded by netCDF4-python itself
try:
    import netCDF4
except ImportError:
    netCDF4 = None
if netCDF4 is not None:
    checks += 1
    NC = os.path.join(WORK, "nc4.nc")
    with netCDF4.Dataset(NC, "w", format="NETCDF4") as ds:
        ds.createDimension("y", 40)
        ds.createDimension("x", 50)
        p = ds.createVariable("p", "i2", ("y", "x"), fill_value=-32767)
        p.scale_factor = np.float32(0.25)
        p.add_offset = np.float32(100)
        p.valid_min = np.int16(-20000)
        vals = rng.uniform(-6000, 8000, (40, 50))
        p[:] = np.ma.masked_where(rng.random((40, 50)) < 0.1, vals)
    with netCDF4.Dataset(NC, "r") as ds:
        ref = ds["p"][:]
    j, err = run_json("netCDF4 file", ["stats", NC, "/p", "--cf"])
    if j is not None:
        good = np.ma.compressed(ref).astype(np.float64)
        if j.get("count") != good.size or j.get("min") != float(good.min()) \
                or j.get("max") != float(good.max()) or \
                not close_rel(j.get("mean"), float(good.mean()),
                              float(np.abs(good).mean()), 1e-6):
            fail("netCDF4 file", "count %r min %r max %r mean %r, netCDF4 "
                 "%d %r %r %r" % (j.get("count"), j.get("min"), j.get("max"),
                                  j.get("mean"), good.size, good.min(),
                                  good.max(), good.mean()))
else:
    print("note: netCDF4-python is not installed; the netCDF4-written "
          "file is not checked (the h5py-written ones are)")

# the real products of the shared corpus (MANIFEST.md: both read fine with
# libhdf5 1.10.8): GOES-16 cloud-top height and an _Unsigned soil moisture
CORPUS = os.path.join(os.environ["ROOT"], os.pardir, "shared", "corpus")
for fname, var, counts in (
        ("20171025_2056.Cloud_Top_Height.nc", "HT", (92568, 57432)),
        ("issue671.nc", "soil_moisture", (50367, 209081))):
    path = os.path.join(CORPUS, fname)
    if not os.path.exists(path):
        continue
    checks += 1
    what = "corpus %s --cf" % fname
    j, err = run_json(what, ["stats", path, "/" + var, "--cf"], )
    if j is None:
        continue
    with h5py.File(path, "r") as f:
        val, masked = cf_decode(f[var])
    check_decoded(what, j, val, masked)
    if (j.get("count"), j.get("masked")) != counts:
        fail(what, "count/masked %r %r, MANIFEST %r" % (j.get("count"),
                                                        j.get("masked"),
                                                        counts))
    if "_Unsigned" not in j["decoding"][0].get("applied", []):
        fail(what, "_Unsigned not applied: %r" % j["decoding"])

# ---------------------------------------------------------------- usage
for args, want_text in ((["map", M, "/u", "-o", O + ":/a"], "-e EXPR"),
                        (["map", M, "/u", "-e", "x"], "-o OUT"),
                        (["map", M, "/u", "-e", "x", "-o", "nocolon"],
                         "bad output"),
                        (["map", M, "/u", "-e", "x", "-o", O + ":/a",
                          "--dtype", "float16"], "bad dtype"),
                        (["map", M, "/u", "-e", "x", "-o", O + ":/a",
                          "--gzip", "10"], "bad gzip"),
                        (["map", M, "/u", "-e", "x", "-o", O + ":/a",
                          "--chunks", "5,0"], "bad chunk"),
                        (["stats", M, "/u", "-e", "x", "--with", "1y=a:/b"],
                         "bad --with"),
                        (["stats", M, "/u", "-e", "x+y", "--with",
                          "y=%s:/v" % M, "--with", "y=%s:/v" % M],
                         "names two")):
    checks += 1
    code, out, err = run(args)
    if code != 2 or want_text not in err:
        fail("h5cl " + " ".join(a.replace(WORK, "$WORK") for a in args),
             "exit %d: %s" % (code, err.strip()))

# ---------------------------------------------------------------- full disk
# A file-size limit (RLIMIT_FSIZE, what `ulimit -f` sets) too small for the
# output: the write fails (h5cl ignores SIGXFSZ), the run exits 1 with the
# failed write in its message, the target is unchanged, no temporary left.
checks += 1
F4 = os.path.join(WORK, "four.h5")
with h5py.File(F4, "w") as f:
    f.create_dataset("a", data=np.linspace(0, 1, 1 << 20, dtype=np.float32))
make_target(T)
h0 = sha(T)


def small_files():
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


p = subprocess.run([BIN, "map", F4, "/a", "-e", "x*2", "-o", T + ":/big",
                    "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   preexec_fn=small_files, timeout=120)
err = p.stderr.decode("utf-8", "replace")
if not lib_failed(p.returncode, err) or "target is unchanged" \
        not in err:
    fail("map with a full disk", "exit %d, stderr %r" % (p.returncode,
                                                         err[-600:]))
if sha(T) != h0:
    fail("map with a full disk", "the target file changed")
if temps(T):
    fail("map with a full disk", "temporary files left: %r" % temps(T))
    for t in temps(T):
        os.unlink(t)

# ---------------------------------------------------------------- kill -9
# A map killed mid-run: the existing target is unchanged.  The killed
# process cannot remove its temporary file (.<name>.h5cl-<pid>-<n>.tmp
# beside the target); it must not be the target, and is removed here.
checks += 1
BIGF = os.path.join(WORK, "big-in.h5")
with h5py.File(BIGF, "w") as f:
    d = f.create_dataset("a", shape=(64, 1 << 20), dtype=np.float32)
    row = np.arange(1 << 20, dtype=np.float32)
    for r in range(64):                        # 256 MiB, a row at a time
        d[r] = row + r
make_target(T)
h0 = sha(T)
# Ctrl-C first: a clean cancel, which also removes the temporary file
checks += 1
p = subprocess.Popen([BIN, "map", BIGF, "/a", "-e", "x*2", "-o",
                      T + ":/big", "-q"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(0.3)
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=60)
err = err.decode("utf-8", "replace")
if p.returncode == 0:
    print("note: the map ended before SIGINT; cancel not exercised")
    make_target(T)
    h0 = sha(T)
elif p.returncode != EXIT["ERR_CANCELLED"] or "cancelled" not in err:
    fail("map SIGINT", "exit %d: %r" % (p.returncode, err))
elif sha(T) != h0 or temps(T):
    fail("map SIGINT", "target changed or temporary left: %r" % temps(T))
p = subprocess.Popen([BIN, "map", BIGF, "/a", "-e", "x*2", "-o",
                      T + ":/big", "-q"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(0.3)
p.kill()
p.communicate(timeout=60)
killed = p.returncode == -signal.SIGKILL
if sha(T) != h0:
    # only a map that completed (renamed) before the kill may change it
    with h5py.File(T, "r") as f:
        done = "big" in f and f["big"].shape == (64, 1 << 20) and \
            np.array_equal(f["big"][63], (row + 63) * 2)
    if not done:
        fail("map killed with -9", "the target file changed")
    target_ok("map killed with -9", T)
    print("note: the map ended before the kill; kill -9 not exercised")
left = temps(T)
if any(os.path.samefile(t, T) for t in left):
    fail("map killed with -9", "the temporary file is the target")
if killed and left:
    print("note: kill -9 left %d temporary file(s) beside the target "
          "(removed)" % len(left))
for t in left:
    os.unlink(t)
os.unlink(BIGF)

# ---------------------------------------------------------------- cov, pca
CV = os.path.join(WORK, "cov.h5")
cx = rng.standard_normal((1001, 4)) * [1, 2, 3, 4] + 1e6
cx[:, 1] += cx[:, 0]
with h5py.File(CV, "w") as f:
    f["x"] = cx
    f["cube"] = np.zeros((2, 3, 4))
checks += 1
j, _ = run_json("cov --json", ["cov", CV, "/x", "--tile-bytes", "4K"])
if j is not None:
    got = np.array(j["matrix"])
    want = np.cov(cx, rowvar=False)
    if j["rows"] != 1001 or j["columns"] != 4 or \
            not np.allclose(got, want, rtol=1e-9, atol=1e-12):
        fail("cov --json", "rows %r, matrix off by %g" % (
            j.get("rows"), np.abs(got - want).max()))
checks += 1
j, _ = run_json("cov --corr --ddof", ["cov", CV, "/x", "--corr", "-s",
                                      "10:900,:"])
if j is not None and not np.allclose(
        np.array(j["matrix"]), np.corrcoef(cx[10:900], rowvar=False),
        atol=1e-9):
    fail("cov --corr", "matrix differs from numpy.corrcoef")
checks += 1
CO = os.path.join(WORK, "covout.h5")
code, out, err = run(["cov", CV, "/x", "--ddof", "0", "-o", CO + ":/c", "-q"])
if code != 0 or "covariance (ddof 0)" not in out:
    fail("cov -o", "exit %d: %s" % (code, err.strip()))
else:
    with h5py.File(CO, "r") as f:
        if not np.allclose(f["c"][:], np.cov(cx, rowvar=False, ddof=0),
                           rtol=1e-9):
            fail("cov -o", "written matrix differs")
checks += 1
code, out, err = run(["cov", CV, "/x", "-o", CV + ":/c2", "-q"])
if code != EXIT["ERR_OUTPUT_IS_INPUT"] or "H5CL_ERR_OUTPUT_IS_INPUT" not in err:
    fail("cov -o INPUT", "exit %d: %s" % (code, err.strip()))
checks += 1
code, out, err = run(["cov", CV, "/cube", "-q"])
if code != EXIT["ERR_INVALID_ARGUMENT"] or "H5CL_ERR_INVALID_ARGUMENT" not in err or "2-D" not in err:
    fail("cov 3-D", "exit %d: %s" % (code, err.strip()))
checks += 1
CP = os.path.join(WORK, "proj.h5")  # the input's file is refused
j, _ = run_json("pca -k 2 -o", ["pca", CV, "/x", "-k", "2", "-o",
                                CP + ":/proj"])
if j is not None:
    w = np.linalg.eigvalsh(np.cov(cx, rowvar=False))[::-1]
    comps = np.array(j["components"])
    with h5py.File(CP, "r") as f:
        y = f["proj"][:]
    if not np.allclose(j["explained_variance"], w[:2], rtol=1e-9) or \
            y.shape != (1001, 2) or \
            not np.allclose(y, (cx - cx.mean(axis=0)) @ comps.T, atol=1e-6):
        fail("pca -k 2 -o", "variances %r, projection %r" % (
            j["explained_variance"], y.shape))
checks += 1
code, out, err = run(["pca", CV, "/x"])
if code != 2 or "-k" not in err:
    fail("pca without -k", "exit %d: %s" % (code, err.strip()))

# ---------------------------------------------------------------- isolation
# Every command above ran isolated (the CLI's default).  Here: the same
# JSON figures in-process; a reader that crashes or hangs (the helper's
# test hook) ends in exit 1 with H5CL_ERR_CRASHED / H5CL_ERR_TIMEOUT naming
# the file; the corpus file that crashes H5Fopen; a missing helper; and a
# parent killed with SIGKILL takes its reader child with it.
STABLE = ("count", "nan_count", "sum", "mean", "var", "min", "max",
          "argmin", "argmax")
for ds in ("/f32", "/i32", "/be"):
    checks += 1
    ji, _ = run_json("stats isolated " + ds, ["stats", F, ds, "--isolate"])
    jp, _ = run_json("stats in-process " + ds,
                     ["stats", F, ds, "--in-process"])
    if ji is not None and jp is not None and \
            any(ji.get(k) != jp.get(k) for k in STABLE):
        fail("isolated stats " + ds, "%r != %r" % (ji, jp))


def run_env(args, env, timeout=120):
    p = subprocess.run([BIN] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout,
                       env=dict(os.environ, **env))
    return p.returncode, p.stderr.decode("utf-8", "replace")


checks += 1
code, err = run_env(["stats", F, "/f32", "-q"],
                    {"H5CL_READER_TEST": "crash@read"})
if code != EXIT["ERR_CRASHED"] or "H5CL_ERR_CRASHED" not in err or "SIGSEGV" not in err or \
        F not in err or "/f32" not in err:
    fail("reader crash", "exit %d: %s" % (code, err.strip()))
checks += 1
t0 = time.time()
code, err = run_env(["hist", F, "/f64", "-q", "--reader-timeout", "1"],
                    {"H5CL_READER_TEST": "hang@read"})
if code != EXIT["ERR_TIMEOUT"] or "H5CL_ERR_TIMEOUT" not in err or time.time() - t0 > 20:
    fail("reader hang", "exit %d after %.1f s: %s"
         % (code, time.time() - t0, err.strip()))
# the same limit from the environment (H5CL_READER_TIMEOUT)
checks += 1
t0 = time.time()
code, err = run_env(["stats", F, "/f64", "-q"],
                    {"H5CL_READER_TEST": "hang@read", "H5CL_READER_TIMEOUT": "1"})
if code != EXIT["ERR_TIMEOUT"] or "more than 1 s" not in err or \
        time.time() - t0 > 20:
    fail("H5CL_READER_TIMEOUT", "exit %d after %.1f s: %s"
         % (code, time.time() - t0, err.strip()))
checks += 1
code, err = run_env(["info", F], {"H5CL_READER": "/nonexistent"})
if code != EXIT["ERR_FILE_NOT_FOUND"] or "H5CL_READER" not in err:
    fail("missing helper", "exit %d: %s" % (code, err.strip()))
code, err = run_env(["info", F, "--in-process"], {"H5CL_READER": "/x"})
if code != 0:
    fail("--in-process needs no helper", "exit %d: %s" % (code, err.strip()))
# a caller's address-space limit below the reader's default (half the
# memory) stays in force in the child instead of making it fail to start
checks += 1
p = subprocess.run([BIN, "stats", F, "/f32", "-q", "--isolate"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                   preexec_fn=lambda: resource.setrlimit(
                       resource.RLIMIT_AS, (4 << 30, 4 << 30)))
if p.returncode != 0:
    fail("isolated under a lower RLIMIT_AS", "exit %d: %s"
         % (p.returncode, p.stderr.decode("utf-8", "replace").strip()))
# the file-size limit caps the reader's shared slots (memfd pages) too:
# a specific error, not SIGXFSZ or "out of memory"
checks += 1
p = subprocess.run([BIN, "stats", F, "/f64", "-q", "--isolate"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                   preexec_fn=lambda: resource.setrlimit(
                       resource.RLIMIT_FSIZE, (65536, 65536)))
err = p.stderr.decode("utf-8", "replace")
if p.returncode != EXIT["ERR_LIMIT"] or "ulimit -f" not in err:
    fail("isolated slots under ulimit -f", "exit %d: %s"
         % (p.returncode, err.strip()))
checks += 1
code, err = run_env(["info", F], {"H5CL_ISOLATE": "0",
                                  "H5CL_READER": "/nonexistent"})
if code != 0:
    fail("H5CL_ISOLATE=0", "exit %d: %s" % (code, err.strip()))
POC = os.path.join(os.environ["ROOT"], "..", "shared", "corpus",
                   "gh-4434-poc-09.h5")
if os.path.exists(POC):
    checks += 1
    code, err = run_env(["info", POC], {})
    if code != EXIT["ERR_CRASHED"] or "H5CL_ERR_CRASHED" not in err or \
            "SIGSEGV inside libhdf5" not in err:
        fail("corpus crash in H5Fopen", "exit %d: %s" % (code, err.strip()))


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            if int(st[st.rfind(")") + 2:].split()[1]) == pid:
                out.append(int(d))
    return out


checks += 1
p = subprocess.Popen([BIN, "stats", F, "/f32", "-q"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     env=dict(os.environ, H5CL_READER_TEST="hang@read"))
kids = []
for _ in range(100):
    kids = children(p.pid)
    if kids:
        break
    time.sleep(0.05)
p.kill()
p.wait()
deadline = time.time() + 5
while any(os.path.exists("/proc/%d" % k) for k in kids) and \
        time.time() < deadline:
    time.sleep(0.05)
if not kids or any(os.path.exists("/proc/%d" % k) for k in kids):
    fail("reader dies with its parent", "children %r" % kids)

# ---------------------------------------------------------------- --figures
# Only the figures asked for are computed and printed; the rest are left
# out of the JSON (null keeps meaning "undefined"); -a computes them all.
# float32 and float64 only: the C suite has built their variants already.
FIGS = ("count", "nan_count", "sum", "mean", "var", "std", "min", "max",
        "argmin", "argmax")
for path, figs, keys in (
        ("/f32", "sum", ("count", "nan_count", "sum", "mean")),
        ("/f32", "min", ("count", "nan_count", "min", "max", "argmin",
                         "argmax")),
        ("/f64", "var,arg", FIGS)):
    checks += 1
    what = "stats %s --figures %s" % (path, figs)
    j, _ = run_json(what, ["stats", F, path, "--figures", figs])
    if j is None:
        continue
    if sorted(k for k in FIGS if k in j) != sorted(keys):
        fail(what, "figures %r, want %r" % ([k for k in FIGS if k in j],
                                            keys))
    want = ref_stats(data[path], 0)
    bad = [b for b in compare(what, dict(want, **j), want,
                              data[path].dtype.kind == "f")]
    if bad:
        fail(what, "; ".join(bad))
checks += 1
j, _ = run_json("stats --figures sum -a 0",
                ["stats", F, "/f32", "--figures", "sum", "-a", "0"])
if j is not None and not all(k in j for k in FIGS):
    fail("stats --figures sum -a 0", "keys %r" % sorted(j))
checks += 1
code, out, err = run(["stats", F, "/f32", "--figures", "sum,bogus"])
if code != 2 or "bad --figures" not in err:
    fail("stats --figures bogus", "exit %d, stderr %r" % (code, err))

print("cli-check: %d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures else 0)
PYEOF
