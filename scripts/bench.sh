#!/usr/bin/env bash
# End-to-end speed of reqtrail against what users would otherwise run, as ratios (the machine is
# noisy; ratios measured side by side in one run are what we compare), its counts against the
# awk one-liner's, its peak memory through a pipe at 1x and 2x the log, and the same log as two
# rotated files (merged by time), with its peak memory, and `--format ndjson` against json (its
# CPU, wall and, with CALLGRIND=1, instructions; and then an edge's lines' instructions too).
# reqtrail is the release build optimised with its own profile (scripts/pgo.sh, as a shipped
# binary would be); the plain build is timed too.
#   scripts/bench.sh [MEGABYTES]   (default 1024; the log is generated once under target/bench/)
#   RUNS=n (default 5) runs per command.
#   PGO=0 times the plain release build alone (no scripts/pgo.sh: quicker, for a small try).
#   CALLGRIND=1 (with valgrind installed) counts instructions per line too, on the log's first
#   20 MB with RAYON_NUM_THREADS=1: the README's two figures come from this one script.
# Besides wall time, each command's CPU (user + sys of it and its children, from wait4) is
# printed as CPU-seconds per GiB of log, and reqtrail's as a ratio to mawk's.
# Needs: python3, mawk, ripgrep (Debian packages: mawk ripgrep).
set -euo pipefail
cd "$(dirname "$0")/.."
MB="${1:-1024}"
SHARED="${REQTRAIL_SHARED:-../shared}"
LOG="target/bench/big-${MB}.log"
PLAIN=target/release/reqtrail

for tool in mawk rg python3; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install mawk ripgrep)" >&2; exit 2; }
done
cargo build --release --quiet
# What the figures are for: the release build optimised with its own profile (scripts/pgo.sh).
if [ "${PGO:-1}" = 0 ]; then
    BIN=$PLAIN
else
    BIN=$(bash scripts/pgo.sh | tail -1)
fi
mkdir -p target/bench
if [ ! -s "$LOG" ]; then
    echo "bench: generating $LOG ($MB MiB) with $SHARED/perf/gen.py" >&2
    python3 "$SHARED/perf/gen.py" "$MB" > "$LOG"
fi
# The same log as two rotated files, cut at a line.
if [ ! -s "$LOG.part.ab" ] || [ "$LOG.part.ab" -ot "$LOG" ]; then
    split -n l/2 "$LOG" "$LOG.part."
fi

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "== counts (pair.awk vs reqtrail, where both measure the same thing)"
awk_counts=$(mawk -f "$SHARED/perf/pair.awk" "$LOG")
json=$(mktemp)
trap 'rm -f "$json"' EXIT
"$BIN" --format json "$LOG" > "$json" || true
AWK_COUNTS="$awk_counts" python3 - "$json" <<'PY'
import json, os, re, sys
r = json.load(open(sys.argv[1]))
q, s = r["requests"], r["server"]
awk = os.environ["AWK_COUNTS"].splitlines()
a = dict(re.findall(r"(\w+)=(\d+)", awk[0]))
awk_hosts = {m[0]: int(m[1]) for m in (re.match(r"\s+host (.*) (\d+)$", l).groups() for l in awk[1:])}
ours_hosts = {h["host"]: h["count"] for h in r["disallowed_hosts"]}
rows = [
    ("requests (incoming)", int(a["incoming"]), q["total"]),
    ("orphans", int(a["orphans"]), q["orphaned"]),
    ("worker timeouts", int(a["timeouts"]), s["worker_timeouts"]),
    ("DisallowedHost", int(a["disallowed"]), sum(ours_hosts.values())),
    ("probes", int(a["probes"]), q["probe"]),
]
bad = False
for name, theirs, ours in rows:
    same = theirs == ours
    bad |= not same
    print(f"  {name:20} pair.awk {theirs:>10,}  reqtrail {ours:>10,}  {'same' if same else 'DIFFERENT'}")
if awk_hosts != ours_hosts:
    bad = True
    print("  DisallowedHost per host: DIFFERENT", awk_hosts, ours_hosts)
else:
    print(f"  DisallowedHost per host: same ({len(ours_hosts)} hosts)")
sys.exit(1 if bad else 0)
PY

