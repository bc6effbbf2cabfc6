#!/bin/sh
# make memcheck-host: valgrind memcheck over the parts of h5cl that need no
# OpenCL device, short enough for CI (make memcheck runs everything under
# valgrind and takes over 25 minutes, nearly all of it inside PoCL):
#   - the Check cases that make no device (found by running the suite with
#     no OpenCL platform: OCL_ICD_VENDORS=/nonexistent): status and error
#     names, partial-state merge and serialisation, the expression
#     language's parser, evaluator and error messages, the thread pool;
#   - the fuzz targets with a plain main (tests/fuzz/fuzz_main.c) over
#     their seed corpora: the expression code generator, and dataset open,
#     CF attribute parsing, tile planning and the direct and decoded chunk
#     readers on every layout and filter the suite writes plus the shared
#     corpus's real and hostile files.
# expr's "fuzz" case (1500 random expressions x 6) is left to make
# asan-test: under valgrind it takes minutes; the corpus replay covers the
# same parser.  Zero errors and zero definite leaks, with the suppressions
# in tests/valgrind.supp (PoCL, glibc) and tests/valgrind-hdf5.supp
# (libhdf5's own leaks on hostile files), each explained there.
#
# Usage: tests/memcheck-host.sh BUILD_DIR
set -u
B=${1:-build}
CASES="util:helpers state:merge state:serialize errors:static expr:errors expr:language direct:pool"
VG="valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --suppressions=tests/valgrind.supp --suppressions=tests/valgrind-hdf5.supp"

work=$(mktemp -d "${TMPDIR:-/tmp}/h5cl-memcheck.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
failed=""
for sc in $CASES; do
    CK_FORK=no CK_RUN_SUITE=${sc%%:*} CK_RUN_CASE=${sc#*:} \
        $VG "$B/h5cl-tests" || failed="$failed $sc"
done
TMPDIR=$work $VG "$B/replay_fuzz_expr" tests/fuzz/corpus/fuzz_expr/* ||
    failed="$failed fuzz_expr-corpus"
TMPDIR=$work $VG "$B/replay_fuzz_open" tests/fuzz/corpus/fuzz_open/* ||
    failed="$failed fuzz_open-corpus"
if [ -n "$failed" ]; then
    echo "memcheck-host: errors in:$failed" >&2
    exit 1
fi
echo "memcheck-host: no memcheck errors in: $CASES fuzz_expr-corpus fuzz_open-corpus"
