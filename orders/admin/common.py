"""What every staff page of orders shows the same way: state badges, French amounts, refusals on a form."""

from decimal import Decimal

from django import forms
from django.http import HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext

from clients.models import Client
from orders.exceptions import BusinessRuleError
from orders.models import OrderState

STATE_COLOURS = {
    "draft": "#6b7280",
    "pre_order": "#a16207",
    "firm": "#1d4ed8",
    "lapsed": "#7f1d1d",
    "advance_requested": "#0e7490",
    "advance_paid": "#0f766e",
    "installed": "#4d7c0f",
    "pilot_pv_signed": "#65a30d",
    "va_signed": "#15803d",
    "balance_requested": "#7c3aed",
    "balance_paid": "#6d28d9",
    "secondary_requested": "#c026d3",
    "secondary_paid": "#a21caf",
    "closed": "#374151",
    "reimbursement_due": "#b91c1c",
    "reimbursed": "#991b1b",
    "terminated": "#9a3412",
    "cancelled": "#4b5563",
}
NARROW_NO_BREAK_SPACE = "\u202f"
NO_BREAK_SPACE = "\u00a0"


def euros(amount: Decimal | None) -> str:
    """French money format: 3 160,50 €."""
    if amount is None:
        return "—"
    whole, cents = f"{amount:,.2f}".split(".")
    return whole.replace(",", NARROW_NO_BREAK_SPACE) + "," + cents + NO_BREAK_SPACE + "€"


def state_badge(state: str) -> str:
    return format_html(
        '<span class="order-state" style="background:{}">{}</span>',
        STATE_COLOURS.get(state, "#333"),
        OrderState(state).label,
    )


def zip_response(archive: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def add_violations_to_form(form: forms.Form, error: BusinessRuleError) -> None:
    for violation in error.violations:
        form.add_error(violation.field if violation.field in form.fields else None, violation.message)


def client_kind_label(client: Client) -> str:
    """The client's kind as the header shows it: "Médecin", "MSP · tranche B", "Centre de santé … · tranche C"."""
    parts = [str(client.get_kind_display())]
    if client.cds_kind:
        parts[0] += f" ({client.get_cds_kind_display()})"
    if client.tranche:
        parts.append(gettext("tranche %(tranche)s") % {"tranche": client.tranche})
    return " · ".join(parts)
