"""The order admin, put together from its pages (list, creation, order page, bulk actions)."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin

from clients.admin import AllOrNothingImportAdminMixin
from orders import selectors
from orders.admin.bulk import OrderBulkMixin
from orders.admin.order_create import OrderCreateMixin
from orders.admin.order_list import AspReturnFilter, NextDeadlineWindowFilter, OrderListMixin, SalespersonMineFilter
from orders.admin.order_page import OrderPageMixin
from orders.models import Order
from orders.resources import OrderExportResource, OrderImportResource


@admin.register(Order)
class OrderAdmin(
    OrderListMixin,
    OrderCreateMixin,
    OrderPageMixin,
    OrderBulkMixin,
    AllOrNothingImportAdminMixin,
    ImportExportMixin,
    admin.ModelAdmin,
):
    list_display = (
        "number_display",
        "client_display",
        "state_display",
        "principal_display",
        "advance_display",
        "balance_display",
        "salesperson_display",
        "next_deadline_display",
    )
    list_filter = (
        SalespersonMineFilter,
        "state",
        "programme",
        "client__kind",
        "client__tranche",
        "salesperson",
        NextDeadlineWindowFilter,
        "is_pilot",
        AspReturnFilter,
    )
    search_fields = ("number", "client__name", "client__rpps", "client__finess")
    list_per_page = 50
    ordering = ("-created_at",)
    change_form_template = "admin/orders/order/change_form.html"
    change_list_template = "admin/orders/order/change_list.html"

    class Media:
        css = {"all": ["orders/admin.css"]}

    actions = [
        "bulk_file_advance",
        "bulk_record_advance_paid",
        "bulk_generate_order_forms",
        "bulk_send_for_signature",
        "bulk_package_advance",
        "bulk_package_balance",
    ]
    fieldsets = (
        (_("Bon de commande"), {"fields": ("number", "programme", "client", "solution", "salesperson", "is_pilot")}),
        (_("Montants"), {"fields": ("prestation", "vat_regime", "principal_amount", "secondary_amount")}),
        (
            _("Dates et références"),
            {
                "fields": (
                    "state",
                    "issued_at",
                    "signed_at",
                    "signature_method",
                    "signatory_name",
                    "firm_at",
                    "advance_requested_at",
                    "advance_asp_reference",
                    "advance_paid_at",
                    "advance_amount",
                    "installed_at",
                    "pilot_pv_signed_at",
                    "va_signed_at",
                    "completion_attested_at",
                    "balance_requested_at",
                    "balance_asp_reference",
                    "balance_paid_at",
                    "balance_amount",
                    "secondary_requested_at",
                    "secondary_perf",
                    "secondary_paid_at",
                    "secondary_paid_amount",
                    "failure_notified_at",
                    "reimbursed_at",
                    "terminated_at",
                    "closing_reason",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return selectors.with_asp_return(selectors.order_list_queryset())

    def get_import_resource_classes(self, request: HttpRequest) -> list[type]:
        return [OrderImportResource]

    def get_export_resource_classes(self, request: HttpRequest) -> list[type]:
        return [OrderExportResource]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Orders change only through the services (transitions, terms, checklist): every field is read-only here.
        return [field.name for field in Order._meta.concrete_fields]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing is ever deleted: cancel with a reason instead
