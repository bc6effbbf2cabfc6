#!/bin/sh
# Smoke test of h5cl-bench, run by `make check`: every case on every
# generated dtype and layout at a tiny size, one repetition (the cov case
# in a suite of its own: `all` leaves it out), and the usage errors.  Every row must be ok, i.e. its h5cl results passed the bench's
# own checks; the figures themselves are not judged (tiny files on a
# shared machine say nothing about speed).
#
#   sh bench/smoke.sh build/h5cl-bench
set -eu

BENCH=${1:?usage: smoke.sh H5CL-BENCH}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/h5cl-bench-smoke.XXXXXX")
trap 'rm -rf "$DIR"' EXIT INT TERM
PYTHON=${PYTHON:-python3}
fails=0

fail() {
    echo "bench smoke: FAIL: $*"
    fails=$((fails + 1))
}

# 1. The whole matrix: 3 dtypes x 4 layouts, 5 cases each, as JSON.
if "$BENCH" --suite --size 2M --chunk-bytes 256K --tile-bytes 512K \
        --reps 1 --no-roofline --json --dir "$DIR" \
        >"$DIR/suite.jsonl" 2>"$DIR/suite.err"; then
    :
else
    fail "--suite exited $?"; tail -5 "$DIR/suite.err"
fi
"$PYTHON" - "$DIR/suite.jsonl" <<'EOF' || fails=$((fails + 1))
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
want = {"stats": ["raw-h5dread", "h5cl-stats", "h5cl-stats-isolated",
                  "h5cl-stats-fresh-handle"],
        "map": ["raw-read-write", "h5cl-map"],
        "hist": ["raw-h5dread", "h5cl-hist", "h5cl-hist-data-range"],
        "axis": ["raw-h5dread", "h5cl-stats-axis0", "h5cl-stats-axis1"],
        "fused": ["raw-h5dread", "h5cl-fused-expr", "h5cl-fused-two-inputs"]}
bad = [r for r in rows if r.get("status") != "ok"]
for r in bad:
    print("bench smoke: FAIL: %s/%s %s %s: %s" % (
        r.get("suite", {}).get("dtype"), r.get("suite", {}).get("layout"),
        r.get("case"), r.get("row"), r.get("message")))
combos = collections.defaultdict(list)
for r in rows:
    s = r["suite"]
    combos[(s["dtype"], s["layout"], s["chunk_bytes"])].append(
        (r["case"], r["row"]))
expect = [(c, n) for c in want for n in want[c]]
problems = []
if len(combos) != 12:
    problems.append("%d dtype x layout files, want 12" % len(combos))
for k, got in combos.items():
    if sorted(got) != sorted(expect):
        problems.append("%s: rows %s" % (k, sorted(got)))
for r in rows:
    if r["status"] != "ok":
        continue
    if r["row"] == "h5cl-stats-axis0" and r["result"]["states"] != 1024:
        problems.append("axis 0: %d states" % r["result"]["states"])
    if r["row"] == "h5cl-fused-two-inputs" and r["inputs"] != 2:
        problems.append("fused two inputs: %r" % r["inputs"])
    if r["case"] in ("axis", "fused") and r["row"].startswith("h5cl") \
            and not r["gbps_median"] > 0:
        problems.append("%s: no throughput" % r["row"])
for p in problems:
    print("bench smoke: FAIL: " + p)
sys.exit(1 if bad or problems else 0)
EOF

# 1b. The cov case over the same matrix, on its own 128-column files:
# every row checked, with its GFLOP/s and the device's SYRK beside it.
if "$BENCH" --suite --case cov --size 2M --chunk-bytes 256K \
        --tile-bytes 512K --reps 1 --no-roofline --json --dir "$DIR" \
        >"$DIR/cov.jsonl" 2>"$DIR/cov.err"; then
    :
else
    fail "--suite --case cov exited $?"; tail -5 "$DIR/cov.err"
fi
"$PYTHON" - "$DIR/cov.jsonl" <<'EOF' || fails=$((fails + 1))
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
problems = ["%s/%s %s: %s" % (r["suite"]["dtype"], r["suite"]["layout"],
                              r.get("row"), r.get("message"))
            for r in rows if r.get("status") != "ok"]
got = sorted((r["case"], r["row"]) for r in rows)
want = sorted([("cov", "raw-h5dread"), ("cov", "h5cl-cov")] * 12)
if got != want:
    problems.append("cov rows %s" % got)
