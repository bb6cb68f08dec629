"""Staff view of the client space: its audit trail and the links sent, read-only (nobody edits nor deletes them)."""

from django.contrib import admin

from portal.models import PortalEvent, PortalLink
from segur_portal.records import ViewOnlyAdminMixin


@admin.register(PortalEvent)
class PortalEventAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "client", "email", "order", "document", "actor", "ip_address", "message")
    list_filter = ("kind", "created_at")
    search_fields = ("client__name", "client__rpps", "client__finess", "email", "order__number")
    list_select_related = ("client", "order", "document", "actor")
    date_hierarchy = "created_at"
    list_per_page = 50


@admin.register(PortalLink)
class PortalLinkAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The links sent (never their key: only its digest is stored, so no one can open a space from here)."""

    list_display = ("issued_at", "client", "email", "expires_at", "revoked_at", "first_used_at", "last_used_at")
    list_filter = ("issued_at", "revoked_at")
    search_fields = ("client__name", "client__rpps", "client__finess", "email")
    list_select_related = ("client",)
    exclude = ("key_digest",)
    date_hierarchy = "issued_at"
    list_per_page = 50
