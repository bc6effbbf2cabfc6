#!/usr/bin/env python3
"""Plots of h5cl's benchmark outputs (matplotlib, Agg, PNG).

  plot.py throughput COMPARE.jsonl OUT.png
      bars of GB/s (median, min-max whiskers) per case per system, from
      `bench/baselines/compare.py --json` (one JSON object per row)
  plot.py timeline TRACE.json OUT.png
      Gantt of one h5cl run's pipeline lanes, from `h5cl-bench --trace`
      (Chrome trace events: a lane per stage, a bar per tile)
"""

import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402


def load_rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def plot_throughput(rows, out):
    rows = [r for r in rows if r.get("status") == "ok" and r.get("gbps_median")]
    if not rows:
        raise SystemExit("plot.py: no ok rows with a throughput")
    cases = list(dict.fromkeys(r["case"] for r in rows))
    systems = list(dict.fromkeys(r["system"] for r in rows))
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(max(7, 2.4 * len(cases)), 4.5))
    cmap = plt.get_cmap("tab10")
    for j, s in enumerate(systems):
        xs, ys, lo, hi = [], [], [], []
        for i, c in enumerate(cases):
            r = next((r for r in rows if r["case"] == c and r["system"] == s),
                     None)
            if r is None:
                continue
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(r["gbps_median"])
            lo.append(r["gbps_median"] - r["gbps_min"])
            hi.append(r["gbps_max"] - r["gbps_median"])
        color = "black" if s == "h5cl" else cmap(j % 10)
        hatch = "//" if s.startswith("ceiling") else None
        bars = ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=s,
                      color="white" if hatch else color, edgecolor=color,
                      hatch=hatch)
        for b, y in zip(bars, ys):
            ax.annotate("%.2f" % y, (b.get_x() + b.get_width() / 2, y),
                        ha="center", va="bottom", fontsize=6,
                        xytext=(0, 2), textcoords="offset points")
    info = rows[0].get("info", {})
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylabel("GB/s (dataset bytes / wall s), log scale")
    ax.set_title("%s, %.2f GB %s, %s reps\n%s" % (
        info.get("dataset", ""), info.get("nbytes", 0) / 1e9,
        info.get("dtype", ""), info.get("reps", "?"), info.get("device", "")),
        fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def plot_timeline(path, out, window=None):
    """window: (lo, hi) in ms to draw only that stretch, so that the tiles of
    a run of thousands can be told apart; busy times stay the whole run's."""
    with open(path) as f:
        tr = json.load(f)
    lanes, bars = {}, {}
    for e in tr["traceEvents"]:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            lanes[e["tid"]] = e["args"]["name"]
        elif e.get("ph") == "X":
            bars.setdefault(e["tid"], []).append(
                (e["ts"] / 1e3, e["dur"] / 1e3, e["args"].get("tile", 0)))
    tids = sorted(lanes)
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(tids) + 1.6))
    cmap = plt.get_cmap("tab20")
    for row, tid in enumerate(tids):
        segs = [(b, d) for b, d, _ in bars.get(tid, []) if d > 0]
        colors = [cmap(t % 20) for _, d, t in bars.get(tid, []) if d > 0]
        busy = sum(d for _, d in segs)
        if window:
            keep = [i for i, (b, d) in enumerate(segs)
                    if b + d >= window[0] and b <= window[1]]
            segs = [segs[i] for i in keep]
            colors = [colors[i] for i in keep]
        ax.broken_barh(segs, (row - 0.4, 0.8), facecolors=colors,
                       edgecolor="black", linewidth=0.2)
        ax.text(1.0, row, " %.1f ms busy" % busy, va="center", fontsize=7,
                transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(tids)))
    ax.set_yticklabels([lanes[t] for t in tids], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms since the run began (colour: tile)%s"
                  % (", %g to %g ms of the run" % window if window else ""))
    if window:
        ax.set_xlim(*window)
    od = tr.get("otherData", {})
    ax.set_title("%s: %s, %.0f MB in %.3f s (%.2f GB/s), overlap %.3f" % (
        od.get("device", ""), od.get("dataset", ""), od.get("bytes", 0) / 1e6,
        od.get("seconds", 0), od.get("bytes", 0) / 1e9 / max(
            od.get("seconds", 1e-9), 1e-9), od.get("overlap", 0)), fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput", help="bar chart from compare.py --json")
    t.add_argument("json")
    t.add_argument("png")
    g = sub.add_parser("timeline", help="Gantt from an h5cl-bench trace")
    g.add_argument("trace")
    g.add_argument("png")
    g.add_argument("--window", metavar="LO:HI",
                   type=lambda v: tuple(float(x) for x in v.split(":")),
                   help="draw only LO to HI ms of the run (busy times stay "
                        "the whole run's)")
    a = ap.parse_args(argv)
    if a.what == "throughput":
        plot_throughput(load_rows(a.json), a.png)
    else:
        plot_timeline(a.trace, a.png, a.window)
    print(a.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
