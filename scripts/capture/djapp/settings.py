"""Settings for the capture app: shaped like a typical production.py.

LOG_FORMAT (env) picks how the app's own records look on stderr:
  gunicorn        (default) "[asctime] [pid] [LEVEL] message", like gunicorn's error log
  django_verbose  Django's documented "verbose" formatter, "{levelname} {asctime} {module} {process:d} {thread:d} {message}"
  json            python-json-logger, one JSON object per record; the request middleware adds request_id
gunicorn's own error and access lines keep gunicorn's format in every case.
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "reqtrail-capture-not-a-secret")
DEBUG = False

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
if not ALLOWED_HOSTS:
    raise ValueError("ALLOWED_HOSTS must be explicitly set in production")

TIME_ZONE = os.environ.get("TIME_ZONE") or "UTC"
USE_TZ = True

INSTALLED_APPS = []
DATABASES = {}
TEMPLATES = []

MIDDLEWARE = [
    "djapp.middleware.ServedByMiddleware",  # outermost: a header on every answer Django made
    "djapp.middleware.KubernetesInternalHostMiddleware",  # FIRST - allows 10.x.x.x
    "djapp.middleware.RequestLoggingMiddleware",  # SECOND - logs all requests
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "djapp.urls"
WSGI_APPLICATION = "djapp.wsgi.application"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "gunicorn_like": {
            "format": "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s",
            "datefmt": "%Y-%m-%d %H:%M:%S %z",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",  # stderr
            "formatter": "gunicorn_like",
        },
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # django.request and django.security.* propagate up to here.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


LOG_FORMAT = os.environ.get("LOG_FORMAT") or "gunicorn"
# RequestLoggingMiddleware passes extra={"request_id": ...} (X-Request-ID or a uuid4 hex).
REQUEST_ID_LOGGING = LOG_FORMAT == "json"

if LOG_FORMAT == "django_verbose":
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "verbose": {
                "format": "{levelname} {asctime} {module} {process:d} {thread:d} {message}",
                "style": "{",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",  # stderr
                "formatter": "verbose",
            },
        },
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "djapp": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
elif LOG_FORMAT == "json":
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(thread)d %(message)s",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",  # stderr
                "formatter": "json",
            },
        },
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "djapp": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
elif LOG_FORMAT != "gunicorn":
    raise ValueError(f"LOG_FORMAT must be gunicorn, django_verbose or json, not {LOG_FORMAT!r}")
