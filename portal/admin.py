"""Staff view of the client space: its audit trail and the links sent, read-only (nobody edits nor deletes them)."""

import csv
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Avg, Count, Q
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from portal.models import PortalEvent, PortalLink, SatisfactionAnswer, SignatureEvidence, TrainingSession
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


@admin.register(SignatureEvidence)
class SignatureEvidenceAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The evidence of online signatures, chained by hash (``manage.py verify_signature_evidence``)."""

    list_display = ("signed_at", "order", "document", "signatory_name", "signatory_capacity", "email", "ip_address")
    search_fields = ("order__number", "signatory_name", "email")
    list_select_related = ("order", "document")
    date_hierarchy = "signed_at"


@admin.register(TrainingSession)
class TrainingSessionAdmin(admin.ModelAdmin):
    """Training sessions offered to clients (AF §3.2), listed in the client space."""

    list_display = ("title", "starts_at", "format", "link", "material")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_filter = ("format",)
    search_fields = ("title",)

    def save_model(self, request: HttpRequest, obj: TrainingSession, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(SatisfactionAnswer)
class SatisfactionAnswerAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The clients' answers after their VA (AF §6.1), their aggregate and the export for the report to the ANS."""

    list_display = ("answered_at", "order", "client", "overall", "installation", "support", "recommend")
    list_select_related = ("order", "client")
    change_list_template = "portal/admin/satisfaction_change_list.html"

    def get_urls(self) -> list[Any]:
        export = path("export/", self.admin_site.admin_view(self.export_view), name="portal_satisfactionanswer_export")
        return [export, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {**(extra_context or {}), "summary": satisfaction_summary()})

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="questionnaire-satisfaction.csv"'
        response.write("\ufeff")
        writer = csv.writer(response, delimiter=";")
        writer.writerow(
            [
                "Commande",
                "Client",
                "Répondu le",
                "Satisfaction générale",
                "Installation",
                "Accompagnement",
                "Recommande",
                "Commentaire",
            ]
        )
        for answer in SatisfactionAnswer.objects.select_related("order", "client").order_by("answered_at"):
            writer.writerow(
                [
                    answer.order.number,
                    answer.client.name,
                    f"{timezone.localtime(answer.answered_at):%d/%m/%Y}",
                    answer.overall,
                    answer.installation,
                    answer.support,
                    "oui" if answer.recommend else "non",
                    spreadsheet_safe(answer.comment),
                ]
            )
        return response


def spreadsheet_safe(text: str) -> str:
    """A free text as a spreadsheet cell: never read as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def satisfaction_summary() -> dict[str, Any]:
    """Answers, average scores (written with a comma) and share recommending, for the report to the ANS."""
    figures = SatisfactionAnswer.objects.aggregate(
        answers=Count("pk"),
        overall=Avg("overall"),
        installation=Avg("installation"),
        support=Avg("support"),
        recommend=Count("pk", filter=Q(recommend=True)),
    )
    count = figures["answers"]

    def average(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f}".replace(".", ",") + " / 5"

    return {
        "answers": count,
        "overall": average(figures["overall"]),
        "installation": average(figures["installation"]),
        "support": average(figures["support"]),
        "recommend": f"{round(100 * figures['recommend'] / count)} %" if count else "—",
    }
