#!/usr/bin/env python3
"""Rewrites a gunicorn log as `kubectl logs --timestamps` prints it, for speed measurements of
the envelope path: each line gets an RFC 3339 prefix with nanoseconds, taken from its own time
(gunicorn's `[2025-10-16 08:00:00 +0000]` or the access line's `[16/Oct/2025:08:00:00 +0000]`;
a line without one, a traceback's, keeps the time before it), its fraction counting up within
the second. With `--prefix`, each line also gets the `[pod/NAME/CONTAINER] ` that `kubectl logs
--prefix --timestamps` puts before the time. For the other envelopes' measurements, the same
times go into the line as docker's json-file log driver writes it (`--json-file`: Go's JSON,
`<`, `>` and `&` escaped as `\u003c`…) or as `journalctl` shows a unit's line (`--journald`).

    python3 scripts/kubectl-timestamps.py < target/bench/big-256.log > target/bench/kube-256.log
    python3 scripts/kubectl-timestamps.py --prefix < target/bench/slice.log > kubep-slice.log
    python3 scripts/kubectl-timestamps.py --json-file < target/bench/slice.log > json-file.log
"""
import json
import re
import sys

ERROR_LOG = re.compile(rb"^\[(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) ")
ACCESS = re.compile(rb" \[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ")
MONTHS = {m.encode(): k + 1 for k, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


POD = b"[pod/web-7d9f5c6b8-x2x4q/web] "


MONTH_NAMES = [m.encode() for m in "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()]


def json_file(second, fraction, line):
    """The line as docker's json-file driver writes it."""
    text = json.dumps(line.decode("utf-8", "replace"), ensure_ascii=False)
    for c, e in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(c, e)
    return b'{"log":%s,"stream":"stdout","time":"%s.%09dZ"}\n' % (text.encode(), second, fraction)


def journald(second, line):
    """The line as `journalctl -u` shows it: `Dec  4 07:22:22 host unit[pid]: `."""
    month, day, clock = int(second[5:7]), int(second[8:10]), second[11:19]
    return b"%s %2d %s web1 gunicorn[812]: " % (MONTH_NAMES[month - 1], day, clock) + line


def main():
    mode = sys.argv[1] if sys.argv[1:] else ""
    if sys.argv[2:] or mode not in ("", "--prefix", "--json-file", "--journald"):
        print("usage: kubectl-timestamps.py [--prefix | --json-file | --journald] < LOG > OUT",
              file=sys.stderr)
        sys.exit(2)
    pod = POD if mode == "--prefix" else b""
    last, n = b"1970-01-01T00:00:00", 0
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        m = ERROR_LOG.match(line)
        a = None if m else ACCESS.search(line[:80])
        if m:
            second = b"%s-%s-%sT%s:%s:%s" % m.groups()
        elif a and a.group(2) in MONTHS:
            day, mon, year, hh, mm, ss = a.groups()
            second = b"%s-%02d-%sT%s:%s:%s" % (year, MONTHS[mon], day, hh, mm, ss)
        else:
            second = last
        n = n + 1 if second == last else 1
        last = second
        if mode == "--json-file":
            out.write(json_file(second, n * 1000, line))
        elif mode == "--journald":
            out.write(journald(second, line))
        else:
            out.write(pod + b"%s.%09dZ " % (second, n * 1000) + line)


if __name__ == "__main__":
    main()
