"""Staff view of the client space's audit trail: read-only (events are never edited nor deleted)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portal.models import PortalEvent


@admin.register(PortalEvent)
class PortalEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "client", "email", "order", "document", "actor", "ip_address", "message")
    list_filter = ("kind", "created_at")
    search_fields = ("client__name", "client__rpps", "client__finess", "email", "order__number")
    list_select_related = ("client", "order", "document", "actor")
    date_hierarchy = "created_at"
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
