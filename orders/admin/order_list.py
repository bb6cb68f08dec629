"""The order list: its filters and columns (state, amounts, next deadline)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from orders import rules, selectors
from orders.admin.common import euros, state_badge
from orders.models import Order


class NextDeadlineWindowFilter(admin.SimpleListFilter):
    title = _("prochaine échéance")
    parameter_name = "echeance"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _days) in selectors.DEADLINE_WINDOWS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() not in selectors.DEADLINE_WINDOWS:
            return queryset
        ids = selectors.order_ids_with_next_deadline_in_window(queryset, self.value(), timezone.now())
        return queryset.filter(pk__in=ids)


class AspReturnFilter(admin.SimpleListFilter):
    """Orders whose ASP request came back (to complete, or rejected) and is not filed again (AF §6.2, §6.4)."""

    title = _("retournée par l'ASP")
    parameter_name = "retour_asp"
    return_kinds = {"oui": None, "a_completer": "to_complete", "rejetee": "rejected"}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("oui", _("Oui")), ("a_completer", _("À compléter")), ("rejetee", _("Rejetée"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() not in self.return_kinds:
            return queryset
        return selectors.returned_by_asp(queryset, self.return_kinds[self.value()])


class OrderListMixin:
    """Columns of the order list."""

    @admin.display(description=_("client"), ordering="client__name")
    def client_name(self, order: Order) -> str:
        return order.client.name

    @admin.display(description=_("type"), ordering="client__kind")
    def client_kind(self, order: Order) -> str:
        return order.client.get_kind_display()

    @admin.display(description=_("tranche"), ordering="client__tranche")
    def client_tranche(self, order: Order) -> str:
        return order.client.tranche or "—"

    @admin.display(description=_("état"), ordering="state")
    def state_display(self, order: Order) -> str:
        return state_badge(order.state)

    @admin.display(description=_("principal"), ordering="principal_amount")
    def principal_display(self, order: Order) -> str:
        return euros(order.principal_amount)

    @admin.display(description=_("secondaire"), ordering="secondary_amount")
    def secondary_display(self, order: Order) -> str:
        return euros(order.secondary_amount)

    @admin.display(description=_("prochaine échéance"))
    def next_deadline_display(self, order: Order) -> str:
        deadline = rules.next_deadline(order, timezone.now())
        if deadline is None:
            return "—"
        return format_html(
            '<span class="deadline deadline-{}" title="{}">{} · {}</span>',
            deadline.status,
            deadline.action,
            rules.format_deadline(deadline.due_at)[:10],
            deadline.actor_label,
        )

    @admin.display(description=_("retour ASP"))
    def asp_return_display(self, order: Order) -> str:
        asp_return = selectors.open_asp_return(order)
        if asp_return is None:
            return "—"
        message = asp_return.message
        short = message if len(message) <= 30 else message[:29] + "…"
        return format_html(
            '<span class="asp-return-cell asp-return-{}" title="{}">{} : {}</span>',
            asp_return.kind,
            message,
            asp_return.kind_label.capitalize(),
            short,
        )
