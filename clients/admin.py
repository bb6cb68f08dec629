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
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportModelAdmin
from import_export.results import Result, RowResult

from clients import services
from clients.models import Client, ContactPerson, ReferenceBase, ReferenceEntry
from clients.resources import DoctorResource, StructureResource, file_line
from orders.exceptions import BusinessRuleError
from portal import services as portal_services
from segur_portal.records import ViewOnlyAdminMixin

SESSION_KEY = "reference_base_import"
PREVIEW_ROWS = 10
LISTED_ERRORS = 20
FINESS_LENGTH = 9


def import_error_lines(result: Result) -> list[str]:
    """Every reason an import was refused, one line each, numbered as in the file (header = line 1)."""
    lines = [str(error.error) for error in result.base_errors]
    for _index, errors in result.row_errors():
        lines += [f"Ligne {file_line(error.number)} : {error.error}" for error in errors]
    for invalid in result.invalid_rows:
        for column, column_messages in invalid.error_dict.items():
            where = f"Ligne {file_line(invalid.number)}" + ("" if column == "__all__" else f", colonne « {column} »")
            lines += [f"{where} : {message}" for message in column_messages]
    return lines


class AllOrNothingImportAdminMixin:
    """The import → preview → confirm flow of django-import-export, all or nothing, in French.

    The resources roll the whole file back on any refused row (``AllOrNothingResourceMixin``); this mixin makes the
    confirm step say so instead of announcing a success, and numbers the preview's lines as in the file.
    """

    import_template_name = "admin/clients/import_all_or_nothing.html"

    def process_result(self, result: Result, request: HttpRequest) -> HttpResponse:
        if not (result.has_errors() or result.has_validation_errors()):
            return super().process_result(result, request)  # type: ignore[misc]
        lines = import_error_lines(result)
        hidden = len(lines) - LISTED_ERRORS
        listed = " ; ".join(lines[:LISTED_ERRORS]) + (f" ; … et {hidden} autre(s)" if hidden > 0 else "")
        messages.error(request, f"Import refusé, rien n'a été importé : {listed}")
        app_label, model_name = self.get_model_info()  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse(f"admin:{app_label}_{model_name}_import"))

    def add_success_message(self, result: Result, request: HttpRequest) -> None:
        totals = result.totals
        messages.success(
            request,
            f"Import terminé : {totals[RowResult.IMPORT_TYPE_NEW]} création(s), "
            f"{totals[RowResult.IMPORT_TYPE_UPDATE]} mise(s) à jour, "
            f"{totals[RowResult.IMPORT_TYPE_SKIP]} ligne(s) inchangée(s).",
        )


class ClientForm(forms.ModelForm):
    """Checked by the domain rules (``clients.services.client_violations``): each refusal on its own field."""

    # Wider than the 11 / 9 stored characters: people type identifiers with spaces, which the rules normalise.
    rpps = forms.CharField(label=_("RPPS"), max_length=32, required=False, empty_value=None)
    finess = forms.CharField(label=_("FINESS géographique"), max_length=32, required=False, empty_value=None)

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
class ClientAdmin(AllOrNothingImportAdminMixin, ImportExportModelAdmin):
    form = ClientForm
    resource_classes = [DoctorResource, StructureResource]
    list_display = (
        "name",
        "kind",
        "identifier_display",
        "tranche",
        "staff_count",
        "city",
        "wave1_benefited",
        "wave1_self_funded",
    )
    list_filter = ("kind", "tranche", "cds_kind", "wave1_benefited", "wave1_self_funded")
    search_fields = ("name", "rpps", "finess", "email", "city")
    readonly_fields = ("tranche", "staff_count", "reference_entry", "portal_activity")
    inlines = [ContactPersonInline]
    list_per_page = 50
    actions = ["send_portal_link", "revoke_portal_links"]

    @admin.display(description=_("Espace client"))
    def portal_activity(self, client: Client) -> str:
        if client.pk is None:
            return "—"
        url = reverse("admin:portal_portalevent_changelist") + f"?client__id__exact={client.pk}"
        revoked = (
            f" · liens révoqués le {timezone.localtime(client.portal_links_revoked_at):%d/%m/%Y %H:%M}"
            if client.portal_links_revoked_at
            else ""
        )
        return format_html(
            '<a href="{}">Journal de l\'espace client ({} événement(s))</a>{}',
            url,
            client.portal_events.count(),
            revoked,
        )

    @admin.action(description=_("Envoyer un lien d'accès à l'espace client"), permissions=["change"])
    def send_portal_link(self, request: HttpRequest, queryset: Any) -> None:
        sent, refused = 0, []
        for client in queryset.prefetch_related("contacts").order_by("pk"):
            try:
                portal_services.access_link_send_to_client(client=client, acting_user=request.user)
            except BusinessRuleError as error:
                refused.append(f"{client.name} : {error.message}")
            else:
                sent += 1
        if sent:
            messages.success(request, f"Lien d'accès envoyé à {sent} client(s) (boîte d'envoi).")
        if refused:
            messages.error(request, "Non envoyé — " + " ; ".join(refused))

    @admin.action(description=_("Révoquer les liens d'accès à l'espace client"), permissions=["change"])
    def revoke_portal_links(self, request: HttpRequest, queryset: Any) -> None:
        for client_id in queryset.values_list("pk", flat=True):
            portal_services.access_links_revoke(client_id=client_id, acting_user=request.user)
        messages.success(
            request, f"Liens révoqués pour {queryset.count()} client(s) : les liens déjà envoyés ne fonctionnent plus."
        )

    @admin.display(description=_("RPPS / FINESS"))
    def identifier_display(self, client: Client) -> str:
        return client.identifier

    def save_model(self, request: HttpRequest, obj: Client, form: forms.ModelForm, change: bool) -> None:
        """Through ``client_create`` / ``client_update``: the rules again, then the tranche of the Base de référence;
        a change of e-mail is written to the client's journal under this staff member's name."""
        data = services.client_data(obj)
        if change:
            services.client_update(client=obj, acting_user=request.user, **data)
            return
        created = services.client_create(**data)
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()

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
    """The header and rows of an uploaded CSV (UTF-8 or Windows-1252, ``;`` or ``,``) or XLSX file."""
    content = upload.read()
    if upload.name.lower().endswith(".xlsx"):
        dataset = tablib.Dataset().load(content, format="xlsx")
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("cp1252")  # CSV saved by Excel in French
        dataset = tablib.Dataset().load(text, format="csv", delimiter=";" if text.count(";") > text.count(",") else ",")
    headers = [str(header or "").strip().lower() for header in dataset.headers or []]
    finess_column = headers.index("finess") if "finess" in headers else None
    records = []
    for record in dataset:
        cells = list(record)
        if finess_column is not None and finess_column < len(cells):
            cells[finess_column] = numeric_finess_as_text(cells[finess_column])
        records.append(cells)
    return headers, records


