"""gunicorn server hooks for the lifecycle scenarios (capture.py passes -c hooks.py to them).

The truth of those scenarios comes from the client and from the server's own hooks, never
from the logs reqtrail reads: each hook appends one JSON line to $REQTRAIL_HOOK_LOG (which
worker took which request, which workers were born and which exited), so the capture can
find the pid of the worker busy with /stuck/ and say in truth.json what happened.
"""

import json
import os
import time


def note(event, **fields):
    """Appends one JSON line for `event` to $REQTRAIL_HOOK_LOG (djapp/middleware.py uses it too)."""
    path = os.environ.get("REQTRAIL_HOOK_LOG")
    if not path:
        return
    line = json.dumps({"event": event, "at": time.time(), **fields}) + "\n"
    # One short O_APPEND write per event: lines from several processes do not interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def post_fork(server, worker):
    note("worker_born", pid=worker.pid)


def child_exit(server, worker):
    note("worker_exited", pid=worker.pid)


def pre_request(worker, req):
    note("request_started", pid=os.getpid(), path=req.path)


def post_request(worker, req, environ, resp):
    note("request_done", pid=os.getpid(), path=req.path)
