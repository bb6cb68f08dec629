"""Staff admin for clients and the ANS Base de référence (French). Every write goes through ``clients.services``."""

import secrets
from datetime import date
from typing import Any

import tablib
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin

from clients import services
from clients.models import Client, ContactPerson, ReferenceBase, ReferenceEntry
from clients.resources import DoctorResource, StructureResource
from orders.exceptions import BusinessRuleError

SESSION_KEY = "reference_base_import"
PREVIEW_ROWS = 10


class ClientForm(forms.ModelForm):
    class Meta:
        model = Client
        fields = (
            "kind",
            "name",
            "rpps",
            "specialty",
            "treating_patient_count",
            "finess",
            "cds_kind",
            "aci_signatory",
            "staff_declared",
            "liberal_doctor_count",
            "salaried_doctor_count",
            "siren",
            "address",
            "postal_code",
            "city",
            "email",
            "phone",
            "installed_version",
            "wave1_benefited",
            "wave1_self_funded",
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        data = services.normalised_client_data({**services.client_data(self.instance), **cleaned})
        for violation in services.client_violations(data):
            self.add_error(violation.field if violation.field in self.fields else None, violation.message)
        for name in ("rpps", "finess", "name"):
            if name in cleaned:
                cleaned[name] = data[name]
        return cleaned


class ContactPersonInline(admin.TabularInline):
    model = ContactPerson
    extra = 0


@admin.register(Client)
class ClientAdmin(ImportExportModelAdmin):
    form = ClientForm
    resource_classes = [DoctorResource, StructureResource]
    list_display = ("name", "kind", "identifier_display", "tranche", "staff_count", "city", "wave1_benefited")
    list_filter = ("kind", "tranche", "cds_kind", "wave1_benefited", "wave1_self_funded")
    search_fields = ("name", "rpps", "finess", "email", "city")
    readonly_fields = ("tranche", "staff_count", "reference_entry")
    inlines = [ContactPersonInline]
    list_per_page = 50

    @admin.display(description=_("RPPS / FINESS"))
    def identifier_display(self, client: Client) -> str:
        return client.identifier

    def save_model(self, request: HttpRequest, obj: Client, form: forms.ModelForm, change: bool) -> None:
        services.client_save(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser and (obj is None or not obj.orders.exists())


class ReferenceEntryInline(admin.TabularInline):
    model = ReferenceEntry
    extra = 0
    fields = ("finess", "name", "tranche", "staff_count")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReferenceUploadForm(forms.Form):
    version = forms.CharField(label=_("Version"), max_length=64)
    published_on = forms.DateField(
        label=_("Publiée le"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    file = forms.FileField(
        label=_("Fichier (CSV ou XLSX)"), help_text=_("Colonnes : finess, raison_sociale, tranche, effectif")
    )


def read_table(upload: Any) -> tuple[list[str], list[list[Any]]]:
    content = upload.read()
    if upload.name.lower().endswith(".xlsx"):
        dataset = tablib.Dataset().load(content, format="xlsx")
    else:
        text = content.decode("utf-8-sig")
        dataset = tablib.Dataset().load(text, format="csv", delimiter=";" if text.count(";") > text.count(",") else ",")
    return list(dataset.headers or []), [list(row) for row in dataset]


@admin.register(ReferenceBase)
class ReferenceBaseAdmin(admin.ModelAdmin):
    list_display = ("version", "published_on", "source_filename", "imported_at")
    readonly_fields = ("version", "published_on", "source_filename", "imported_at")
    inlines = [ReferenceEntryInline]
    change_list_template = "admin/clients/referencebase/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a version is added only by the import below, all or nothing

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        return [
            path("importer/", self.admin_site.admin_view(self.import_view), name="clients_referencebase_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("clients.add_referenceentry"):
            raise PermissionDenied
        context: dict[str, Any] = {**self.admin_site.each_context(request), "opts": self.model._meta}
        if request.method == "POST" and "confirm" in request.POST:
            return self._confirm(request)
        form = ReferenceUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            headers, records = read_table(form.cleaned_data["file"])
            rows, errors = services.reference_rows_from_table(headers, records)
            if not errors:
                errors = self._dry_run(form.cleaned_data["version"], rows)
            preview = rows[:PREVIEW_ROWS]
            token = secrets.token_urlsafe(16)
            if not errors:
                request.session[SESSION_KEY] = {
                    "token": token,
                    "version": form.cleaned_data["version"],
                    "published_on": form.cleaned_data["published_on"].isoformat()
                    if form.cleaned_data["published_on"]
                    else "",
                    "filename": form.cleaned_data["file"].name,
                    "rows": [[r.finess, r.tranche, r.staff_count, r.name, r.line] for r in rows],
                }
            context.update(
                {
                    "title": _("Aperçu de l'import"),
                    "errors": errors,
                    "preview": preview,
                    "count": len(rows),
                    "token": token,
                }
            )
            return TemplateResponse(request, "admin/clients/referencebase/import_preview.html", context)
        context.update({"title": _("Importer la Base de référence ANS"), "form": form})
        return TemplateResponse(request, "admin/clients/referencebase/import.html", context)

    @staticmethod
    def _dry_run(version: str, rows: list[services.ReferenceRow]) -> list[Any]:
        try:
            with transaction.atomic():
                services.reference_base_import(version=version, rows=rows)
                transaction.set_rollback(True)
        except BusinessRuleError as error:
            return error.violations
        return []

    def _confirm(self, request: HttpRequest) -> HttpResponse:
        pending = request.session.get(SESSION_KEY)
        if not pending or pending["token"] != request.POST.get("token"):
            messages.error(request, "Aperçu expiré : chargez le fichier à nouveau.")
            return HttpResponseRedirect(reverse("admin:clients_referencebase_import"))
        rows = [
            services.ReferenceRow(finess=f, tranche=t, staff_count=s, name=n, line=line)
            for f, t, s, n, line in pending["rows"]
        ]
        try:
            base = services.reference_base_import(
                version=pending["version"],
                rows=rows,
                published_on=date.fromisoformat(pending["published_on"]) if pending["published_on"] else None,
                source_filename=pending["filename"],
            )
        except BusinessRuleError as error:
            messages.error(request, f"Import refusé, rien n'a été importé : {error.message}")
            return HttpResponseRedirect(reverse("admin:clients_referencebase_import"))
        finally:
            request.session.pop(SESSION_KEY, None)
        messages.success(
            request,
            f"Base de référence {base.version} importée : {len(rows)} lignes ; tranches des structures mises à jour.",
        )
        return HttpResponseRedirect(reverse("admin:clients_referencebase_change", args=[base.pk]))
