"""Invoices and credit notes (AF §4.4, §4.5; CGI ann. II art. 242 nonies A; Code de commerce L441-9).

The number and the issue time are taken together from the kind's series, under its row lock, in the transaction that
creates the invoice: the series is continuous, never reuses a number — even if the PDF rendering fails afterwards (it
can be rendered again) — and a later number never carries an earlier time. An issued invoice never changes: a
correction is a credit note that references it.
"""

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from orders import documents, rules, services
from orders.exceptions import BusinessRuleError, RuleViolation, raise_if
from orders.models import Document, DocumentKind, Invoice, InvoiceKind, InvoiceSeries, Order

logger = logging.getLogger(__name__)

PAYMENT_DAYS = 30
RENDER_GRACE = timedelta(minutes=5)
LATE_PENALTY_MENTION = (
    "En cas de retard de paiement, pénalités au taux d'intérêt appliqué par la Banque centrale européenne à son "
    "opération de refinancement la plus récente majoré de 10 points, et indemnité forfaitaire pour frais de "
    "recouvrement de 40 € (Code de commerce, art. L441-10 et D441-5). Pas d'escompte pour paiement anticipé."
)


def open_invoice(order: Order, kind: str) -> Invoice | None:
    """The invoice of this kind not cancelled by a credit note, if any."""
    return order.invoices.filter(kind=kind, credit_note__isnull=True).order_by("-sequence").first()


def invoice_violations(order: Order, kind: str) -> list[RuleViolation]:
    violations = []
    if kind == InvoiceKind.PRINCIPAL and order.va_signed_at is None:
        violations.append(
            RuleViolation(
                "INVOICE_BEFORE_VA",
                "La facture de la Prestation principale s'établit après la signature de la VA (AF §4.4).",
                "AF §4.4",
            )
        )
    if kind == InvoiceKind.SECONDARY:
        window = services.perf_window_for(order)
        if order.balance_paid_at is None or window is None or window.perf == 0:
            violations.append(
                RuleViolation(
                    "INVOICE_SECONDARY_NOT_DUE",
                    "La facture de la Prestation secondaire s'établit au niveau de PERF réellement atteint, une fois "
                    "le solde versé ; elle ne peut être nulle (AF §4.5).",
                    "AF §4.5",
                )
            )
    if open_invoice(order, kind) is not None:
        violations.append(
            RuleViolation(
                "INVOICE_ALREADY_ISSUED",
                "Une facture est déjà émise pour cette prestation : pour la corriger, émettez un avoir.",
                "CGI art. 289",
            )
        )
    missing = documents.order_form_missing(order)
    if not order.client.siren:
        missing.append("SIREN du client")
    if not order.solution.provider.vat_number and order.vat_regime != "ht":
        missing.append("numéro de TVA du fournisseur")
    if missing:
        violations.append(
            RuleViolation(
                "DOCUMENT_DATA_MISSING",
                "Facture impossible à émettre, il manque : " + ", ".join(missing) + " (CGI ann. II art. 242 nonies A).",
                "CGI ann. II art. 242 nonies A",
            )
        )
    return violations


def _lines(order: Order, kind: str) -> list[documents.AmountLine]:
    if kind == InvoiceKind.PRINCIPAL:
        return [documents.amount_line(str(order.get_prestation_display()), order.principal_amount, order.vat_regime)]
    window = services.perf_window_for(order)
    assert window is not None
    amount = rules.secondary_payable(order.secondary_amount, window.perf)
    label = (
        f"Prestation secondaire — PERF {window.perf} constaté du {window.first_month:%m/%Y} au "
        f"{window.last_month:%m/%Y}"
    )
    return [documents.amount_line(label, amount, order.vat_regime)]


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


def _create(
    order: Order, kind: str, lines: list[documents.AmountLine], acting_user: Any, now: datetime | None, **extra: Any
) -> Invoice:
    number, sequence, issued_at = _next_number(kind, now)
    user = acting_user if getattr(acting_user, "is_authenticated", False) else None
    return Invoice.objects.create(
        order=order,
        kind=kind,
        number=number,
        sequence=sequence,
        issued_at=issued_at,
        due_on=rules.paris_date(issued_at)
        + timedelta(days=getattr(settings, "SEGUR_INVOICE_PAYMENT_DAYS", PAYMENT_DAYS)),
        lines=[{"label": line.label, "ht": str(line.ht), "vat": str(line.vat), "ttc": str(line.ttc)} for line in lines],
        total_ht=sum((line.ht for line in lines), Decimal("0")),
        total_vat=sum((line.vat for line in lines), Decimal("0")),
        total_ttc=sum((line.ttc for line in lines), Decimal("0")),
        created_by=user,
        **extra,
    )


