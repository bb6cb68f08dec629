"""Filters of the staff dashboard (``orders.dashboard``)."""

from decimal import Decimal

from django import template

from orders.admin.common import euros as euros_text

register = template.Library()


@register.filter
def euros(amount: Decimal | None) -> str:
    """3 160,50 € (French format, no-break spaces)."""
    return euros_text(amount)


@register.filter
def french_decimal(value: Decimal | None) -> str:
    """12,5 — a pace per week, as a person reads it."""
    return "—" if value is None else str(value).replace(".", ",")
