"""Staff view of the client space's audit trail: read-only (events are never edited nor deleted)."""

from django.contrib import admin

from portal.models import PortalEvent
from segur_portal.records import ViewOnlyAdminMixin


@admin.register(PortalEvent)
class PortalEventAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "client", "email", "order", "document", "actor", "ip_address", "message")
    list_filter = ("kind", "created_at")
    search_fields = ("client__name", "client__rpps", "client__finess", "email", "order__number")
    list_select_related = ("client", "order", "document", "actor")
    date_hierarchy = "created_at"
    list_per_page = 50