echo "== time: the commands run in turn, round after round (the machine's speed drifts over"
echo "   minutes, so each ratio is the median of its rounds' ratios, not a ratio of medians)"
python3 - "$LOG" "$SHARED" "$BIN" "$PLAIN" "${RUNS:-5}" <<'PY'
import json, os, statistics, subprocess, sys, time
log, shared, reqtrail, plain, runs = sys.argv[1:]
gib = os.path.getsize(log) / 2**30
commands = {
    "rg": f"rg -c 'INCOMING REQUEST' {log}",
    "mawk": f"mawk -f {shared}/perf/pair.awk {log}",
    "file": f"{reqtrail} --format json {log}",
    "plain": f"{plain} --format json {log}",
    "pipe": f"cat {log} | {reqtrail} --format json",
    "2 files": f"{reqtrail} --format json {log}.part.aa {log}.part.ab",
    "ndjson": f"{reqtrail} --format ndjson {log}",
}
def run(command):
    """Wall seconds, and CPU seconds (user + sys of the shell and all it waited for, from wait4)."""
    t = time.perf_counter()
    p = subprocess.Popen(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(p.pid, 0)
    return time.perf_counter() - t, usage.ru_utime + usage.ru_stime
for command in commands.values():  # warm-up: the page cache
    run(command)
times = {name: [] for name in commands}
cpu = {name: [] for name in commands}
for _ in range(int(runs)):
    for name, command in commands.items():
        wall, used = run(command)
        times[name].append(wall)
        cpu[name].append(used)
json.dump({"wall": times, "cpu": cpu}, open("target/bench/times.json", "w"), indent=1)
med = {name: statistics.median(t) for name, t in times.items()}
def ratio(a, b, of=times):
    return statistics.median(x / y for x, y in zip(of[a], of[b]))
print(f"rg -c          {med['rg']:.3f} s")
print(f"mawk pair.awk  {med['mawk']:.3f} s")
print(f"reqtrail file  {med['file']:.3f} s   = {ratio('file', 'rg'):.2f} x rg (target <= 2, issue #20), {ratio('file', 'mawk'):.2f} x mawk")
print(f"  without PGO  {med['plain']:.3f} s   = {ratio('plain', 'rg'):.2f} x rg, {ratio('plain', 'mawk'):.2f} x mawk (plain cargo build --release)")
print(f"reqtrail pipe  {med['pipe']:.3f} s   = {ratio('pipe', 'file'):.2f} x file (target <= 1.2, issue #20)")
print(f"2 files        {med['2 files']:.3f} s   = {ratio('2 files', 'file'):.2f} x one file (merged by time)")
print(f"ndjson         {med['ndjson']:.3f} s   = {ratio('ndjson', 'file'):.2f} x json's (--format ndjson, a notice a request)")
print(f"== CPU (user + sys from wait4, median of {runs} runs) per GiB of log ({gib:.3f} GiB; target for reqtrail file <= 1.2, issue #20)")
for name in commands:
    print(f"  {name:12} {statistics.median(cpu[name]) / gib:6.2f} CPU-s/GiB")
print(f"reqtrail file CPU = {ratio('file', 'mawk', cpu):.2f} x mawk's (plain build {ratio('plain', 'mawk', cpu):.2f} x); pipe CPU (cat included) = {ratio('pipe', 'file', cpu):.2f} x file's")
print(f"ndjson CPU = {ratio('ndjson', 'file', cpu):.2f} x json's (target <= 1.3, issue #20)")
PY
if [ "${CALLGRIND:-0}" = 1 ]; then
    if command -v valgrind >/dev/null; then
        # The first 20 MB, cut at a line; one thread, so that the count is the work itself.
        SLICE=target/bench/slice-20.log
        head -c 20000000 "$LOG" | python3 -c 'import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[:d.rfind(b"\n") + 1])' > "$SLICE"
        lines=$(wc -l < "$SLICE")
        # reqtrail exits 1 when it finds something wrong: only the count matters here.
        count() {
            RAYON_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="target/bench/callgrind-$1.out" \
                "$PLAIN" --format "$1" "$SLICE" 2>&1 >/dev/null | sed -n 's/.*I *refs: *//p' | tr -d , || true
        }
        refs=$(count json)
        ndjson_refs=$(count ndjson)
        echo "== callgrind ($PLAIN, RAYON_NUM_THREADS=1, first 20 MB: $lines lines): $refs instructions, $((refs / lines)) per line (target <= 1,000, issue #20)"
        echo "   --format ndjson: $ndjson_refs instructions = $(python3 -c "print(f'{$ndjson_refs / $refs:.2f}')") x json's (target <= 1.3, issue #20)"
        # An edge's lines: the request lines of the real captures (HAProxy's, nginx's access
        # log), repeated to 20 MB, read as the edge's file they are.
        for edge in edge_haproxy_timeout/haproxy.log edge_healthy/nginx-access.log; do
            EDGE_LOG="target/bench/$(basename "$edge")"
            grep '^[0-9]' "sample-logs/$edge" | python3 -c 'import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d * (20000000 // len(d)))' > "$EDGE_LOG"
            edge_lines=$(wc -l < "$EDGE_LOG")
            edge_refs=$(RAYON_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
                "$PLAIN" --format json "$EDGE_LOG" 2>&1 >/dev/null | sed -n 's/.*I *refs: *//p' | tr -d , || true)
            echo "   $edge's request lines ($edge_lines, 20 MB): $((edge_refs / edge_lines)) instructions per line"
        done
    else
        echo "== callgrind: valgrind is missing, no instruction count" >&2
    fi
fi
echo "== peak memory through a pipe (target <= 64 MiB whatever the size)"
for copies in 1 2; do
    for _ in $(seq "$copies"); do cat "$LOG"; done |
        /usr/bin/time -f "reqtrail pipe, $copies x $MB MiB: %M KiB max RSS, %e s" "$BIN" --format json >/dev/null || true
done
/usr/bin/time -f "reqtrail, the log as 2 rotated files: %M KiB max RSS, %e s" \
    "$BIN" --format json "$LOG.part.aa" "$LOG.part.ab" >/dev/null || true
