#!/usr/bin/env bash
# Builds the fastest reqtrail: a release build optimised with a profile of its own runs (PGO).
# On the 1 GiB benchmark log it takes 10-15 % less CPU than a plain `cargo build --release`
# (branch layout and inlining follow the hot paths: the gunicorn prefix, request lines, pairing).
#   scripts/pgo.sh            -> target/pgo/reqtrail (prints the path on its last line; kept
#                                while no file of src/, Cargo.toml, Cargo.lock or this script
#                                is newer)
# Training set: every bundled real capture (sample-logs/), in each output format, from a file
# and from stdin, and, when ../shared/perf/gen.py is there (REQTRAIL_SHARED), a 64 MiB log of a
# different seed than the benchmark's. The instrumented binary's reports are then compared with
# the optimised one's: a difference fails the script.
# Needs: llvm-profdata of rustc's own LLVM: rustup's llvm-tools component (added if missing), or
# llvm-profdata-N beside a distribution's rustc.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${REQTRAIL_SHARED:-../shared}"
OUT=target/pgo
if [ -x "$OUT/reqtrail" ] && [ -z "$(find src Cargo.toml Cargo.lock scripts/pgo.sh -newer "$OUT/reqtrail")" ]; then
    echo "$OUT/reqtrail"
    exit 0
fi
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    if command -v rustup >/dev/null; then
        rustup component add llvm-tools >&2
    else # a distribution's rustc: its LLVM's own llvm-profdata reads the profiles
        major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
        profdata=$(command -v "llvm-profdata-$major" || true)
        if [ -z "$profdata" ]; then
            echo "pgo: needs llvm-profdata of LLVM $major (rustup component add llvm-tools, or llvm-$major)" >&2
            exit 2
        fi
    fi
fi

mkdir -p "$OUT"
raw="$PWD/$OUT/profiles"
rm -rf "$raw" "$OUT/reports"
mkdir -p "$OUT/reports"
echo "pgo: instrumented build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$raw" \
    cargo build --release --quiet --target-dir "$OUT/instrumented"
rm -rf "$raw" # the build scripts' own profiles

training=(sample-logs/*/*.log)
if [ -f "$SHARED/perf/gen.py" ]; then
    if [ ! -s "$OUT/train.log" ]; then
        python3 "$SHARED/perf/gen.py" 64 1 >"$OUT/train.log"
    fi
    training+=("$OUT/train.log")
else
    echo "pgo: no $SHARED/perf/gen.py; training on the bundled captures alone" >&2
fi

# Runs every training input through $1 (as JSON, table and ndjson, from a file and from stdin,
# for the profile); the JSON reports go to $2, for the comparison.
run_all() {
    local bin=$1 reports=$2 k=0
    mkdir -p "$reports"
    for log in "${training[@]}"; do
        k=$((k + 1))
        "$bin" --format json "$log" >"$reports/$k.json" || true
        for format in table ndjson; do
            "$bin" --format "$format" "$log" >/dev/null || true
            "$bin" --format "$format" <"$log" >/dev/null || true
        done
    done
    # Merged by time: the captures of one scenario read together.
    "$bin" --format json sample-logs/healthy/*.log >"$reports/merged.json" || true
}

echo "pgo: training on ${#training[@]} logs" >&2
LLVM_PROFILE_FILE="$raw/%m_%p.profraw" run_all "$OUT/instrumented/release/reqtrail" "$OUT/reports/instrumented"
"$profdata" merge -o "$OUT/reqtrail.profdata" "$raw"

echo "pgo: optimised build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$PWD/$OUT/reqtrail.profdata" \
    cargo build --release --quiet --target-dir "$OUT/optimised"
run_all "$OUT/optimised/release/reqtrail" "$OUT/reports/optimised"
diff -r "$OUT/reports/instrumented" "$OUT/reports/optimised" >&2 ||
    { echo "pgo: the optimised build's reports differ from the instrumented one's" >&2; exit 1; }
cp "$OUT/optimised/release/reqtrail" "$OUT/reqtrail"
echo "$OUT/reqtrail"
