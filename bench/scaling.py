#!/usr/bin/env python3
"""Strong scaling: the same statistics run on the same file with 1 and 2
devices (one process), MPI ranks (h5cl-mpi) and Dask workers (h5cl.dask
on a LocalCluster of worker processes).  Prints, per mode, the median and
minimum of `reps` timed runs after one warm-up, the speed-up T1/T2 and the
efficiency T1 / (2 T2), and writes them as JSON with --json.  Usage, from
the repository root (make; make MPI=1 build/h5cl-mpi for the MPI rows):

    PYTHONPATH=python-bindings H5CL_LIBRARY=build/libh5cl.so \\
        python3 bench/scaling.py [--size 1G] [--reps 5] [--file F] \\
        [--modes devices,mpi,dask] [--json out.json]

Times: the library's wall time for one process with several devices
(h5cl --json "seconds"), the slowest rank's from its device set-up to its
result for MPI (h5cl-mpi "seconds"), the client's wall time of compute()
for Dask (workers already started and warm).  The file is made once with
h5cl-bench --make-sample (float32, 1 MiB chunks) and then sits in the page
cache: the runs measure the device side and the sharing, not the disk.
Two devices are two contexts on the default device, or two PoCL devices
(POCL_DEVICES="pthread pthread") when PoCL is the platform: on a machine
with few cores they share the same cores, so expect no speed-up there.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
B = os.path.join(ROOT, "build")


def run_json(argv, env=None):
    p = subprocess.run(argv, capture_output=True, text=True, env=env,
                       check=False)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                                p.stderr.strip()[-500:]))
    return json.loads(p.stdout)


def timed(fn, reps):
    fn()  # warm-up: programs loaded, file in the page cache
    return [fn() for _ in range(reps)]


def mode_devices(f, reps):
    h5cl = os.path.join(B, "h5cl")
    dev = run_json([h5cl, "devices", "--json"])["devices"]
    spec = next(d["index"] for d in dev if d["default"])
    two = dict(os.environ, POCL_DEVICES="pthread pthread")
    pocl = any("Portable Computing" in d["platform"] for d in dev)

    def one(device, env=None):
        return lambda: run_json([h5cl, "stats", f, "/data", "--json", "-q",
                                 "--device", device], env)["seconds"]
    rows = {1: timed(one(spec), reps)}
    rows[2] = timed(one("all", two) if pocl else one(spec + "," + spec),
                    reps)
    return rows, ("two PoCL devices (POCL_DEVICES)" if pocl
                  else "two contexts on %s" % spec)


def mode_mpi(f, reps):
    mpi, mpirun = os.path.join(B, "h5cl-mpi"), shutil.which("mpirun")
    if not (os.access(mpi, os.X_OK) and mpirun):
        return None, "no build/h5cl-mpi or mpirun (make MPI=1 build/h5cl-mpi)"
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

    def one(n):
        return lambda: run_json([mpirun, "-np", str(n), "--oversubscribe",
                                 mpi, "stats", f, "/data"], env)["seconds"]
    return {n: timed(one(n), reps) for n in (1, 2)}, "mpirun -np 1, 2"


def mode_dask(f, reps):
    try:
        import distributed
        import h5cl
        import h5cl.dask as hd
    except ImportError as e:
        return None, "no dask.distributed or h5cl (%s)" % e
    rows = {}
    with h5cl.open(f) as h:
        d = h["/data"]
        for n in (1, 2):
            with distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True,
                    dashboard_address=None) as cluster, \
                    distributed.Client(cluster) as client:
                def one():
                    # a new graph each time: new keys, nothing reused
                    graph = hd.stats(d, shares=8 * n)
                    t0 = time.perf_counter()
                    graph.compute(scheduler=client.get)
                    return time.perf_counter() - t0
                rows[n] = timed(one, reps)
    return rows, "LocalCluster of 1, 2 worker processes, 8 shares each"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="1G")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--file")
    ap.add_argument("--modes", default="devices,mpi,dask")
    ap.add_argument("--json")
    a = ap.parse_args()
    f = a.file or os.path.join(B, "scaling-%s.h5" % a.size)
    if not os.path.exists(f):
        subprocess.run([os.path.join(B, "h5cl-bench"), "--make-sample", f,
                        "--size", a.size], check=True)
    out = {"file": f, "size": a.size, "reps": a.reps, "cpus": os.cpu_count(),
           "modes": {}}
    print("strong scaling: %s (%s), %d reps, %d CPUs" % (f, a.size, a.reps,
                                                      os.cpu_count()))
    print("%-8s %-10s %-10s %-10s %-10s %-8s %-10s  %s" % (
        "mode", "T1 median", "T1 min", "T2 median", "T2 min", "speed-up",
        "efficiency", "how"))
    for m in a.modes.split(","):
        rows, how = {"devices": mode_devices, "mpi": mode_mpi,
                     "dask": mode_dask}[m](f, a.reps)
        if rows is None:
            print("%-8s skipped: %s" % (m, how))
            out["modes"][m] = {"skipped": how}
            continue
        t1, t2 = statistics.median(rows[1]), statistics.median(rows[2])
        out["modes"][m] = {"how": how, "seconds": rows, "t1": t1, "t2": t2,
                           "speedup": t1 / t2, "efficiency": t1 / (2 * t2)}
        print("%-8s %-10.3f %-10.3f %-10.3f %-10.3f %-8.2f %-10.2f  %s" % (
            m, t1, min(rows[1]), t2, min(rows[2]), t1 / t2, t1 / (2 * t2),
            how))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
