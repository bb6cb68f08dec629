"""Gunicorn, the production web server: ``gunicorn -c segur_portal/gunicorn.conf.py`` (scripts/start_production.sh).

Every value comes from the environment, with defaults for a small server behind one reverse proxy:

GUNICORN_BIND              address to listen on (default ``0.0.0.0:$PORT``, PORT defaulting to 8000)
GUNICORN_WORKERS           worker processes (default 2 × CPUs + 1, at most 8)
GUNICORN_THREADS           threads per worker (default 2)
GUNICORN_TIMEOUT           seconds a request may take before its worker is restarted (default 60: PDF rendering)
GUNICORN_GRACEFUL_TIMEOUT  seconds the workers get to finish their requests on a restart or stop (default 30)
GUNICORN_MAX_REQUESTS      requests after which a worker is replaced, bounding memory growth (default 1000; 0: never)
GUNICORN_ACCESS_LOG        access log file, ``-`` for standard output (default), empty for none
"""

import multiprocessing
import os

# Gunicorn only ever serves production: never start it on the development settings (DEBUG) by mistake.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "segur_portal.settings.production")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "segur_portal.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT') or '8000'}"]
workers = env_int("GUNICORN_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 8))
threads = env_int("GUNICORN_THREADS", 2)
timeout = env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
max_requests = env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# A personal client-space link is a credential: the access and error logs keep only a digest of its token
# (the same redaction as Django's own logs, portal.log_redaction).
logger_class = "portal.log_redaction.RedactingGunicornLogger"
