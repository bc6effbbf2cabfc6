#!/bin/sh
# Fuzz replay: both libFuzzer targets (tests/fuzz) over their committed
# seed corpora in regression mode, where every input must pass; then each
# target fuzzed for FUZZ_SECONDS (default 40).  fuzz_open runs in fork mode
# with crashes, timeouts and out-of-memory kills tolerated, so that it goes
# on past crashes inside libhdf5 1.10.8 itself; fuzz_expr, where libhdf5
# plays no part, in one process (several times faster).
#
# Each input that crashed is run again alone and classified by its stack:
# the first frame below the sanitizer runtime, libFuzzer, libc and other
# shared libraries than libhdf5 (zlib, libaec, libdeflate) decides.
# In h5cl's code: an h5cl crash (a hang, for libFuzzer's 10 s timeout),
# which fails the run and leaves the input in $FUZZ_KEEP (default
# BUILD/fuzz/findings) to be fixed and added to the seed corpus.  Inside
# libhdf5: a contained libhdf5 crash or hang.  An input that does not
# crash again in three runs is counted apart (fuzz_unreproduced) and
# printed.
#
# Usage: tests/reliability/fuzz_replay.sh BUILD_DIR   (from the repo root)
# Environment: FUZZ_SECONDS per target (0: replay only), FUZZ_SEED.
# Prints FIGURE lines (tests/reliability convention) and exits non-zero on
# any failed replay or h5cl crash.
set -u
B=${1:-build}
SECONDS_EACH=${FUZZ_SECONDS:-40}
SEED=${FUZZ_SEED:-1}
KEEP=${FUZZ_KEEP:-$B/fuzz/findings}
ROOT=$(pwd)
case $B in /*) BIN=$B/fuzz ;; *) BIN=$ROOT/$B/fuzz ;; esac
SUPP=$ROOT/tests/fuzz/lsan.supp

${MAKE:-make} --no-print-directory -s fuzz B="$B" >/dev/null ||
    { echo "fuzz_replay: building the fuzz targets failed" >&2; exit 1; }

# Scratch, file images included, in memory where there is a tmpfs.
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/h5cl-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
export TMPDIR="$work"
# allocator_may_return_null: a huge malloc is an error the code must
# handle (h5cl returns H5CL_ERR_NO_MEMORY), not a sanitizer report.
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:handle_abort=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$SUPP:print_suppressions=0"
LIMITS="-timeout=10 -rss_limit_mb=2560 -malloc_limit_mb=1024"

fail=0
inputs=0
execs=0
h5cl_crashes=0
h5cl_hangs=0
hdf5_crashes=0
unrepro=0

# classify LOG: "libhdf5" or "h5cl" from the first stack in LOG (for an
# out-of-memory kill, the largest live allocation's), "none" without one.
classify() {
    awk '
    /^ *#[0-9]+ 0x/ {
        line = $0
        # sanitizer runtime, libFuzzer, libc and the dynamic loader
        if (line ~ /(__asan|__lsan|__ubsan|__sanitizer|__interceptor|fuzzer::|compiler-rt|sanitizer_common|libc\.so|ld-linux|libstdc\+\+|libgcc_s)/) next
        if (line ~ / in (malloc|calloc|realloc|free|memcpy|memmove|memset|memcmp|strlen|strnlen|strdup|abort|raise|__assert_fail|__pthread_kill_implementation|__GI_[a-z_]*) /) next
        # glibc symbolised from its sources (no "libc.so" on the line):
        # __memcpy_avx_unaligned_erms string/../sysdeps/x86_64/...
        if (line ~ / in __(mem|str|wmem)[a-z0-9_]* / || line ~ / (string|sysdeps)\//) next
        # other shared libraries (zlib and libaec under the HDF5 filters,
        # libdeflate under the h5cl decoder): whoever called them decides
        if (line ~ /\(\/[^ ]*\.so[.0-9]*\+0x/ && line !~ /libhdf5/) next
        print (line ~ /libhdf5/ ? "libhdf5" : "h5cl")
        found = 1
        exit
    }
    END { if (!found) print "none" }' "$1"
}

# The seed corpus in one process; if that fails, each seed alone, so that
# a seed crashing inside libhdf5 (say, through a call added after it was
# committed) is told apart from a regression in h5cl.
replay() { # target
    t=$1
    n=$(ls "tests/fuzz/corpus/$t" | wc -l)
    inputs=$((inputs + n))
    log=$work/replay-$t.log
    if "$BIN/$t" $LIMITS "tests/fuzz/corpus/$t"/* >"$log" 2>&1; then
        echo "fuzz_replay: $t: $n seed inputs pass"
        return
    fi
    bad=0
    for f in "tests/fuzz/corpus/$t"/*; do
        "$BIN/$t" $LIMITS "$f" >"$log" 2>&1 && continue
        if [ "$(classify "$log")" = libhdf5 ]; then
            hdf5_crashes=$((hdf5_crashes + 1))
            echo "fuzz_replay: $t: seed $f crashes inside libhdf5" >&2
        else
            bad=$((bad + 1))
            echo "fuzz_replay: $t: seed $f FAILS:" >&2
            grep -E "ERROR|SUMMARY|fuzz_(expr|open):|^    #[0-9]" "$log" | head -30 >&2
        fi
    done
    [ "$bad" = 0 ] || fail=1
    echo "fuzz_replay: $t: $n seed inputs, $bad failing in h5cl"
}

keep() { # target, input, its log, what
    mkdir -p "$KEEP"
    cp "$2" "$3" "$KEEP/"
    echo "fuzz_replay: $1: $4, input kept as $KEEP/$(basename "$2"):" >&2
    grep -E "ERROR|SUMMARY|fuzz_(expr|open):|^    #[0-9]" "$3" | head -25 >&2
}

fuzz() { # fork|nofork, target, extra libFuzzer arguments
    mode=$1
    t=$2
    shift 2
    # fork mode goes on past crashes (libhdf5's); without it the first
    # crash ends the run, for a target where any crash is h5cl's
    if [ "$mode" = fork ]; then
        set -- -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 "$@"
    fi
    corpus=$work/corpus-$t
    art=$work/artifacts-$t
    mkdir -p "$corpus" "$art"
    cp "tests/fuzz/corpus/$t"/* "$corpus/"
    log=$work/fuzz-$t.log
    # -fork=1: one child at a time (CI has two cores, the tests others)
    (cd "$work" && "$BIN/$t" -seed="$SEED" -max_total_time="$SECONDS_EACH" \
        -artifact_prefix="$art/" $LIMITS "$@" "$corpus") >"$log" 2>&1
    # fork mode reports "#<execs>: cov: ..." after each job, the plain
    # mode "#<execs> <event> cov: ..."
    n=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -dc 0-9)
    n=${n:-0}
    execs=$((execs + n))
    inputs=$((inputs + n))
    c_h5cl=0
    c_hang=0
    c_hdf5=0
    for a in "$art"/crash-* "$art"/leak-* "$art"/oom-* "$art"/timeout-*; do
        [ -f "$a" ] || continue # slow-unit-* are no failures
        rlog=$a.log
        # up to three tries: some libhdf5 crashes depend on heap layout
        for try in 1 2 3; do
            "$BIN/$t" $LIMITS "$a" >"$rlog" 2>&1
            where=$(classify "$rlog")
            [ "$where" = none ] || break
        done
        if [ "$where" = none ]; then
            unrepro=$((unrepro + 1))
            echo "fuzz_replay: $t: $(basename "$a") did not crash again in 3 runs" >&2
        elif [ "$where" = libhdf5 ]; then
            c_hdf5=$((c_hdf5 + 1))
        elif [ "${a##*/timeout-}" != "$a" ]; then
            c_hang=$((c_hang + 1))
            keep "$t" "$a" "$rlog" "hang in h5cl"
        else
            c_h5cl=$((c_h5cl + 1))
            keep "$t" "$a" "$rlog" "crash in h5cl"
        fi
    done
    echo "fuzz_replay: $t: $n executions in ${SECONDS_EACH}s, $c_h5cl crashes and $c_hang hangs in h5cl, $c_hdf5 contained inside libhdf5"
    h5cl_crashes=$((h5cl_crashes + c_h5cl))
    h5cl_hangs=$((h5cl_hangs + c_hang))
    hdf5_crashes=$((hdf5_crashes + c_hdf5))
}

replay fuzz_expr
replay fuzz_open
if [ "$SECONDS_EACH" -gt 0 ]; then
    fuzz nofork fuzz_expr -dict="$ROOT/tests/fuzz/expr.dict" -max_len=4096
    fuzz fork fuzz_open -max_len=65536
fi

echo "FIGURE fuzz_execs $execs"
echo "FIGURE h5cl_crashes $h5cl_crashes"
echo "FIGURE h5cl_hangs $h5cl_hangs"
echo "FIGURE libhdf5_crashes_contained $hdf5_crashes"
echo "FIGURE inputs_tried $inputs"
echo "FIGURE fuzz_unreproduced $unrepro"
[ "$fail" = 0 ] && [ "$h5cl_crashes" = 0 ] && [ "$h5cl_hangs" = 0 ]
