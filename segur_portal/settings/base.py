"""Settings shared by every environment; each value that differs between machines comes from the environment.

The embedded defaults (a SQLite file, kombu's filesystem broker) exist only so that a newcomer's first command works
on a bare machine. Production and CI set ``DATABASE_URL`` (PostgreSQL) and ``CELERY_BROKER_URL`` (Redis).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("SEGUR_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-local-only-key-change-me-in-production")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "import_export",
    "django_fsm",
    "clients",
    "orders",
    "monitoring",
    "portal",
    "api",
]

MIDDLEWARE = [
    # First: everything after it (audit trails, Axes, rate limits) sees the client's address, not the proxy's.
    "segur_portal.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside the checks below, so that their refusals (400, 403) also carry the headers.
    "segur_portal.middleware.ResponseHeadersMiddleware",
    # Before any view or query: a NUL byte or another control character in the path or query string is a 400.
    "segur_portal.middleware.ControlCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A number too large for the database in an id or a filter (embedded SQLite): a 400, not a 500.
    "segur_portal.middleware.OutOfRangeNumberMiddleware",
    # AxesMiddleware must stay last: it turns a lockout into the lockout response.
    "axes.middleware.AxesMiddleware",
]

# --- Security headers and proxies (production.py adds HTTPS, HSTS and secure cookies) ---
# Reverse proxies in front of the app that append to X-Forwarded-For (segur_portal.middleware); 0 trusts none.
SEGUR_TRUSTED_PROXY_COUNT = int(os.environ.get("SEGUR_TRUSTED_PROXY_COUNT", "0"))
# Scripts only from our own origin (the admin's and ours are all static files). Styles also allow inline style
# attributes and blocks: django-import-export's export page and a few of our admin templates use them.
SEGUR_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# The French refusal page for a missing or wrong CSRF token (staff and client forms).
CSRF_FAILURE_VIEW = "segur_portal.errors.csrf_failure"

ROOT_URLCONF = "segur_portal.urls"
WSGI_APPLICATION = "segur_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if "DATABASE_URL" not in os.environ:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded default is shared by the web app and the worker: wait for a write lock rather than fail, and take
    # it when a transaction begins (a read lock cannot wait to become a write lock: SQLite fails it at once).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out username/IP before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Password guessing: 5 failures for one username from one address lock it for 30 minutes, then it unlocks by itself,
# so an attacker can slow staff down but never lock them out for ever.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

# Staff sessions last one working day at most and end with the browser.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(10 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "20"))  # seconds per SMTP operation: a silent server fails fast
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Ségur back-office <segur@localhost>")

# Celery. Default broker: kombu's filesystem transport (no server needed); production and CI: redis://.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_FILESYSTEM_DIR = VAR_DIR / "celery-broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(CELERY_BROKER_FILESYSTEM_DIR),
        "data_folder_out": str(CELERY_BROKER_FILESYSTEM_DIR),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in (CELERY_BROKER_FILESYSTEM_DIR, VAR_DIR / "celery-processed"):
        folder.mkdir(parents=True, exist_ok=True)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every periodic job is declared here, in one place. Crontabs run in CELERY_TIMEZONE (Europe/Paris), so the
# 07:00 run stays at 07:00 local time across daylight-saving changes.
CELERY_BEAT_SCHEDULE = {
    "daily-deadline-scan": {"task": "monitoring.tasks.scan_deadlines", "schedule": crontab(hour=7, minute=0)},
    # If the 07:00 message was lost (broker down), a later run of the day does the scan; once done, runs do nothing.
    "deadline-scan-catch-up": {"task": "monitoring.tasks.scan_deadlines", "schedule": crontab(hour="8-20", minute=30)},
    "resume-stalled-work": {"task": "orders.tasks.resume_stalled_work", "schedule": crontab(minute="*/10")},
    "perf-summaries": {"task": "monitoring.tasks.refresh_perf_summaries", "schedule": crontab(hour=6, minute=30)},
    "send-outbox": {
        "task": "monitoring.tasks.send_outbox",
        "schedule": int(os.environ.get("SEGUR_OUTBOX_INTERVAL_SECONDS", "0")) or crontab(minute="*/5"),
    },
    "worker-heartbeat": {
        "task": "monitoring.tasks.record_heartbeat",
        "schedule": crontab(minute="*/15"),
        "args": ("beat",),
    },
}

# Client-space tokens never reach a log line (portal.log_redaction): the filter sits on every handler, and on
# django.request so that any handler added there later gets the redacted record too. Django's own loggers write
# through the console (Django's default "django" handlers would print the request paths unfiltered).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"portal_tokens": {"()": "portal.log_redaction.PortalTokenFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["portal_tokens"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["portal_tokens"]},
    },
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.request": {"filters": ["portal_tokens"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# Reminders before each deadline, in days (SPEC §10): J-30, J-14, J-7, J-2, J-1, J0; overdue items escalate.
SEGUR_REMINDER_OFFSETS_DAYS = [
    int(days) for days in os.environ.get("SEGUR_REMINDER_OFFSETS_DAYS", "30,14,7,2,1,0").split(",") if days.strip()
]

# The provider running this back-office (letterhead of its documents, sender of its e-mails).
SEGUR_PROVIDER_NAME = os.environ.get("SEGUR_PROVIDER_NAME", "")
# Letterhead logo of the PDF documents: a file under static/ (rendering never leaves static/); empty for none.
SEGUR_PROVIDER_LOGO = os.environ.get("SEGUR_PROVIDER_LOGO", "documents/logo-demo.svg")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Client space: personal access links sent by e-mail (portal.access).
PORTAL_LINK_MAX_AGE_DAYS = int(os.environ.get("PORTAL_LINK_MAX_AGE_DAYS", "30"))
PORTAL_LINK_REQUESTS_PER_HOUR = int(os.environ.get("PORTAL_LINK_REQUESTS_PER_HOUR", "3"))
PORTAL_LINK_REQUESTS_PER_IP_PER_HOUR = int(os.environ.get("PORTAL_LINK_REQUESTS_PER_IP_PER_HOUR", "10"))
PORTAL_ORDERS_PER_PAGE = 20

# Imports and exports (django-import-export and the Base de référence import). Roles: importing needs the model's
# "add" permission (ClientAdmin also asks "change": an import updates clients), exporting its "view" permission.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
# Formats: CSV and XLSX only (segur_portal.spreadsheets); formulas are neutralised by our safe_cell, not by the
# library's escaping, which deletes the "=" and so changes the data.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
# Uploaded spreadsheets: at most this many bytes; above FILE_UPLOAD_MAX_MEMORY_SIZE they go to a temporary file.
SEGUR_IMPORT_MAX_BYTES = int(os.environ.get("SEGUR_IMPORT_MAX_BYTES", str(30 * 1000 * 1000)))
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # form fields other than files
# Client and order files are checked row by row with the domain rules and previewed: a row count of their own.
SEGUR_IMPORT_MAX_ROWS = int(os.environ.get("SEGUR_IMPORT_MAX_ROWS", "20000"))
# A Base de référence waiting for its confirmation: a server-side file, never the session; kept one day at most.
SEGUR_IMPORT_PENDING_DIR = Path(os.environ.get("SEGUR_IMPORT_PENDING_DIR", VAR_DIR / "imports"))
SEGUR_IMPORT_PENDING_MAX_AGE_SECONDS = 24 * 3600
# Admin imports of more rows than this are checked and imported on the worker, with a progress page (issue 13).
SEGUR_IMPORT_WORKER_ROWS = int(os.environ.get("SEGUR_IMPORT_WORKER_ROWS", "500"))
