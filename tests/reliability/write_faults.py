#!/usr/bin/env python3
"""Write faults against promise 3 (outputs are all-or-nothing).

    tests/reliability/write_faults.py BUILD

1. The LD_PRELOAD shim (tests/faults/write_shim.c) fails the Nth write,
   pwrite, copy_file_range, fallocate, fsync, rename or close on the output
   directory with ENOSPC, EIO and EDQUOT, for every N a clean run makes,
   for an `h5cl map` into a new file and one into an existing target file
   (a copy of it is made, the dataset added, the copy renamed over it);
   each N with one of the errnos in turn (all three: H5CL_WSHIM_ALL=1).
   Each run must either succeed with the right data, or exit 1 with
   H5CL_ERR_IO naming the output file and the errno's text; never leave a temporary file; never change an existing target
   (sha256) nor leave a new one.
2. A real full disk: a 2 MiB tmpfs mounted in a private mount namespace
   (unshare -m; CI runs as root).  Where unshare is not permitted this is
   reported as SKIP (FIGURE write_skipped), not as a pass.
3. A file-size limit (ulimit -f): EFBIG must be an error, not SIGXFSZ,
   for an uncompressed output (refused before writing) and a gzip one
   (met while writing).
Prints FIGURE lines; exits 1 on any violation.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from corpus import exit_codes, report  # the CLI's exit statuses; the summary
EXIT = {}  # filled in main()

FUNCS = ["write", "pwrite", "copy_file_range", "fallocate", "fsync",
         "rename", "close"]
ERRNOS = {"ENOSPC": "No space left on device", "EIO": "Input/output error",
          "EDQUOT": "Disk quota exceeded"}
TIMEOUT = 60
ALL = os.environ.get("H5CL_WSHIM_ALL") == "1"
figures = {"faults_injected": 0, "files_changed": 0, "h5cl_crashes": 0,
           "h5cl_hangs": 0, "leaked_objects": 0, "write_fault_runs": 0,
           "write_skipped": 0}
failures = []


def fail(case, why):
    if len(failures) < 40:
        failures.append("%s: %s" % (case, why))
    figures.setdefault("violations", 0)
    figures["violations"] += 1


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run(cmd, env=None, shell=False):
    try:
        p = subprocess.run(cmd, env=env, shell=shell, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, ""
    return p.returncode, p.stderr.decode(errors="replace")


def make_input(work):
    import h5py
    import numpy as np
    path = os.path.join(work, "in.h5")
    x = np.random.default_rng(3).standard_normal((2000, 500)).astype("f4")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(100, 500))
    return path, x * 2 + 1


def make_target(path):
    import h5py
    import numpy as np
    with h5py.File(path, "w") as f:
        f.create_dataset("keep", data=np.arange(1000.0))


def output_ok(path, want):
    import h5py
    import numpy as np
    try:
        with h5py.File(path, "r") as f:
            return np.array_equal(f["m"][...], want)
    except (OSError, KeyError):
        return False


def temps(d):
    return [n for n in os.listdir(d) if n.endswith(".tmp")]


def read_report(path):
    calls, fired = {}, 0
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "call":
                calls[w[1]] = int(w[2])
            else:
                fired = int(w[1])
    return calls, fired


def check_end(case, rc, err, outdir, target, before, want, extra=()):
    """The checks every run shares; True when it failed cleanly."""
    if rc is None:
        figures["h5cl_hangs"] += 1
        fail(case, "no end within %d s" % TIMEOUT)
        return False
    if rc < 0 or (rc > 2 and rc not in EXIT.values()):  # a signal
        figures["h5cl_crashes"] += 1
        fail(case, "ended with status %d: %s" % (rc, err.strip()[-300:]))
        return False
    if temps(outdir):
        figures["files_changed"] += 1
        fail(case, "temporary files left: %s" % temps(outdir))
    if rc == 0:
        if not output_ok(target, want):
            figures["files_changed"] += 1
            fail(case, "exit 0 but the output is wrong or missing")
        return False
    if rc != EXIT["H5CL_ERR_IO"]:
        fail(case, "exit %d: %s" % (rc, err.strip()[:300]))
    if "H5CL_ERR_IO" not in err:
        fail(case, "not H5CL_ERR_IO: %s" % err.strip()[:300])
    elif target not in err and outdir not in err:
        fail(case, "the message does not name the output: %s"
             % err.strip()[:300])
    elif extra and not any(t in err for t in extra):
        fail(case, "the message does not say why (%s): %s"
             % (" or ".join(extra), err.strip()[:300]))
    if before is None:
        if os.path.exists(target):
            figures["files_changed"] += 1
            fail(case, "a failed run left a new output file")
    elif sha(target) != before:
        figures["files_changed"] += 1
        fail(case, "the existing target changed")
    return True


def shim_sweep(h5cl, shim, data, want, work):
    outdir = os.path.join(work, "out")
    report = os.path.join(work, "wshim.txt")
    for scenario in ("new", "existing"):
        target = os.path.join(outdir, "target.h5")
        cmd = [h5cl, "map", data, "/x", "-e", "x * 2 + 1", "-o",
               target + ":/m", "-q", "--tile-bytes", "1000000"]

        def fresh():
            shutil.rmtree(outdir, ignore_errors=True)
            os.makedirs(outdir)
            if scenario == "existing":
                make_target(target)
                return sha(target)
            return None
        base = dict(os.environ, LD_PRELOAD=shim, H5CL_WSHIM_DIR=outdir,
                    H5CL_WSHIM_REPORT=report)
        fresh()
        rc, err = run(cmd, base)
        if rc != 0 or not output_ok(target, want):
            fail("write %s clean" % scenario, "exit %s: %s" % (rc, err))
            continue
        counts = read_report(report)[0]
        names = sorted(ERRNOS)
        for k, fn in enumerate(FUNCS):
            for n in range(1, counts.get(fn, 0) + 1):
                # every N, each with one errno in turn (all three with
                # H5CL_WSHIM_ALL=1): the errno changes only the message
                chosen = names if ALL else [names[(n + k) % len(names)]]
                for eno in chosen:
                    text = ERRNOS[eno]
                    case = "write %s %s#%d %s" % (scenario, fn, n, eno)
                    before = fresh()
                    if os.path.exists(report):
                        os.unlink(report)
                    env = dict(base, H5CL_WSHIM_FUNC=fn,
                               H5CL_WSHIM_CALL=str(n), H5CL_WSHIM_ERRNO=eno)
                    rc, err = run(cmd, env)
                    figures["write_fault_runs"] += 1
                    fired = os.path.exists(report) and read_report(report)[1]
                    if fired:
                        figures["faults_injected"] += 1
                    check_end(case, rc, err, outdir, target, before, want,
                              (text,))


def tmpfs_full(h5cl, data, want, work):
    """A real ENOSPC: the output (4 MB) does not fit a 2 MiB tmpfs."""
    mnt = os.path.join(work, "tiny")
    os.makedirs(mnt)
    probe = run(["unshare", "-m", "sh", "-c",
                 "mount -t tmpfs -o size=2m tmpfs '%s'" % mnt])
    if probe[0] != 0:
        print("write_faults: SKIP disk-full on tmpfs: unshare -m / mount not "
              "permitted here (%s)" % probe[1].strip()[:200])
        figures["write_skipped"] += 1
        return
    target = os.path.join(mnt, "target.h5")
    for scenario, gzip in (("new", []), ("existing", []),
                           ("new gzip", ["--gzip", "1"])):
        # the namespace's tmpfs lives as long as the shell: set up, run
        # and check inside it, reporting through files in work
        setup = ""
        if scenario == "existing":
            setup = ("%s -c 'import h5py,numpy; "
                     "h5py.File(\"%s\",\"w\").create_dataset(\"keep\","
                     "data=numpy.arange(1000.0))' && sha256sum '%s' > '%s/before' && "
                     % (sys.executable, target, target, work))
        script = (
            "mount -t tmpfs -o size=2m tmpfs '{mnt}' && {setup}"
            "{h5cl} map '{data}' /x -e 'x * 2 + 1' -o '{target}:/m' -q {gz} "
            "2> '{work}/err'; echo $? > '{work}/rc'; "
            "ls -a '{mnt}' > '{work}/ls'; "
            "if [ -f '{target}' ]; then sha256sum '{target}' > '{work}/after'; "
            "else rm -f '{work}/after'; fi").format(
                mnt=mnt, setup=setup, h5cl=h5cl, data=data, target=target,
                gz=" ".join(gzip), work=work)
        for f in ("before", "after", "rc", "err", "ls"):
            if os.path.exists(os.path.join(work, f)):
                os.unlink(os.path.join(work, f))
        run(["unshare", "-m", "sh", "-c", script])
        case = "tmpfs %s" % scenario
        figures["write_fault_runs"] += 1

        def slurp(name):
            p = os.path.join(work, name)
            return open(p).read() if os.path.exists(p) else None
        rc = slurp("rc")
        rc = int(rc) if rc else None
        err = slurp("err") or ""
        if rc is None:
            fail(case, "did not run")
            continue
        if rc > 128:
            figures["h5cl_crashes"] += 1
            fail(case, "killed by signal %d" % (rc - 128))
        elif rc != EXIT["H5CL_ERR_IO"] or "H5CL_ERR_IO" not in err or target not in err \
                or "No space left on device" not in err:
            fail(case, "exit %d: %s" % (rc, err.strip()[:300]))
        else:
            figures["faults_injected"] += 1
        if ".tmp" in (slurp("ls") or ""):
            figures["files_changed"] += 1
            fail(case, "temporary file left on the full disk")
        before, after = slurp("before"), slurp("after")
        if before != after:
            figures["files_changed"] += 1
            fail(case, "target %s" % ("left behind" if before is None
                                      else "changed"))


def file_size_limit(h5cl, data, want, work):
    """ulimit -f 1024 (1 MiB) against a 4 MB output: an error, not
    SIGXFSZ; uncompressed outputs are refused before writing, a gzip one
    meets EFBIG while writing."""
    outdir = os.path.join(work, "fsize")
    os.makedirs(outdir)
    target = os.path.join(outdir, "target.h5")
    for label, extra in (("plain", ""), ("gzip", "--gzip 1")):
        # tiles under the limit: the isolated reader's shared slots are
        # memfd pages, which the limit covers too (H5CL_ERR_LIMIT)
        cmd = ("ulimit -f 1024; exec '%s' map '%s' /x -e 'x * 2 + 1' -o "
               "'%s:/m' -q --tile-bytes 262144 %s" % (h5cl, data, target,
                                                     extra))
        rc, err = run(cmd, shell=True)
        figures["write_fault_runs"] += 1
        case = "ulimit -f %s" % label
        if rc is not None and rc < 0 and -rc == 25:
            figures["h5cl_crashes"] += 1
            fail(case, "killed by SIGXFSZ")
            continue
        if check_end(case, rc, err, outdir, target, None, want,
                     ("limit", "File too large")):
            figures["faults_injected"] += 1
        elif rc == 0:
            fail(case, "a 4 MB output passed a 1 MiB file-size limit")


def main():
    if len(sys.argv) != 2:
        print("usage: write_faults.py BUILD", file=sys.stderr)
        return 2
    build = sys.argv[1]
    subprocess.run([os.environ.get("MAKE", "make"), "-s",
                    "--no-print-directory", "B=" + build, "faults"],
                   check=True)
    h5cl = os.path.abspath(os.path.join(build, "h5cl"))
    EXIT.update(exit_codes(h5cl))
    shim = os.path.abspath(os.path.join(build, "faults",
                                        "libh5cl_write_shim.so"))
    work = tempfile.mkdtemp(prefix="h5cl-wfaults-")
    try:
        data, want = make_input(work)
        shim_sweep(h5cl, shim, data, want, work)
        tmpfs_full(h5cl, data, want, work)
        file_size_limit(h5cl, data, want, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report("write_faults", failures, figures)


if __name__ == "__main__":
    sys.exit(main())
