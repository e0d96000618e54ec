import ipaddress
import logging
import os
import uuid

from django.conf import settings

logger = logging.getLogger("djapp.requests")

K8S_INTERNAL = ipaddress.ip_network("10.0.0.0/8")


def _host_part(raw):
    """Host header without its port (no validation)."""
    if raw.startswith("["):
        end = raw.find("]")
        return raw[1:end] if end != -1 else raw
    if raw.count(":") == 1:
        return raw.rsplit(":", 1)[0]
    return raw


class KubernetesInternalHostMiddleware:
    """Let requests addressed to a pod/cluster IP skip ALLOWED_HOSTS."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("HTTP_HOST", "")
        host = _host_part(raw)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        if ip is not None and ip in K8S_INTERNAL:
            logger.info("K8s internal request from %s - bypassing ALLOWED_HOSTS", host)
            # Skip validation for this request only; the Host header is untouched.
            request.get_host = lambda: raw
        return self.get_response(request)


class RequestLoggingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.with_request_id = getattr(settings, "REQUEST_ID_LOGGING", False)

    def __call__(self, request):
        if self.with_request_id:
            # The caller's X-Request-ID (as an ingress or API client sends it), else our own.
            rid = request.META.get("HTTP_X_REQUEST_ID") or uuid.uuid4().hex
            kw = {"extra": {"request_id": rid}}
        else:
            kw = {}
        # Raw header on purpose: request.get_host() would raise DisallowedHost here.
        logger.info(
            "INCOMING REQUEST: %s %s from %s Host: %s",
            request.method,
            request.path,
            request.META.get("REMOTE_ADDR"),
            request.META.get("HTTP_HOST", ""),
            **kw,
        )
        response = self.get_response(request)
        logger.info("RESPONSE: %s %s -> %s", request.method, request.path, response.status_code, **kw)
        return response


class ServedByMiddleware:
    """Marks every answer Django made (X-Served-By: django), so the capture's client can tell
    them from gunicorn's own (its 400 for a header it refuses, its 500 for a timed-out request):
    truth from the server's side, not from the logs. Logs nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _hook_note("request_started", request)
        response = self.get_response(request)
        response["X-Served-By"] = "django"
        _hook_note("request_done", request)
        return response


def _hook_note(event, request):
    """The server-side truth for a worker class that never calls gunicorn's pre_request and
    post_request hooks (uvicorn's): the line hooks.py writes, by hooks.py's own writer, when
    capture.py asks for it with REQTRAIL_APP_HOOKS=1."""
    if os.environ.get("REQTRAIL_APP_HOOKS") != "1":
        return
    # capture.py runs gunicorn in scripts/capture, where hooks.py sits beside djapp.
    from hooks import note

    note(event, pid=os.getpid(), path=request.path)
