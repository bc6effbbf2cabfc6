#!/bin/sh
# Checks of scaling out against the single run, on the same files:
#
#   tools/scale-check.sh [BUILD_DIR]        (default: build)
#
# 1. Several devices in one process: `h5cl stats|hist|cov --device LIST`
#    with two contexts on the default device ("P:D,P:D") and with two PoCL
#    devices (POCL_DEVICES="pthread pthread", --device all).
# 2. MPI, when BUILD_DIR/h5cl-mpi and mpirun exist (make MPI=1): stats,
#    hist, cov and map under `mpirun -np 2` and `-np 3` (uneven shares of
#    chunk rows), against `h5cl --json` and `h5cl map` read back by h5py.
# Integer statistics, arg-extrema and histogram counts must be equal; float
# sums, means and variances within 1e-12 relative, covariances within 1e-9
# of the largest entry (the shares add the same values in other groupings).
# Prints one line per failed check and exits 1 if any failed.
set -u

B=${1:-build}
case $B in
/*) ;;
*) B=$(pwd)/$B ;;
esac
if [ ! -x "$B/h5cl" ]; then
    echo "scale-check: $B/h5cl is not an executable; build it first" >&2
    exit 1
fi
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/h5cl-scale-check.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
: "${H5CL_CACHE_DIR:=$WORK/cache}"
export H5CL_CACHE_DIR
# mpirun refuses root without these (CI runs as root)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# containers often forbid the cross-memory attach of OpenMPI's shared-memory
# transport (process_vm_readv); plain copies work everywhere
: "${OMPI_MCA_btl_vader_single_copy_mechanism:=none}"
export OMPI_MCA_btl_vader_single_copy_mechanism

B=$B WORK=$WORK "$PYTHON" - <<'PYEOF'
import json, os, shutil, subprocess, sys
import numpy as np
import h5py

B, WORK = os.environ["B"], os.environ["WORK"]
H5CL, MPI = os.path.join(B, "h5cl"), os.path.join(B, "h5cl-mpi")
failures, checks = [], 0


def fail(what, why):
    failures.append(what)
    print("scale-check: FAIL %s: %s" % (what, why))


def run_json(what, argv, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, env=env,
                       timeout=300)
    if p.returncode != 0:
        fail(what, "exit %d: %s" % (p.returncode, p.stderr.strip()[-800:]))
        return None
    try:
        return json.loads(p.stdout)
    except ValueError:
        fail(what, "not JSON: %s" % p.stdout[:200])
        return None


FLOATS = ("mean", "var", "std")
EXACT = ("count", "nan_count", "min", "max", "argmin", "argmax")


def close(a, b, rel):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=rel, atol=0,
                                              equal_nan=True)


def same_stats(what, got, want, integer):
    global checks
    checks += 1
    if got is None or want is None:
        return
    for k in EXACT + (("sum",) if integer else ()):
        if got[k] != want[k]:
            return fail(what, "%s: %r, single run %r" % (k, got[k], want[k]))
    for k in FLOATS + (() if integer else ("sum",)):
        if not close(got[k], want[k], 1e-12):
            return fail(what, "%s: %r, single run %r" % (k, got[k], want[k]))


def same_hist(what, got, want):
    global checks
    checks += 1
    if got is None or want is None:
        return
    for k in ("counts", "nan", "under", "over", "range", "range_from_data"):
        if got[k] != want[k]:
            return fail(what, "%s: %r, single run %r" % (k, got[k], want[k]))


def same_cov(what, got, want):
    global checks
    checks += 1
    if got is None or want is None:
        return
    # NaN (JSON null) where a column holds NaN, in both or neither
    g = np.array(got["matrix"], dtype=float)
    w = np.array(want["matrix"], dtype=float)
    if got["rows"] != want["rows"] or g.shape != w.shape or \
            not np.array_equal(np.isnan(g), np.isnan(w)) or \
            np.nanmax(np.abs(g - w)) > 1e-9 * np.nanmax(np.abs(w)):
        fail(what, "rows %r/%r, matrix differs" % (got["rows"], want["rows"]))


# ---- the files: chunk rows that do not divide evenly among 2 or 3 ----
rng = np.random.default_rng(9)
F = os.path.join(WORK, "in.h5")
ints = rng.integers(-2**31, 2**31 - 1, size=(1003, 37), dtype=np.int32)
ints[[500, 900], 3] = -2**31          # first-occurrence ties across shares
ints[[100, 700], 5] = 2**31 - 1
floats = rng.normal(1e3, 5, size=(997, 6)) .astype(np.float64)
floats[[3, 600], 2] = np.nan
with h5py.File(F, "w") as f:
    f.create_dataset("i", data=ints, chunks=(40, 37))
    f.create_dataset("f", data=floats, chunks=(32, 6))


def h5cl(*args, env=None):
    return run_json(" ".join(args), [H5CL] + list(args) + ["--json", "-q"],
                    env)


single = {
    "i": h5cl("stats", F, "/i"),
    "i0": h5cl("stats", F, "/i", "--axis", "0", "-s", "3:990"),
    "f": h5cl("stats", F, "/f"),
    "hist": h5cl("hist", F, "/f", "--bins", "17"),
    "cov": h5cl("cov", F, "/f"),
}

# ---- 1. several devices in one process --------------------------------
dev = run_json("devices", [H5CL, "devices", "--json"])
spec = "0:0"
if dev:
    d = [x for x in dev["devices"] if x.get("default")] or dev["devices"]
    spec = d[0]["index"]
two = dict(os.environ, POCL_DEVICES="pthread pthread")
for label, devs, env in (("two contexts", spec + "," + spec, None),
                         ("two PoCL devices", "all", two)):
    t = ["--device", devs, "--tile-bytes", "16K"]
    same_stats("%s: stats int32" % label,
               h5cl("stats", F, "/i", *t, env=env), single["i"], True)
    same_stats("%s: stats int32 --axis 0 -s 3:990" % label,
               h5cl("stats", F, "/i", "--axis", "0", "-s", "3:990", *t,
                    env=env), single["i0"], True)
    same_stats("%s: stats float64" % label,
               h5cl("stats", F, "/f", *t, env=env), single["f"], False)
    same_hist("%s: hist" % label,
              h5cl("hist", F, "/f", "--bins", "17", *t, env=env),
              single["hist"])
    same_cov("%s: cov" % label, h5cl("cov", F, "/f", *t, env=env),
             single["cov"])
checks += 1
j = h5cl("stats", F, "/i", "--device", spec + "," + spec)
if j is not None and len(j.get("devices", [])) != 2:
    fail("--json devices", "%r" % j.get("devices"))
checks += 1
p = subprocess.run([H5CL, "quantile", F, "/f", "-q", "0.5", "--device",
                    spec + "," + spec], capture_output=True, text=True)
if p.returncode != 2 or "one device" not in p.stderr:
    fail("quantile --device list", "exit %d: %s" % (p.returncode, p.stderr))

# ---- 2. MPI ranks -------------------------------------------------------
mpirun = shutil.which("mpirun")
if not (os.access(MPI, os.X_OK) and mpirun):
    print("scale-check: no %s or mpirun: MPI checks skipped "
          "(make MPI=1)" % MPI)
else:
    def mpi(np_, *args):
        return run_json("mpirun -np %d %s" % (np_, " ".join(args)),
                        [mpirun, "-np", str(np_), "--oversubscribe", MPI]
                        + list(args))
    for n in (2, 3):
        same_stats("mpi %d: stats int32" % n, mpi(n, "stats", F, "/i"),
                   single["i"], True)
        same_stats("mpi %d: stats float64" % n, mpi(n, "stats", F, "/f"),
                   single["f"], False)
    same_stats("mpi 3: stats --axis 0 -s 3:990",
               mpi(3, "stats", F, "/i", "--axis", "0", "-s", "3:990"),
               single["i0"], True)
    same_hist("mpi 3: hist", mpi(3, "hist", F, "/f", "--bins", "17"),
              single["hist"])
    same_cov("mpi 2: cov", mpi(2, "cov", F, "/f"), single["cov"])
    # maps: one file per rank, joined by a virtual dataset
    ONE = os.path.join(WORK, "one.h5")
    run_json("map", [H5CL, "map", F, "/f", "-e", "x * 2 - 1", "-o",
                     ONE + ":/y", "--json", "-q"])
    for n in (2, 3):
        OUT = os.path.join(WORK, "out%d.h5" % n)
        mpi(n, "map", F, "/f", "-e", "x * 2 - 1", "-o", OUT + ":/g/y")
        checks += 1
        try:
            with h5py.File(OUT, "r") as f, h5py.File(ONE, "r") as g:
                d = f["g/y"]
                if not d.is_virtual or len(d.virtual_sources()) != n or \
                        not np.array_equal(d[:], g["y"][:], equal_nan=True):
                    fail("mpi %d: map" % n, "virtual %r, %d sources" % (
                        d.is_virtual, len(d.virtual_sources())))
        except (OSError, KeyError) as e:
            fail("mpi %d: map" % n, str(e))

print("scale-check: %d checks, %d failed" % (checks, len(failures)))
sys.exit(1 if failures else 0)
PYEOF
