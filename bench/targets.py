#!/usr/bin/env python3
"""Issue 7's speed targets, measured side by side and printed as one table.

Every figure comes from the benchmark runner or the baselines script in
this directory, run here with --json; this script only chooses the runs,
reads their rows and divides.  Each table row names the command that
produced it, so bench/RESULTS.md can quote both.

  stats, sum    float32, 4 GiB (--size), 8 MiB chunks and contiguous:
                h5cl's GB/s over the device's on-device read (a reduction
                of a resident buffer), the median of each repetition's
                ratio to a read measured right before it (the bench's
                device_read_interleaved; a bench without it: the median
                over the roofline measured at the start), for a dataset
                handle kept open between runs (the
                file's mapping and page tables reused), a handle opened
                anew for every run (what a one-shot CLI run sees) and an
                isolated handle (the CLI's and Python's default)
  int16         the same in dataset bytes (--size), open handle
  axis          per-axis statistics of rows x 16 float32 columns along
                axis 0, 1/4 of --size (the case also reduces axis 1:
                one state per row, 16 M of them at 1 GiB)
  gzip          gzip level 1 + shuffle, 1 MiB chunks, 1/4 of --size:
                h5cl over numpy+h5py (bench/baselines/compare.py)
  start-up      bench/startup.py: `h5cl stats` of 1 MiB in a second process

Run it on an idle machine (the ratios in one run are the evidence; the
absolute GB/s move with the machine).  --bench names another build of
h5cl-bench to measure a "before" with the same script.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = {"stats": 0.6, "sum": 0.8, "gzip": 4.5, "startup": 150.0}
ROWS = [("h5cl-stats", "open handle"),
        ("h5cl-stats-fresh-handle", "new handle"),
        ("h5cl-stats-isolated", "isolated")]


def log(msg):
    print("targets: " + msg, file=sys.stderr, flush=True)


def bench_rows(args, extra):
    cmd = [args.bench, "--keep", "--reps", str(args.reps), "--json"] + extra
    log(" ".join(cmd))
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=ROOT)
    rows = [json.loads(l) for l in out.stdout.splitlines()
            if l.startswith("{")]
    if not rows:
        sys.exit("targets: %s gave no rows: %s" % (cmd, out.stderr[-2000:]))
    return " ".join(["h5cl-bench"] + extra), rows


def device_read(row):
    rf = row.get("roofline") or {}
    return rf.get("device_read_gbps_median")


def ratio_rows(what, target, cmd, rows, names, table):
    for name, label in names:
        r = next((r for r in rows if r.get("row") == name), None)
        if not r or r.get("status") != "ok":
            table.append((what + ", " + label, "not measured: %s"
                          % (r.get("message") if r else "no row"), "", "",
                          cmd))
            continue
        dr = device_read(r)
        ratio = r["gbps_median"] / dr if dr else float("nan")
        text = "%.2f of %.2f" % (ratio, dr)
        # the read measured next to each repetition, where the bench has
        # it: the median of the repetitions' own ratios decides
        il = r.get("device_read_interleaved")
        if il:
            ratio = il["ratio_median"]
            text = "**%.2f** [%.2f-%.2f] of %.2f next to each run; %s at " \
                "the start" % (ratio, il["ratio_min"], il["ratio_max"],
                               il["gbps_median"], text)
        table.append((what + ", " + label, "%.2f GB/s" % r["gbps_median"],
                      text, "met" if ratio >= target else "missed", cmd))


def has_figures(args):
    out = subprocess.run([args.bench, "--help"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    return "--figures" in out.stdout


def size_of(text, div):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    n = int(text[:-1]) * units[text[-1].upper()] // div
    for u in ("G", "M", "K"):
        if n % units[u] == 0:
            return "%d%s" % (n // units[u], u)
    return str(n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default=os.path.join(ROOT, "build",
                                                    "h5cl-bench"))
    ap.add_argument("--size", default="4G")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--skip", default="",
                    help="comma-separated: stats,sum,int16,axis,gzip,startup")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    table = []
    figures = has_figures(args)
    for layout in ("chunked", "contiguous"):
        base = ["--size", args.size]
        if layout == "contiguous":
            base += ["--layout", "contiguous"]
        if "stats" not in skip:
            cmd, rows = bench_rows(args, base)
            ratio_rows("stats float32 " + layout, TARGET["stats"], cmd, rows,
                       ROWS, table)
        if "sum" not in skip and figures:
            cmd, rows = bench_rows(args, base + ["--figures", "sum"])
            ratio_rows("sum float32 " + layout, TARGET["sum"], cmd, rows,
                       ROWS, table)
    if "sum" not in skip and not figures:
        table.append(("sum float32", "not measured: this h5cl-bench has no "
                      "--figures", "", "", ""))
    if "int16" not in skip:
        base = ["--dtype", "int16", "--size", args.size]
        cmd, rows = bench_rows(args, base)
        ratio_rows("stats int16", TARGET["stats"], cmd, rows, ROWS[:1], table)
        if figures:
            cmd, rows = bench_rows(args, base + ["--figures", "sum"])
            ratio_rows("sum int16", TARGET["sum"], cmd, rows, ROWS[:1], table)
    if "axis" not in skip:
        gen = subprocess.run([args.bench, "--generate", "--size",
                              size_of(args.size, 4), "--rank", "2",
                              "--cols", "16"], stdout=subprocess.PIPE,
                             text=True, cwd=ROOT, check=True).stdout.strip()
        cmd, rows = bench_rows(args, ["--file", gen, "--case", "axis"])
        ratio_rows("per-axis stats, rows x 16, axis 0", TARGET["stats"], cmd,
                   rows, [("h5cl-stats-axis0", "open handle")], table)
    if "gzip" not in skip:
        table.append(gzip_row(args))
    if "startup" not in skip:
        table.append(startup_row(args))
    print("| target | h5cl | ratio | verdict | command |")
    print("|---|---|---|---|---|")
    for t in table:
        print("| %s | %s | %s | %s | `%s` |" % t)


def gzip_row(args):
    plain = subprocess.run([args.bench, "--generate", "--size",
                            size_of(args.size, 4), "--chunk-bytes", "1M"],
                           stdout=subprocess.PIPE, text=True, cwd=ROOT,
                           check=True).stdout.strip()
    gz = os.path.join(os.path.dirname(plain), "gz1-" + size_of(args.size, 4)
                      + ".h5")
    if not os.path.exists(gz):
        if not shutil.which("h5repack"):
            return ("gzip", "not measured: no h5repack", "", "", "")
        log("h5repack into " + gz)
        subprocess.run(["h5repack", "-f", "/data:SHUF", "-f", "/data:GZIP=1",
                        "-l", "/data:CHUNK=262144", plain, gz], check=True)
    out = os.path.join(ROOT, "build", "targets-gzip.jsonl")
    cmd = ["python3", os.path.join(HERE, "baselines", "compare.py"),
           "--file", gz, "--case", "stats", "--reps", str(args.reps),
           "--bench", args.bench, "--json-out", out]
    log(" ".join(cmd))
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    rows = [json.loads(l) for l in open(out)]
    h5 = next(r for r in rows if r["system"] == "h5cl")
    ref = next(r for r in rows if r["system"] == "numpy+h5py chunks")
    ratio = h5["gbps_median"] / ref["gbps_median"]
    return ("stats, gzip 1 + shuffle, 1 MiB chunks",
            "%.3f GB/s" % h5["gbps_median"],
            "%.1fx numpy+h5py (%.3f GB/s)" % (ratio, ref["gbps_median"]),
            "met" if ratio >= TARGET["gzip"] else "missed",
            "compare.py --file %s --case stats" % os.path.basename(gz))


def startup_row(args):
    cli = os.path.join(os.path.dirname(args.bench), "h5cl")
    cmd = ["python3", os.path.join(HERE, "startup.py"), "--h5cl", cli,
           "--runs", "20"]
    log(" ".join(cmd))
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                         check=True).stdout
    line = next((l for l in out.splitlines() if l.startswith("stats ")), "")
    ms = float(line.split()[1]) if line else float("nan")
    return ("start-up: `h5cl stats` of 1 MiB, second process",
            "%.1f ms (median of 20)" % ms, "", "met" if ms <=
            TARGET["startup"] else "missed", "startup.py --runs 20")


if __name__ == "__main__":
    main()
