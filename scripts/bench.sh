#!/usr/bin/env bash
# End-to-end speed of reqtrail against what users would otherwise run, as ratios (the machine is
# noisy; ratios measured side by side in one run are what we compare).
#   scripts/bench.sh [MEGABYTES]   (default 1024; the log is generated once under target/bench/)
# Needs: python3, mawk, ripgrep, hyperfine (Debian packages: mawk ripgrep hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
MB="${1:-1024}"
SHARED="${REQTRAIL_SHARED:-../shared}"
LOG="target/bench/big-${MB}.log"

for tool in mawk rg hyperfine python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install mawk ripgrep hyperfine)" >&2; exit 2; }
done
cargo build --release --quiet
mkdir -p target/bench
if [ ! -s "$LOG" ]; then
    echo "bench: generating $LOG ($MB MiB) with $SHARED/perf/gen.py" >&2
    python3 "$SHARED/perf/gen.py" "$MB" > "$LOG"
fi

echo "== counts (reqtrail vs pair.awk)"
mawk -f "$SHARED/perf/pair.awk" "$LOG" | head -1
{ target/release/reqtrail --format json "$LOG" || true; } | python3 -c '
import json, sys
r = json.load(sys.stdin)
q, s = r["requests"], r["server"]
hosts = sum(h["count"] for h in r["disallowed_hosts"])
print("reqtrail: requests=%d orphans=%d timeouts=%d disallowed=%d probes=%d" % (q["total"], q["orphaned"], s["worker_timeouts"], hosts, q["probe"]))'

echo "== time (median of runs; lower is better)"
hyperfine --ignore-failure --style basic --warmup 1 --runs "${RUNS:-5}" --export-json target/bench/times.json \
    -n rg "rg -c 'INCOMING REQUEST' $LOG" \
    -n mawk "mawk -f $SHARED/perf/pair.awk $LOG" \
    -n reqtrail-file "target/release/reqtrail --format json $LOG" \
    -n reqtrail-pipe "cat $LOG | target/release/reqtrail --format json" >/dev/null
python3 - <<'PY'
import json
t = {r["command"]: r["median"] for r in json.load(open("target/bench/times.json"))["results"]}
f, p = t["reqtrail-file"], t["reqtrail-pipe"]
print(f"rg -c          {t['rg']:.3f} s")
print(f"mawk pair.awk  {t['mawk']:.3f} s")
print(f"reqtrail file  {f:.3f} s   = {f / t['rg']:.2f} x rg, {f / t['mawk']:.2f} x mawk")
print(f"reqtrail pipe  {p:.3f} s   = {p / f:.2f} x file")
PY
echo "== peak memory through a pipe"
cat "$LOG" | /usr/bin/time -f "reqtrail pipe: %M KiB max RSS" target/release/reqtrail --format json >/dev/null || true
