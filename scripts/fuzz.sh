#!/usr/bin/env bash
# Fuzz every cargo-fuzz target in fuzz/ for a bounded time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 30)
#
# Installs cargo-fuzz if it is missing, seeds each target's corpus from the captured sample logs
# (sample-logs/*/docker*.log cut into pieces of a few lines), builds, and runs each target with
# a per-input timeout so a hang fails like a crash. Exits non-zero if any target crashed, hung
# or ran out of memory; the reproducer is in fuzz/artifacts/<target>/ (turn it into a test in
# tests/hostile.rs). Works on stable Rust: cargo-fuzz's nightly flags are allowed through
# RUSTC_BOOTSTRAP=1.
#
# Environment: FUZZ_TARGETS (default: all), FUZZ_SANITIZER (none | address; default none: the
# crate is safe Rust and the oracles are panics, overflow checks and debug assertions, which
# stay on; address triples the cost of each run).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd fuzz
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}

# Longest input per target: a few dozen real lines for the pipeline and the merge, a few lines
# for the parser.
max_len() {
    case "$1" in
        pipeline | merge) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

seed() {
    local dir=corpus/$1 f base
    mkdir -p "$dir"
    for f in ../sample-logs/*/docker*.log; do
        base=$(basename "$(dirname "$f")")-$(basename "$f" .log)
        [ -e "$dir/seed-$base-000" ] && continue
        split -l "$2" -d -a 3 "$f" "$dir/seed-$base-"
    done
}

echo "== build (sanitizer: $sanitizer)"
cargo fuzz build -s "$sanitizer"

failed=()
for t in $targets; do
    case "$t" in
        pipeline | merge) seed "$t" 24 ;;
        *) seed "$t" 4 ;;
    esac
    echo "== fuzz $t for ${secs}s ($(find "corpus/$t" -type f | wc -l) corpus inputs)"
    log=$(mktemp)
    set +e
    cargo fuzz run -s "$sanitizer" "$t" -- \
        -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    grep -E '^#[0-9]+ +DONE|^Done [0-9]+ runs|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || true
    if [ "$status" -ne 0 ] || grep -qE 'Test unit written|SUMMARY: libFuzzer|deadly signal|panicked' "$log"; then
        failed+=("$t")
        echo "!! $t failed (exit $status); the end of its output:"
        tail -n 60 "$log"
    fi
    rm -f "$log"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FUZZ FAILED: ${failed[*]} (reproducers in fuzz/artifacts/)"
    exit 1
fi
echo "fuzz ok: $(echo $targets | wc -w) targets, ${secs}s each"
