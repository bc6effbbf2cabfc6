#!/usr/bin/env python3
"""OpenCL fault loops: every OpenCL function h5cl calls, failed at its Nth
call with each of CL_MEM_OBJECT_ALLOCATION_FAILURE (-4), CL_OUT_OF_RESOURCES
(-5), CL_OUT_OF_HOST_MEMORY (-6), CL_INVALID_COMMAND_QUEUE (-36) and
CL_INVALID_BUFFER_SIZE (-61), through the fault layer
(tests/faults/cl_fault_layer.c, loaded by ocl-icd from OPENCL_LAYERS).

    tests/reliability/cl_faults.py BUILD

A count run of each operation (stats, hist, map, a fused expression, cov)
records how often each function is called.  The cross product function x N
x error is far too large to run whole (cov alone calls clSetKernelArg ~800
times), so it is sampled with a fixed seed: every (operation, function) pair
at least once, with the error and N drawn, then uniform draws up to
H5CL_FAULT_CASES cases (default 300) for each of the two runners:

- the CLI (build/h5cl): exit 0 with the clean run's result (JSON minus
  timings; for map the written dataset) when h5cl recovered through its
  documented fallback (out of device memory: the run is retried with
  tiles halved), else exit 1 with an H5CL_ERR_* message naming the
  OpenCL call and the error's name; never a signal, never a hang; every
  OpenCL object created released (the layer counts them); no output file
  and no temporary file left by a failed map;
- the driver (tests/faults/cl_fault_driver.c): the same checks on the
  first run, then the same operation again on the same context must give
  the clean result bit for bit (the fault fires once).

Releases are counted but never failed (a failed release leaks whatever the
caller does).  Prints FIGURE lines; exits 1 on any violation.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from corpus import exit_codes, report as summary  # exit statuses; the summary

ERRORS = {-4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES",
          -6: "CL_OUT_OF_HOST_MEMORY", -36: "CL_INVALID_COMMAND_QUEUE",
          -61: "CL_INVALID_BUFFER_SIZE"}
SEED = int(os.environ.get("H5CL_FAULT_SEED", "6"))
CASES = int(os.environ.get("H5CL_FAULT_CASES", "300"))
TIMEOUT = 60
TILE = "120000"
# keys of the CLI's JSON that vary between identical runs (timings, and
# the tile size the device-memory fallback shrinks)
VARYING = {"seconds", "gb_per_s", "stages", "overlap", "tiles", "tile_bytes",
           "slots", "trace", "bytes_direct", "read_threads", "zero_copy",
           "gflops", "passes_seconds"}

failures = []
figures = {"faults_injected": 0, "leaked_objects": 0, "files_changed": 0,
           "h5cl_crashes": 0, "h5cl_hangs": 0, "cl_fault_cases": 0,
           "cl_fault_recovered": 0, "cl_fault_errors": 0, "clblast_aborts": 0}


# the CLI's exit statuses for library errors (`h5cl exit-codes`)
ERROR_EXITS = set()


def fail(case, why):
    figures.setdefault("violations", 0)
    figures["violations"] += 1
    if len(failures) < 40:
        failures.append("%s: %s" % (case, why))


def make_data(work):
    import h5py
    import numpy as np
    rng = np.random.default_rng(6)
    path = os.path.join(work, "in.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=rng.standard_normal((400, 300)).astype("f4"),
                         chunks=(50, 300))
        f.create_dataset("y", data=rng.standard_normal((400, 300)).astype("f4"),
                         chunks=(50, 300))
        f.create_dataset("m2", data=rng.standard_normal((6000, 8)),
                         chunks=(1000, 8))
    return path


def cli_ops(h5cl, data, outdir):
    out = os.path.join(outdir, "out.h5")
    common = ["--tile-bytes", TILE, "-q"]
    return {
        "stats": [h5cl, "stats", data, "/x", "--json"] + common,
        "hist": [h5cl, "hist", data, "/x", "--bins", "32", "--json"] + common,
        "map": [h5cl, "map", data, "/x", "-e", "x * 2 + 1", "-o",
                out + ":/m", "--json"] + common,
        "fused": [h5cl, "stats", data, "/x", "-e", "x * x + y * y", "--with",
                  "y=%s:/y" % data, "--json"] + common,
        "cov": [h5cl, "cov", data, "/m2", "--json"] + common,
    }


def read_report(path):
    calls, objects, fired = {}, {}, None
    try:
        with open(path) as f:
            for line in f:
                w = line.split()
                if w[0] == "call":
                    calls[w[1]] = int(w[2])
                elif w[0] == "objects":
                    objects[w[1]] = (int(w[2]), int(w[3]))
                elif w[0] == "fired":
                    fired = int(w[1])
    except OSError:
        return None
    return calls, objects, fired


def normalise(obj):
    if isinstance(obj, dict):
        return {k: normalise(v) for k, v in obj.items() if k not in VARYING}
    if isinstance(obj, list):
        return [normalise(v) for v in obj]
    return obj


def map_output(outdir):
    import h5py
    path = os.path.join(outdir, "out.h5")
    if not os.path.exists(path):
        return None
    with h5py.File(path, "r") as f:
        d = f["m"]
        return d.dtype.str, d.shape, d[...].tobytes()


def run(cmd, env, report):
    if os.path.exists(report):
        os.unlink(report)
    t0 = time.time()
    try:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "", "", time.time() - t0
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace"), time.time() - t0


def check_common(case, rc, report, errtext=""):
    """Crash, hang, report and balance checks; returns the report or None."""
    if rc is None:
        figures["h5cl_hangs"] += 1
        fail(case, "no end within %d s" % TIMEOUT)
        return None
    if rc < 0 or (rc > 2 and rc not in ERROR_EXITS):  # a signal
        if rc == -6 and "terminate called" in errtext and \
                case.split()[1] == "cov":
            # CLBlast 1.5.3 (Debian 12): a failed clCreateBuffer inside
            # SYRK throws from its Buffer's deleter: std::terminate.  Not
            # h5cl's code and not catchable from C; counted apart.
            figures["clblast_aborts"] += 1
            print("cl_faults: XFAIL %s: CLBlast 1.5.3 std::terminate" % case)
            return None
        figures["h5cl_crashes"] += 1
        fail(case, "ended with status %d: %s" % (rc, errtext.strip()[-300:]))
        return None
    rep = read_report(report)
    if rep is None:
        figures["h5cl_crashes"] += 1
        fail(case, "no layer report: the process did not exit normally")
        return None
    _, objects, fired = rep
    if fired:
        figures["faults_injected"] += 1
    for kind, (made, freed) in objects.items():
        if made > freed:
            figures["leaked_objects"] += made - freed
            fail(case, "%d of %d %s not released" % (made - freed, made, kind))
        elif freed > made:
            fail(case, "%s released %d times, created %d" % (kind, freed, made))
    return rep


def check_error_text(case, text, fn, err):
    """The message names the call and the error; a call CLBlast made is
    reported by the CLBlast routine and CLBlast's own status, which is
    all that CLBlast tells."""
    if "H5CL_ERR_" not in text:
        fail(case, "error without a status name: %s" % text.strip()[:300])
    elif "CLBlast" in text:
        if not any(c in text for c in ("H5CL_ERR_LINALG",
                                       "H5CL_ERR_DEVICE_MEMORY",
                                       "H5CL_ERR_NO_MEMORY")):
            fail(case, "CLBlast failure as %s" % text.strip()[:300])
    elif ERRORS[err] not in text or fn not in text:
        fail(case, "message does not name %s and %s: %s"
             % (fn, ERRORS[err], text.strip()[:300]))


def temps_left(outdir):
    return [n for n in os.listdir(outdir) if n.endswith(".tmp")]


def sample(counts, rng):
    """(op, fn, n, err) cases: each (op, fn) once, then uniform draws."""
    pairs = [(op, fn, c) for op in sorted(counts)
             for fn, c in sorted(counts[op].items())
             if not fn.startswith("clRelease")]
    cases = set()
    for op, fn, c in pairs:
        cases.add((op, fn, rng.randint(1, c), rng.choice(sorted(ERRORS))))
    total = sum(c for _, _, c in pairs) * len(ERRORS)
    want = min(max(CASES, len(cases)), total)
    weights = [c for _, _, c in pairs]
    while len(cases) < want:
        op, fn, c = rng.choices(pairs, weights)[0]
        cases.add((op, fn, rng.randint(1, c), rng.choice(sorted(ERRORS))))
    return sorted(cases), total


def cli_loop(build, layer, data, work):
    h5cl = os.path.join(build, "h5cl")
    ERROR_EXITS.update(exit_codes(h5cl).values())
    outdir = os.path.join(work, "cli")
    os.makedirs(outdir)
    ops = cli_ops(h5cl, data, outdir)
    report = os.path.join(work, "report.txt")
    base = dict(os.environ, OPENCL_LAYERS=layer, H5CL_FAULT_REPORT=report)
    clean, counts = {}, {}
    for op, cmd in ops.items():
        shutil.rmtree(outdir)
        os.makedirs(outdir)
        rc, out, err, _ = run(cmd, base, report)
        rep = check_common("cli %s clean" % op, rc, report)
        if rc != 0 or rep is None:
            fail("cli %s clean" % op, "exit %s: %s" % (rc, err.strip()[:300]))
            continue
        counts[op] = rep[0]
        clean[op] = map_output(outdir) if op == "map" else \
            normalise(json.loads(out))
    cases, total = sample(counts, random.Random(SEED))
    print("cl_faults: CLI: %d cases of %d (function x N x error), seed %d"
          % (len(cases), total, SEED))
    for op, fn, n, err in cases:
        case = "cli %s %s#%d %d" % (op, fn, n, err)
        shutil.rmtree(outdir)
        os.makedirs(outdir)
        env = dict(base, H5CL_FAULT_FUNC=fn, H5CL_FAULT_CALL=str(n),
                   H5CL_FAULT_ERROR=str(err))
        rc, out, errtext, _ = run(ops[op], env, report)
        figures["cl_fault_cases"] += 1
        rep = check_common(case, rc, report, errtext)
        if rep is None:
            continue
        if rc == 0:
            got = map_output(outdir) if op == "map" else \
                normalise(json.loads(out))
            if got != clean[op]:
                fail(case, "succeeded with a result that differs from the "
                     "clean run")
            elif rep[2]:
                figures["cl_fault_recovered"] += 1
        elif rc in ERROR_EXITS:
            figures["cl_fault_errors"] += 1
            if not rep[2]:
                fail(case, "failed without a fault: %s" % errtext.strip()[:300])
            else:
                check_error_text(case, errtext, fn, err)
            if op == "map" and os.path.exists(os.path.join(outdir, "out.h5")):
                figures["files_changed"] += 1
                fail(case, "a failed map left its output file")
        else:
            fail(case, "exit %d (usage?): %s" % (rc, errtext.strip()[:300]))
        if temps_left(outdir):
            figures["files_changed"] += 1
            fail(case, "temporary files left: %s" % temps_left(outdir))


def parse_driver(out):
    runs, msgs, left = {}, {}, set()
    for line in out.splitlines():
        w = line.split(" ", 3)
        if w[0] == "run":
            runs[int(w[1])] = (w[2], w[3])
        elif w[0] == "msg":
            msgs[int(w[1])] = line
        elif w[0] == "left":
            left.add(int(w[1]))
    return runs, msgs, left


def driver_loop(build, layer, data, work):
    driver = os.path.join(build, "faults", "cl_fault_driver")
    outdir = os.path.join(work, "drv")
    os.makedirs(outdir)
    out = os.path.join(outdir, "out.h5")
    report = os.path.join(work, "report-driver.txt")
    base = dict(os.environ, OPENCL_LAYERS=layer, H5CL_FAULT_REPORT=report)
    clean, counts = {}, {}
    for op in ("stats", "hist", "map", "fused", "cov"):
        rc, text, err, _ = run([driver, op, data, out], base, report)
        rep = check_common("driver %s clean" % op, rc, report)
        runs = parse_driver(text)[0]
        if rc != 0 or rep is None or runs.get(1, ("",))[0] != "H5CL_OK" or \
                runs.get(2) != runs.get(1):
            fail("driver %s clean" % op, "%s %s" % (text.strip(), err.strip()))
            continue
        clean[op] = runs[1][1]
        # the calls of the first run only: the fault must fire in it
        counts[op] = {fn: (c + 1) // 2 for fn, c in rep[0].items()}
    cases, total = sample(counts, random.Random(SEED + 1))
    print("cl_faults: driver: %d cases of %d (function x N x error), seed %d"
          % (len(cases), total, SEED + 1))
    for op, fn, n, err in cases:
        case = "driver %s %s#%d %d" % (op, fn, n, err)
        env = dict(base, H5CL_FAULT_FUNC=fn, H5CL_FAULT_CALL=str(n),
                   H5CL_FAULT_ERROR=str(err))
        rc, text, errtext, _ = run([driver, op, data, out], env, report)
        figures["cl_fault_cases"] += 1
        rep = check_common(case, rc, report, errtext)
        if rep is None:
            continue
        runs, msgs, left = parse_driver(text)
        if 1 not in runs or 2 not in runs:
            fail(case, "driver output incomplete: %s %s" % (text, errtext))
            continue
        first, second = runs[1], runs[2]
        if first[0] == "H5CL_OK":
            if first[1] != clean[op]:
                fail(case, "first run succeeded with another result")
            elif rep[2]:
                figures["cl_fault_recovered"] += 1
        else:
            figures["cl_fault_errors"] += 1
            check_error_text(case, first[0] + " " + msgs.get(1, ""), fn, err)
        if second != ("H5CL_OK", clean[op]):
            fail(case, "the context is not usable after the fault: second "
                 "run %s %s" % (second[0], msgs.get(2, "")[:300]))
        if left:
            figures["files_changed"] += 1
            fail(case, "a failed map left its output file")
        if temps_left(outdir):
            figures["files_changed"] += 1
            fail(case, "temporary files left: %s" % temps_left(outdir))


def main():
    if len(sys.argv) != 2:
        print("usage: cl_faults.py BUILD", file=sys.stderr)
        return 2
    build = sys.argv[1]
    subprocess.run([os.environ.get("MAKE", "make"), "-s", "--no-print-directory",
                    "B=" + build, "faults"], check=True)
    layer = os.path.abspath(os.path.join(build, "faults",
                                         "libh5cl_fault_layer.so"))
    t0 = time.time()
    work = tempfile.mkdtemp(prefix="h5cl-clfaults-")
    try:
        report = os.path.join(work, "probe.txt")
        run([os.path.join(build, "h5cl"), "devices"],
            dict(os.environ, OPENCL_LAYERS=layer, H5CL_FAULT_REPORT=report),
            report)
        if read_report(report) is None:
            print("cl_faults: FAIL the OpenCL loader did not load %s "
                  "(OPENCL_LAYERS needs ocl-icd 2.3 or the Khronos loader)"
                  % layer)
            return 1
        data = make_data(work)
        cli_loop(build, layer, data, work)
        driver_loop(build, layer, data, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("cl_faults: %d cases in %.0f s" % (figures["cl_fault_cases"],
                                             time.time() - t0))
    return summary("cl_faults", failures, figures)


if __name__ == "__main__":
    sys.exit(main())
