#!/usr/bin/env python3
"""Reliability: the isolated reader dies every way it can, at every kind
of request, under the CLI.

    tests/reliability/isolate.py build

The helper's test hook (H5CL_READER_TEST=ACTION@REQUEST, honoured by
h5cl-reader only) makes the child crash (SIGSEGV), abort, exit, hang or
spin at its first open, listing or tile read.  Every run must end on its
own with exit status 1 and H5CL_ERR_CRASHED (crash, abort, exit) or
H5CL_ERR_TIMEOUT (hang, spin: the CLI sets no CPU limit, so the wall
clock ends both), leave no reader process behind, and a map must leave
its existing target byte-identical with no temporary file beside it.
The full matrix for `stats`, a crash and a hang for info, hist, map and
cov.  Prints FIGURE lines (tests/reliability conventions)."""
import hashlib
import os
import subprocess
import sys
import time

import h5py
import numpy as np

build = sys.argv[1] if len(sys.argv) > 1 else "build"
BIN = os.path.abspath(os.path.join(build, "h5cl"))
WALL = "1"          # --reader-timeout: a hang ends after a second
LIMIT = 60          # a run taking longer than this is an h5cl hang
ACTIONS = {"crash": "H5CL_ERR_CRASHED", "abort": "H5CL_ERR_CRASHED",
           "exit": "H5CL_ERR_CRASHED", "hang": "H5CL_ERR_TIMEOUT",
           "spin": "H5CL_ERR_TIMEOUT"}

work = os.path.abspath(os.path.join(build, "reliability-isolate"))
os.makedirs(work, exist_ok=True)
data = os.path.join(work, "in.h5")
target = os.path.join(work, "out.h5")
rng = np.random.default_rng(6)
with h5py.File(data, "w") as f:
    f.create_dataset("d", data=rng.standard_normal((2000, 64)),
                     chunks=(256, 64), compression="gzip")
with h5py.File(target, "w") as f:
    f["old"] = np.arange(10)


def sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


target_sha = sha(target)
COMMANDS = {
    "info": ["info", data],
    "stats": ["stats", data, "/d", "-q"],
    "hist": ["hist", data, "/d", "-q"],
    "map": ["map", data, "/d", "-e", "x * 2", "-o", target + ":/y", "-q"],
    "cov": ["cov", data, "/d", "-q"],
}
cases = [("stats", a, w) for a in ACTIONS for w in ("open", "read")]
cases += [("info", a, "list") for a in ("crash", "hang")]
cases += [(c, a, "read") for c in ("hist", "map", "cov")
          for a in ("crash", "hang")]


def readers_with(marker):
    """Processes whose environment holds marker (our children's)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


fig = dict(faults_injected=0, clean_errors=0, h5cl_crashes=0, h5cl_hangs=0,
           leaked_objects=0, files_changed=0, reader_faults_contained=0)
failures = []
for n, (cmd, action, when) in enumerate(cases):
    marker = "H5CL_RELIABILITY_ISOLATE=%d.%d" % (os.getpid(), n)
    env = dict(os.environ, H5CL_READER_TEST="%s@%s" % (action, when))
    env[marker.split("=")[0]] = marker.split("=")[1]
    what = "%s with the reader's %s at %s" % (cmd, action, when)
    fig["faults_injected"] += 1
    t0 = time.time()
    try:
        p = subprocess.run([BIN] + COMMANDS[cmd] + ["--reader-timeout", WALL],
                           env=env, capture_output=True, text=True,
                           timeout=LIMIT)
    except subprocess.TimeoutExpired:
        fig["h5cl_hangs"] += 1
        failures.append("%s: no result in %d s" % (what, LIMIT))
        continue
    want = ACTIONS[action]
    if p.returncode < 0:
        fig["h5cl_crashes"] += 1
        failures.append("%s: h5cl killed by signal %d" % (what, -p.returncode))
    elif p.returncode == 1 and want in p.stderr and data in p.stderr:
        fig["clean_errors"] += 1
        fig["reader_faults_contained"] += 1
    else:
        failures.append("%s: exit %d after %.1f s: %s" % (
            what, p.returncode, time.time() - t0, p.stderr.strip()))
    time.sleep(0.1)
    left = readers_with(marker)
    if left:
        fig["leaked_objects"] += len(left)
        failures.append("%s: reader processes left: %r" % (what, left))
    if cmd == "map":
        temps = [e for e in os.listdir(work) if e.endswith(".tmp")]
        if sha(target) != target_sha or temps:
            fig["files_changed"] += 1
            failures.append("%s: target changed or temporaries %r"
                            % (what, temps))

for f in failures:
    print("FAIL isolate: " + f)
for k, v in fig.items():
    print("FIGURE %s %d" % (k, v))
sys.exit(1 if failures else 0)
