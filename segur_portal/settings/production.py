"""Production settings: everything secret or host-specific must come from the environment.

Required: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL (postgres://…), CELERY_BROKER_URL (redis://…).
``python manage.py check --deploy`` passes with no warning under these settings.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = False
if os.environ.get("SECRET_KEY", "") in {"", "insecure-local-only-key-change-me-in-production"}:
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment for production.")
SECRET_KEY = os.environ["SECRET_KEY"]

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# Health probes (load balancer, orchestrator) call the app itself over plain HTTP: no redirect for them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Behind one reverse proxy by default: segur_portal.middleware.ClientAddressMiddleware puts the client's address
# (from X-Forwarded-For) in REMOTE_ADDR, and everything reads it there: the client-space audit trail, the rate
# limits and Axes.
SEGUR_TRUSTED_PROXY_COUNT = int(os.environ.get("SEGUR_TRUSTED_PROXY_COUNT", "1"))
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
