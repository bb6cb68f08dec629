"""Actions on a selection of orders: each order on its own through the services, one report."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from orders import asp_packages, documents, services
from orders.admin.common import zip_response
from orders.exceptions import BusinessRuleError
from orders.models import DocumentKind, Order

BULK_DETAIL_LIMIT = 20


class OrderBulkMixin:
    """Bulk actions of the order list."""

    def _bulk_package(self, request: HttpRequest, queryset: QuerySet[Order], request_kind: str) -> HttpResponse:
        orders = list(queryset.order_by("pk"))
        archive, refused = asp_packages.package_zip(orders, request_kind)
        if refused:
            self.message_user(
                request, f"{len(refused)} dossier(s) incomplet(s) listés dans refus.txt.", messages.WARNING
            )
        return zip_response(archive, asp_packages.package_filename(request_kind, len(orders) - len(refused)))

    @admin.action(description=_("Générer les bons de commande (lot en tâche de fond)"))
    def bulk_generate_order_forms(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        order_ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        batch = documents.batch_request(order_ids=order_ids, kind=DocumentKind.ORDER_FORM, acting_user=request.user)
        url = reverse("admin:orders_documentbatch_change", args=[batch.pk])
        self.message_user(
            request,
            format_html('Lot de {} bons de commande lancé : <a href="{}">suivre l\'avancement</a>.', batch.total, url),
        )

    @admin.action(description=_("Exporter les dossiers ASP — demandes d'avance (ZIP)"))
    def bulk_package_advance(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._bulk_package(request, queryset, "advance")

    @admin.action(description=_("Exporter les dossiers ASP — demandes de solde (ZIP)"))
    def bulk_package_balance(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._bulk_package(request, queryset, "balance")

    def _bulk(self, request: HttpRequest, queryset: QuerySet[Order], action_name: str, params: dict[str, Any]) -> None:
        done, refused = 0, []
        for order_id, number in queryset.order_by("pk").values_list("pk", "number"):
            try:
                services.perform(action_name, order_id=order_id, acting_user=request.user, params=params)
            except BusinessRuleError as error:
                refused.append(f"{number} : {error.message}")
            else:
                done += 1
        label = services.ACTIONS[action_name].label
        level = messages.SUCCESS if not refused else messages.WARNING
        self.message_user(request, f"{label} : {done} effectuée(s), {len(refused)} refusée(s).", level)
        for line in refused[:BULK_DETAIL_LIMIT]:
            self.message_user(request, line, messages.ERROR)
        if len(refused) > BULK_DETAIL_LIMIT:
            self.message_user(request, f"… et {len(refused) - BULK_DETAIL_LIMIT} autre(s) refus.", messages.ERROR)

    @admin.action(description=_("Déposer les demandes d'avance (reçues maintenant par l'ASP)"))
    def bulk_file_advance(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._bulk(request, queryset, "file_advance", {"received_at": timezone.now()})

    @admin.action(description=_("Enregistrer le versement de l'avance (aujourd'hui)"))
    def bulk_record_advance_paid(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._bulk(request, queryset, "record_advance_paid", {"paid_at": timezone.now()})
