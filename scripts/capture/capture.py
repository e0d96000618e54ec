#!/usr/bin/env python3
"""Capture real gunicorn + Django logs for reqtrail (stdlib only).

For each scenario: start gunicorn (djapp.wsgi:application) on 127.0.0.1, send
a fixed list of requests, stop gunicorn by its pid, and write into
OUT/<scenario>/:

  docker.log             raw stdout+stderr lines, interleaved (docker logs web 2>&1)
  docker-timestamps.log  same, prefixed like `docker logs --timestamps`
  kubectl.log            same, prefixed like `kubectl logs --prefix --timestamps`
  truth.json             what the client sent and received

Most scenarios run 2 sync workers and log the app's records in a gunicorn-like
layout; gthread (1 worker, 4 threads, Django's "verbose" formatter) and
json_logging (python-json-logger records with a request_id) change that, per
scenario, through the LOG_FORMAT environment variable read by djapp/settings.py.

A failed boot with 2 workers ends in one of three ways in gunicorn 23 (a race
in the arbiter): orderly exit 3, an uncaught HaltServer crash (exit 1), or,
rarely, a 30 s graceful_timeout wait before exit 3. boot_failure and
boot_failure_race re-run (bounded) until they get "orderly" / "crash".

The edge_* scenarios put Debian's nginx (/usr/sbin/nginx, on 127.0.0.1, its
own config, pid file, temp dirs under a temp dir) in front of the same gunicorn:
users' requests go through nginx, kube-probes straight to gunicorn. They write
into OUT/<scenario>/:

  app.log                gunicorn + Django stdout+stderr, raw
  nginx-access.log       nginx's access log (stock "combined" format)
  nginx-error.log        nginx's error log (stock format, level error; may be empty)
  compose.log            both, in arrival order, as `docker compose logs` prints
                         services web-1 and nginx-1
  truth.json             as above, plus per request "via" (edge or app) and the
                         top-level "edge" (server, version, proxy_read_timeout)

edge_haproxy_timeout puts Debian's HAProxy (/usr/sbin/haproxy, master-worker in
the foreground as the official image runs it, its own config under a temp dir)
there instead, with `timeout server 1s`; it writes haproxy.log (HAProxy's stdout,
its `option httplog` lines, and stderr) in place of the two nginx logs, and
compose.log with services web-1 and haproxy-1; truth.json's "edge" has
timeout_server in place of proxy_read_timeout.

Run it with the venv python (scripts/capture.sh does that): gunicorn is
started as `sys.executable -m gunicorn`.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))

WORKERS = 2
WORKER_CLASS = "sync"
THREADS = 1
LOG_FORMAT = "gunicorn"
SLOW_SECONDS = "6"
DEFAULT_TIMEOUT = 30
STUCK_SECONDS = None  # /stuck/'s sleep (the view's default, 30 s, unless --stuck-seconds)
POOL_MAX = 8  # client threads for one "pool" step
CLIENT_TIMEOUT = 15.0
POD_PREFIX = b"[pod/web-7d9f8b6c4-x2x9q/web] "
FILES = ("docker.log", "docker-timestamps.log", "kubectl.log", "truth.json")

PUBLIC_HOST = "app.example.com"
POD_HOST = "10.96.27.85:8000"
PROBE_UA = "kube-probe/1.32"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CURL_UA = "curl/8.5.0"
SCANNER_UA = "Mozilla/5.0 zgrab/0.x"
ESC_HOST = "\x1b]0;pwned\x07evil.example"


# --------------------------------------------------------------------------
# requests


def req(path, host, ua, method="GET", query="", reaches_app=True):
    if ua.startswith("kube-probe/"):
        kind = "probe"
    elif path == "/health/":
        kind = "health"
    else:
        kind = "external"
    return {
        "method": method,
        "path": path,
        "query": query,
        "host": host,
        "user_agent": ua,
        "kind": kind,
        "reaches_app": reaches_app,
    }


def probe():
    return req("/health/", POD_HOST, PROBE_UA)


def public(path, ua=BROWSER_UA, query=""):
    return req(path, PUBLIC_HOST, ua, query=query)


def with_request_id(spec, request_id):
    """The same request, sending X-Request-ID: request_id (None: no header)."""
    return {**spec, "request_id": request_id}


def rfc3339_micro(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def send(port, spec, timeout=CLIENT_TIMEOUT):
    """One HTTP/1.1 request over a raw socket; returns (status, error, sent_at, elapsed_ms,
    answered_by): "django" when Django made the answer (djapp's X-Served-By), "server" when
    something before it did (gunicorn, or an edge in front), None without an answer."""
    target = spec["path"] + ("?" + spec["query"] if spec["query"] else "")
    head = [f"{spec['method']} {target} HTTP/1.1", f"Host: {spec['host']}"]
    if spec["user_agent"]:
        head.append(f"User-Agent: {spec['user_agent']}")
    if spec.get("request_id"):
        head.append(f"X-Request-ID: {spec['request_id']}")
    head += ["Accept: */*", "Connection: close"]
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")

    status, error = None, None
    sent_at = time.time()
    t0 = time.monotonic()
    deadline = t0 + timeout
    buf = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(data)
            while len(buf) < (1 << 20):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout()
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except ConnectionRefusedError:
        error = "connection refused"
    except socket.timeout:
        error = "timeout"
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        error = "connection closed"
    except OSError as e:
        error = f"os error: {e.strerror or e}"
    answered_by = None
    if error is None or error == "connection closed":
        head_lines = buf.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        first = head_lines[0].split()
        if len(first) >= 2 and first[0].startswith(b"HTTP/") and first[1].isdigit():
            status, error = int(first[1]), None
            # djapp's ServedByMiddleware marks Django's answers; gunicorn's own have no mark.
            django = any(h.lower() == b"x-served-by: django" for h in head_lines[1:])
            answered_by = "django" if django else "server"
        elif error is None:
            error = "connection closed"
    elapsed_ms = int(round((time.monotonic() - t0) * 1000))
    return status, error, rfc3339_micro(sent_at), elapsed_ms, answered_by


class Client:
    """Sends requests, numbers them in the order they are sent. A request whose spec says
    "via": "edge" goes to edge_port (the proxy), any other to port (gunicorn)."""

    def __init__(self, port, edge_port=None):
        self.port = port
        self.edge_port = edge_port
        self.lock = threading.Lock()
        self.results = []
        self.background = []

    def join_background(self):
        for t in self.background:
            t.join(CLIENT_TIMEOUT + 10)
        self.background = []

    def one(self, spec):
        with self.lock:
            seq = len(self.results)
            entry = {"seq": seq, **spec}
            self.results.append(entry)
        port = self.edge_port if spec.get("via") == "edge" else self.port
        status, error, sent_at, elapsed_ms, answered_by = send(port, spec)
        entry.update(status=status, error=error, sent_at=sent_at, elapsed_ms=elapsed_ms,
                     answered_by=answered_by)

    def run(self, plan):
        for step in plan:
            op = step[0]
            if op == "req":
                self.one(step[1])
            elif op == "sleep":
                time.sleep(step[1])
            elif op == "parallel":
                # [(delay_seconds, spec), ...] started at those offsets, joined (bounded)
                threads = []
                for delay, spec in step[1]:
                    if delay:
                        time.sleep(delay)
                    t = threading.Thread(target=self.one, args=(spec,), daemon=True)
                    t.start()
                    threads.append(t)
                for t in threads:
                    t.join(CLIENT_TIMEOUT + 5)
            elif op == "pool":
                # [(offset_seconds, spec), ...] handed, at those offsets from the step's start,
                # to a bounded thread pool; every send is bounded by CLIENT_TIMEOUT.
                t0 = time.monotonic()
                with ThreadPoolExecutor(max_workers=POOL_MAX) as pool:
                    for offset, spec in sorted(step[1], key=lambda x: x[0]):
                        wait = t0 + offset - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                        pool.submit(self.one, spec)
            elif op == "bg":
                # steps run in a thread of their own (joined, bounded, by "join" or run's end)
                t = threading.Thread(target=self.run, args=(step[1],), daemon=True)
                t.start()
                self.background.append(t)
            elif op == "join":
                self.join_background()
            elif op == "call":
                step[1]()
            elif op == "until":
                # (predicate, max_seconds): poll every 0.1 s until it holds or time is up
                pred, limit = step[1], step[2]
                for _ in range(int(limit * 10)):
                    if pred():
                        break
                    time.sleep(0.1)
            else:
                raise ValueError(op)


# --------------------------------------------------------------------------
# scenarios


def plan_allowed_hosts():
    pub = [
        public("/", BROWSER_UA),
        public("/login/", BROWSER_UA),
        public("/health/", CURL_UA),
        public("/admin/", BROWSER_UA),
        public("/login/", CURL_UA),
        public("/", CURL_UA),
        public("/admin/", CURL_UA),
        public("/health/", BROWSER_UA),
        public("/login/", BROWSER_UA),
        public("/admin/", BROWSER_UA),
        public("/", BROWSER_UA),
        public("/health/", CURL_UA),
    ]
    scanners = {
        3: req("/", "203.0.113.9", SCANNER_UA),
        6: req("/", "bad_host!", SCANNER_UA),
        9: req("/", ESC_HOST, SCANNER_UA),
    }
    plan = []
    for i in range(10):
        plan.append(("req", probe()))
        plan.append(("sleep", 0.1))
        for spec in pub[i * 12 // 10:(i + 1) * 12 // 10]:
            plan.append(("req", spec))
            plan.append(("sleep", 0.08))
        if i in scanners:
            plan.append(("req", scanners[i]))
        plan.append(("sleep", 0.12))
    return plan


def plan_worker_timeout():
    return [
        ("req", probe()),
        ("sleep", 0.2),
        ("req", public("/login/")),
        ("req", public("/health/", CURL_UA)),
        ("req", public("/api/v1/reports/7/")),
        ("sleep", 0.2),
        ("req", probe()),
        ("sleep", 0.3),
        # /slow/ occupies one worker, /stuck/ the other one.
        ("parallel", [(0, public("/slow/", CURL_UA)), (0.4, public("/stuck/", CURL_UA))]),
        ("sleep", 1.0),
        ("req", probe()),
        ("req", public("/login/")),
        ("sleep", 0.2),
        ("req", public("/admin/")),
        ("req", probe()),
        ("req", public("/health/", CURL_UA)),
    ]


def plan_healthy():
    return [
        ("req", probe()),
        ("sleep", 0.2),
        ("req", public("/health/", CURL_UA)),
        ("req", public("/login/")),
        ("req", public("/admin/")),
        ("sleep", 0.2),
        ("req", probe()),
        ("req", public("/api/v1/reports/42/", BROWSER_UA, query="format=json")),
        ("req", req("/wp-login.php", PUBLIC_HOST, SCANNER_UA)),
        ("req", public("/boom/")),
        ("sleep", 0.2),
        ("req", probe()),
        ("req", req("/.env", PUBLIC_HOST, SCANNER_UA)),
        ("req", public("/login/", CURL_UA)),
        ("req", public("/health/", BROWSER_UA)),
        ("sleep", 0.2),
        ("req", probe()),
    ]


def plan_boot_failure():
    return [("req", probe())]


def plan_gthread():
    # One worker with 4 threads: three /slow/ (SLOW_SECONDS=1.5) hold three threads while
    # fast requests go through the fourth, so their log lines interleave within one pid.
    return [
        ("req", probe()),
        ("sleep", 0.2),
        ("req", public("/health/", CURL_UA)),
        ("req", public("/login/")),
        ("req", probe()),
        ("sleep", 0.2),
        ("pool", [
            (0.0, public("/slow/", CURL_UA)),
            (0.05, public("/slow/")),
            (0.1, public("/slow/", CURL_UA)),
            (0.35, public("/login/")),
            (0.5, public("/health/", CURL_UA)),
            (0.65, probe()),
            (0.8, public("/login/", CURL_UA)),
            (1.0, public("/health/", BROWSER_UA)),
        ]),
        ("sleep", 0.2),
        ("req", probe()),
        ("req", public("/admin/")),
        ("req", public("/health/", CURL_UA)),
    ]


def plan_json_logging():
    # About half the requests carry an X-Request-ID (as from an ingress or API client,
    # dashed uuid4); the app makes up a uuid4 hex for the others. Probes send none.
    rid = lambda: str(uuid.uuid4())  # noqa: E731
    plan = [
        ("req", probe()),
        ("sleep", 0.2),
        ("req", with_request_id(public("/health/", CURL_UA), rid())),
        ("req", with_request_id(public("/login/"), rid())),
        ("req", public("/admin/")),
        ("sleep", 0.2),
        ("req", probe()),
        ("req", with_request_id(public("/api/v1/reports/7/", BROWSER_UA, query="format=json"), rid())),
        ("req", req("/wp-login.php", PUBLIC_HOST, SCANNER_UA)),
        ("req", with_request_id(public("/boom/"), rid())),
        ("sleep", 0.2),
        ("req", probe()),
        ("req", with_request_id(public("/login/", CURL_UA), rid())),
        ("req", public("/")),
        ("req", with_request_id(public("/health/", BROWSER_UA), rid())),
        ("sleep", 0.2),
        ("req", probe()),
    ]
    # Every request entry in truth.json says which id it sent (null: none).
    return [(op, {"request_id": None, **arg}) if op == "req" else (op, arg) for op, arg in plan]


# --------------------------------------------------------------------------
# lifecycle scenarios: signals to the master or a worker mid-traffic, truth from server hooks


class Life:
    """What a lifecycle plan acts on: the running master (proc), the hooks' log (hooks.py writes
    it), and the signals sent, each recorded for truth.json."""

    def __init__(self, proc, hook_log):
        self.proc = proc
        self.hook_log = hook_log
        self.signals = []
        self.kept = None

    def hooks(self):
        if self.kept is not None:
            return self.kept
        try:
            with open(self.hook_log, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except OSError:
            return []

    def busy_with(self, path):
        """Pids of the workers that started `path` and have not finished it (hooks' word)."""
        open_ = {}
        for h in self.hooks():
            if h.get("path") != path:
                continue
            key = h["pid"]
            open_[key] = open_.get(key, 0) + (1 if h["event"] == "request_started" else -1)
        return sorted(pid for pid, n in open_.items() if n > 0)

    def signal(self, target, sig, cause, pid=None):
        """Send sig to the master (target "master") or a worker's pid; record it."""
        pid = self.proc.pid if target == "master" else pid
        if pid is None or self.proc.poll() is not None:
            return
        self.signals.append({"at": rfc3339_micro(time.time()), "target": target, "pid": pid,
                             "signal": signal.Signals(sig).name, "cause": cause})
        os.kill(pid, sig)

    def kill_busy_worker(self, path):
        pids = self.busy_with(path)
        if pids:
            self.signal("worker", signal.SIGKILL, "worker_killed", pids[0])

    def wait_exit(self, limit):
        for _ in range(int(limit * 10)):
            if self.proc.poll() is not None:
                return
            time.sleep(0.1)


def traffic(n, gap=0.06):
    """n quick requests, a kube-probe every third, with gap seconds between them."""
    pages = [public("/login/"), public("/health/", CURL_UA), public("/api/v1/reports/7/"),
             public("/admin/", CURL_UA)]
    steps = []
    for i in range(n):
        steps.append(("req", probe() if i % 3 == 0 else pages[i % len(pages)]))
        steps.append(("sleep", gap))
    return steps


def plan_max_requests(life):
    # --max-requests 5 on 2 workers: about 30 requests restart each worker a few times.
    return [*traffic(30), ("sleep", 0.3)]


def plan_sigterm_inflight(life):
    # Two /stuck/ occupy both workers; the master is stopped with --graceful-timeout 1.
    return [
        *traffic(4),
        ("bg", [("req", public("/stuck/", CURL_UA))]),
        ("bg", [("req", public("/stuck/"))]),
        ("until", lambda: len(life.busy_with("/stuck/")) >= 2, 5),
        ("sleep", 0.2),
        ("call", lambda: life.signal("master", signal.SIGTERM, "shutdown")),
        ("call", lambda: life.wait_exit(8)),
        ("join",),
    ]


def plan_sigkill_worker(life):
    # The OOM-killer's pattern: a busy worker SIGKILLed from outside, no timeout before it.
    return [
        *traffic(4),
        ("bg", [("req", public("/stuck/", CURL_UA))]),
        ("until", lambda: len(life.busy_with("/stuck/")) >= 1, 5),
        ("sleep", 0.2),
        ("call", lambda: life.kill_busy_worker("/stuck/")),
        ("join",),
        ("sleep", 1.0),  # the master boots a new worker
        *traffic(5),
    ]


def plan_reload_hup(life):
    # A planned reload (SIGHUP to the master) while requests keep coming.
    return [
        ("bg", traffic(30, 0.08)),
        ("sleep", 0.8),
        ("call", lambda: life.signal("master", signal.SIGHUP, "reload")),
        ("join",),
        ("sleep", 0.3),
    ]


def plan_scale_ttin(life):
    # Scaling up (SIGTTIN) and back down (SIGTTOU) while requests keep coming.
    return [
        ("bg", traffic(30, 0.08)),
        ("sleep", 0.6),
        ("call", lambda: life.signal("master", signal.SIGTTIN, "scale_up")),
        ("sleep", 1.0),
        ("call", lambda: life.signal("master", signal.SIGTTOU, "scale_down")),
        ("join",),
        ("sleep", 0.3),
    ]


def plan_error_and_hang(life):
    # An app exception (/boom/, 500 with its traceback) and a hung /stuck/ in the same run.
    return [
        *traffic(4),
        ("parallel", [(0, public("/boom/")), (0.1, public("/stuck/", CURL_UA))]),
        ("sleep", 0.5),
        *traffic(4),
    ]


def cut_by(result, signals, timeout_s):
    """What cut a request the client saw closed without an answer before gunicorn's timeout:
    the cause of the last signal sent before it ended (None: nothing we sent)."""
    if result["status"] is not None or result["error"] != "connection closed":
        return None
    if result["elapsed_ms"] >= timeout_s * 1000:
        return None
    sent = datetime.strptime(result["sent_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    ended = rfc3339_micro(sent.timestamp() + result["elapsed_ms"] / 1000)
    before = [s for s in signals if s["at"] <= ended]
    return before[-1]["cause"] if before else None


SCENARIOS = {
    "allowed_hosts": {
        "description": "ALLOWED_HOSTS lacks the public host: kube-probes pass via the K8s bypass "
        "middleware, public and scanner requests get Django's 400 DisallowedHost.",
        "allowed_hosts": ["localhost", "127.0.0.1"],
        "time_zone": "UTC",
        "args": [],
        "plan": plan_allowed_hosts,
    },
    "worker_timeout": {
        "description": "--timeout 2: /slow/ is aborted by gunicorn (500), /stuck/ ignores SIGABRT "
        "and is SIGKILLed (connection dropped), workers reboot; Django TIME_ZONE=America/Chicago.",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "America/Chicago",
        "args": ["--timeout", "2"],
        "timeout": 2,
        "plan": plan_worker_timeout,
    },
    "healthy": {
        "description": "Correct ALLOWED_HOSTS with --log-level debug: probes, pages, a query string, "
        "two 404s and exactly one 500 from /boom/.",
        "allowed_hosts": ["app.example.com", "localhost", "127.0.0.1"],
        "time_zone": "UTC",
        "args": ["--log-level", "debug"],
        "plan": plan_healthy,
    },
    "boot_failure": {
        "description": "ALLOWED_HOSTS empty: settings raise ValueError in each worker and gunicorn "
        "gives up; a later probe is refused",
        "allowed_hosts": [],
        "time_zone": "UTC",
        "args": [],
        "expect_exit": True,
        "plan": plan_boot_failure,
        # Two workers failing at once race in gunicorn's arbiter (see boot_failure_race);
        # this scenario keeps the first run whose master halted in order (exit 3).
        "want_outcome": "orderly",
        "attempts": 20,
    },
    "boot_failure_race": {
        "description": "Same as boot_failure, but the run kept is one where the second worker's exit "
        "code 3 reached the master while it was already halting",
        "allowed_hosts": [],
        "time_zone": "UTC",
        "args": [],
        "expect_exit": True,
        "plan": plan_boot_failure,
        "want_outcome": "crash",
        "attempts": 20,
    },
    "gthread": {
        "description": "--worker-class gthread --threads 4 --workers 1, correct ALLOWED_HOSTS, app "
        "records in Django's documented verbose format (with the thread id); three concurrent "
        "/slow/ (1.5 s) while probes and fast pages go through the same pid",
        "allowed_hosts": ["app.example.com", "localhost", "127.0.0.1"],
        "time_zone": "UTC",
        "args": [],
        "workers": 1,
        "worker_class": "gthread",
        "threads": 4,
        "log_format": "django_verbose",
        "slow_seconds": "1.5",
        "plan": plan_gthread,
    },
    "json_logging": {
        "description": "2 sync workers, correct ALLOWED_HOSTS, app records as python-json-logger "
        "JSON (asctime levelname name process thread message, request_id on INCOMING/RESPONSE "
        "from X-Request-ID or a generated uuid4 hex) mixed with gunicorn's plain error and "
        "access lines; probes, pages, one 404, one /boom/ 500 with its traceback in exc_info",
        "allowed_hosts": ["app.example.com", "localhost", "127.0.0.1"],
        "time_zone": "UTC",
        "args": [],
        "log_format": "json",
        "plan": plan_json_logging,
    },
    "max_requests": {
        "description": "--max-requests 5 --max-requests-jitter 0 on 2 sync workers under steady "
        "traffic: planned worker restarts, every request answered",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": ["--max-requests", "5", "--max-requests-jitter", "0"],
        "lifecycle": True,
        "plan": plan_max_requests,
    },
    "sigterm_inflight": {
        "description": "--graceful-timeout 1: SIGTERM to the master while two /stuck/ requests are "
        "in flight; the workers outlive the graceful timeout and the master kills them",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": ["--graceful-timeout", "1"],
        "lifecycle": True,
        "plan": plan_sigterm_inflight,
    },
    "sigkill_worker": {
        "description": "An external SIGKILL of the worker busy with /stuck/ (its pid from a "
        "pre_request hook), no timeout before it (the OOM-killer's pattern); the master boots "
        "a new worker and traffic goes on",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": [],
        "lifecycle": True,
        "plan": plan_sigkill_worker,
    },
    "reload_hup": {
        "description": "SIGHUP to the master mid-traffic: a planned reload (new workers, the old "
        "ones stopped gracefully), every request answered",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": [],
        "lifecycle": True,
        "plan": plan_reload_hup,
    },
    "scale_ttin": {
        "description": "SIGTTIN then SIGTTOU to the master mid-traffic: one worker more, then one "
        "fewer (planned scaling), every request answered",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": [],
        "lifecycle": True,
        "plan": plan_scale_ttin,
    },
    "error_and_hang": {
        "description": "--timeout 2: a /boom/ 500 with its traceback and a hung /stuck/ (killed by "
        "WORKER TIMEOUT) in the same run, so the findings compete",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": ["--timeout", "2"],
        "timeout": 2,
        "lifecycle": True,
        "plan": plan_error_and_hang,
    },
}


# --------------------------------------------------------------------------
# process output capture


def docker_ts(ns):
    sec, frac = divmod(ns, 1_000_000_000)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z ").encode()


class Sink:
    """Reads a process's pipes line by line (one thread per pipe) and writes each line, as it
    arrives, to the scenario's files; watches gunicorn's lines for its boot."""

    def __init__(self, out_dir):
        self.lock = threading.Lock()
        self.raw = open(os.path.join(out_dir, "docker.log"), "wb")
        self.ts = open(os.path.join(out_dir, "docker-timestamps.log"), "wb")
        self.kube = open(os.path.join(out_dir, "kubectl.log"), "wb")
        self.files = (self.raw, self.ts, self.kube)
        self.listening = threading.Event()
        self.booted = 0

    def pump(self, stream, source="web"):
        for line in iter(stream.readline, b""):
            with self.lock:
                self.write(source, line, time.time_ns())
                if source == "web":
                    if b"] Listening at: " in line:
                        self.listening.set()
                    if b"] Booting worker with pid: " in line:
                        self.booted += 1
        stream.close()

    def write(self, source, line, ns):
        prefix = docker_ts(ns)
        self.raw.write(line)
        self.ts.write(prefix + line)
        self.kube.write(POD_PREFIX + prefix + line)

    def close(self):
        with self.lock:
            for f in self.files:
                f.close()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid):
    kids = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return kids
    for e in entries:
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat", "rb") as f:
                stat = f.read()
            if int(stat.rsplit(b")", 1)[1].split()[1]) == pid:
                kids.add(int(e))
        except (OSError, ValueError, IndexError):
            pass
    return kids


def stop(proc, sig=signal.SIGTERM, grace=10):
    """Send sig (SIGTERM) to the master by pid, wait up to grace seconds, then SIGKILL it and
    its workers."""
    if proc.poll() is not None:
        return
    kids = child_pids(proc.pid)
    proc.send_signal(sig)
    try:
        proc.wait(grace)
        return
    except subprocess.TimeoutExpired:
        pass
    kids |= child_pids(proc.pid)
    proc.kill()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    for k in kids:
        try:
            os.kill(k, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def boot_outcome(exited_on_its_own, returncode, exit_seconds):
    """Classify how gunicorn ended a failed boot: (label, clause for the description)."""
    if not exited_on_its_own:
        return None, ""
    if returncode == 3 and exit_seconds is not None and exit_seconds > 20:
        return "hang", ("; outcome: the master logged one 'exited with code 3', then sat out "
                        f"graceful_timeout with an unreaped worker and exited 3 after {exit_seconds:.0f} s")
    if returncode == 3:
        return "orderly", "; outcome: the master halted in order (exit 3) after 'Reason: Worker failed to boot.'"
    if returncode == 1:
        return "crash", ("; outcome: the master died with an uncaught HaltServer traceback (exit 1) and "
                         "logged no 'Shutting down: Master' / 'Reason:' lines")
    return "other", f"; outcome: gunicorn exited on its own with code {returncode}"


def gunicorn_command(sc, port):
    """gunicorn's argv and environment for scenario sc, listening on 127.0.0.1:port."""
    threads = sc.get("threads", THREADS)
    worker_class = sc.get("worker_class", WORKER_CLASS)
    # uvicorn's worker serves Django's ASGI app; every other class the WSGI one.
    app = "djapp.asgi:application" if "uvicorn" in worker_class.lower() else "djapp.wsgi:application"
    cmd = [
        sys.executable, "-m", "gunicorn", app,
        "--chdir", HERE,
        "--bind", f"127.0.0.1:{port}",
        "--access-logfile", "-",
        "--workers", str(sc.get("workers", WORKERS)),
        "--worker-class", worker_class,
        *(["--threads", str(threads)] if threads != THREADS else []),
        *sc["args"],
    ]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": "UTC",  # the container's clock; Django re-sets TZ in the workers
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",  # keep __pycache__ out of scripts/capture
        "DJANGO_SETTINGS_MODULE": "djapp.settings",
        "ALLOWED_HOSTS": ",".join(sc["allowed_hosts"]),
        "TIME_ZONE": sc["time_zone"],
        "SLOW_SECONDS": sc.get("slow_seconds", SLOW_SECONDS),
        "LOG_FORMAT": sc.get("log_format", LOG_FORMAT),
        **({"STUCK_SECONDS": STUCK_SECONDS} if STUCK_SECONDS else {}),
    }
    return cmd, env


def start_gunicorn(sc, port, sink, hook_log=None):
    """Start gunicorn for scenario sc; its stdout and stderr go to sink as service "web".
    With hook_log, gunicorn loads hooks.py, which writes its events there."""
    cmd, env = gunicorn_command(sc, port)
    if hook_log:
        cmd += ["-c", os.path.join(HERE, "hooks.py")]
        env["REQTRAIL_HOOK_LOG"] = hook_log
        if "uvicorn" in sc.get("worker_class", WORKER_CLASS).lower():
            # uvicorn's worker never calls gunicorn's pre_request/post_request hooks: the
            # app's outermost middleware writes those two events instead (djapp/middleware.py).
            env["REQTRAIL_APP_HOOKS"] = "1"
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, cwd=HERE,
    )
    readers = [
        threading.Thread(target=sink.pump, args=(proc.stdout, "web"), daemon=True),
        threading.Thread(target=sink.pump, args=(proc.stderr, "web"), daemon=True),
    ]
    for t in readers:
        t.start()
    return proc, readers


def capture_once(name, out_dir):
    """Run one scenario once; returns (requests, returncode, exited_on_its_own, exit_seconds)."""
    sc = SCENARIOS[name]
    os.makedirs(out_dir, exist_ok=True)
    for f in FILES:
        p = os.path.join(out_dir, f)
        if os.path.exists(p):
            os.remove(p)

    workers = sc.get("workers", WORKERS)
    port = free_port()
    sink = Sink(out_dir)
    t_start = time.monotonic()
    hook_log = None
    if sc.get("lifecycle"):
        fd, hook_log = tempfile.mkstemp(prefix="reqtrail-hooks-", suffix=".jsonl")
        os.close(fd)
    proc, readers = start_gunicorn(sc, port, sink, hook_log)
    life = Life(proc, hook_log) if hook_log else None

    client = Client(port)
    exited_on_its_own = False
    exit_seconds = None
    try:
        if sc.get("expect_exit"):
            # up to 40 s: gunicorn can sit out its graceful_timeout (30 s) before exiting
            for _ in range(400):
                if proc.poll() is not None:
                    break
                time.sleep(0.1)
            exited_on_its_own = proc.poll() is not None
            exit_seconds = time.monotonic() - t_start
        else:
            for _ in range(100):  # up to 10 s
                if (sink.listening.is_set() and sink.booted >= workers) or proc.poll() is not None:
                    break
                time.sleep(0.1)
            if proc.poll() is not None:
                exited_on_its_own = True
            elif not sink.listening.is_set():
                raise RuntimeError(f"{name}: gunicorn not listening after 10 s")
            else:
                time.sleep(0.8)  # let the workers import Django (like initialDelaySeconds)
        client.run(sc["plan"](life) if life else sc["plan"]())
        client.join_background()
        stopped = life is not None and any(s["target"] == "master" and s["signal"] == "SIGTERM"
                                           for s in life.signals)
        if proc.poll() is not None and not sc.get("expect_exit") and not stopped:
            exited_on_its_own = True
        time.sleep(0.3)  # let the last log lines arrive before the shutdown lines
    finally:
        stop(proc)
        for t in readers:
            t.join(5)
        sink.close()
    if life:
        life.kept = life.hooks()  # the hooks' log is a temp file, gone after this
        os.remove(hook_log)
    return client.results, proc.returncode, exited_on_its_own, exit_seconds, life


def app_truth(name, sc, versions, clause, exited_on_its_own, returncode):
    """What truth.json says of the app's side of a scenario (the requests come after)."""
    return {
        "scenario": name,
        "description": sc["description"] + clause + ".",
        "gunicorn_version": versions["gunicorn"],
        "django_version": versions["Django"],
        "worker_class": sc.get("worker_class", WORKER_CLASS),
        "workers": sc.get("workers", WORKERS),
        "threads": sc.get("threads", THREADS),
        "log_format": sc.get("log_format", LOG_FORMAT),
        "gunicorn_timeout": sc.get("timeout", DEFAULT_TIMEOUT),
        "public_host": PUBLIC_HOST,
        "allowed_hosts": sc["allowed_hosts"],
        "time_zone": sc["time_zone"],
        "boot_failed": bool(exited_on_its_own and returncode not in (0, None)),
        # scripts/capture.sh --stack NAME: the pinned stack (scripts/capture/stacks/NAME.txt)
        **({"stack": versions["stack"]} if versions.get("stack") else {}),
        **({"stuck_seconds": float(STUCK_SECONDS)} if STUCK_SECONDS else {}),
    }


def never_started(results, hooks):
    """Marks the dropped connections no worker began to handle: a gthread or gevent worker
    accepts a connection before it handles the request, and a stop may close it still queued
    (the client sees it closed, the app never saw it). The hooks count the requests of each path
    that started; the dropped ones of a path past that count, the last sent, never reached the
    app (`reaches_app` false, `never_started` true)."""
    started = Counter(h["path"] for h in hooks if h["event"] == "request_started")
    answered = Counter(r["path"] for r in results if r["status"] is not None)
    dropped = sorted(
        (r for r in results
         if r["status"] is None and r["error"] == "connection closed" and r["reaches_app"]),
        key=lambda r: r["sent_at"])
    room = {path: started[path] - answered[path] for path in {r["path"] for r in dropped}}
    for r in dropped:
        if room[r["path"]] > 0:
            room[r["path"]] -= 1
        else:
            r["reaches_app"] = False
            r["never_started"] = True


def lifecycle_truth(sc, life, results):
    """truth.json's side of a lifecycle scenario, from the capture and the server's hooks: the
    signals sent; the workers born, exited and the requests each took (hooks.py); and per
    request, what cut it when the client saw its connection closed without an answer."""
    hooks = life.hooks()
    count = lambda event: sum(1 for h in hooks if h["event"] == event)  # noqa: E731
    for r in results:
        r["cut_by"] = cut_by(r, life.signals, sc.get("timeout", DEFAULT_TIMEOUT))
    never_started(results, hooks)
    return {
        "signals": life.signals,
        "hooks": {
            "workers_born": count("worker_born"),
            "workers_exited": count("worker_exited"),
            "requests_started": count("request_started"),
            "requests_done": count("request_done"),
        },
    }


def run_scenario(name, out_root, versions):
    sc = SCENARIOS[name]
    out_dir = os.path.join(out_root, name)
    started = time.monotonic()
    attempts = sc.get("attempts", 1)
    for attempt in range(1, attempts + 1):
        results, returncode, exited_on_its_own, exit_seconds, life = capture_once(name, out_dir)
        outcome, clause = boot_outcome(exited_on_its_own, returncode, exit_seconds)
        if "want_outcome" not in sc or outcome == sc["want_outcome"]:
            break
        if time.monotonic() - started > 45:  # keep the whole run bounded
            break

    truth = {**app_truth(name, sc, versions, clause, exited_on_its_own, returncode),
             "requests": results}
    if life:
        truth.update(lifecycle_truth(sc, life, results))
    with open(os.path.join(out_dir, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=2)
        f.write("\n")

    counts = {}
    for r in results:
        key = str(r["status"]) if r["status"] is not None else r["error"]
        counts[key] = counts.get(key, 0) + 1
    summary = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
    note = ""
    if attempts > 1:
        note = f", {outcome} exit, attempt {attempt}/{attempts}"
        if outcome != sc["want_outcome"]:
            note += f" (wanted {sc['want_outcome']}, never happened; kept the last run)"
    print(
        f"{name}: {len(results)} requests ({summary}), gunicorn exit {returncode}{note}, "
        f"{time.monotonic() - started:.1f}s -> {out_dir}",
        flush=True,
    )


# --------------------------------------------------------------------------
# edge: Debian's nginx in front of the same gunicorn + Django
#
# Users' requests go through nginx (Host: app.example.com); kube-probes go straight to
# gunicorn, as the kubelet does, so the edge never sees them. nginx keeps its Debian
# defaults for what it logs: the access log in the stock "combined" format, the error log in
# its own format at the default level (error). Both go to pipes (access_log /dev/stdout,
# error_log stderr, as the official image links them) read by the same Sink threads as
# gunicorn's pipes, so every line is written, in arrival order, to its own file and to
# compose.log as `docker compose logs` prints two services.

NGINX = "/usr/sbin/nginx"
NGINX_DEFAULT_READ_TIMEOUT = 60
HAPROXY = "/usr/sbin/haproxy"


def edge(spec):
    """The request as a user sends it: through the proxy (nginx or HAProxy)."""
    return {**spec, "via": "edge"}


def direct(spec):
    """The request as the kubelet sends it: straight to gunicorn."""
    return {**spec, "via": "app"}


class ComposeSink(Sink):
    """Sink for gunicorn and its proxy together: each source's lines raw into its own file, and
    every line into compose.log behind its service name, padded as docker compose pads them
    (the longest name plus one, then "| "). sources: Sink source -> (its own file, compose
    service), an edge server's "sources"."""

    def __init__(self, out_dir, sources):
        self.lock = threading.Lock()
        self.listening = threading.Event()
        self.booted = 0
        self.own = {src: open(os.path.join(out_dir, f), "wb") for src, (f, _) in sources.items()}
        self.compose = open(os.path.join(out_dir, "compose.log"), "wb")
        width = max(len(svc) for _, svc in sources.values()) + 1
        self.prefix = {src: f"{svc:<{width}} | ".encode() for src, (_, svc) in sources.items()}
        self.files = (*self.own.values(), self.compose)

    def write(self, source, line, ns):
        self.own[source].write(line)
        self.compose.write(self.prefix[source] + line + (b"" if line.endswith(b"\n") else b"\n"))


def nginx_version():
    out = subprocess.run([NGINX, "-v"], capture_output=True, timeout=10)
    text = (out.stderr or out.stdout).decode().strip()  # "nginx version: nginx/1.22.1"
    return text.rsplit("/", 1)[-1]


def nginx_conf(run_dir, port, upstream_port, read_timeout):
    user = ""
    if os.geteuid() == 0:
        # Only root may switch users (nginx warns otherwise); its workers then run as nobody.
        import grp
        import pwd
        pw = pwd.getpwnam("nobody")
        user = f"user {pw.pw_name} {grp.getgrgid(pw.pw_gid).gr_name};\n"
    return f"""{user}worker_processes 1;
daemon off;
master_process on;
pid {run_dir}/nginx.pid;
error_log stderr;

events {{
    worker_connections 768;
}}

http {{
    access_log /dev/stdout combined;
    client_body_temp_path {run_dir}/client_body;
    proxy_temp_path {run_dir}/proxy;
    fastcgi_temp_path {run_dir}/fastcgi;
    uwsgi_temp_path {run_dir}/uwsgi;
    scgi_temp_path {run_dir}/scgi;

    server {{
        listen 127.0.0.1:{port};
        server_name {PUBLIC_HOST};

        location / {{
            proxy_pass http://127.0.0.1:{upstream_port};
            proxy_set_header Host $host;
            proxy_read_timeout {read_timeout}s;
        }}
    }}
}}
"""


def start_edge(name, argv, run_dir, port, sink, out_source, err_source, stop_signal):
    """Start the proxy's argv (in the foreground, cwd run_dir, TZ=UTC), its stdout read into
    sink as out_source and its stderr as err_source; returns (proc, reader threads) once its
    port accepts connections (up to 5 s, else it is stopped with stop_signal)."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC"},
        cwd=run_dir,
    )
    readers = [
        threading.Thread(target=sink.pump, args=(proc.stdout, out_source), daemon=True),
        threading.Thread(target=sink.pump, args=(proc.stderr, err_source), daemon=True),
    ]
    for t in readers:
        t.start()
    for _ in range(50):  # up to 5 s
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, readers
        except OSError:
            time.sleep(0.1)
    stop(proc, stop_signal, 5)
    raise RuntimeError(f"{name} not listening on 127.0.0.1:{port} (exit {proc.poll()})")


def start_nginx(run_dir, port, upstream_port, read_timeout, sink):
    """Start nginx (master + 1 worker, foreground) with its own config, pid file and temp dirs
    under run_dir; returns (proc, reader threads) once its port accepts connections."""
    conf = os.path.join(run_dir, "nginx.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(nginx_conf(run_dir, port, upstream_port, read_timeout))
    if os.geteuid() == 0:
        os.chmod(run_dir, 0o755)  # the workers (nobody) reach their temp dirs through it
    argv = [NGINX, "-p", run_dir + "/", "-c", conf, "-e", "stderr"]
    return start_edge("nginx", argv, run_dir, port, sink, "nginx-access", "nginx-error",
                      signal.SIGQUIT)


def haproxy_version():
    out = subprocess.run([HAPROXY, "-v"], capture_output=True, timeout=10)
    text = out.stdout.decode().split("\n", 1)[0]  # "HAProxy version 2.6.12-1+deb12u4 2026/10/17 - ..."
    return text.split()[2]


def haproxy_conf(port, upstream_port, timeout_server):
    # As the official image's documentation has it: logs to stdout, no syslog header ("raw"),
    # `option httplog` in its default format. `option dontlognull` (in Debian's stock
    # haproxy.cfg too) keeps the readiness check's empty connection out of the log.
    return f"""global
    log stdout format raw local0

defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 5s
    timeout client 30s
    timeout server {timeout_server}s

frontend web
    bind 127.0.0.1:{port}
    default_backend app

backend app
    server gunicorn 127.0.0.1:{upstream_port}
"""


def start_haproxy(run_dir, port, upstream_port, timeout_server, sink):
    """Start HAProxy (master-worker, foreground: `-W -db`, as the official image runs it) with
    its own config under run_dir; stdout (its log) and stderr (the master's notices) both go to
    haproxy.log, as `docker logs` shows them. Returns (proc, reader threads) once it listens."""
    conf = os.path.join(run_dir, "haproxy.cfg")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(haproxy_conf(port, upstream_port, timeout_server))
    argv = [HAPROXY, "-W", "-db", "-f", conf]
    return start_edge("haproxy", argv, run_dir, port, sink, "haproxy", "haproxy", signal.SIGUSR1)


# Each proxy: its binary and Debian package, the Sink sources it writes (source -> (its own
# file, compose service); gunicorn's "web" first), the scenario key (and truth.json's "edge"
# key) holding its upstream timeout in seconds, how to start it and how to stop it gracefully
# (nginx: SIGQUIT; HAProxy's soft stop: SIGUSR1, the official image's STOPSIGNAL).
EDGE_SERVERS = {
    "nginx": {
        "binary": NGINX,
        "package": "nginx-light",
        "version": nginx_version,
        "sources": {
            "web": ("app.log", "web-1"),
            "nginx-access": ("nginx-access.log", "nginx-1"),
            "nginx-error": ("nginx-error.log", "nginx-1"),
        },
        "timeout_key": "proxy_read_timeout",
        "start": start_nginx,
        "stop_signal": signal.SIGQUIT,
    },
    "haproxy": {
        "binary": HAPROXY,
        "package": "haproxy",
        "version": haproxy_version,
        "sources": {
            "web": ("app.log", "web-1"),
            "haproxy": ("haproxy.log", "haproxy-1"),
        },
        "timeout_key": "timeout_server",
        "start": start_haproxy,
        "stop_signal": signal.SIGUSR1,
    },
}


def edge_files(server):
    """The files an edge scenario with this proxy writes."""
    return (*(f for f, _ in EDGE_SERVERS[server]["sources"].values()), "compose.log", "truth.json")


def plan_edge_healthy(sink):
    return [
        ("req", direct(probe())),
        ("sleep", 0.2),
        ("req", edge(public("/health/", CURL_UA))),
        ("req", edge(public("/login/"))),
        ("req", edge(public("/admin/"))),
        ("sleep", 0.2),
        ("req", direct(probe())),
        ("req", edge(public("/api/v1/reports/42/", BROWSER_UA, query="format=json"))),
        ("req", edge(req("/wp-login.php", PUBLIC_HOST, SCANNER_UA))),
        ("req", edge(public("/boom/"))),
        ("sleep", 0.2),
        ("req", direct(probe())),
        ("req", edge(public("/", CURL_UA))),
        ("req", edge(public("/health/", BROWSER_UA))),
        ("sleep", 0.2),
        ("req", direct(probe())),
    ]


def plan_edge_timeout_short(sink):
    # nginx gives up after 1 s, gunicorn after 4 s: /slow/ (2 s) answers 200 after nginx has
    # sent its 504; /stuck/ gets nginx's 504 at 1 s and its worker is killed at about 5 s.
    return [
        ("req", direct(probe())),
        ("sleep", 0.2),
        ("req", edge(public("/login/"))),
        ("req", edge(public("/health/", CURL_UA))),
        ("req", direct(probe())),
        ("sleep", 0.2),
        ("parallel", [(0, edge(public("/slow/", CURL_UA))), (0.3, edge(public("/stuck/", CURL_UA)))]),
        ("sleep", 1.0),
        ("req", direct(probe())),
        ("req", edge(public("/login/"))),
        ("until", lambda: sink.booted >= 3, 10),  # /stuck/'s worker killed and replaced
        ("sleep", 0.8),
        ("req", direct(probe())),
        ("req", edge(public("/admin/"))),
        ("req", edge(public("/health/", CURL_UA))),
        ("sleep", 0.2),
        ("req", direct(probe())),
    ]


def plan_edge_timeout_long(sink):
    # nginx waits 10 s, gunicorn 2 s: /slow/ gets gunicorn's own 500 (passed on by nginx),
    # /stuck/'s worker is SIGKILLed and nginx answers 502.
    return [
        ("req", direct(probe())),
        ("sleep", 0.2),
        ("req", edge(public("/login/"))),
        ("req", edge(public("/health/", CURL_UA))),
        ("req", edge(public("/api/v1/reports/7/"))),
        ("sleep", 0.2),
        ("req", direct(probe())),
        ("sleep", 0.3),
        ("parallel", [(0, edge(public("/slow/", CURL_UA))), (0.4, edge(public("/stuck/", CURL_UA)))]),
        ("until", lambda: sink.booted >= 4, 10),  # both workers replaced
        ("sleep", 0.8),
        ("req", direct(probe())),
        ("req", edge(public("/login/"))),
        ("sleep", 0.2),
        ("req", edge(public("/admin/"))),
        ("req", direct(probe())),
        ("req", edge(public("/health/", CURL_UA))),
    ]


def plan_edge_allowed_hosts(sink):
    pages = [
        public("/", BROWSER_UA), public("/login/", BROWSER_UA), public("/health/", CURL_UA),
        public("/admin/", BROWSER_UA), public("/login/", CURL_UA), public("/", CURL_UA),
        public("/health/", BROWSER_UA), public("/admin/", CURL_UA),
    ]
    plan = []
    for i in range(4):
        plan.append(("req", direct(probe())))
        plan.append(("sleep", 0.1))
        for spec in pages[2 * i:2 * i + 2]:
            plan.append(("req", edge(spec)))
            plan.append(("sleep", 0.08))
        if i == 2:
            plan.append(("req", edge(req("/", "203.0.113.9", SCANNER_UA))))
        plan.append(("sleep", 0.12))
    plan.append(("req", direct(probe())))
    return plan


def plan_edge_haproxy_timeout(sink):
    # HAProxy gives up after 1 s (timeout server), gunicorn after 4 s, as in edge_timeout_short:
    # /slow/ (2 s) answers 200 after HAProxy's 504 (sH--); /stuck/ gets the 504 at 1 s and its
    # worker is killed at about 5 s. One /boom/ 500 is passed on.
    return [
        ("req", direct(probe())),
        ("sleep", 0.2),
        ("req", edge(public("/login/"))),
        ("req", edge(public("/health/", CURL_UA))),
        ("req", edge(public("/boom/"))),
        ("req", direct(probe())),
        ("sleep", 0.2),
        ("parallel", [(0, edge(public("/slow/", CURL_UA))), (0.3, edge(public("/stuck/", CURL_UA)))]),
        ("sleep", 1.0),
        ("req", direct(probe())),
        ("req", edge(public("/login/"))),
        ("until", lambda: sink.booted >= 3, 10),  # /stuck/'s worker killed and replaced
        ("sleep", 0.8),
        ("req", direct(probe())),
        ("req", edge(public("/admin/"))),
        ("req", edge(public("/health/", CURL_UA))),
        ("sleep", 0.2),
        ("req", direct(probe())),
    ]


BOOT_PAGES = (("/", BROWSER_UA), ("/login/", BROWSER_UA), ("/health/", CURL_UA), ("/admin/", CURL_UA))


def plan_edge_boot_failure_after(sink):
    # After gunicorn exited: nginx's connect() is refused; so is the kubelet's probe.
    plan = []
    for path, ua in BOOT_PAGES[:3]:
        plan += [("req", {**edge(public(path, ua)), "reaches_app": False}), ("sleep", 0.1)]
    return plan + [("req", direct(probe()))]


EDGE_SCENARIOS = {
    "edge_healthy": {
        "server": "nginx",
        "description": "nginx in front of gunicorn, correct ALLOWED_HOSTS: pages, a query string, "
        "a 404 and one /boom/ 500 through nginx; kube-probes straight to gunicorn",
        "allowed_hosts": ["app.example.com", "localhost", "127.0.0.1"],
        "time_zone": "UTC",
        "args": [],
        "proxy_read_timeout": NGINX_DEFAULT_READ_TIMEOUT,
        "plan": plan_edge_healthy,
    },
    "edge_timeout_short": {
        "server": "nginx",
        "description": "nginx proxy_read_timeout 1s below gunicorn --timeout 4: /slow/ (2 s) gets "
        "nginx's 504 while the app answers 200 after nginx gave up; /stuck/ gets nginx's 504 at "
        "1 s and its worker is killed later by WORKER TIMEOUT (SIGABRT blocked, SIGKILL)",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": ["--timeout", "4"],
        "timeout": 4,
        "slow_seconds": "2",
        "proxy_read_timeout": 1,
        "plan": plan_edge_timeout_short,
    },
    "edge_timeout_long": {
        "server": "nginx",
        "description": "nginx proxy_read_timeout 10s above gunicorn --timeout 2: /slow/ is aborted "
        "by gunicorn (its own 500, passed on by nginx), /stuck/ ignores SIGABRT and is SIGKILLed "
        "(nginx 502, upstream prematurely closed connection); workers reboot",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": ["--timeout", "2"],
        "timeout": 2,
        "proxy_read_timeout": 10,
        "plan": plan_edge_timeout_long,
    },
    "edge_boot_failure": {
        "server": "nginx",
        "description": "ALLOWED_HOSTS empty: settings raise ValueError in each worker and gunicorn "
        "halts; requests through nginx while it tries and after it exited get nginx's 502, the "
        "probe after the exit is refused",
        "allowed_hosts": [],
        "time_zone": "UTC",
        "args": [],
        "expect_exit": True,
        "proxy_read_timeout": NGINX_DEFAULT_READ_TIMEOUT,
        "plan": plan_edge_boot_failure_after,
        "attempts": 5,
    },
    "edge_allowed_hosts": {
        "server": "nginx",
        "description": "ALLOWED_HOSTS lacks the public host: users through nginx get Django's 400 "
        "DisallowedHost passed on, kube-probes straight to gunicorn get 200 via the K8s bypass",
        "allowed_hosts": ["localhost", "127.0.0.1"],
        "time_zone": "UTC",
        "args": [],
        "proxy_read_timeout": NGINX_DEFAULT_READ_TIMEOUT,
        "plan": plan_edge_allowed_hosts,
    },
    "edge_haproxy_timeout": {
        "server": "haproxy",
        "description": "HAProxy timeout server 1s below gunicorn --timeout 4: /slow/ (2 s) gets "
        "HAProxy's 504 (sH--) while the app answers 200 after HAProxy gave up; /stuck/ gets "
        "HAProxy's 504 at 1 s and its worker is killed later by WORKER TIMEOUT (SIGABRT blocked, "
        "SIGKILL); one /boom/ 500 passed on",
        "allowed_hosts": ["app.example.com", "127.0.0.1", "localhost"],
        "time_zone": "UTC",
        "args": ["--timeout", "4"],
        "timeout": 4,
        "slow_seconds": "2",
        "timeout_server": 1,
        "plan": plan_edge_haproxy_timeout,
    },
}


def boot_failure_requests(client, proc):
    """Requests through nginx every 0.1 s while gunicorn boots and fails (at most 30, each on
    a pool thread); then wait (bounded) for gunicorn to exit. Returns exit_seconds or None."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=POOL_MAX) as pool:
        for i in range(30):
            if proc.poll() is not None:
                break
            path, ua = BOOT_PAGES[i % len(BOOT_PAGES)]
            pool.submit(client.one, {**edge(public(path, ua)), "reaches_app": False})
            time.sleep(0.1)
    for _ in range(400):  # up to 40 s: gunicorn can sit out its graceful_timeout (30 s)
        if proc.poll() is not None:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def capture_edge_once(name, out_dir):
    """Run one edge scenario once; returns (requests, returncode, exited_on_its_own,
    exit_seconds, exit_at)."""
    sc = EDGE_SCENARIOS[name]
    server = EDGE_SERVERS[sc["server"]]
    os.makedirs(out_dir, exist_ok=True)
    for f in edge_files(sc["server"]):
        p = os.path.join(out_dir, f)
        if os.path.exists(p):
            os.remove(p)

    workers = sc.get("workers", WORKERS)
    port = free_port()
    edge_port = free_port()
    while edge_port == port:
        edge_port = free_port()
    sink = ComposeSink(out_dir, server["sources"])
    run_dir = tempfile.mkdtemp(prefix=f"reqtrail-{sc['server']}-")
    front = proc = None
    readers = []
    client = Client(port, edge_port)
    exited_on_its_own, exit_seconds, exit_at = False, None, None
    try:
        front, readers = server["start"](run_dir, edge_port, port, sc[server["timeout_key"]], sink)
        proc, more = start_gunicorn(sc, port, sink)
        readers += more
        if sc.get("expect_exit"):
            exit_seconds = boot_failure_requests(client, proc)
            exited_on_its_own = exit_seconds is not None
            exit_at = rfc3339_micro(time.time()) if exited_on_its_own else None
            time.sleep(0.2)
        else:
            for _ in range(100):  # up to 10 s
                if (sink.listening.is_set() and sink.booted >= workers) or proc.poll() is not None:
                    break
                time.sleep(0.1)
            if proc.poll() is not None:
                exited_on_its_own = True
            elif not sink.listening.is_set():
                raise RuntimeError(f"{name}: gunicorn not listening after 10 s")
            else:
                time.sleep(0.8)  # let the workers import Django (like initialDelaySeconds)
        client.run(sc["plan"](sink))
        if proc.poll() is not None and not sc.get("expect_exit"):
            exited_on_its_own = True
        time.sleep(0.3)  # let the last log lines arrive before the shutdown lines
    finally:
        if front is not None:
            stop(front, server["stop_signal"], 5)
        if proc is not None:
            stop(proc)
        for t in readers:
            t.join(5)
        sink.close()
        shutil.rmtree(run_dir, ignore_errors=True)
    return client.results, proc.returncode, exited_on_its_own, exit_seconds, exit_at


def run_edge_scenario(name, out_root, versions):
    sc = EDGE_SCENARIOS[name]
    timeout_key = EDGE_SERVERS[sc["server"]]["timeout_key"]
    out_dir = os.path.join(out_root, name)
    started = time.monotonic()
    attempts = sc.get("attempts", 1)
    for attempt in range(1, attempts + 1):
        results, returncode, exited_on_its_own, exit_seconds, exit_at = capture_edge_once(name, out_dir)
        outcome, clause = boot_outcome(exited_on_its_own, returncode, exit_seconds)
        if not sc.get("expect_exit"):
            break
        # Keep a run with requests through nginx both while gunicorn tried and after it exited.
        during = [r for r in results if r["via"] == "edge" and exit_at and r["sent_at"] < exit_at]
        after = [r for r in results if r["via"] == "edge" and exit_at and r["sent_at"] > exit_at
                 and r["status"] == 502]
        if exited_on_its_own and len(during) >= 2 and len(after) >= 3:
            break
        if time.monotonic() - started > 45:  # keep the whole run bounded
            break

    truth = {
        **app_truth(name, sc, versions, clause, exited_on_its_own, returncode),
        "gunicorn_exit_at": exit_at,
        # How long /slow/ sleeps (the view's SLOW_SECONDS); /stuck/ outlasts any timeout here.
        "slow_seconds": float(sc.get("slow_seconds", SLOW_SECONDS)),
        "edge": {
            "server": sc["server"],
            "version": versions[sc["server"]],
            timeout_key: sc[timeout_key],
        },
        "requests": results,
    }
    with open(os.path.join(out_dir, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=2)
        f.write("\n")

    counts = {}
    for r in results:
        key = r["via"] + " " + (str(r["status"]) if r["status"] is not None else r["error"])
        counts[key] = counts.get(key, 0) + 1
    summary = ", ".join(f"{k} x{v}" for k, v in sorted(counts.items()))
    note = f", {outcome} exit, attempt {attempt}/{attempts}" if attempts > 1 else ""
    print(
        f"{name}: {len(results)} requests ({summary}), gunicorn exit {returncode}{note}, "
        f"{time.monotonic() - started:.1f}s -> {out_dir}",
        flush=True,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="sample-logs")
    ap.add_argument("--stack", help="the pinned stack's name (scripts/capture/stacks/NAME.txt), "
                    "recorded in truth.json; its default scenarios are the app ones")
    everything = [*SCENARIOS, *EDGE_SCENARIOS]
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                    help="any of: " + ", ".join(everything) + " (default: all)")
    ap.add_argument("--worker-class", help="gunicorn's worker class for the scenarios that do "
                    "not set their own (default: sync); a uvicorn worker serves djapp.asgi")
    ap.add_argument("--threads", type=int, help="--threads for those scenarios (default: 1)")
    ap.add_argument("--stuck-seconds", help="how long /stuck/ sleeps (default: the view's 30 s); "
                    "for worker classes whose heartbeat outlives a hung request")
    args = ap.parse_args()
    global WORKER_CLASS, THREADS, STUCK_SECONDS
    WORKER_CLASS = args.worker_class or WORKER_CLASS
    THREADS = args.threads or THREADS
    STUCK_SECONDS = args.stuck_seconds
    names = args.scenarios or (list(SCENARIOS) if args.stack else everything)
    unknown = [n for n in names if n not in everything]
    if unknown:
        ap.error("unknown scenario(s): " + ", ".join(unknown))
    versions = {p: metadata.version(p) for p in ("gunicorn", "Django")}
    versions["stack"] = args.stack
    for server in sorted({EDGE_SCENARIOS[n]["server"] for n in names if n in EDGE_SCENARIOS}):
        spec = EDGE_SERVERS[server]
        if not os.access(spec["binary"], os.X_OK):
            sys.exit(f"capture: {spec['binary']} not found; the {server} edge scenarios need "
                     f"Debian's {server} (apt-get install {spec['package']})")
        versions[server] = spec["version"]()
    out_root = os.path.abspath(args.out)
    started = time.monotonic()
    for name in names:
        if name in EDGE_SCENARIOS:
            run_edge_scenario(name, out_root, versions)
        else:
            run_scenario(name, out_root, versions)
    print(f"capture: {len(names)} scenario(s) in {time.monotonic() - started:.1f}s", flush=True)

if __name__ == "__main__":
    main()
