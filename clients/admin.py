"""Staff admin for clients and the ANS Base de référence (French). Every write goes through ``clients.services``."""

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportModelAdmin
from import_export.forms import ImportForm
from import_export.results import Error, Result, RowResult

from clients import services
from clients.models import Client, ClientChange, ContactPerson, ReferenceBase, ReferenceEntry
from clients.resources import DoctorResource, StructureResource, file_line
from orders import import_tasks, rules, selectors
from orders.exceptions import BusinessRuleError, RuleViolation
from portal import services as portal_services
from segur_portal import pending_imports
from segur_portal.records import ViewOnlyAdminMixin
from segur_portal.search import AccentInsensitiveSearchMixin
from segur_portal.spreadsheets import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    FrenchExportForm,
    UnreadableFile,
    open_table,
    size_violation,
)

logger = logging.getLogger(__name__)


def vat_regime_label(code: str) -> str:
    return dict(Client._meta.get_field("vat_regime").choices)[code]


PREVIEW_ROWS = 100
LISTED_ERRORS = 100
LISTED_ERRORS_IN_MESSAGE = 20
UNREADABLE = _("Fichier illisible : déposez un CSV (UTF-8 ou Windows-1252 ; « ; », « , » ou tabulation) ou un XLSX.")


def readable_error(error: Error, where: str = "sur cette ligne") -> str:
    """What a person may read of an error: our French refusals as they are; anything else, never its traceback."""
    if isinstance(error.error, ValidationError):
        return " ; ".join(error.error.messages)
    if isinstance(error.error, ValueError | BusinessRuleError):
        return str(error.error)
    logger.error("Unexpected import error: %r\n%s", error.error, error.traceback)
    return f"Erreur inattendue {where} (détails dans le journal du serveur) : rien n'a été importé."


def import_error_lines(result: Result) -> list[str]:
    """Every reason an import was refused, one line each, numbered as in the file (header = line 1)."""
    lines = [readable_error(error, "à l'enregistrement du fichier") for error in result.base_errors]
    for _index, errors in result.row_errors():
        lines += [f"Ligne {file_line(error.number)} : {readable_error(error)}" for error in errors]
    for invalid in result.invalid_rows:
        for column, column_messages in invalid.error_dict.items():
            where = f"Ligne {file_line(invalid.number)}" + ("" if column == "__all__" else f", colonne « {column} »")
            lines += [f"{where} : {message}" for message in column_messages]
    return lines


class SpreadsheetImportForm(ImportForm):
    """The import form, refusing a file over ``SEGUR_IMPORT_MAX_BYTES`` before anything reads it."""

    def clean_import_file(self) -> Any:
        upload = self.cleaned_data["import_file"]
        problem = size_violation(upload.size)
        if problem:
            raise ValidationError(problem)
        return upload


