#!/usr/bin/env python3
"""Mutants: files this script writes (contiguous, chunked, gzip + shuffle +
fletcher32, 2-D big-endian, CF-encoded), truncated at a sweep of lengths
and with bytes flipped (fixed seed), each run through the CLI in a
subprocess with a timeout and a memory limit.

Usage: tests/reliability/mutants.py BUILD_DIR   (from the repository root)

Every run must end in a result or a clean error (an H5CL_ERR_* message and
its exit status).  A death by signal or a hang is attributed with gdb's
backtrace when gdb is installed: inside libhdf5 it is a known libhdf5
failure (an expected failure in-process; once the CLI has isolation,
`--isolate` in its help, it must be H5CL_ERR_CRASHED or another clean
error instead); anywhere else, or unattributed, it fails the suite.

Environment: H5CL_MUTANTS (variants, default 240), H5CL_MUTANTS_SEED.
Prints FIGURE lines; exits non-zero on failure.
"""

import concurrent.futures
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import h5py

TIMEOUT_S = 10
MEMORY_BYTES = 4 << 30
SEED = int(os.environ.get("H5CL_MUTANTS_SEED", "6"))
VARIANTS = int(os.environ.get("H5CL_MUTANTS", "240"))


def write_seeds(d):
    """The files mutated: (path, dataset, extra CLI options)."""
    rng = np.random.default_rng(SEED)
    seeds = []

    def add(name, dset, data, opts=(), **kw):
        path = os.path.join(d, name)
        with h5py.File(path, "w") as f:
            f.create_dataset(dset, data=data, **kw)
        seeds.append((path, dset, list(opts)))
        return path

    add("contig.h5", "/d", rng.standard_normal(4096).astype("f4"))
    add("chunked.h5", "/d", rng.integers(-1000, 1000, (64, 64), dtype="i4"),
        chunks=(16, 16))
    add("filtered.h5", "/d", rng.standard_normal(4096),
        chunks=(512,), compression="gzip", shuffle=True, fletcher32=True)
    add("be2d.h5", "/g/d", rng.standard_normal((32, 48)).astype(">f8"),
        chunks=(8, 48), compression="gzip")
    path = os.path.join(d, "cf.h5")
    with h5py.File(path, "w") as f:
        v = f.create_dataset("v", data=rng.integers(-5, 300, 2000,
                                                    dtype="i2"))
        v.attrs["scale_factor"] = np.float32(0.5)
        v.attrs["_FillValue"] = np.int16(-1)
        v.attrs["valid_range"] = np.array([0, 250], "i2")
    seeds.append((path, "/v", ["--cf"]))
    return seeds


