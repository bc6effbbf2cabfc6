#!/bin/sh
# Installs what h5cl needs on Debian/Ubuntu, or prints the exact commands
# when it cannot (not root, no apt-get).  Quiet when everything is present.
set -u
PKGS="build-essential ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo \
libclblast-dev liblapacke-dev libdeflate-dev libhdf5-dev hdf5-tools check pkg-config valgrind python3 python3-pip"
# scaling out (issue 9): h5cl-mpi and its tests
PKGS="$PKGS libopenmpi-dev openmpi-bin"
PY_MODULES="numpy h5py pytest tqdm matplotlib nbclient nbformat ipykernel"
# tests/reliability/mutants.py: backtraces say whether a crash was libhdf5's
PKGS="$PKGS gdb"
# h5cl.dask (issue 9): the threaded scheduler and dask.distributed
PY_MODULES="$PY_MODULES dask distributed"

# make fuzz / asan-test: clang with libFuzzer and the sanitizer runtimes
PKGS="$PKGS clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
pymissing=""
for m in $PY_MODULES; do
    python3 -c "import $m" 2>/dev/null || pymissing="$pymissing $m"
done
[ -z "$missing$pymissing" ] && exit 0

if [ -n "$missing" ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "deps: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing \
            || { echo "deps: apt-get failed" >&2; exit 1; }
    else
        echo "deps: missing Debian packages; run:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
        exit 1
    fi
fi
if [ -n "$pymissing" ]; then
    echo "deps: installing Python modules$pymissing"
    python3 -m pip install -q $pymissing 2>/dev/null \
        || python3 -m pip install -q --break-system-packages $pymissing \
        || { echo "deps: run: python3 -m pip install$pymissing" >&2; exit 1; }
fi
exit 0
