#!/usr/bin/env bash
# Compare the reports of two reqtrail binaries byte for byte: every bundled sample (the version
# matrix's under sample-logs/stacks/ too) in every format (each file alone, each scenario's files merged, all of them kept apart), read from a
# file and from a pipe, and a generated perf workload. For refactors that must change nothing.
#
#   bash scripts/same-reports.sh OLD_BINARY NEW_BINARY [MEGABYTES]
#
# MEGABYTES (default 64) sizes the workload made by ../shared/perf/gen.py (seed 7); 0 skips it.
# Prints one line per difference and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(realpath "$1")
new=$(realpath "$2")
mb=${3:-64}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

runs=0
diffs=0
# same NAME ARGS...: run both binaries with ARGS, compare stdout and exit code.
same() {
    local name=$1
    shift
    local a=0 b=0
    "$old" "$@" >"$work/old" 2>"$work/old.err" || a=$?
    "$new" "$@" >"$work/new" 2>"$work/new.err" || b=$?
    runs=$((runs + 1))
    if [ "$a" != "$b" ] || ! cmp -s "$work/old" "$work/new" || ! cmp -s "$work/old.err" "$work/new.err"; then
        diffs=$((diffs + 1))
        echo "DIFFERS: $name (exit $a vs $b)"
        diff "$work/old" "$work/new" | head -5 || true
    fi
}
# piped NAME FILE ARGS...: the same, with FILE on standard input.
piped() {
    local name=$1 file=$2
    shift 2
    local a=0 b=0
    "$old" "$@" <"$file" >"$work/old" 2>&1 || a=$?
    "$new" "$@" <"$file" >"$work/new" 2>&1 || b=$?
    runs=$((runs + 1))
    if [ "$a" != "$b" ] || ! cmp -s "$work/old" "$work/new"; then
        diffs=$((diffs + 1))
        echo "DIFFERS: $name from a pipe (exit $a vs $b)"
    fi
}

formats=(table json ndjson markdown html)
shopt -s nullglob
for dir in sample-logs/*/ sample-logs/stacks/*/*/; do
    [ "$dir" = sample-logs/stacks/ ] && continue
    scenario=${dir#sample-logs/}
    scenario=${scenario%/}
    for log in "$dir"*.log; do
        for f in "${formats[@]}"; do
            same "$log $f" --color never --format "$f" "$log"
            same "$log $f public-host" --color never --format "$f" --public-host app.example.com "$log"
        done
        piped "$log" "$log" --format json
    done
    for f in "${formats[@]}"; do
        same "$scenario merged $f" --color never --format "$f" "$dir"
    done
done
for f in "${formats[@]}"; do
    same "all separate $f" --color never --format "$f" --separate sample-logs/*/docker.log
done

if [ "$mb" != 0 ] && [ -f ../shared/perf/gen.py ]; then
    python3 ../shared/perf/gen.py "$mb" 7 >"$work/perf.log"
    for f in json ndjson table; do
        same "perf $mb MiB $f" --color never --format "$f" "$work/perf.log"
    done
    piped "perf $mb MiB" "$work/perf.log" --format json
fi

echo "$runs comparisons, $diffs differ"
[ "$diffs" = 0 ]
