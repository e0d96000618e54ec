"""Settings for the capture app: shaped like a typical production.py."""

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
