"""The documents of an order (issue 4, issue 11): rendering, the store, invoices and credit notes, Factur-X, ASP
packages and batches.

The package depends on the models and the rules only: the services, the admin and the tasks call it, never the other
way round (a task is queued by its name, see ``queue``). The public names stay importable from ``orders.documents``.
"""

from orders.documents.batches import (
    BATCH_LEASE_SECONDS,
    BATCH_QUEUE_GRACE,
    batch_claim,
    batch_lease,
    batch_request,
    batch_run,
    batches_resume,
)
from orders.documents.rendering import (
    CONDITIONAL_MENTION,
    DEFAULT_VAT_EXEMPTION,
    IMAGE_CACHE,
    STATE_FUNDING_MENTION,
    STATIC_ROOT,
    TEMPLATES,
    VA_KEY_FUNCTIONS,
    VAT_RATES,
    AmountLine,
    RenderedDocument,
    amount_line,
    applicability_violations,
    applicable_kinds,
    document_generate,
    document_keep,
    document_render,
    font_configuration,
    order_form_context,
    order_form_missing,
    perf_window,
    render_pdf,
)
from orders.documents.store import (
    FILE_STEMS,
    document_download_name,
    document_store,
    download_filename,
    latest_document,
)

__all__ = [
    "BATCH_LEASE_SECONDS",
    "BATCH_QUEUE_GRACE",
    "CONDITIONAL_MENTION",
    "DEFAULT_VAT_EXEMPTION",
    "FILE_STEMS",
    "IMAGE_CACHE",
    "STATE_FUNDING_MENTION",
    "STATIC_ROOT",
    "TEMPLATES",
    "VAT_RATES",
    "VA_KEY_FUNCTIONS",
    "AmountLine",
    "RenderedDocument",
    "amount_line",
    "applicability_violations",
    "applicable_kinds",
    "batch_claim",
    "batch_lease",
    "batch_request",
    "batch_run",
    "batches_resume",
    "document_download_name",
    "document_generate",
    "document_keep",
    "document_render",
    "document_store",
    "download_filename",
    "font_configuration",
    "latest_document",
    "order_form_context",
    "order_form_missing",
    "perf_window",
    "render_pdf",
]
