#!/bin/sh
# Integration checks of the h5cl command-line tool.
#
#   tools/cli-check.sh [path/to/h5cl]        (default: build/h5cl)
#
# Makes an HDF5 file with h5py, runs the tool on it and compares its JSON
# with numpy's figures (relative tolerances for floats, exact for integer
# sums, min, max and arg indices), then checks the text output, the exit
# codes (0 ok, 1 runtime error, 2 usage error) and the error messages.
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
import json, math, os, signal, subprocess, sys, time
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
    if code != 1 or "H5CL_ERR_CORRUPT" not in err or "rank" not in err:
        fail("corrupt layout", "exit %d: %s" % (code, err))

# no OpenCL platform at all: the ICD loader finds no vendor file
checks += 1
empty = os.path.join(WORK, "no-icd")
os.makedirs(empty, exist_ok=True)
p = subprocess.run([BIN, "devices"], stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE,
                   env=dict(os.environ, OCL_ICD_VENDORS=empty), timeout=60)
err = p.stderr.decode("utf-8", "replace")
if p.returncode != 1 or "H5CL_ERR_NO_PLATFORM" not in err \
        or "pocl-opencl-icd" not in err:
    fail("no platform", "exit %d: %s" % (p.returncode, err))

# ---------------------------------------------------------------- errors
MISSING = os.path.join(WORK, "missing.h5")
NOT = os.path.join(WORK, "not.h5")
cases = [
    # args, exit code, text expected on stderr
    (["stats", MISSING, "/x"], 1, "H5CL_ERR_FILE_NOT_FOUND"),
    (["info", MISSING], 1, "H5CL_ERR_FILE_NOT_FOUND"),
    (["stats", NOT, "/x"], 1, "H5CL_ERR_NOT_HDF5"),
    (["stats", F, "/nope"], 1, "H5CL_ERR_DATASET_NOT_FOUND"),
    (["info", F, "/nope"], 1, "H5CL_ERR_DATASET_NOT_FOUND"),
    (["stats", F, "/strings"], 1, "H5CL_ERR_UNSUPPORTED_TYPE"),
    (["stats", F, "/f32", "--axis", "2"], 1, "H5CL_ERR_AXIS"),
    (["stats", F, "/f32", "--select", "5:3x"], 1, "H5CL_ERR_SELECTION"),
    (["stats", F, "/f32", "--device", "no-such-device-xyz"], 1,
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
    if want_code == 1 and code == 1 and not err.startswith("h5cl: H5CL_ERR_"):
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
    elif p.returncode != 1 or "cancelled" not in err or out.strip():
        fail("SIGINT", "exit %d, stdout %r, stderr %r" % (
            p.returncode, out[:200], err))
elif plan:
    print("note: runs too fast (%.3f s) to test SIGINT" % plan[2])

print("cli-check: %d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures else 0)
PYEOF