class AllOrNothingImportAdminMixin:
    """The import → preview → confirm flow of django-import-export, all or nothing, in French.

    The resources roll the whole file back on any refused row (``AllOrNothingResourceMixin``); this mixin makes the
    confirm step say so instead of announcing a success, and numbers the preview's lines as in the file.
    """

    import_template_name = "admin/clients/import_all_or_nothing.html"
    import_form_class = SpreadsheetImportForm
    import_formats = IMPORT_FORMATS
    export_formats = EXPORT_FORMATS
    export_form_class = FrenchExportForm

    def get_urls(self) -> list[Any]:
        app_label, model_name = self.get_model_info()  # type: ignore[attr-defined]
        view = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path(
                "importer/suivi/<str:token>/",
                view(self.import_progress_view),
                name=f"{app_label}_{model_name}_import_progress",
            ),
            path(
                "importer/suivi/<str:token>/confirmer/",
                view(self.import_confirm_on_worker),
                name=f"{app_label}_{model_name}_import_confirm_worker",
            ),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """The library's preview, with errors in French (file line and column, never a traceback), paginated.

        A file of more rows than ``SEGUR_IMPORT_WORKER_ROWS`` is checked, then imported, on the worker, with a
        progress page (issue 13): no request runs the rules over thousands of rows.
        """
        if request.method == "POST" and request.FILES and self.has_import_permission(request):  # type: ignore[attr-defined]
            import_form = self.create_import_form(request)  # type: ignore[attr-defined]
            if import_form.is_valid():
                upload = import_form.cleaned_data["import_file"]
                rows = upload_row_count(upload)
                if rows > import_tasks.worker_row_threshold():
                    return self.import_on_worker(request, import_form, rows)
        response = super().import_action(request, **kwargs)  # type: ignore[misc]
        result = getattr(response, "context_data", {}).get("result")
        if result is not None:
            lines = import_error_lines(result) if result.has_errors() else []
            response.context_data.update(
                {
                    "error_lines": lines[:LISTED_ERRORS],
                    "error_count": len(lines),
                    "invalid_rows": result.invalid_rows[:LISTED_ERRORS],
                    "invalid_count": len(result.invalid_rows),
                    "preview_rows": result.valid_rows()[:PREVIEW_ROWS],
                    "preview_count": len(result.valid_rows()),
                    "listed_max": LISTED_ERRORS,
                }
            )
        return response

    def import_on_worker(self, request: HttpRequest, import_form: forms.Form, rows: int) -> HttpResponse:
        """Keep the file as a pending import, queue its preview on the worker, and show its progress page."""
        upload = import_form.cleaned_data["import_file"]
        resource_class = self.choose_import_resource_class(import_form, request)  # type: ignore[attr-defined]
        input_format = self.get_import_formats()[int(import_form.cleaned_data["format"])]()  # type: ignore[attr-defined]
        upload.seek(0)
        pending = pending_imports.pending_import_save(
            upload=upload,
            user_id=request.user.pk,
            details={
                "resource": f"{resource_class.__module__}.{resource_class.__qualname__}",
                "format": input_format.get_title(),
                "file_name": upload.name,
                "resource_name": str(resource_class.get_display_name()),
            },
        )
        import_tasks.model_import_queue(pending.token, request.user.pk, import_tasks.PREVIEW, rows)
        return HttpResponseRedirect(self._progress_url(pending.token))

    def _progress_url(self, token: str) -> str:
        app_label, model_name = self.get_model_info()  # type: ignore[attr-defined]
        return reverse(f"admin:{app_label}_{model_name}_import_progress", args=[token])

    def _pending_for(self, request: HttpRequest, token: str) -> pending_imports.PendingImport:
        if not self.has_import_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        pending = pending_imports.pending_import_get(token=token, user_id=request.user.pk)
        if pending is None:
            raise Http404(_("Import introuvable ou expiré : chargez le fichier à nouveau."))
        return pending

    def import_progress_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """Where a worker import stands: a progress bar while it runs (the page refreshes its panel), then the
        preview and the confirmation, the refusal with its lines, or the outcome."""
        pending = self._pending_for(request, token)
        status = pending.status
        app_label, model_name = self.get_model_info()  # type: ignore[attr-defined]
        finished = status.get("state") in import_tasks.FINISHED
        total = int(status.get("total") or 0)
        done = int(status.get("done") or 0)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": _("Import en arrière-plan"),
            "opts": self.model._meta,  # type: ignore[attr-defined]
            "token": token,
            "details": pending.details,
            "status": status,
            "finished": finished,
            "total": total,
            "done": done,
            "done_text": french_count(done),
            "total_text": french_count(total),
            "percent": int(done * 100 / total) if total else 0,
            "totals_text": import_totals(status["totals"]) if status.get("totals") else "",
            "import_url": reverse(f"admin:{app_label}_{model_name}_import"),
            "changelist_url": reverse(f"admin:{app_label}_{model_name}_changelist"),
            "confirm_url": reverse(f"admin:{app_label}_{model_name}_import_confirm_worker", args=[token]),
        }
        return TemplateResponse(request, "admin/import_progress.html", context)

    def import_confirm_on_worker(self, request: HttpRequest, token: str) -> HttpResponse:
        """The person confirms a checked file: the import itself is queued on the worker (POST only)."""
        if request.method != "POST":
            return HttpResponseRedirect(self._progress_url(token))
        pending = self._pending_for(request, token)
        status = pending.status
        checked = status.get("stage") == import_tasks.PREVIEW and status.get("state") == import_tasks.CHECKED
        if checked and pending_imports.pending_import_claim(token, import_tasks.IMPORT):
            total = int(status.get("total") or 0)
            import_tasks.model_import_queue(token, request.user.pk, import_tasks.IMPORT, total)
        return HttpResponseRedirect(self._progress_url(token))

    def add_data_read_fail_error_to_form(self, form: forms.Form, error: Exception) -> None:
        logger.info("Unreadable import file: %r", error)
        form.add_error("import_file", str(error) if isinstance(error, UnreadableFile) else UNREADABLE)

    def process_result(self, result: Result, request: HttpRequest) -> HttpResponse:
        if not (result.has_errors() or result.has_validation_errors()):
            return super().process_result(result, request)  # type: ignore[misc]
        lines = import_error_lines(result)
        hidden = len(lines) - LISTED_ERRORS_IN_MESSAGE
        listed = " ; ".join(lines[:LISTED_ERRORS_IN_MESSAGE]) + (
            " ; … " + ngettext("et %(count)s autre", "et %(count)s autres", hidden) % {"count": hidden}
            if hidden > 0
            else ""
        )
        messages.error(request, f"Import refusé, rien n'a été importé : {listed}")
        app_label, model_name = self.get_model_info()  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse(f"admin:{app_label}_{model_name}_import"))

    def add_success_message(self, result: Result, request: HttpRequest) -> None:
        totals = result.totals
        messages.success(request, "Import terminé : " + import_totals(totals) + ".")