for r in rows:
    if r.get("status") != "ok" or r["row"] != "h5cl-cov":
        continue
    if r["result"]["columns"] != 128 or r["shape"][1] != 128:
        problems.append("cov: %r columns" % r["result"]["columns"])
    if not r["gflops_median"] > 0 or r["device_syrk"]["status"] != "ok" \
            or not r["fraction_of_syrk"] > 0:
        problems.append("cov: no GFLOP/s or SYRK rate: %r" %
                        r.get("device_syrk"))
for p in problems:
    print("bench smoke: FAIL: " + p)
sys.exit(1 if problems else 0)
EOF

# 2. Per-axis statistics and covariances of 1-D data cannot run: an error
# row, exit 1.
for c in axis cov; do
    st=0
    "$BENCH" --case $c --rank 1 --size 1M --chunk-bytes 256K --reps 1 \
        --no-roofline --dir "$DIR" >"$DIR/${c}1d.out" 2>&1 || st=$?
    [ "$st" = 1 ] || fail "--case $c --rank 1 exited $st, want 1"
    grep -q "needs rank-2 data" "$DIR/${c}1d.out" ||
        fail "--case $c --rank 1 gave no reason"
done

# 2b. A device that does not exist: exit 1, saying what exists, before any
# data is generated.
st=0
"$BENCH" --device no-such-device --size 1M --dir "$DIR/nodev" \
    >"$DIR/nodev.out" 2>&1 || st=$?
[ "$st" = 1 ] || fail "--device no-such-device exited $st, want 1"
grep -q "cannot open the device: .*no OpenCL device matches" "$DIR/nodev.out" ||
    fail "--device no-such-device gave no reason: $(cat "$DIR/nodev.out")"
[ ! -e "$DIR/nodev" ] || fail "--device no-such-device generated data"

# 3. Usage errors: exit 2.
for args in "--dtype int8" "--layout szip" "--case nope" "--cols 0" \
        "--cols 4097" \
        "--suite --file $DIR/x.h5"; do
    st=0
    # shellcheck disable=SC2086 # the words of $args are separate options
    "$BENCH" $args >/dev/null 2>&1 || st=$?
    [ "$st" = 2 ] || fail "'$args' exited $st, want 2"
done

# 4. Generated files are cached by name: the second run reuses the first.
"$BENCH" --generate --dtype float64 --layout gzip --size 1M \
    --chunk-bytes 256K --dir "$DIR" >"$DIR/gen1.out" 2>&1 ||
    fail "--generate exited $?"
"$BENCH" --generate --dtype float64 --layout gzip --size 1M \
    --chunk-bytes 256K --dir "$DIR" >"$DIR/gen2.out" 2>&1 ||
    fail "--generate (again) exited $?"
grep -q "bench-f64-1d-1MiB-gzip256KiB.h5" "$DIR/gen1.out" ||
    fail "unexpected generated name: $(cat "$DIR/gen1.out")"
grep -q "reusing" "$DIR/gen2.out" || fail "the cached file was not reused"
# --cols other than 1024 is in the name, so files of two widths never mix
"$BENCH" --generate --rank 2 --cols 64 --size 1M --chunk-bytes 256K \
    --dir "$DIR" >"$DIR/gen3.out" 2>&1 || fail "--generate --cols exited $?"
grep -q "bench-f32-2d64c-1MiB-chunk256KiB.h5" "$DIR/gen3.out" ||
    fail "unexpected generated name: $(cat "$DIR/gen3.out")"

# 5. With the roofline, every h5cl row of a read-only case carries the
# on-device read measured next to each repetition and its ratio to it.
if "$BENCH" --case stats,axis --rank 2 --cols 16 --size 4M \
        --chunk-bytes 256K --reps 2 --json --dir "$DIR" \
        >"$DIR/roof.jsonl" 2>"$DIR/roof.err"; then
    "$PYTHON" - "$DIR/roof.jsonl" <<'EOF' || fails=$((fails + 1))
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
h5 = [r for r in rows if r["row"].startswith("h5cl-")]
bad = [r["case"] + "/" + r["row"] for r in h5
       if not (r.get("device_read_interleaved", {}).get("ratio_median", 0) > 0
               and r["device_read_interleaved"]["gbps_median"] > 0)]
if not h5 or bad:
    print("bench smoke: FAIL: no interleaved on-device read in %s" %
          (bad or "any row"))
    sys.exit(1)
EOF
else
    fail "--case stats,axis with the roofline exited $?: $(tail -3 "$DIR/roof.err")"
fi

if [ "$fails" -ne 0 ]; then
    echo "bench smoke: $fails failed"
    exit 1
fi
echo "bench smoke: ok (suite of 12 files x 5 cases, cov on 12 files," \
    "errors, cache, interleaved device read)"
