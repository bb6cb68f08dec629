"""Journals and batches staff read but never edit: order events, document batches."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from orders.models import DocumentBatch, OrderEvent
from segur_portal.records import ViewOnlyAdminMixin


@admin.register(OrderEvent)
class OrderEventAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "order", "actor_label", "action", "from_state", "to_state", "accepted")
    list_filter = ("accepted", "action", "to_state")
    search_fields = ("order__number", "actor_label", "message")
    list_select_related = ("order",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in OrderEvent._meta.concrete_fields]


@admin.register(DocumentBatch)
class DocumentBatchAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/orders/documentbatch/change_form.html"
    list_display = ("created_at", "kind", "progress", "status", "requested_by", "finished_at")
    list_filter = ("status", "kind")
    fields = ("kind", "progress", "status", "requested_by", "created_at", "finished_at", "refusal_list")
    readonly_fields = fields

    @admin.display(description=_("avancement"))
    def progress(self, batch: DocumentBatch) -> str:
        return f"{batch.processed}/{batch.total} · {batch.get_kind_display()} ({batch.generated} générés)"

    @admin.display(description=_("refus"))
    def refusal_list(self, batch: DocumentBatch) -> str:
        return format_html_join("", "<p>Commande {} : {}</p>", ((r["order_id"], r["message"]) for r in batch.refusals))
