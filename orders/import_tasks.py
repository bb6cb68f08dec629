"""Big admin imports (doctors, structures, draft orders) checked and imported on the worker (issue 13).

The admin keeps the uploaded file as a pending import (``segur_portal.pending_imports``) and queues
``run_model_import`` twice: a preview (dry run, rolled back) and, once confirmed, the import. Both run the same
resource as the small files of the admin — the same rules, all or nothing — and write their progress and outcome to
the pending import's status, which the progress page reads.
"""

import logging
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.utils.module_loading import import_string

from segur_portal import pending_imports

logger = logging.getLogger(__name__)

# The resources a pending import may name (never any dotted path written in a file).
IMPORT_RESOURCES = (
    "clients.resources.DoctorResource",
    "clients.resources.StructureResource",
    "orders.resources.OrderImportResource",
)
LISTED_ERRORS = 100
PREVIEW_ROWS = 20
PROGRESS_EVERY_SECONDS = 0.5
PREVIEW, IMPORT = "preview", "import"
QUEUED, RUNNING, CHECKED, DONE, REFUSED, FAILED = "queued", "running", "checked", "done", "refused", "failed"
FINISHED = {CHECKED, DONE, REFUSED, FAILED}
UNEXPECTED = (
    "Erreur technique inattendue : rien n'a été importé. Réessayez ; si l'erreur revient, signalez-la à l'équipe "
    "technique."
)


def worker_row_threshold() -> int:
    """Files of more rows than this are checked and imported on the worker (``SEGUR_IMPORT_WORKER_ROWS``)."""
    return int(getattr(settings, "SEGUR_IMPORT_WORKER_ROWS", 500))


def model_import_queue(token: str, user_id: int, stage: str, total: int) -> None:
    """Mark the stage queued, then send it to the worker; a broker that cannot be reached is said on the page."""
    pending_imports.pending_import_status_set(token, {"stage": stage, "state": QUEUED, "done": 0, "total": total})
    try:
        run_model_import.apply_async(args=[token, user_id, stage], queue=getattr(settings, "SEGUR_IMPORT_QUEUE", None))
    except Exception:
        logger.warning("import %s could not be queued", token, exc_info=True)
        pending_imports.pending_import_status_set(
            token,
            {
                "stage": stage,
                "state": FAILED,
                "done": 0,
                "total": total,
                "message": "Le traitement en arrière-plan est indisponible : rien n'a été importé. Réessayez "
                "dans quelques minutes.",
            },
        )


@shared_task(name="orders.import_tasks.run_model_import")
def run_model_import(token: str, user_id: int, stage: str) -> None:
    model_import_run(token=token, user_id=user_id, stage=stage)


def model_import_run(*, token: str, user_id: int, stage: str) -> dict[str, Any]:
    """Check (``stage`` preview: dry run) or import (``stage`` import) the pending file; returns the final status."""
    from clients.admin import import_error_lines  # the admin's French error lines: loaded on use, as the admin is
    from segur_portal.spreadsheets import IMPORT_FORMATS

    pending = pending_imports.pending_import_get(token=token, user_id=user_id)
    if pending is None or pending.details.get("resource") not in IMPORT_RESOURCES:
        logger.warning("import %s: no such pending import for user %s", token, user_id)
        return {}
    details = pending.details
    total = int(pending.status.get("total") or 0)
    status: dict[str, Any] = {"stage": stage, "state": RUNNING, "done": 0, "total": total}
    pending_imports.pending_import_status_set(token, status)
    last_write = time.monotonic()

    def progress(row_number: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write >= PROGRESS_EVERY_SECONDS or row_number >= status["total"]:
            last_write = now
            pending_imports.pending_import_status_set(token, {**status, "done": row_number})

    try:
        input_format = next(f for f in IMPORT_FORMATS if f().get_title() == details["format"])()
        data = pending.path.read_bytes()
        dataset = input_format.create_dataset(data if input_format.is_binary() else data.decode("utf-8", "replace"))
        status["total"] = len(dataset)
        resource = import_string(details["resource"])()
        user = get_user_model().objects.get(pk=user_id)
        result = resource.import_data(
            dataset,
            dry_run=stage == PREVIEW,
            raise_errors=False,
            file_name=details.get("file_name", ""),
            user=user,
            progress=progress,
            retain_instance_in_row_result=stage == IMPORT,
        )
    except Exception:
        logger.exception("import %s (%s) failed", token, stage)
        status.update(state=FAILED, message=UNEXPECTED)
        pending_imports.pending_import_status_set(token, status)
        return status
    status["done"] = status["total"]
    if result.has_errors() or result.has_validation_errors():
        lines = import_error_lines(result)
        status.update(state=REFUSED, error_lines=lines[:LISTED_ERRORS], error_count=len(lines))
    else:
        status.update(state=CHECKED if stage == PREVIEW else DONE, totals=dict(result.totals))
        if stage == PREVIEW:
            status.update(headers=list(dataset.headers or []), rows=[_cells(row) for row in dataset[:PREVIEW_ROWS]])
        else:
            _log_actions(result, user_id)
    pending_imports.pending_import_status_set(token, status)
    if stage == IMPORT or status["state"] != CHECKED:
        logger.info("import %s (%s) by user %s: %s", token, stage, user_id, status["state"])
    return status


def _cells(row: Any) -> list[str]:
    return ["" if value is None else str(value) for value in row]


def _log_actions(result: Any, user_id: int) -> None:
    """The admin's history, as the admin's own import writes it (one query per kind of change)."""
    for import_type, flag in (("new", ADDITION), ("update", CHANGE)):
        instances = [row.instance for row in result.rows if row.import_type == import_type and row.instance]
        if instances:
            LogEntry.objects.log_actions(
                user_id, instances, flag, change_message=f"{import_type} through import_export", single_object=False
            )
