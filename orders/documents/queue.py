"""Queue a worker task by its name: the documents package never imports ``orders.tasks`` (the tasks call it)."""

import logging

from celery import current_app

logger = logging.getLogger(__name__)

RENDER_INVOICE = "orders.tasks.render_invoice"
GENERATE_BATCH = "orders.tasks.generate_document_batch"


def send(task_name: str, object_id: int) -> bool:
    """Send the task; False when the broker is down (the ``*_resume`` jobs queue it again later)."""
    try:
        current_app.send_task(task_name, args=[object_id])
    except Exception:  # broker down: nothing is lost, the resume job finds the work left undone
        logger.warning("%s(%s) could not be queued", task_name, object_id, exc_info=True)
        return False
    return True