def variants(seeds, n):
    """(label, seed index, mutate) where mutate(bytes) -> bytes: a sweep of
    truncations per file, then byte flips at random offsets, half of them
    within the first 4 KiB where the superblock and headers live."""
    rng = random.Random(SEED)
    out = []
    for i, (path, _, _) in enumerate(seeds):
        size = os.path.getsize(path)
        for cut in sorted({0, 8, 48, 512, size // 2, size - 1} |
                          {size * k // 12 for k in range(1, 12)}):
            out.append(("%s truncated to %d" % (os.path.basename(path), cut),
                        i, lambda b, c=cut: b[:c]))
    while len(out) < n:
        i = rng.randrange(len(seeds))
        size = os.path.getsize(seeds[i][0])
        flips = []
        for _ in range(rng.choice((1, 1, 2, 4))):
            hi = min(size, 4096) if rng.random() < 0.5 else size
            flips.append((rng.randrange(hi), 1 << rng.randrange(8)))

        def flip(b, flips=tuple(flips)):
            b = bytearray(b)
            for off, bit in flips:
                b[off] ^= bit
            return bytes(b)
        out.append(("%s flipped at %s" % (
            os.path.basename(seeds[i][0]),
            ",".join("%d^%d" % f for f in flips)), i, flip))
    return out[:max(n, 0)] if n < len(out) else out


def limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


GDB = shutil.which("gdb")
FRAME = re.compile(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) .*?(?:from (\S+)| at (\S+))?$")
SYSTEM = ("libc.so", "libpthread", "ld-linux", "libm.so", "libgcc")


def blame(bt):
    """'libhdf5', 'h5cl' or None from a gdb backtrace: the first frame
    that is not in the C library decides."""
    for line in bt.splitlines():
        m = FRAME.match(line.strip())
        if not m:
            continue
        fn, lib, src = m.group(1), m.group(2) or "", m.group(3) or ""
        if any(s in lib for s in SYSTEM) or fn.startswith(("__", "raise",
                                                           "abort")):
            continue
        if "libhdf5" in lib or fn.startswith(("H5", "H5_")):
            return "libhdf5"
        if fn != "??" or src:
            return "h5cl"
    return None


def backtrace_of_crash(cmd):
    if not GDB:
        return ""
    try:
        p = subprocess.run([GDB, "-q", "-batch", "-ex", "run", "-ex", "bt",
                            "--args"] + cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120,
                           preexec_fn=limits)
        return p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return ""


def backtrace_of_pid(pid):
    if not GDB:
        return ""
    try:
        p = subprocess.run([GDB, "-q", "-batch", "-p", str(pid), "-ex",
                            "thread apply all bt"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        return p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return ""


def run_one(cmd, exits):
    """('ok'|'error'|'signal'|'hang'|'other', detail, backtrace)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=limits)
    try:
        out, err = p.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        bt = backtrace_of_pid(p.pid)
        p.kill()
        p.communicate()
        return "hang", "no result in %d s" % TIMEOUT_S, bt
    err = err.decode("utf-8", "replace")
    if p.returncode < 0:
        return "signal", "signal %d" % -p.returncode, backtrace_of_crash(cmd)
    if p.returncode == 0:
        return "ok", "", ""
    names = [w.rstrip(":") for w in err.split() if w.startswith("H5CL_ERR_")]
    if names and exits.get(names[0]) == p.returncode:
        return "error", names[0], ""
    return "other", "exit %d: %s" % (p.returncode, err.strip()[-300:]), ""


def exit_codes(bin_path):
    out = subprocess.run([bin_path, "exit-codes"], stdout=subprocess.PIPE,
                         check=True).stdout.decode()
    table = {}
    for row in out.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if cells[0].startswith("H5CL_ERR_"):
            table[cells[0]] = int(cells[2])
    return table


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: %s BUILD_DIR" % sys.argv[0])
    h5cl = os.path.abspath(os.path.join(sys.argv[1], "h5cl"))
    exits = exit_codes(h5cl)
    isolation = "--isolate" in subprocess.run(
        [h5cl, "--help"], stdout=subprocess.PIPE).stdout.decode()
    os.environ.setdefault("H5CL_CACHE_DIR",
                          os.path.abspath("build/test-cache"))
    fig = dict(inputs_tried=0, clean_errors=0, results_ok=0, h5cl_crashes=0,
               h5cl_hangs=0, libhdf5_crashes_contained=0,
               mutant_signal_deaths=0, mutant_libhdf5_failures=0)
    failures = []
    with tempfile.TemporaryDirectory(prefix="h5cl-mutants.") as d:
        seeds = write_seeds(d)
        originals = [open(p, "rb").read() for p, _, _ in seeds]
        todo = variants(seeds, VARIANTS)

        def one(k):
            label, i, mutate = todo[k]
            path = os.path.join(d, "m%04d.h5" % k)
            with open(path, "wb") as f:
                f.write(mutate(originals[i]))
            _, dset, opts = seeds[i]
            cmds = [[h5cl, "stats", "--json", "-q", path, dset] + opts]
            if k % 4 == 0:
                cmds.append([h5cl, "info", path])
            res = [(c, run_one(c, exits)) for c in cmds]
            os.unlink(path)
            return label, res

        # two at a time: most of a run is process start-up
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            for label, res in pool.map(one, range(len(todo))):
                for cmd, (kind, detail, bt) in res:
                    what = "%s: h5cl %s" % (label, cmd[1])
                    fig["inputs_tried"] += 1
                    if kind == "ok":
                        fig["results_ok"] += 1
                    elif kind == "error":
                        fig["clean_errors"] += 1
                        if detail in ("H5CL_ERR_CRASHED", "H5CL_ERR_TIMEOUT",
                                      "H5CL_ERR_LIMIT"):
                            fig["libhdf5_crashes_contained"] += 1
                    elif kind == "other":
                        failures.append(what)
                        print("FAIL %s: not a clean error: %s"
                              % (what, detail))
                    else:
                        if kind == "signal":
                            fig["mutant_signal_deaths"] += 1
                        where = blame(bt)
                        if where == "libhdf5" and not isolation:
                            fig["mutant_libhdf5_failures"] += 1
                            print("xfail %s: %s inside libhdf5 1.10.8"
                                  % (what, detail))
                            continue
                        fig["h5cl_hangs" if kind == "hang"
                            else "h5cl_crashes"] += 1
                        failures.append(what)
                        print("FAIL %s: %s (%s)%s" % (
                            what, detail, "in " + where if where else
                            "unattributed: no gdb backtrace",
                            "\n" + bt[-2000:] if bt else ""))
    for k, v in fig.items():
        print("FIGURE %s %d" % (k, v))
    print("mutants: %d variants of %d files (seed %d), %d failed"
          % (len(todo), len(seeds), SEED, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
