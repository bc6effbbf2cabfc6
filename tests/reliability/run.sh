#!/bin/sh
# The reliability aggregator (`make test-reliability`): runs every
# executable check in tests/reliability/ in name order with the build
# directory as its argument, from the repository root, sums the
# "FIGURE <key> <integer>" lines they print into one table, and fails when
# a check fails or when h5cl crashed or hung, objects leaked or files
# changed.  Usage: tests/reliability/run.sh BUILD_DIR
set -u
B=${1:?usage: tests/reliability/run.sh BUILD_DIR}
DIR=$(dirname "$0")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/h5cl-reliability.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
failed=""
start=$(date +%s)
for t in "$DIR"/*; do
    name=$(basename "$t")
    [ -f "$t" ] && [ -x "$t" ] && [ "$name" != run.sh ] || continue
    echo "== $name"
    t0=$(date +%s)
    # the check's output as it comes; its status through a file, since a
    # pipeline's status is tee's
    { "$t" "$B"; echo $? > "$WORK/rc"; } 2>&1 | tee "$WORK/out"
    rc=$(cat "$WORK/rc")
    grep '^FIGURE ' "$WORK/out" | sed "s|^FIGURE |$name |" >> "$WORK/figures"
    echo "== $name: exit $rc, $(( $(date +%s) - t0 )) s"
    [ "$rc" = 0 ] || failed="$failed $name"
done
touch "$WORK/figures"
echo
echo "reliability figures ($(( $(date +%s) - start )) s in all)"
# key, total, and which checks gave it
awk '{ total[$2] += $3; if ($3 != 0) from[$2] = from[$2] " " $1; seen[$2] = 1 }
     END { for (k in seen) printf "  %-28s %12d %s\n", k, total[k], from[k] }' \
    "$WORK/figures" | sort
bad=$(awk '$2 ~ /^(h5cl_crashes|h5cl_hangs|leaked_objects|files_changed)$/ &&
           $3 != 0 { print $2 }' "$WORK/figures" | sort -u | tr '\n' ' ')
[ -z "$bad" ] || echo "reliability: must be 0: $bad"
[ -z "$failed" ] || echo "reliability: failed:$failed"
[ -z "$bad$failed" ] && echo "reliability: all checks passed" && exit 0
exit 1