def invoice_issue(*, order_id: int, kind: str, acting_user: Any, now: datetime | None = None) -> Invoice:
    """Issue the principal (after the VA) or secondary (at the actual PERF) invoice, in the client's name; ``now``
    dates it (by default, the moment its number is taken)."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("client", "solution__provider", "programme")
            .get(pk=order_id)
        )
        raise_if(invoice_violations(order, kind))
        invoice = _create(order, kind, _lines(order, kind), acting_user, now)
        services.event_record(
            order=order,
            acting_user=acting_user,
            action="invoice_issue",
            from_state=order.state,
            to_state=order.state,
            payload={"number": invoice.number, "total_ttc": invoice.total_ttc},
        )
        transaction.on_commit(lambda: _render_soon(invoice.pk))
    return invoice


def invoice_credit(*, invoice_id: int, reason: str, acting_user: Any, now: datetime | None = None) -> Invoice:
    """Cancel an invoice with a credit note of the opposite amounts that references it (dated like an invoice)."""
    if not reason.strip():
        raise BusinessRuleError.single("REASON_MISSING", "Le motif de l'avoir est obligatoire.", "CGI art. 289")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("order").get(pk=invoice_id)
        if invoice.kind == InvoiceKind.CREDIT_NOTE or Invoice.objects.filter(credited_invoice=invoice).exists():
            raise BusinessRuleError.single(
                "CREDIT_NOT_ALLOWED", f"La facture {invoice.number} est déjà annulée par un avoir.", "CGI art. 289"
            )
        negative = [
            documents.AmountLine(
                f"Annulation — {line['label']}", -Decimal(line["ttc"]), -Decimal(line["ht"]), -Decimal(line["vat"])
            )
            for line in invoice.lines
        ]
        credit = _create(
            invoice.order, InvoiceKind.CREDIT_NOTE, negative, acting_user, now, credited_invoice=invoice, reason=reason
        )
        services.event_record(
            order=invoice.order,
            acting_user=acting_user,
            action="invoice_credit",
            from_state=invoice.order.state,
            to_state=invoice.order.state,
            payload={"number": credit.number, "credits": invoice.number, "reason": reason},
        )
        transaction.on_commit(lambda: _render_soon(credit.pk))
    return credit


def _render_soon(invoice_id: int) -> None:
    from orders.tasks import render_invoice

    try:
        render_invoice.delay(invoice_id)
    except Exception:  # broker down: the number is kept; ``invoices_render_missing`` queues the PDF again later
        logger.warning("invoice %s: PDF rendering could not be queued", invoice_id, exc_info=True)


def invoice_render(*, invoice_id: int) -> Document:
    """Render the invoice's PDF once. The rendering holds no lock; the PDF is stored under the invoice's row lock,
    so a second render (a retry, a resume that raced the first task) finds the first PDF and keeps it."""
    invoice = Invoice.objects.select_related(
        "order__client", "order__solution__provider", "order__programme", "credited_invoice"
    ).get(pk=invoice_id)
    existing = invoice.documents.order_by("-version").first()
    if existing is not None:
        return existing
    pdf = _invoice_pdf(invoice)
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(pk=invoice_id).values_list("pk", flat=True).get()
        existing = Document.objects.filter(invoice_id=invoice_id).order_by("-version").first()
        if existing is not None:
            return existing
        return documents.document_store(
            order=invoice.order,
            kind=DocumentKind.INVOICE,
            pdf=pdf,
            snapshot={"number": invoice.number, "lines": invoice.lines},
            acting_user=None,
            filename=invoice.number,
            invoice=invoice,
        )


def invoices_render_missing(*, now: datetime | None = None) -> list[int]:
    """Queue the rendering of invoices issued over ``RENDER_GRACE`` ago that still have no PDF (the broker was down
    when they were issued, or every retry failed). Their numbers were kept; only the PDF is missing."""
    now = now or timezone.now()
    missing = Invoice.objects.filter(documents__isnull=True, issued_at__lt=now - RENDER_GRACE)
    invoice_ids = list(missing.order_by("pk").values_list("pk", flat=True))
    for invoice_id in invoice_ids:
        _render_soon(invoice_id)
    return invoice_ids


def _invoice_pdf(invoice: Invoice) -> bytes:
    order = invoice.order
    context = {
        "invoice": invoice,
        "order": order,
        "provider": order.solution.provider,
        "client": order.client,
        "vat_rate_label": {"vat_20": "20 %", "vat_8_5": "8,5 %", "ht": "TVA non applicable"}[order.vat_regime],
        "late_penalty_mention": LATE_PENALTY_MENTION,
        "state_funding_mention": documents.STATE_FUNDING_MENTION,
    }
    return documents.render_pdf(render_to_string("documents/invoice.html", context))
