"""Journals and records staff read but never edit: order events, document batches, bulk runs."""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from orders import services
from orders.admin.bulk import paris_when, run_counts
from orders.admin.common import euros, state_badge
from orders.event_labels import EVENT_LABELS, event_label, payload_details, state_label
from orders.models import (
    BulkRun,
    BulkRunItem,
    DocumentBatch,
    Order,
    OrderEvent,
    OrderState,
    Prestation,
    VatRegime,
)
from segur_portal.records import ViewOnlyAdminMixin

ORDER_VIEW_PERMISSION = "orders.view_order"


class OrderReadersMixin:
    """Records about orders (batches, bulk runs) are readable by every staff member who can see the orders."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(ORDER_VIEW_PERMISSION) or super().has_view_permission(request, obj)


class EventActionFilter(admin.SimpleListFilter):
    """The actions by their French names (the codes stay in the URL only)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return sorted(EVENT_LABELS.items(), key=lambda item: item[1])

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(action=self.value()) if self.value() else queryset


class EventToStateFilter(admin.SimpleListFilter):
    title = _("vers l'état")
    parameter_name = "to_state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(OrderState.choices)

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(to_state=self.value()) if self.value() else queryset


TERM_LABELS = {
    "prestation": (_("Prestation"), Prestation),
    "vat_regime": (_("Régime de TVA"), VatRegime),
    "vat_regime_default": (_("Régime de TVA du client"), VatRegime),
    "principal_amount": (_("Montant principal"), None),
    "secondary_amount": (_("Montant secondaire"), None),
}


@admin.register(OrderEvent)
class OrderEventAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The order journal in French: action and state names, the payload as named values (never raw JSON)."""

    list_display = ("created_at", "order", "actor_label", "action_label", "from_label", "to_label", "accepted")
    list_filter = ("accepted", EventActionFilter, EventToStateFilter)
    search_fields = ("order__number", "actor_label", "message")
    list_select_related = ("order",)
    date_hierarchy = "created_at"
    fields = (
        "order",
        "actor",
        "actor_label",
        "created_at",
        "action_label",
        "from_label",
        "to_label",
        "accepted",
        "message",
        "details",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields)

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, event: OrderEvent) -> str:
        return event_label(event.action, event.accepted)

    @admin.display(description=_("de"), ordering="from_state")
    def from_label(self, event: OrderEvent) -> str:
        return state_label(event.from_state) if event.from_state else "—"

    @admin.display(description=_("vers"), ordering="to_state")
    def to_label(self, event: OrderEvent) -> str:
        return state_label(event.to_state) if event.to_state else "—"

    @admin.display(description=_("détails"))
    def details(self, event: OrderEvent) -> str:
        payload = event.payload if isinstance(event.payload, dict) else {}
        pairs = list(payload_details(event.action, payload))
        for key, (label, choices) in TERM_LABELS.items():
            value = payload.get(key)
            if value in (None, ""):
                continue
            if choices is not None:
                pairs.append((label, str(choices(value).label) if value in choices.values else str(value)))
            else:
                try:
                    pairs.append((label, euros(Decimal(str(value)))))
                except InvalidOperation:
                    pairs.append((label, str(value)))
        if not pairs:
            return "—"
        return format_html_join("", "<p>{} : {}</p>", pairs)


@admin.register(DocumentBatch)
class DocumentBatchAdmin(OrderReadersMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/orders/documentbatch/change_form.html"
    list_display = ("created_at", "kind", "progress", "status", "requester", "finished_at")
    list_filter = ("status", "kind")
    fields = ("kind", "progress", "status", "requester", "created_at", "finished_at", "refusal_list")
    readonly_fields = fields
    list_select_related = ("requested_by",)

    @admin.display(description=_("demandé par"), ordering="requested_by__username")
    def requester(self, batch: DocumentBatch) -> str:
        # The name only: a link to the user's page would be a 403 for everyone but the administrators.
        return batch.requested_by.get_username() if batch.requested_by else "—"

    @admin.display(description=_("avancement"))
    def progress(self, batch: DocumentBatch) -> str:
        generated = ngettext("%(count)s généré", "%(count)s générés", batch.generated) % {"count": batch.generated}
        return f"{batch.processed}/{batch.total} · {batch.get_kind_display()} ({generated})"

    @admin.display(description=_("refus"))
    def refusal_list(self, batch: DocumentBatch) -> str:
        if not batch.refusals:
            return "—"
        numbers = dict(
            Order.objects.filter(pk__in=[refusal["order_id"] for refusal in batch.refusals]).values_list("pk", "number")
        )
        return format_html_join(
            "",
            '<p>Commande <a href="{}">{}</a> : {}</p>',
            (
                (
                    reverse("admin:orders_order_change", args=[refusal["order_id"]]),
                    numbers.get(refusal["order_id"], refusal["order_id"]),
                    refusal["message"],
                )
                for refusal in batch.refusals
            ),
        )


class WithRefusalsFilter(admin.SimpleListFilter):
    title = _("refus")
    parameter_name = "refus"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("oui", _("avec des refus")), ("non", _("sans refus"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "oui":
            return queryset.filter(refused_count__gt=0)
        if self.value() == "non":
            return queryset.filter(refused_count=0)
        return queryset


def run_values(run: BulkRun) -> list[str]:
    """The values given to the run, in French: « Reçue par l'ASP le 20/11/2026 à 14:00 », « Référence ASP : X »."""
    action = services.ACTIONS.get(run.action)
    values = []
    for spec in action.params if action else ():
        value = run.params.get(spec.name)
        if value in (None, ""):
            continue
        if spec.kind == "datetime":
            values.append(f"{spec.label} {paris_when(datetime.fromisoformat(value))}")
        else:
            values.append(f"{spec.label} : {value}")
    return values


