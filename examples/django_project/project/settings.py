"""Settings of the example project: only what sending email through unisend needs."""

from __future__ import annotations

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "project.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# --- email through unisend ---------------------------------------------------------
EMAIL_BACKEND = "unisend.contrib.django.EmailBackend"
UNISEND = {
    # The route: any unisend URL; keep credentials in the environment, not in code.
    "URL": os.environ.get("UNISEND_URL", "sandbox://"),
    "RETRY": {"attempts": 3, "backoff": 0.5},
}
DEFAULT_FROM_EMAIL = "Example Shop <shop@example.com>"
SERVER_EMAIL = "errors@example.com"
ADMINS = [("Ada Admin", "ada@example.com")]
