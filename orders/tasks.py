from celery import shared_task

from orders import invoices


@shared_task(name="orders.tasks.render_invoice", bind=True, max_retries=5, default_retry_delay=60)
def render_invoice(self, invoice_id: int) -> int:  # type: ignore[no-untyped-def]
    """Render an issued invoice's PDF (its number is already kept, whatever happens here)."""
    try:
        return invoices.invoice_render(invoice_id=invoice_id).pk
    except Exception as exc:  # rendering or storage hiccup: retry; the invoice itself is safe
        raise self.retry(exc=exc) from exc


@shared_task(name="orders.tasks.generate_document_batch", bind=True, max_retries=3, default_retry_delay=30)
def generate_document_batch(self, batch_id: int) -> int:  # type: ignore[no-untyped-def]
    """Generate a batch of documents; a retry resumes after the last processed order."""
    from orders import documents

    try:
        return documents.batch_run(batch_id=batch_id).generated
    except Exception as exc:  # a worker or storage hiccup: resume later from where it stopped
        raise self.retry(exc=exc) from exc
