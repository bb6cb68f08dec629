"""The document store: every PDF kept with its SHA-256, never edited; regenerating adds a version (AF §4.3).

Generated documents, invoices and the client's signed copies (kinds ``signed_*``) all go through ``document_store``.
"""

import hashlib
import re
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from orders.models import Document, DocumentKind, Invoice, InvoiceKind, Order

# French download names (issue 11): what the file is, then the order or invoice number.
FILE_STEMS = {
    DocumentKind.ORDER_FORM: "bon-de-commande",
    DocumentKind.INVOICE: "facture",
    DocumentKind.VA: "verification-aptitude",
    DocumentKind.PILOT_PV: "pv-pilote",
    DocumentKind.COMPLETION_ATTESTATION: "attestation-fin-prestation",
    DocumentKind.MONITORING_JOURNAL: "journal-suivi",
    DocumentKind.SIGNED_ORDER_FORM: "bon-de-commande-signe",
    DocumentKind.SIGNED_PILOT_PV: "pv-pilote-signe",
    DocumentKind.SIGNED_VA: "verification-aptitude-signee",
}


def download_filename(
    kind: str, number: str, version: int | None = None, invoice: Invoice | None = None, ext: str = "pdf"
) -> str:
    """``bon-de-commande-CMD-2026-00012-v2.pdf``, ``facture-FAC-000001.pdf``, ``avoir-AV-000001.pdf``."""
    stem = FILE_STEMS.get(DocumentKind(kind), str(kind))
    if invoice is not None:
        stem, number = ("avoir" if invoice.kind == InvoiceKind.CREDIT_NOTE else "facture"), invoice.number
    suffix = f"-v{version}" if version else ""
    safe_number = re.sub(r"[^A-Za-z0-9-]+", "-", number).strip("-") or "document"
    return f"{stem}-{safe_number}{suffix}.{ext}"


def document_download_name(document: Document) -> str:
    """The French file name a document is downloaded under (the version only when there can be several)."""
    invoice = document.invoice if document.invoice_id else None
    return download_filename(document.kind, document.order.number, None if invoice else document.version, invoice)


def document_store(
    *, order: Order, kind: str, pdf: bytes, snapshot: dict[str, Any], acting_user: Any, filename: str, **links: Any
) -> Document:
    """Store a PDF as the next version of the order's documents of that kind, with its SHA-256. ``links`` are
    extra fields of the ``Document`` (``invoice``)."""
    with transaction.atomic():
        # Lock the order so two generations at once get versions n and n+1, never the same number.
        Order.objects.select_for_update().filter(pk=order.pk).first()
        version = (Document.objects.filter(order=order, kind=kind).aggregate(last=Max("version"))["last"] or 0) + 1
        user = acting_user if getattr(acting_user, "is_authenticated", False) else None
        document = Document(
            order=order,
            kind=kind,
            version=version,
            sha256=hashlib.sha256(pdf).hexdigest(),
            snapshot=snapshot,
            created_by=user,
            **links,
        )
        document.file.save(f"{filename}-v{version}.pdf", ContentFile(pdf), save=False)
        document.save()
    return document


def latest_document(order: Order, kind: str, invoice: Invoice | None = None) -> Document | None:
    """The latest version of a kind of document of the order (of one invoice when given)."""
    documents = Document.objects.filter(order=order, kind=kind)
    if invoice is not None:
        documents = documents.filter(invoice=invoice)
    return documents.order_by("-version").first()
