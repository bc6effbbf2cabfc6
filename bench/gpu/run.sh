#!/bin/sh
# Runs h5cl's C tests, the CLI checks, the Python tests and the benchmark
# cases on an NVIDIA GPU machine with no package registry.  Run from the
# repository root with the bundle that `make gpu-bundle` made (binaries
# plus their shared libraries, OpenCL's ICD loader included, found through
# an $ORIGIN rpath):
#
#   OUT=gpu-results SIZE=16G sh bench/gpu/run.sh
#
# DEVICE=cpu runs the same steps on PoCL (a dry run of the script);
# SIZE and MAP_SIZE shrink the data for that.  PLAN=rerun is the short
# second visit (a few minutes of GPU time): the Check suites and Python
# tests named in RERUN_SUITES / RERUN_PYTEST (RERUN_SUITES=all: the whole C
# suite), no CLI checks, the context-memory and slot-reuse probes
# (bench/gpu/slot_reuse.py), then a 64 MiB-tile case, the read-path and
# tile/slot sweeps and the covariance case instead of the full case list.
# RERUN_BENCH=none stops the rerun after the tests and the probes.
#
# Order: the data files are generated in the background (CPU, local disk)
# while the tests run on the GPU; then the timed cases run alone.  Every
# step has its own time limit, so the script always ends with a summary.
#
# Writes into $OUT: run.log (the summary), nvidia-smi.txt, devices.json,
# tests.log, cli-check.log, pytest.log, roofline + bench-*.json and
# bench-*.err, trace-*.json; run.log has one line per benchmark row
# (bench/gpu/summarize.py).  Exit status: 0 all passed, 1 a check
# failed, 3 no NVIDIA OpenCL library on the machine (the evidence is in
# $OUT/no-opencl.txt).
set -u
BUNDLE=${BUNDLE:-build/gpu-bundle}
OUT=${OUT:-gpu-results}
SIZE=${SIZE:-16G}
MAP_SIZE=${MAP_SIZE:-4G}
DATA=${DATA:-/tmp/h5cl-bench}
DEVICE=${DEVICE:-gpu}
PLAN=${PLAN:-full}
RERUN_SUITES=${RERUN_SUITES:-all}  # all, or SUITE and SUITE:TCASE words
RERUN_PYTEST=${RERUN_PYTEST:-integer or big_endian or memory or trim}
BIN=$BUNDLE/bin
mkdir -p "$OUT" "$DATA"
OUT=$(cd "$OUT" && pwd)
log() { echo "$*" | tee -a "$OUT/run.log"; }
status=0
t_start=$(date +%s)
since() { echo "$(($(date +%s) - $1)) s"; }

# ---- OpenCL: the NVIDIA ICD is libnvidia-opencl.so.1 from the driver ----
export H5CL_CACHE_DIR="${H5CL_CACHE_DIR:-$(mktemp -d)}"
nvlib=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1 /{print $NF; exit}')
if [ -z "$nvlib" ]; then
    for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu \
             /usr/lib64 /usr/lib /usr/local/cuda/compat /run/nvidia/driver/usr/lib/x86_64-linux-gnu; do
        if [ -e "$d/libnvidia-opencl.so.1" ]; then nvlib="$d/libnvidia-opencl.so.1"; break; fi
    done
fi
if [ -z "$nvlib" ]; then
    nvlib=$(find / -xdev -name 'libnvidia-opencl.so.1*' 2>/dev/null | head -n 1)
fi
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.max,pcie.link.width.max \
    --format=csv >> "$OUT/nvidia-smi.txt" 2>&1
if [ -z "$nvlib" ] && [ "$DEVICE" = gpu ]; then
    {
        echo "libnvidia-opencl.so.1 not found"
        echo "--- ldconfig -p | grep -i nvidia"; ldconfig -p | grep -i nvidia
        for d in /usr/local/nvidia /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu; do
            echo "--- ls $d"; ls "$d" 2>&1 | grep -i nvidia
        done
        echo "--- nvidia-smi"; cat "$OUT/nvidia-smi.txt"
    } > "$OUT/no-opencl.txt" 2>&1
    log "no NVIDIA OpenCL library: see no-opencl.txt"
    exit 3
fi
if [ -n "$nvlib" ]; then
    icd=$(mktemp -d)
    echo "$nvlib" > "$icd/nvidia.icd"
    export OCL_ICD_VENDORS="$icd"
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$(dirname "$nvlib")"
    log "NVIDIA OpenCL: $nvlib"
