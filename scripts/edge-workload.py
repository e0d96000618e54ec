#!/usr/bin/env python3
"""The perf workload with an edge in front: gen.py's app log (on stdin) as `docker compose logs`
prints two services, the app as `web-1` and nginx as `nginx-1`, nginx logging each user request
the app's access line shows (probes go to the app directly) in its `combined` format, and an
upstream timeout (error line and 504) every 2,000th. Only the edge lines are made here; the app's
lines are gen.py's, unchanged.

Usage: gen.py MB | edge-workload.py [--app-only] > compose.log
--app-only writes the same app lines with the same prefix and no nginx lines: the baseline.
"""
import re
import sys

ACCESS = re.compile(r'^(\S+) - - \[(\d\d)/(\w{3})/(\d{4}):(\d\d:\d\d:\d\d) [^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) ')
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}

app_only = "--app-only" in sys.argv[1:]
out = sys.stdout
n = 0
for line in sys.stdin:
    out.write("web-1    | " + line)
    if app_only or "kube-probe" in line:
        continue
    m = ACCESS.match(line)
    if not m:
        continue
    n += 1
    _, day, mon, year, clock, method, path, status = m.groups()
    client = f"203.0.113.{n % 250 + 1}"
    when = f"{day}/{mon}/{year}:{clock} +0000"
    if n % 2000 == 0:
        status = "504"
        out.write(
            f"nginx-1  | {year}/{MONTHS[mon]:02d}/{day} {clock} [error] 29#29: *{n} upstream timed out "
            f"(110: Connection timed out) while reading response header from upstream, client: {client}, "
            f'server: _, request: "{method} {path} HTTP/1.1", upstream: "http://10.0.0.5:8000{path}", '
            f'host: "obcms-ryfwe.sevalla.app"\n'
        )
    out.write(
        f'nginx-1  | {client} - - [{when}] "{method} {path} HTTP/1.1" {status} 612 "-" '
        f'"Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"\n'
    )
