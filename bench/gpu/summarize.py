#!/usr/bin/env python3
"""One line per h5cl-bench JSON row: what run.sh puts in its log (the JSON
itself stays in the bench-*.json files).  Usage: summarize.py FILE..."""
import json
import sys


def fmt(v, spec=".2f"):
    return "-" if v is None else format(v, spec)


def main(paths):
    roof_done = False
    for path in paths:
        try:
            rows = [json.loads(line) for line in open(path) if line.strip()]
        except (OSError, ValueError) as e:
            print(f"{path}: {e}")
            continue
        for r in rows:
            roof = r.get("roofline", {})
            if not roof_done and roof.get("status") == "ok":
                print(f"roofline: H2D pinned {fmt(roof['h2d_pinned_gbps_median'])} GB/s, "
                      f"device read {fmt(roof['device_read_gbps_median'])} GB/s, "
                      f"device copy {fmt(roof.get('device_copy_gbps_median'))} GB/s "
                      f"(read/copy {fmt(roof.get('read_fraction_of_copy'))})")
                roof_done = True
            line = (f"  {r['case']:5} {r['row']:22} {r['status']:5} "
                    f"tile {r.get('tile_bytes', 0) >> 20}M x{r.get('run_slots', r.get('slots'))} "
                    f"{fmt(r.get('gbps_median'))} GB/s "
                    f"({fmt(r.get('gbps_min'))}-{fmt(r.get('gbps_max'))})")
            if "ratio_vs_raw" in r:
                line += (f" ratio {fmt(r['ratio_vs_raw'], '.3f')}"
                         f" overlap {fmt(r.get('overlap_median'), '.3f')}"
                         f" kernel {fmt(r.get('kernel_stage_gbps'))} GB/s")
                if "gflops_median" in r:
                    line += (f" {fmt(r['gflops_median'])} GFLOP/s"
                             f" ({fmt(r.get('fraction_of_syrk'), '.2f')} of SYRK)")
                st = r.get("stage_seconds_median", {})
                line += " stages " + " ".join(f"{k}={v:.3f}" for k, v in st.items() if v)
            if r["status"] != "ok":
                line += f" [{r.get('message', '')}]"
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