fi
log "machine: $(nproc) cores, $(awk '/MemTotal/{print int($2/1048576)}' /proc/meminfo) GiB, $(uname -r)"
"$BIN/h5cl" devices | tee -a "$OUT/run.log"
"$BIN/h5cl" devices --json > "$OUT/devices.json" || status=1

# ---- data, in the background: the timed cases need it, the tests do not ----
(
    timeout 300 "$BIN/h5cl-bench" --generate --size "$SIZE" --dir "$DATA" > "$OUT/gen.log" 2>&1 &
    timeout 300 "$BIN/h5cl-bench" --generate --size "$MAP_SIZE" --dir "$DATA" >> "$OUT/gen.log" 2>&1 &
    wait
) &
gen_pid=$!

# ---- correctness on the device ----
t0=$(date +%s)
if [ "$PLAN" = rerun ]; then
    : > "$OUT/tests.log"
    [ "$RERUN_SUITES" = all ] && RERUN_SUITES=
    [ -z "$RERUN_SUITES" ] && { H5CL_DEVICE=$DEVICE CK_TIMEOUT_MULTIPLIER=4 timeout 480 \
        "$BIN/h5cl-tests" > "$OUT/tests.log" 2>&1 || status=1; }
    for sc in $RERUN_SUITES; do
        case $sc in *:*) tcase=${sc#*:} ;; *) tcase= ;; esac
        env H5CL_DEVICE="$DEVICE" CK_RUN_SUITE="${sc%%:*}" ${tcase:+CK_RUN_CASE="$tcase"} \
            CK_TIMEOUT_MULTIPLIER=4 timeout 120 "$BIN/h5cl-tests" >> "$OUT/tests.log" 2>&1 || status=1
    done
else
    H5CL_DEVICE=$DEVICE CK_TIMEOUT_MULTIPLIER=4 timeout 480 "$BIN/h5cl-tests" > "$OUT/tests.log" 2>&1 || status=1
fi
log "C tests on $DEVICE ($PLAN): $(grep -E '^[0-9]+%: Checks' "$OUT/tests.log" | tr '\n' ' ' || tail -n 3 "$OUT/tests.log") ($(since "$t0"))"
t0=$(date +%s)
pytest_k=
if [ "$PLAN" = rerun ]; then
    pytest_k=$RERUN_PYTEST
    cli_pid=
    echo "CLI checks not rerun (PLAN=rerun)" > "$OUT/cli-check.log"
elif python3 -c 'import numpy, h5py' 2>/dev/null; then
    H5CL_DEVICE=$DEVICE timeout 150 sh tools/cli-check.sh "$BIN/h5cl" > "$OUT/cli-check.log" 2>&1 &
    cli_pid=$!
else
    cli_pid=
    echo "python3 with numpy and h5py not found" > "$OUT/cli-check.log"
fi
if python3 -c 'import numpy, h5py, pytest' 2>/dev/null; then
    (cd python-bindings && H5CL_DEVICE=$DEVICE H5CL_LIBRARY="$(cd .. && pwd)/$BUNDLE/lib/libh5cl.so" \
        timeout 150 python3 -m pytest -q -p no:cacheprovider ${pytest_k:+-k "$pytest_k"} tests) \
        > "$OUT/pytest.log" 2>&1 || status=1
else
    echo "python3 with numpy, h5py and pytest not found" > "$OUT/pytest.log"
fi
if [ -n "$cli_pid" ]; then wait "$cli_pid" || status=1; fi
log "CLI checks on $DEVICE: $(tail -n 1 "$OUT/cli-check.log")"
log "Python tests on $DEVICE: $(tail -n 1 "$OUT/pytest.log") ($(since "$t0"))"

t0=$(date +%s)
wait "$gen_pid"
log "data ready ($(since "$t0") more): $(tr '\n' ' ' < "$OUT/gen.log")"

# ---- timed cases, alone on the machine: page-cached float32, 8 MiB chunks ----
# NAME LIMIT_S ARGS...: one h5cl-bench run, JSON rows to bench-NAME.json;
# BENCH_ENV (e.g. "H5CL_DIRECT=0") is its extra environment
BENCH_ENV=
bench() {
    name=$1 limit=$2
    shift 2
    t0=$(date +%s)
    timeout "$limit" env $BENCH_ENV "$BIN/h5cl-bench" --device "$DEVICE" --dir "$DATA" --keep --json "$@" \
        > "$OUT/bench-$name.json" 2> "$OUT/bench-$name.err" || status=1
    log "bench $name: $BENCH_ENV $* ($(since "$t0"))"
    python3 bench/gpu/summarize.py "$OUT/bench-$name.json" 2>&1 | tee -a "$OUT/run.log"
    grep -h 'h5cl-bench: .*\(error\|fail\)' "$OUT/bench-$name.err" | head -n 5 | tee -a "$OUT/run.log"
}
if [ "$PLAN" = rerun ]; then
    # first, while there is time: does an OpenCL context itself keep memory?
    timeout 60 python3 bench/gpu/context_rss.py "$BUNDLE/lib/libh5cl.so" 100 "$DEVICE" 2>&1 |
        tee -a "$OUT/run.log"
    # slot buffers kept between runs (lib/slots.c) against made every run
    # (trimmed): seconds per run and RSS growth, small and 64 MiB tiles
    timeout 90 python3 bench/gpu/slot_reuse.py "$BUNDLE/lib/libh5cl.so" 200 4 1 "$DEVICE" 2>&1 |
        tee -a "$OUT/run.log"
    timeout 120 python3 bench/gpu/slot_reuse.py "$BUNDLE/lib/libh5cl.so" 40 256 64 "$DEVICE" 2>&1 |
        tee -a "$OUT/run.log"
    H5CL_ISOLATE=1 timeout 90 python3 bench/gpu/slot_reuse.py "$BUNDLE/lib/libh5cl.so" 200 4 1 "$DEVICE" 2>&1 |
        sed 's/^slot_reuse:/slot_reuse (isolated):/' | tee -a "$OUT/run.log"
    # RERUN_BENCH=none: correctness and the probe only (a short lease)
    if [ "${RERUN_BENCH:-all}" = none ]; then
        log "status $status (whole run $(since "$t_start"), no benchmarks)"
        exit $status
    fi
    bench stats-64M 100 --size "$SIZE" --case stats --tile-bytes 64M --slots 3 --reps 5 \
        --no-roofline --trace "$OUT/trace-stats-64M.json"
    bench stats-8M 100 --size "$SIZE" --case stats --tile-bytes 8M --slots 3 --reps 5 \
        --trace "$OUT/trace-stats-8M.json"
    BENCH_ENV=H5CL_DIRECT=0
    bench stats-8M-h5dread 100 --size "$SIZE" --case stats --tile-bytes 8M --slots 3 --reps 3 --no-roofline
    for t in 4 8; do
        BENCH_ENV=H5CL_THREADS=$t
        bench stats-8M-threads$t 60 --size "$SIZE" --case stats --tile-bytes 8M --slots 3 --reps 3 --no-roofline
    done
    BENCH_ENV=
    bench sweep 100 --size "$MAP_SIZE" --case stats --reps 2 --no-roofline \
        --sweep slots=2,3 --sweep tile-bytes=4M,8M,16M
    bench cov 100 --case cov --cols 1024 --size "$MAP_SIZE" --reps 3 --no-roofline
    bench hist-8M 100 --size "$SIZE" --case hist --tile-bytes 8M --slots 3 --reps 3 --no-roofline
    log "status $status (whole run $(since "$t_start"))"
    exit $status
fi
bench stats-64M 120 --size "$SIZE" --case stats --tile-bytes 64M --slots 3 --reps 5 \
    --trace "$OUT/trace-stats-64M.json"
bench stats-8M 120 --size "$SIZE" --case stats --tile-bytes 8M --slots 3 --reps 3 --no-roofline
bench hist-64M 120 --size "$SIZE" --case hist --tile-bytes 64M --slots 3 --reps 3 --no-roofline \
    --trace "$OUT/trace-hist-64M.json"
bench map-64M 120 --size "$MAP_SIZE" --case map --tile-bytes 64M --slots 3 --reps 3 --no-roofline \
    --trace "$OUT/trace-map-64M.json"
bench sweep 120 --size "$MAP_SIZE" --case stats --reps 2 --no-roofline \
    --sweep slots=2,3,4 --sweep tile-bytes=16M,64M,256M
log "status $status (whole run $(since "$t_start"))"
exit $status
