#!/usr/bin/env python3
"""Kills during a large map over an existing target (promise 3).

    tests/reliability/kill.py BUILD

An `h5cl map` of a 256 MB input into an existing target file is killed
at a sweep of delays spread over a clean run's duration:
- SIGKILL: the target must stay byte-identical (sha256) unless the run
  had already renamed its complete output over it; the temporary file a
  SIGKILL leaves (it cannot be caught) must be removed by the next write
  of the same target (FIGURE stale_temps_removed);
- SIGINT and SIGTERM: exit 130 / 143 ("cancelled"), no temporary file,
  the target unchanged (or exit 0 with the complete output when the
  signal came after the rename).
Prints FIGURE lines; exits 1 on any violation.
"""
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from corpus import report  # failures, figures and the exit status

ROWS, COLS = 4096, 16384  # float32: 256 MiB in, 256 MiB out
figures = {"faults_injected": 0, "files_changed": 0, "h5cl_crashes": 0,
           "h5cl_hangs": 0, "leaked_objects": 0, "kills": 0,
           "stale_temps_removed": 0}
failures = []


def fail(case, why):
    failures.append("%s: %s" % (case, why))


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def temps(target):
    d, b = os.path.split(target)
    return glob.glob(os.path.join(d, "." + glob.escape(b) + ".h5cl-*.tmp"))


def make_files(work):
    import h5py
    import numpy as np
    data = os.path.join(work, "big.h5")
    row = np.arange(COLS, dtype="f4")
    with h5py.File(data, "w") as f:
        d = f.create_dataset("x", (ROWS, COLS), "f4", chunks=(64, COLS))
        for r in range(0, ROWS, 256):
            d[r:r + 256] = row + np.arange(r, r + 256, dtype="f4")[:, None]
    target = os.path.join(work, "target.h5")
    with h5py.File(target, "w") as f:
        f.create_dataset("keep", data=np.arange(1000.0))
    return data, target


def complete(target):
    """The run finished before the signal: its whole output is there."""
    import h5py
    import numpy as np
    try:
        with h5py.File(target, "r") as f:
            m = f["m"]
            return m.shape == (ROWS, COLS) and np.array_equal(
                m[ROWS - 1, :8], (np.arange(8) + ROWS - 1) * 2.0)
    except (OSError, KeyError):
        return False


def main():
    if len(sys.argv) != 2:
        print("usage: kill.py BUILD", file=sys.stderr)
        return 2
    h5cl = os.path.abspath(os.path.join(sys.argv[1], "h5cl"))
    work = tempfile.mkdtemp(prefix="h5cl-kill-")
    try:
        data, target = make_files(work)
        cmd = [h5cl, "map", data, "/x", "-e", "x * 2", "-o", target + ":/m",
               "-q"]
        before = sha(target)
        saved = os.path.join(work, "saved.h5")
        shutil.copy(target, saved)
        t0 = time.time()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=300)
        clean = time.time() - t0
        if p.returncode != 0 or not complete(target):
            fail("clean", "exit %d: %s" % (p.returncode, p.stderr[-300:]))
            return report("kill", failures, figures)
        print("kill: a clean map takes %.2f s (measured now, under whatever "
              "load the machine has)" % clean)
        fractions = (0.05, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9)
        plan = [(signal.SIGKILL, f) for f in fractions] + \
            [(s, f) for s in (signal.SIGINT, signal.SIGTERM)
             for f in (0.1, 0.5)]
        for sig, frac in plan:
            shutil.copy(saved, target)
            case = "%s at %.0f%%" % (signal.Signals(sig).name, frac * 100)
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            time.sleep(clean * frac)
            p.send_signal(sig)
            try:
                _, err = p.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
                figures["h5cl_hangs"] += 1
                fail(case, "no end within 120 s of the signal")
                continue
            err = err.decode(errors="replace")
            figures["kills"] += 1
            rc = p.returncode
            if rc == 0 or (sig == signal.SIGKILL and rc == -sig and
                           sha(target) != before):
                # the signal came after the rename: the whole output
                if not complete(target):
                    figures["files_changed"] += 1
                    fail(case, "the target holds an incomplete output")
                continue
            figures["faults_injected"] += 1
            if sha(target) != before:
                figures["files_changed"] += 1
                fail(case, "the target changed")
            if sig == signal.SIGKILL:
                if rc != -signal.SIGKILL:
                    fail(case, "exit %d" % rc)
                left = temps(target)
                if left:
                    # the next write of the target removes them
                    q = subprocess.run(cmd + ["-s", "0:1,:"],
                                       stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, timeout=120)
                    still = [t for t in left if os.path.exists(t)]
                    if q.returncode != 0 or still:
                        fail(case, "stale temporary files not removed by the "
                             "next run: %s" % still)
                    figures["stale_temps_removed"] += len(left) - len(still)
                continue
            want = 128 + sig
            if rc < 0:
                figures["h5cl_crashes"] += 1
                fail(case, "killed by the signal instead of stopping")
            elif rc != want or "cancelled" not in err:
                fail(case, "exit %d (want %d): %s" % (rc, want, err[-300:]))
            if temps(target):
                figures["files_changed"] += 1
                fail(case, "temporary files left: %s" % temps(target))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report("kill", failures, figures)


if __name__ == "__main__":
    sys.exit(main())
