"""Issuing invoices and credit notes: the checks and the order's history (AF §4.4, §4.5; CGI ann. II art. 242
nonies A). Numbering, lines and the PDF/A-3 with its Factur-X XML are ``orders.documents.invoices``.

A credit note on an invoice the ASP already paid (the balance pays the principal invoice, the secondary payment the
secondary invoice) cancels an invoice whose amount the State paid for the client: that money is then undue and goes
back to the ASP. So such a credit note is only issued once the order is on the reimbursement track (« Reversement dû »
or « Reversée », AF §VII), and it says so; a correction of an invoice not yet paid stays a credit note followed by a
new invoice. No invoice is issued any more for an order on that track (or cancelled, or lapsed).
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from orders import services
from orders.documents import invoices as invoice_documents
from orders.documents.invoices import (  # noqa: F401  (kept importable from here)
    LATE_PENALTY_MENTION,
    PAYMENT_DAYS,
    RENDER_GRACE,
    invoice_render,
    invoices_render_missing,
    open_invoice,
    paid_on,
)
from orders.documents.rendering import order_form_missing
from orders.exceptions import BusinessRuleError, RuleViolation, raise_if
from orders.models import Invoice, InvoiceKind, Order, OrderState

REIMBURSEMENT_STATES = {OrderState.REIMBURSEMENT_DUE, OrderState.REIMBURSED}
NO_INVOICE_STATES = REIMBURSEMENT_STATES | {OrderState.CANCELLED, OrderState.LAPSED}


def invoice_violations(order: Order, kind: str) -> list[RuleViolation]:
    violations = []
    if order.state in NO_INVOICE_STATES:
        violations.append(
            RuleViolation(
                "INVOICE_NOT_APPLICABLE",
                f"Pas de facture pour une commande « {OrderState(order.state).label} » (AF §VII).",
                "AF §VII",
            )
        )
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
    missing = order_form_missing(order)
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


def credit_violations(invoice: Invoice) -> list[RuleViolation]:
    """A credit note cancels an invoice once; on an invoice the ASP paid, only on the reimbursement track."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE or Invoice.objects.filter(credited_invoice=invoice).exists():
        return [
            RuleViolation(
                "CREDIT_NOT_ALLOWED", f"La facture {invoice.number} est déjà annulée par un avoir.", "CGI art. 289"
            )
        ]
    paid = paid_on(invoice)
    if paid is not None and invoice.order.state not in REIMBURSEMENT_STATES:
        return [
            RuleViolation(
                "CREDIT_ON_PAID_INVOICE",
                f"La facture {invoice.number} a été réglée par l'ASP le {timezone.localtime(paid):%d/%m/%Y} : "
                "l'annuler rend ce montant indu. Enregistrez d'abord que le reversement à l'ASP est dû, puis "
                "émettez l'avoir (AF §VII).",
                "AF §VII",
            )
        ]
    return []


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
        invoice = invoice_documents.invoice_create(
            order,
            kind,
            invoice_documents.invoice_lines(order, kind),
            acting_user,
            now,
            service_on=invoice_documents.service_date(order, kind),
        )
        services.event_record(
            order=order,
            acting_user=acting_user,
            action="invoice_issue",
            from_state=order.state,
            to_state=order.state,
            payload={"number": invoice.number, "total_ttc": invoice.total_ttc},
        )
        transaction.on_commit(lambda: invoice_documents.render_soon(invoice.pk))
    return invoice


def invoice_credit(*, invoice_id: int, reason: str, acting_user: Any, now: datetime | None = None) -> Invoice:
    """Cancel an invoice with a credit note of the opposite amounts that cites it (number and date); refused on an
    invoice the ASP paid unless the order is on the reimbursement track (module docstring)."""
    if not reason.strip():
        raise BusinessRuleError.single("REASON_MISSING", "Le motif de l'avoir est obligatoire.", "CGI art. 289")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("order").get(pk=invoice_id)
        raise_if(credit_violations(invoice))
        service_on = next((line.get("service_date") for line in invoice.lines if line.get("service_date")), "")
        credit = invoice_documents.invoice_create(
            invoice.order,
            InvoiceKind.CREDIT_NOTE,
            invoice_documents.credit_lines(invoice),
            acting_user,
            now,
            service_on=datetime.fromisoformat(service_on).date() if service_on else None,
            credited_invoice=invoice,
            reason=reason,
        )
        services.event_record(
            order=invoice.order,
            acting_user=acting_user,
            action="invoice_credit",
            from_state=invoice.order.state,
            to_state=invoice.order.state,
            payload={
                "number": credit.number,
                "credits": invoice.number,
                "reason": reason,
                "asp_paid": paid_on(invoice) is not None,
            },
        )
        transaction.on_commit(lambda: invoice_documents.render_soon(credit.pk))
    return credit