def numeric_finess_as_text(value: Any) -> Any:
    """A spreadsheet stores a FINESS as a number and drops the leading 0 of départements 01 to 09: put it back."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(FINESS_LENGTH)
    return value


@admin.register(ReferenceBase)
class ReferenceBaseAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """A version is added only by the import below, all or nothing; it records what the ANS published: never edited."""

    list_display = ("version", "published_on", "source_filename", "imported_at", "entry_count")
    readonly_fields = ("version", "published_on", "source_filename", "imported_at")
    inlines = [ReferenceEntryInline]
    change_list_template = "admin/clients/referencebase/change_list.html"

    @admin.display(description=_("lignes"))
    def entry_count(self, base: ReferenceBase) -> int:
        return base.entries.count()

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
            try:
                headers, records = read_table(form.cleaned_data["file"])
            except Exception:  # whatever tablib or the decoder chokes on, the person needs the same answer
                form.add_error("file", _("Fichier illisible : déposez un CSV (UTF-8, « ; » ou « , ») ou un XLSX."))
            else:
                return self._preview(request, form, headers, records, context)
        context.update({"title": _("Importer la Base de référence ANS"), "form": form})
        return TemplateResponse(request, "admin/clients/referencebase/import.html", context)

    def _preview(
        self,
        request: HttpRequest,
        form: ReferenceUploadForm,
        headers: list[str],
        records: list[list[Any]],
        context: dict[str, Any],
    ) -> HttpResponse:
        rows, errors = services.reference_rows_from_table(headers, records)
        if not errors:
            errors = self._dry_run(form.cleaned_data["version"], rows)
        token = secrets.token_urlsafe(16)
        if not errors:
            published_on = form.cleaned_data["published_on"]
            request.session[SESSION_KEY] = {
                "token": token,
                "version": form.cleaned_data["version"],
                "published_on": published_on.isoformat() if published_on else "",
                "filename": form.cleaned_data["file"].name,
                "rows": [[row.finess, row.tranche, row.staff_count, row.name, row.line] for row in rows],
            }
        tranche_counts: dict[str, int] = {}
        for row in rows:
            tranche_counts[row.tranche] = tranche_counts.get(row.tranche, 0) + 1
        context.update(
            {
                "title": _("Aperçu de l'import"),
                "errors": errors,
                "preview": rows[:PREVIEW_ROWS],
                "count": len(rows),
                "record_count": len(records),
                "tranche_counts": sorted(tranche_counts.items()),
                "version": form.cleaned_data["version"],
                "token": token,
            }
        )
        return TemplateResponse(request, "admin/clients/referencebase/import_preview.html", context)

    @staticmethod
    def _dry_run(version: str, rows: list[services.ReferenceRow]) -> list[Any]:
        """Run the real import and roll it back: the preview shows exactly what the confirmation will refuse."""
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
            messages.error(request, _("Aperçu expiré : chargez le fichier à nouveau."))
            return HttpResponseRedirect(reverse("admin:clients_referencebase_import"))
        rows = [
            services.ReferenceRow(finess=finess, tranche=tranche, staff_count=staff, name=name, line=line)
            for finess, tranche, staff, name, line in pending["rows"]
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
            ngettext(
                "Base de référence %(version)s importée : %(count)d ligne ; tranches des structures mises à jour.",
                "Base de référence %(version)s importée : %(count)d lignes ; tranches des structures mises à jour.",
                len(rows),
            )
            % {"version": base.version, "count": len(rows)},
        )
        return HttpResponseRedirect(reverse("admin:clients_referencebase_change", args=[base.pk]))
