#!/usr/bin/env bash
# Edge lines go through the same one-pass path: CPU-seconds per GiB of the perf workload as
# `docker compose logs` of the app alone, against the same app lines with nginx's in front
# (scripts/edge-workload.py), both with the release build. Target: the mixed stream's CPU per GiB
# within 10 % of the app-only one's.
#   scripts/bench-edge.sh [MEGABYTES]   (default 256; RUNS=n runs each, default 5, alternated)
set -euo pipefail
cd "$(dirname "$0")/.."
MB="${1:-256}"
RUNS="${RUNS:-5}"
SHARED="${REQTRAIL_SHARED:-../shared}"
cargo build --release --quiet
BIN=target/release/reqtrail
mkdir -p target/bench
app="target/bench/edge-app-${MB}.log"
mixed="target/bench/edge-mixed-${MB}.log"
if [ ! -s "$mixed" ]; then
    python3 "$SHARED/perf/gen.py" "$MB" > "target/bench/edge-gen-${MB}.log"
    python3 scripts/edge-workload.py --app-only < "target/bench/edge-gen-${MB}.log" > "$app"
    python3 scripts/edge-workload.py < "target/bench/edge-gen-${MB}.log" > "$mixed"
    rm -f "target/bench/edge-gen-${MB}.log"
fi
# cpu FILE: user+sys seconds of one run.
cpu() {
    /usr/bin/time -f "%U %S" -o target/bench/edge.time "$BIN" --format json "$1" > /dev/null || true
    tail -1 target/bench/edge.time | awk '{print $1 + $2}'
}
a=() m=()
for _ in $(seq "$RUNS"); do
    a+=("$(cpu "$app")")
    m+=("$(cpu "$mixed")")
done
python3 - "$app" "$mixed" "${a[*]}" "${m[*]}" <<'PY'
import os, statistics, sys
app, mixed, a, m = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
gib = lambda f: os.path.getsize(f) / 2**30
per = lambda runs, f: statistics.median(float(x) for x in runs) / gib(f)
pa, pm = per(a, app), per(m, mixed)
print(f"app only    {gib(app)*1024:8.0f} MiB  {pa:6.2f} CPU-s/GiB  (runs: {' '.join(a)})")
print(f"with nginx  {gib(mixed)*1024:8.0f} MiB  {pm:6.2f} CPU-s/GiB  (runs: {' '.join(m)})")
ratio = pm / pa
print(f"mixed / app-only per GiB: {ratio:.3f} ({'within' if ratio <= 1.10 else 'OVER'} the 10 % target)")
sys.exit(0 if ratio <= 1.10 else 1)
PY
