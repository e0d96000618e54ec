"""The ASGI entry point, for gunicorn's uvicorn worker (the same settings and views)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djapp.settings")

application = get_asgi_application()
