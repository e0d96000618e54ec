import os
import signal
import time

from django.http import HttpResponse, JsonResponse


def index(request):
    return HttpResponse("<!doctype html><title>djapp</title><h1>djapp</h1>\n")


def health(request):
    return JsonResponse({"status": "healthy", "service": "djapp", "version": "1.0.0"})


def login(request):
    return HttpResponse(
        "<!doctype html><title>Log in</title>"
        '<form method="post"><input name="username"><input name="password" type="password">'
        "<button>Log in</button></form>\n"
    )


def admin(request):
    return HttpResponse("<!doctype html><title>Admin</title><h1>Site administration</h1>\n")


def report(request, report_id):
    return JsonResponse({"id": report_id, "format": request.GET.get("format", "html"), "rows": 3})


def boom(request):
    return HttpResponse(str(1 / 0))


def slow(request):
    time.sleep(float(os.environ.get("SLOW_SECONDS", "6")))
    return HttpResponse("slow done\n")


def stuck(request):
    # Ignore gunicorn's SIGABRT so the master has to escalate to SIGKILL.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGABRT})
    time.sleep(float(os.environ.get("STUCK_SECONDS", "30")))
    return HttpResponse("stuck done\n")
