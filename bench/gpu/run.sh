#!/bin/sh
# Runs h5cl's C tests, the CLI checks and the stats benchmark on an NVIDIA
# GPU machine with no package registry.  Run from the repository root with
# the bundle that `make gpu-bundle` made (binaries plus their shared
# libraries, OpenCL's ICD loader included):
#
#   BUNDLE=build/gpu-bundle OUT=gpu-results SIZE=16G sh bench/gpu/run.sh
#
# DEVICE=cpu runs the same steps on PoCL (a dry run of the script).
#
# Writes run.log, nvidia-smi.txt, devices.json, tests.log, cli-check.log,
# bench-*.json and a trace into $OUT.  Exit status: 0 all passed, 1 a check
# failed, 3 no NVIDIA OpenCL library on the machine (the evidence is in
# $OUT/no-opencl.txt).
set -u
BUNDLE=${BUNDLE:-build/gpu-bundle}
OUT=${OUT:-gpu-results}
SIZE=${SIZE:-16G}
DATA=${DATA:-/tmp/h5cl-bench}
DEVICE=${DEVICE:-gpu}
mkdir -p "$OUT" "$DATA"
log() { echo "$*" | tee -a "$OUT/run.log"; }
status=0

# ---- OpenCL: the NVIDIA ICD is libnvidia-opencl.so.1 from the driver ----
export LD_LIBRARY_PATH="$BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
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
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$(dirname "$nvlib")"
    log "NVIDIA OpenCL: $nvlib"
fi
"$BUNDLE/bin/h5cl" devices | tee -a "$OUT/run.log"
"$BUNDLE/bin/h5cl" devices --json > "$OUT/devices.json" || status=1

# ---- correctness on the GPU ----
t0=$(date +%s)
H5CL_DEVICE=$DEVICE timeout 240 "$BUNDLE/bin/h5cl-tests" > "$OUT/tests.log" 2>&1 || status=1
log "C tests on $DEVICE: $(grep -E '^[0-9]+%: Checks' "$OUT/tests.log") ($(($(date +%s) - t0)) s)"
if python3 -c 'import numpy, h5py' 2>/dev/null; then
    H5CL_DEVICE=$DEVICE timeout 120 sh tools/cli-check.sh "$BUNDLE/bin/h5cl" > "$OUT/cli-check.log" 2>&1 || status=1
    log "CLI checks on $DEVICE: $(tail -n 1 "$OUT/cli-check.log")"
else
    log "CLI checks skipped: python3 with numpy and h5py not found"
fi
if python3 -c 'import numpy, h5py, pytest' 2>/dev/null; then
    (cd python-bindings && H5CL_DEVICE=$DEVICE H5CL_LIBRARY="$(cd .. && pwd)/$BUNDLE/lib/libh5cl.so" \
        timeout 240 python3 -m pytest -q -p no:cacheprovider tests) > "$OUT/pytest.log" 2>&1 || status=1
    log "Python tests on $DEVICE: $(tail -n 1 "$OUT/pytest.log")"
else
    log "Python tests skipped: python3 with numpy, h5py and pytest not found"
fi

# ---- the stats benchmark: page-cached float32, 8 MiB chunks ----
for cfg in "8M 3" "64M 4"; do
    set -- $cfg # two words: tile bytes, slots
    t0=$(date +%s)
    timeout 200 "$BUNDLE/bin/h5cl-bench" --device "$DEVICE" --size "$SIZE" --dir "$DATA" --keep \
        --tile-bytes "$1" --slots "$2" --reps 5 --json \
        --trace "$OUT/trace-$1.json" > "$OUT/bench-$1.json" 2> "$OUT/bench-$1.err" || status=1
    log "bench tile $1 slots $2 ($(($(date +%s) - t0)) s):"
    cat "$OUT/bench-$1.json" >> "$OUT/run.log"
done
log "status $status"
exit $status
