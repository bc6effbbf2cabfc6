#!/usr/bin/env python3
"""Slot buffers kept between runs (lib/slots.c) under OpenCL faults: every
clCreateBuffer call of the fault driver's two runs on one context, failed
with CL_MEM_OBJECT_ALLOCATION_FAILURE, for each slot kind (pinned: the path
NVIDIA takes, forced on PoCL; zero-copy; pinned with isolated inputs).  A
fault in the first run lands while it makes its slots (mid-way, or in the
op's buffers), one in the second while it runs on the slots the first left
cached.  Every case: no crash or hang, every OpenCL object released, each
run either gives the clean result bit for bit (the faulted one: the clean
result at halved tiles, since the out-of-memory fallback retries with
those) or fails with a message naming clCreateBuffer, and never both runs
fail (the fault fires once).

    tests/reliability/slot_faults.py BUILD
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cl_faults as cf
from corpus import report as summary

ERR = -4  # CL_MEM_OBJECT_ALLOCATION_FAILURE: the one the fallback retries
MODES = {
    "pinned": {"H5CL_ZERO_COPY": "0", "H5CL_PATTERN": "interleaved"},
    "zero-copy": {"H5CL_ZERO_COPY": "1"},
    "isolated-pinned": {"H5CL_ZERO_COPY": "0", "H5CL_PATTERN": "interleaved",
                        "H5CL_ISOLATE": "1"},
}
# every op on the pinned path (one input; an output slot; two inputs), one
# on the others: the CI budget
CASES = [("pinned", "stats"), ("pinned", "map"), ("pinned", "fused"),
         ("zero-copy", "stats"), ("isolated-pinned", "stats")]
# two tiles of /x: a failed first try is retried with tiles halved once
TILE = "240000"
HALF = "120000"


def loop(driver, data, out, report, env, name, op):
    rc, text, err, _ = cf.run([driver, op, data, out, TILE], env, report)
    rep = cf.check_common("%s %s clean" % (name, op), rc, report)
    runs = cf.parse_driver(text)[0]
    if rep is None or runs.get(1, ("",))[0] != "H5CL_OK" or \
            runs.get(2) != runs.get(1):
        cf.fail("%s %s clean" % (name, op), "%s %s" % (text, err))
        return
    clean = runs[1][1]
    # what a run retried with halved tiles must give: float sums depend on
    # the tiling, so the clean result at those tiles
    rc, text, err, _ = cf.run([driver, op, data, out, HALF], env, report)
    half = cf.parse_driver(text)[0].get(1, ("", ""))[1]
    for k in range(1, rep[0].get("clCreateBuffer", 0) + 1):
        case = "%s %s clCreateBuffer#%d" % (name, op, k)
        fenv = dict(env, H5CL_FAULT_FUNC="clCreateBuffer",
                    H5CL_FAULT_CALL=str(k), H5CL_FAULT_ERROR=str(ERR))
        rc, text, errtext, _ = cf.run([driver, op, data, out, TILE], fenv,
                                      report)
        cf.figures["cl_fault_cases"] += 1
        rep = cf.check_common(case, rc, report, errtext)
        if rep is None:
            continue
        runs, msgs, left = cf.parse_driver(text)
        ok = 0
        for r in (1, 2):
            if r not in runs:
                cf.fail(case, "no run %d: %s %s" % (r, text, errtext))
            elif runs[r][0] == "H5CL_OK":
                ok += 1
                if runs[r][1] not in (clean, half):
                    cf.fail(case, "run %d succeeded with another result" % r)
            else:
                cf.figures["cl_fault_errors"] += 1
                if "clCreateBuffer" not in msgs.get(r, ""):
                    cf.fail(case, "run %d: %s" % (r, msgs.get(r, "")[:300]))
        if half != clean and [runs[r][1] for r in runs].count(half) > 1:
            cf.fail(case, "both runs gave the halved tiles' result")
        if ok == 0:
            cf.fail(case, "both runs failed: the context was left unusable")
        elif ok == 2 and rep[2]:
            cf.figures["cl_fault_recovered"] += 1
        if left:
            cf.figures["files_changed"] += 1
            cf.fail(case, "a failed map left its output file")


def main():
    if len(sys.argv) != 2:
        print("usage: slot_faults.py BUILD", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    subprocess.run([os.environ.get("MAKE", "make"), "-s",
                    "--no-print-directory", "B=" + sys.argv[1], "faults"],
                   check=True)
    layer = os.path.join(build, "faults", "libh5cl_fault_layer.so")
    driver = os.path.join(build, "faults", "cl_fault_driver")
    t0 = time.time()
    work = tempfile.mkdtemp(prefix="h5cl-slotfaults-")
    try:
        data = cf.make_data(work)
        out = os.path.join(work, "out.h5")
        report = os.path.join(work, "report.txt")
        for name, op in CASES:
            env = dict(os.environ, OPENCL_LAYERS=layer,
                       H5CL_FAULT_REPORT=report,
                       H5CL_READER=os.path.join(build, "h5cl-reader"),
                       **MODES[name])
            loop(driver, data, out, report, env, name, op)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("slot_faults: %d cases in %.0f s" % (cf.figures["cl_fault_cases"],
                                               time.time() - t0))
    return summary("slot_faults", cf.failures, cf.figures)


if __name__ == "__main__":
    sys.exit(main())
