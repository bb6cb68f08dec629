"""Invoices and credit notes: numbering, lines, PDF/A-3 with Factur-X XML (AF §4.4, §4.5; CGI ann. II art. 242
nonies A; Code de commerce L441-9, R123-237).

The number and the issue time are taken together from the kind's series, under its row lock, in the transaction that
creates the invoice: the series is continuous, never reuses a number — even if the PDF rendering fails afterwards (it
can be rendered again) — and a later number never carries an earlier time. An issued invoice never changes: a
correction is a credit note that references it. The checks and the order's history are the service's
(``orders.invoices``); this module only builds and renders.
"""

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from orders import rules
from orders.documents import facturx, queue
from orders.documents.rendering import (
    STATE_FUNDING_MENTION,
    AmountLine,
    amount_line,
    next_version,
    perf_window,
    provider_legal_info,
    render_pdf,
    vat_context,
)
from orders.documents.store import document_store, download_filename
from orders.exceptions import BusinessRuleError
from orders.models import Document, DocumentKind, Invoice, InvoiceKind, InvoiceSeries, Order

logger = logging.getLogger(__name__)

PAYMENT_DAYS = 30
RENDER_GRACE = timedelta(minutes=5)
LATE_PENALTY_MENTION = (
    "En cas de retard de paiement, pénalités au taux d'intérêt appliqué par la Banque centrale européenne à son "
    "opération de refinancement la plus récente majoré de 10 points, et indemnité forfaitaire pour frais de "
    "recouvrement de 40 € (Code de commerce, art. L441-10 et D441-5). Pas d'escompte pour paiement anticipé."
)
PAYER_MENTION = "À régler par l'ASP pour le compte du client"
REIMBURSE_MENTION = (
    "La facture annulée a été réglée par l'ASP : le montant qu'elle a versé à ce titre lui est reversé (AF §VII)."
)


def open_invoice(order: Order, kind: str) -> Invoice | None:
    """The invoice of this kind not cancelled by a credit note, if any."""
    return order.invoices.filter(kind=kind, credit_note__isnull=True).order_by("-sequence").first()


def paid_on(invoice: Invoice) -> datetime | None:
    """When the ASP paid this invoice, for the client: the balance pays the principal invoice, the secondary payment
    the secondary invoice (AF §6.4, §6.5). A credit note is never paid."""
    order = invoice.order
    if invoice.kind == InvoiceKind.PRINCIPAL:
        return order.balance_paid_at
    if invoice.kind == InvoiceKind.SECONDARY:
        return order.secondary_paid_at
    return None