@admin.register(BulkRun)
class BulkRunAdmin(OrderReadersMixin, ViewOnlyAdminMixin, admin.ModelAdmin):
    """The persistent report of a bulk action: each order done or refused, with its reason (issue 10)."""

    list_display = ("created_at_display", "label", "values_display", "actor_label", "done_count", "refused_count")
    list_display_links = ("created_at_display", "label")
    list_filter = ("label", WithRefusalsFilter, "actor_label")
    search_fields = ("items__number", "items__client_name", "actor_label")
    date_hierarchy = "created_at"

    @admin.display(description=_("lancé le"), ordering="created_at")
    def created_at_display(self, run: BulkRun) -> str:
        return paris_when(run.created_at)

    @admin.display(description=_("valeurs saisies"))
    def values_display(self, run: BulkRun) -> str:
        return " · ".join(run_values(run))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        run = self.get_object(request, object_id)
        if run is None:  # unknown or malformed id: Django's own "does not exist" answer
            return super().change_view(request, object_id, form_url, extra_context)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        outcome = request.GET.get("resultat", "")
        items = run.items.all()
        counts = items.aggregate(
            total=Count("pk"),
            done=Count("pk", filter=Q(outcome=BulkRunItem.DONE)),
            refused=Count("pk", filter=Q(outcome=BulkRunItem.REFUSED)),
        )
        if outcome in {BulkRunItem.DONE, BulkRunItem.REFUSED}:
            items = items.filter(outcome=outcome)
        rows = [(item, state_badge(item.state)) for item in items.order_by("-outcome", "number")]
        refused_ids = list(run.items.filter(outcome=BulkRunItem.REFUSED).values_list("order_id", flat=True))
        return TemplateResponse(
            request,
            "admin/orders/bulkrun/report.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Compte rendu : %(action)s") % {"action": run.label},
                "run": run,
                "launched": paris_when(run.created_at),
                "values": run_values(run),
                "rows": rows,
                "counts": counts,
                "counts_text": run_counts(counts["total"], counts["done"], counts["refused"], with_noun=True),
                "outcome": outcome,
                "filters": [
                    ("", _("Toutes"), counts["total"]),
                    (BulkRunItem.REFUSED, _("Refusées"), counts["refused"]),
                    (BulkRunItem.DONE, _("Faites"), counts["done"]),
                ],
                "refused_list_url": (
                    reverse("admin:orders_order_changelist") + "?id__in=" + ",".join(map(str, refused_ids))
                    if refused_ids
                    else ""
                ),
            },
        )
