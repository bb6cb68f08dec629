"""The order list: its filters, columns (client, state, amounts, next deadline) and the totals of what is listed."""

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from orders import rules, selectors
from orders.admin.common import euros, state_badge
from orders.models import Order
from orders.roles import SALES_GROUP
from segur_portal.search import accent_insensitive_search

MINE = "moi"
EVERYONE = "tous"


def is_sales(user: Any) -> bool:
    return user.groups.filter(name=SALES_GROUP).exists()


class SalespersonMineFilter(admin.SimpleListFilter):
    """« Commercial : moi / tous »: a salesperson sees his own orders unless he asks for all (visible, reversible)."""

    title = _("commercial : moi / tous")
    parameter_name = "commercial"

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        self.default = MINE if is_sales(request.user) else EVERYONE
        self.user = request.user
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(MINE, _("moi (mes commandes)")), (EVERYONE, _("tous"))]

    def value(self) -> str:
        chosen = super().value()
        return chosen if chosen in (MINE, EVERYONE) else self.default

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() == MINE:
            return queryset.filter(salesperson=self.user)
        return queryset


class NextDeadlineWindowFilter(admin.SimpleListFilter):
    title = _("prochaine échéance")
    parameter_name = "echeance"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _days) in selectors.DEADLINE_WINDOWS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() not in selectors.DEADLINE_WINDOWS:
            return queryset
        return selectors.with_next_deadline_in_window(queryset, self.value(), timezone.now())


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
    """Columns of the order list, its accent-blind search and the totals of the filtered orders."""

    # Facet counts ("?_facets=1") aggregate every listed order for every choice of every filter: seconds at 100 000
    # orders, whatever the indexes. Turned off; the "next deadline" filter itself reads the stored deadlines' index.
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=_("n°"), ordering="number")
    def number_display(self, order: Order) -> str:
        """The number may break before its sequence (BC-MDV-LGC-Va2-⏎000123): the columns fit at 1440 px."""
        prefix, _dash, sequence = order.number.rpartition("-")
        if not prefix:
            return order.number
        return format_html('<span class="nowrap">{}-</span><wbr><span class="nowrap">{}</span>', prefix, sequence)

    @admin.display(description=_("client"), ordering="client__name")
    def client_display(self, order: Order) -> str:
        """Name, then kind and tranche on a second line: one column instead of three."""
        client = order.client
        details = client.get_kind_display() + (f" · {_('tranche')} {client.tranche}" if client.tranche else "")
        return format_html('{}<br><small class="client-kind">{}</small>', client.name, details)

    @admin.display(description=_("commercial"), ordering="salesperson__username")
    def salesperson_display(self, order: Order) -> str:
        person = order.salesperson
        if person is None:
            return "—"
        return person.get_full_name() or person.get_username()

    @admin.display(description=_("avance"), ordering="advance_amount")
    def advance_display(self, order: Order) -> str:
        return euros(order.advance_amount)

    @admin.display(description=_("solde"), ordering="balance_amount")
    def balance_display(self, order: Order) -> str:
        return euros(order.balance_amount)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        """Accents and case ignored ("lemaitre" finds "Lemaître"): ``segur_portal.search``."""
        search_fields = self.get_search_fields(request)  # type: ignore[attr-defined]
        if not search_term or not search_fields:
            return queryset, False
        return accent_insensitive_search(queryset, search_term, search_fields), False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The list with the totals of every order it lists (all its pages), in one aggregate query."""
        response = super().changelist_view(request, extra_context)  # type: ignore[misc]
        context = getattr(response, "context_data", None)
        changelist = context.get("cl") if context else None
        if changelist is not None:
            totals = selectors.order_list_totals(changelist.queryset)
            context["order_totals"] = {
                "count": (
                    ngettext("%(count)s commande", "%(count)s commandes", totals["count"])
                    % {"count": number_format(totals["count"], force_grouping=True)}
                    if totals["count"]
                    else _("Aucune commande")
                ),
                "principal": euros(totals["principal"]),
                "advance": euros(totals["advance"]),
                "balance": euros(totals["balance"]),
            }
        return response

    @admin.display(description=_("état"), ordering="state")
    def state_display(self, order: Order) -> str:
        """The state, and under it the ASP's open return (to complete / rejected) with its message on hover."""
        asp_return = self.asp_return_display(order)
        return format_html("{}<br>{}", state_badge(order.state), asp_return) if asp_return else state_badge(order.state)

    @admin.display(description=_("principal"), ordering="principal_amount")
    def principal_display(self, order: Order) -> str:
        return euros(order.principal_amount)

    @admin.display(description=_("échéance"))
    def next_deadline_display(self, order: Order) -> str:
        deadline = rules.next_deadline(order, timezone.now())
        if deadline is None:
            return "—"
        return format_html(
            '<span class="deadline deadline-{}" title="{}">{}<br><small>{}</small></span>',
            deadline.status,
            deadline.action,
            rules.format_deadline(deadline.due_at)[:10],
            deadline.actor_label,
        )

    def asp_return_display(self, order: Order) -> str:
        asp_return = selectors.open_asp_return(order)
        if asp_return is None:
            return ""
        message = asp_return.message
        short = message if len(message) <= 30 else message[:29] + "…"
        return format_html(
            '<span class="asp-return-cell asp-return-{}" title="{}">Retour ASP — {} : {}</span>',
            asp_return.kind,
            message,
            asp_return.kind_label.capitalize(),
            short,
        )