def service_date(order: Order, kind: str) -> date | None:
    """The date of the service (CGI ann. II art. 242 nonies A): the VA signature (or the installation) for the
    principal prestation, the end of the PERF window for the secondary."""
    if kind == InvoiceKind.PRINCIPAL:
        moment = order.va_signed_at or order.installed_at
        return rules.paris_date(moment) if moment else None
    window = perf_window(order)
    if window is None:
        return None
    following = (window.last_month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def invoice_lines(order: Order, kind: str) -> list[AmountLine]:
    if kind == InvoiceKind.PRINCIPAL:
        return [amount_line(str(order.get_prestation_display()), order.principal_amount, order.vat_regime)]
    window = perf_window(order)
    assert window is not None
    amount = rules.secondary_payable(order.secondary_amount, window.perf)
    perf = f"{window.perf}".replace(".", ",")
    label = f"Prestation secondaire, PERF {perf} constaté de {window.first_month:%m/%Y} à {window.last_month:%m/%Y}"
    return [amount_line(label, amount, order.vat_regime)]


def _next_number(kind: str, now: datetime | None) -> tuple[str, int, datetime]:
    """The next number of the series and its issue time, taken together under the series' row lock: numbers and
    times of a series sort the same way (chronological, continuous numbering, CGI ann. II art. 242 nonies A).

    The time is read once the lock is held — after the previous holder committed — unless the caller dates the
    invoice (``now``: seeding, tests); a date before the previous invoice of the series is refused."""
    series = InvoiceSeries.objects.select_for_update().get(kind=kind)
    issued_at = now or timezone.now()
    previous = Invoice.objects.filter(kind=kind).order_by("-sequence").values_list("number", "issued_at").first()
    if previous is not None and issued_at < previous[1]:
        raise BusinessRuleError.single(
            "INVOICE_DATE_BEFORE_PREVIOUS",
            f"Date d'émission refusée : le {timezone.localtime(issued_at):%d/%m/%Y à %H:%M:%S} précède l'émission de "
            f"la facture {previous[0]} ({timezone.localtime(previous[1]):%d/%m/%Y à %H:%M:%S}) ; les factures d'une "
            "série sont numérotées dans l'ordre chronologique : datez-la au plus tôt de cet instant "
            "(CGI ann. II art. 242 nonies A).",
            "CGI ann. II art. 242 nonies A",
            field="issued_at",
        )
    series.last_number += 1
    series.save(update_fields=["last_number"])
    return f"{series.prefix}-{series.last_number:06d}", series.last_number, issued_at


def invoice_create(
    order: Order,
    kind: str,
    lines: list[AmountLine],
    acting_user: Any,
    now: datetime | None,
    *,
    service_on: date | None = None,
    **extra: Any,
) -> Invoice:
    """Number and store an invoice or credit note (in the caller's transaction). A credit note has no due date: its
    ``due_on`` (a required column) is its issue date and is never printed."""
    number, sequence, issued_at = _next_number(kind, now)
    user = acting_user if getattr(acting_user, "is_authenticated", False) else None
    issued_on = rules.paris_date(issued_at)
    payment_days = getattr(settings, "SEGUR_INVOICE_PAYMENT_DAYS", PAYMENT_DAYS)
    return Invoice.objects.create(
        order=order,
        kind=kind,
        number=number,
        sequence=sequence,
        issued_at=issued_at,
        due_on=issued_on if kind == InvoiceKind.CREDIT_NOTE else issued_on + timedelta(days=payment_days),
        lines=[
            {
                "label": line.label,
                "quantity": line.quantity,
                "unit_ht": str(line.unit_ht),
                "ht": str(line.ht),
                "vat": str(line.vat),
                "ttc": str(line.ttc),
                "service_date": service_on.isoformat() if service_on else "",
            }
            for line in lines
        ],
        total_ht=sum((line.ht for line in lines), Decimal("0")),
        total_vat=sum((line.vat for line in lines), Decimal("0")),
        total_ttc=sum((line.ttc for line in lines), Decimal("0")),
        created_by=user,
        **extra,
    )


def credit_lines(invoice: Invoice) -> list[AmountLine]:
    """The credited invoice's lines with opposite amounts."""
    return [
        AmountLine(
            f"Annulation — {line['label']}",
            -Decimal(line["ttc"]),
            -Decimal(line["ht"]),
            -Decimal(line["vat"]),
            int(line.get("quantity", 1)),
        )
        for line in invoice.lines
    ]


def render_soon(invoice_id: int) -> None:
    """Queue the PDF; the broker down, the number is kept and ``invoices_render_missing`` queues it later."""
    queue.send(queue.RENDER_INVOICE, invoice_id)


def invoice_render(*, invoice_id: int) -> Document:
    """Render the invoice's PDF once. The rendering holds no lock; the PDF is stored under the invoice's row lock,
    so a second render (a retry, a resume that raced the first task) finds the first PDF and keeps it."""
    invoice = Invoice.objects.select_related(
        "order__client", "order__solution__provider", "order__programme", "credited_invoice"
    ).get(pk=invoice_id)
    existing = invoice.documents.order_by("-version").first()
    if existing is not None:
        return existing
    pdf, xml = invoice_pdf(invoice)
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(pk=invoice_id).values_list("pk", flat=True).get()
        existing = Document.objects.filter(invoice_id=invoice_id).order_by("-version").first()
        if existing is not None:
            return existing
        return document_store(
            order=invoice.order,
            kind=DocumentKind.INVOICE,
            pdf=pdf,
            snapshot={
                "number": invoice.number,
                "lines": invoice.lines,
                "facturx_profile": facturx.PROFILE,
                "facturx_xml_sha256": facturx.xml_sha256(xml),
            },
            acting_user=None,
            filename=download_filename(DocumentKind.INVOICE, invoice.number, invoice=invoice).removesuffix(".pdf"),
            invoice=invoice,
        )


def invoices_render_missing(*, now: datetime | None = None) -> list[int]:
    """Queue the rendering of invoices issued over ``RENDER_GRACE`` ago that still have no PDF (the broker was down
    when they were issued, or every retry failed). Their numbers were kept; only the PDF is missing."""
    now = now or timezone.now()
    missing = Invoice.objects.filter(documents__isnull=True, issued_at__lt=now - RENDER_GRACE)
    invoice_ids = list(missing.order_by("pk").values_list("pk", flat=True))
    for invoice_id in invoice_ids:
        render_soon(invoice_id)
    return invoice_ids


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    order = invoice.order
    provider = order.solution.provider
    credit = invoice.kind == InvoiceKind.CREDIT_NOTE
    prepaid = Decimal(facturx.invoice_prepaid(invoice))
    credited = invoice.credited_invoice if credit else None
    lines = [
        {
            **line,
            "quantity": line.get("quantity", 1),
            "unit_ht": Decimal(line.get("unit_ht", line["ht"])),
            "ht": Decimal(line["ht"]),
            "vat": Decimal(line["vat"]),
            "ttc": Decimal(line["ttc"]),
            "service_date": date.fromisoformat(line["service_date"]) if line.get("service_date") else None,
        }
        for line in invoice.lines
    ]
    return {
        "invoice": invoice,
        "is_credit_note": credit,
        "credited": credited,
        "credited_was_paid": bool(credited and paid_on(credited)),
        "reimburse_mention": REIMBURSE_MENTION,
        "order": order,
        "provider": provider,
        "client": order.client,
        "solution": order.solution,
        "lines": lines,
        "invoice_total": {"ht": invoice.total_ht, "vat": invoice.total_vat, "ttc": invoice.total_ttc},
        **vat_context(order),
        "prepaid": prepaid,
        "left_to_pay": Decimal(invoice.total_ttc) - prepaid,
        "payer_mention": PAYER_MENTION,
        "legal_info": provider_legal_info(provider),
        "late_penalty_mention": LATE_PENALTY_MENTION,
        "state_funding_mention": STATE_FUNDING_MENTION,
        "generated_at": timezone.now(),
        "document_version": next_version(order, DocumentKind.INVOICE),
    }


def invoice_pdf(invoice: Invoice) -> tuple[bytes, bytes]:
    """The PDF/A-3 of the invoice with its Factur-X XML embedded, and the XML."""
    context = invoice_context(invoice)
    with translation.override("fr"):
        pdf = render_pdf(render_to_string("documents/invoice.html", context), pdf_variant="pdf/a-3b")
    xml = facturx.facturx_xml(invoice, context["vat_exemption_basis"])
    title = f"{'Avoir' if context['is_credit_note'] else 'Facture'} {invoice.number}"
    return facturx.embed(pdf, xml, title=title, author=context["provider"].name), xml