def french_count(number: int) -> str:
    """20000 → « 20 000 » (thin no-break space between thousands, as French pages write counts)."""
    return f"{number:,}".replace(",", "\u202f")


def upload_row_count(upload: Any) -> int:
    """About how many data rows an uploaded file holds, without reading its cells: the lines of a CSV, the dimension
    of an XLSX sheet (what decides whether the file goes to the worker)."""
    upload.seek(0)
    head = upload.read(4)
    upload.seek(0)
    if head.startswith(b"PK"):  # an XLSX (zip) file
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(upload, read_only=True)
            rows = max((workbook.active.max_row or 1) - 1, 0)
            workbook.close()
        except Exception:  # unreadable: the library's own reading says so on the form
            rows = 0
        upload.seek(0)
        return rows
    lines = sum(chunk.count(b"\n") for chunk in upload.chunks())
    upload.seek(0)
    return max(lines - 1, 0)


def import_totals(totals: dict[str, int]) -> str:
    """ "2 créations, 1 mise à jour, 0 ligne inchangée": each count with its own plural."""
    new, update, skip = (
        totals[RowResult.IMPORT_TYPE_NEW],
        totals[RowResult.IMPORT_TYPE_UPDATE],
        totals[RowResult.IMPORT_TYPE_SKIP],
    )
    return ", ".join(
        [
            ngettext("%(count)s création", "%(count)s créations", new) % {"count": french_count(new)},
            ngettext("%(count)s mise à jour", "%(count)s mises à jour", update) % {"count": french_count(update)},
            ngettext("%(count)s ligne inchangée", "%(count)s lignes inchangées", skip) % {"count": french_count(skip)},
        ]
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
            "vat_regime",
            "vat_regime_reason",
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


def client_orders_context(request: HttpRequest, object_id: str) -> dict[str, Any]:
    """The rows of a client's orders and the link to a new one, as far as this staff member may see and add."""
    from orders.admin.common import euros, state_badge  # orders.admin imports this module: imported on use

    if not str(object_id).isdigit():
        return {}
    context: dict[str, Any] = {}
    if request.user.has_perm("orders.add_order"):
        context["new_order_url"] = reverse("admin:orders_order_add") + f"?client={object_id}"
    if not request.user.has_perm("orders.view_order"):
        return context
    now = timezone.now()
    rows = []
    for order in selectors.client_order_rows(int(object_id)):
        deadline = rules.next_deadline(order, now)
        rows.append(
            {
                "number": order.number,
                "url": reverse("admin:orders_order_change", args=[order.pk]),
                "state": state_badge(order.state),
                "amount": euros(order.principal_amount),
                "deadline": (f"{rules.format_deadline(deadline.due_at)[:10]} · {deadline.action}" if deadline else "—"),
            }
        )
    context["client_orders"] = rows
    return context


class ContactPersonInline(admin.TabularInline):
    model = ContactPerson
    extra = 0


DOCTOR_FIELDSET_CLASS = "client-kind-doctor"
STRUCTURE_FIELDSET_CLASS = "client-kind-structure"


@admin.register(Client)
class ClientAdmin(AccentInsensitiveSearchMixin, AllOrNothingImportAdminMixin, ImportExportModelAdmin):
    """A client's page: its fields by kind (``static/clients/client_kind.js`` hides the other kind's), its orders and
    a « Nouvelle commande » link; the search (and the order form's autocomplete) ignores accents and case."""

    form = ClientForm
    change_form_template = "admin/clients/client/change_form.html"
    fieldsets = (
        (None, {"fields": ("kind", "name")}),
        (
            _("Médecin libéral"),
            {
                "fields": ("rpps", "specialty", "treating_patient_count"),
                "classes": (DOCTOR_FIELDSET_CLASS,),
                "description": _("Pour un médecin libéral seulement (AF §4.2)."),
            },
        ),
        (
            _("Structure (MSP ou centre de santé)"),
            {
                "fields": (
                    "finess",
                    "cds_kind",
                    "aci_signatory",
                    "staff_declared",
                    "liberal_doctor_count",
                    "salaried_doctor_count",
                    "tranche",
                    "staff_count",
                    "reference_entry",
                ),
                "classes": (STRUCTURE_FIELDSET_CLASS,),
                "description": _("Pour une MSP ou un centre de santé seulement (AF §4.2)."),
            },
        ),
        (_("Coordonnées"), {"fields": ("siren", "address", "postal_code", "city", "email", "phone")}),
        (_("Équipement"), {"fields": ("installed_version", "wave1_benefited", "wave1_self_funded")}),
        (
            _("TVA"),
            {
                "fields": ("vat_regime_suggested", "vat_regime", "vat_regime_reason"),
                "description": _(
                    "Le régime de TVA des bons de commande suit le département du client (AF §5.2, CGI art. 294) ; "
                    "un autre régime demande un motif, inscrit au journal du client."
                ),
            },
        ),
        (_("Espace client"), {"fields": ("portal_activity",)}),
    )
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
    readonly_fields = ("tranche", "staff_count", "reference_entry", "vat_regime_suggested", "portal_activity")
    inlines = [ContactPersonInline]
    list_per_page = 50
    actions = ["send_portal_link", "revoke_portal_links"]

    @admin.display(description=_("Régime du département"))
    def vat_regime_suggested(self, client: Client) -> str:
        if client.pk is None:
            return _("D'après le code postal (ou le FINESS) une fois le client enregistré.")
        return f"{vat_regime_label(client.suggested_vat_regime)} ({client.departement or '—'})"

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
        count = client.portal_events.count()
        events = ngettext("%(count)s événement", "%(count)s événements", count) % {"count": count}
        return format_html('<a href="{}">Journal de l\'espace client ({})</a>{}', url, events, revoked)

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
            messages.success(
                request,
                ngettext(
                    "Lien d'accès envoyé à %(count)s client (boîte d'envoi).",
                    "Lien d'accès envoyé à %(count)s clients (boîte d'envoi).",
                    sent,
                )
                % {"count": sent},
            )
        if refused:
            messages.error(request, "Non envoyé — " + " ; ".join(refused))

    @admin.action(description=_("Révoquer les liens d'accès à l'espace client"), permissions=["change"])
    def revoke_portal_links(self, request: HttpRequest, queryset: Any) -> None:
        for client_id in queryset.values_list("pk", flat=True):
            portal_services.access_links_revoke(client_id=client_id, acting_user=request.user)
        count = queryset.count()
        messages.success(
            request,
            ngettext(
                "Liens révoqués pour %(count)s client : les liens déjà envoyés ne fonctionnent plus.",
                "Liens révoqués pour %(count)s clients : les liens déjà envoyés ne fonctionnent plus.",
                count,
            )
            % {"count": count},
        )

    class Media:
        css = {"all": ["orders/admin.css"]}  # the order state badges of the client's orders
        js = ["clients/client_kind.js"]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The client's page, with its orders (number, state, amount, next deadline) listed outside the form."""
        extra_context = {**(extra_context or {}), **client_orders_context(request, object_id)}
        return super().change_view(request, object_id, form_url, extra_context)

    def has_import_permission(self, request: HttpRequest) -> bool:
        """An import creates and updates clients (their e-mail among others): both permissions (sales, admin)."""
        return super().has_import_permission(request) and request.user.has_perm("clients.change_client")

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

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        problem = size_violation(upload.size)
        if problem:
            raise ValidationError(problem)
        return upload


def reference_rows(path: Any, filename: str) -> Iterator[services.ReferenceRow | RuleViolation]:
    """The rows of a stored Base de référence file, streamed (CSV or XLSX); ``UnreadableFile`` if unreadable."""
    with open(path, "rb") as binary:
        headers, records = open_table(binary, filename)
        yield from services.reference_rows_read(headers, records)


class ReferencePreview:
    """Watches the rows on their way to the import: counts, tranches and the first rows, whatever the file's size."""

    def __init__(self, rows: Iterable[services.ReferenceRow | RuleViolation]) -> None:
        self.rows = rows
        self.count = 0
        self.tranche_counts: Counter[str] = Counter()
        self.first_rows: list[services.ReferenceRow] = []

    def __iter__(self) -> Iterator[services.ReferenceRow | RuleViolation]:
        for row in self.rows:
            if isinstance(row, services.ReferenceRow):
                self.count += 1
                self.tranche_counts[row.tranche] += 1
                if len(self.first_rows) < PREVIEW_ROWS:
                    self.first_rows.append(row)
            yield row


def can_import_reference(user: Any) -> bool:
    return user.has_perm("clients.add_referencebase") and user.has_perm("clients.add_referenceentry")


@admin.register(ReferenceBase)
class ReferenceBaseAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """A version is added only by the import below, all or nothing; it records what the ANS published: never edited.

    The uploaded file waits for its confirmation on the server (``segur_portal.pending_imports``), not in the
    session, and is read as a stream at the preview and again at the confirmation.
    """

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

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_import_reference": can_import_reference(request.user)}
        return super().changelist_view(request, extra_context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not can_import_reference(request.user):
            raise PermissionDenied
        context: dict[str, Any] = {**self.admin_site.each_context(request), "opts": self.model._meta}
        if request.method == "POST" and "confirm" in request.POST:
            return self._confirm(request)
        form = ReferenceUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            published_on = form.cleaned_data["published_on"]
            pending = pending_imports.pending_import_save(
                upload=upload,
                user_id=request.user.pk,
                details={
                    "version": form.cleaned_data["version"],
                    "published_on": published_on.isoformat() if published_on else "",
                    "filename": upload.name[-255:],
                },
            )
            try:
                return self._preview(request, pending, context)
            except UnreadableFile as error:
                pending_imports.pending_import_discard(pending.token)
                form.add_error("file", str(error))
            except Exception:  # zip, XML or decoder errors from a malformed file: the person needs one answer
                logger.info("Unreadable Base de référence file", exc_info=True)
                pending_imports.pending_import_discard(pending.token)
                form.add_error("file", UNREADABLE)
        context.update({"title": _("Importer la Base de référence ANS"), "form": form})
        return TemplateResponse(request, "admin/clients/referencebase/import.html", context)

    def _preview(
        self, request: HttpRequest, pending: pending_imports.PendingImport, context: dict[str, Any]
    ) -> HttpResponse:
        """Run the real import and roll it back: the preview shows exactly what the confirmation will refuse."""
        preview = ReferencePreview(reference_rows(pending.path, pending.details["filename"]))
        errors: list[RuleViolation] = []
        try:
            with transaction.atomic():
                services.reference_base_import(version=pending.details["version"], rows=preview)
                transaction.set_rollback(True)
        except BusinessRuleError as error:
            errors = error.violations
            pending_imports.pending_import_discard(pending.token)
        context.update(
            {
                "title": _("Aperçu de l'import"),
                "errors": errors,
                "preview": preview.first_rows,
                "count": preview.count,
                "tranche_counts": sorted(preview.tranche_counts.items()),
                "version": pending.details["version"],
                "token": "" if errors else pending.token,
            }
        )
        return TemplateResponse(request, "admin/clients/referencebase/import_preview.html", context)

    def _confirm(self, request: HttpRequest) -> HttpResponse:
        token = request.POST.get("token", "")
        pending = pending_imports.pending_import_get(token=token, user_id=request.user.pk)
        if pending is None:
            messages.error(request, _("Aperçu expiré : chargez le fichier à nouveau."))
            return HttpResponseRedirect(reverse("admin:clients_referencebase_import"))
        details = pending.details
        preview = ReferencePreview(reference_rows(pending.path, details["filename"]))
        try:
            base = services.reference_base_import(
                version=details["version"],
                rows=preview,
                published_on=date.fromisoformat(details["published_on"]) if details["published_on"] else None,
                source_filename=details["filename"],
            )
        except (BusinessRuleError, UnreadableFile) as error:
            message = error.message if isinstance(error, BusinessRuleError) else str(error)
            messages.error(request, f"Import refusé, rien n'a été importé : {message}")
            return HttpResponseRedirect(reverse("admin:clients_referencebase_import"))
        finally:
            pending_imports.pending_import_discard(pending.token)
        messages.success(
            request,
            ngettext(
                "Base de référence %(version)s importée : %(count)d ligne ; tranches des structures mises à jour.",
                "Base de référence %(version)s importée : %(count)d lignes ; tranches des structures mises à jour.",
                preview.count,
            )
            % {"version": base.version, "count": preview.count},
        )
        return HttpResponseRedirect(reverse("admin:clients_referencebase_change", args=[base.pk]))


@admin.register(ClientChange)
class ClientChangeAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """The clients' change log (who changed an e-mail, when, old → new): read by staff, written only by services."""

    list_display = ("created_at", "client", "field", "old_value", "new_value", "actor")
    list_filter = ("field",)
    search_fields = ("client__name", "old_value", "new_value")
    list_select_related = ("client", "actor")
    date_hierarchy = "created_at"
