"""Health of the components the product depends on, as /healthz reports it."""

import logging
from typing import Any

from django.db import connection

from monitoring.models import WorkerHeartbeat
from segur_portal.celery import app as celery_app

logger = logging.getLogger(__name__)


def database_status() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says which
        logger.warning("healthz: database unreachable: %s", exc)
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)[:200]}
    return {"ok": True, "vendor": connection.vendor}


def broker_status(timeout_seconds: float = 2.0) -> dict[str, Any]:
    transport = celery_app.conf.broker_url.split("://", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_seconds)
    except Exception as exc:  # kombu raises transport-specific errors; all mean "down"
        logger.warning("healthz: broker unreachable: %s", exc)
        return {"ok": False, "transport": transport, "error": str(exc)[:200]}
    return {"ok": True, "transport": transport}


def last_worker_heartbeat() -> str | None:
    try:
        heartbeat = WorkerHeartbeat.objects.only("recorded_at").order_by("-recorded_at").first()
    except Exception:  # the database status already reports why
        return None
    return heartbeat.recorded_at.isoformat() if heartbeat else None
