"""Worker tasks: each calls the documents package (which never imports this module: it queues tasks by name)."""

from celery import shared_task

from orders.documents import batches
from orders.documents import invoices as invoice_documents


@shared_task(name="orders.tasks.render_invoice", bind=True, max_retries=5, default_retry_delay=60)
def render_invoice(self, invoice_id: int) -> int:  # type: ignore[no-untyped-def]
    """Render an issued invoice's PDF (its number is already kept, whatever happens here)."""
    try:
        return invoice_documents.invoice_render(invoice_id=invoice_id).pk
    except Exception as exc:  # rendering or storage hiccup: retry; the invoice itself is safe
        raise self.retry(exc=exc) from exc


@shared_task(name="orders.tasks.generate_document_batch", bind=True, max_retries=3, default_retry_delay=30)
def generate_document_batch(self, batch_id: int) -> int:  # type: ignore[no-untyped-def]
    """Generate a batch of documents; a retry, or the message redelivered after its worker died, resumes after the
    last processed order (the task id is the batch's lease)."""
    try:
        return batches.batch_run(batch_id=batch_id, run_id=self.request.id).generated
    except Exception as exc:  # a worker or storage hiccup: resume later from where it stopped
        raise self.retry(exc=exc) from exc


@shared_task(name="orders.tasks.resume_stalled_work")
def resume_stalled_work() -> dict[str, list[int]]:
    """Every 10 minutes from beat: queue again what a broker outage or a dead worker left behind (document batches
    still waiting or stalled, invoices without their PDF). Each is claimed or locked, so nothing is done twice."""
    return {
        "batches": batches.batches_resume(),
        "invoices": invoice_documents.invoices_render_missing(),
    }
