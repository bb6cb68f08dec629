"""Staff admin (French) for programmes, provider, solutions and orders.

A thin adapter: every change goes through ``orders.services`` (``perform`` for transitions, ``order_create``,
``order_update_terms``, ``order_update_checklist``); rules and deadlines come from ``orders.rules``.
"""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin

from clients.admin import AllOrNothingImportAdminMixin
from orders import asp_packages, documents, invoices, rules, selectors, services
from orders.exceptions import BusinessRuleError
from orders.models import (
    Document,
    DocumentBatch,
    DocumentKind,
    Invoice,
    Order,
    OrderEvent,
    OrderState,
    PriceCeiling,
    Programme,
    Provider,
    Solution,
    SolutionVersion,
)
from orders.resources import OrderExportResource, OrderImportResource
from segur_portal.records import ViewOnlyAdminMixin

STATE_COLOURS = {
    "draft": "#6b7280",
    "pre_order": "#a16207",
    "firm": "#1d4ed8",
    "lapsed": "#7f1d1d",
    "advance_requested": "#0e7490",
    "advance_paid": "#0f766e",
    "installed": "#4d7c0f",
    "pilot_pv_signed": "#65a30d",
    "va_signed": "#15803d",
    "balance_requested": "#7c3aed",
    "balance_paid": "#6d28d9",
    "secondary_requested": "#c026d3",
    "secondary_paid": "#a21caf",
    "closed": "#374151",
    "reimbursement_due": "#b91c1c",
    "reimbursed": "#991b1b",
    "terminated": "#9a3412",
    "cancelled": "#4b5563",
}
BULK_DETAIL_LIMIT = 20
NARROW_NO_BREAK_SPACE = "\u202f"
NO_BREAK_SPACE = "\u00a0"


def euros(amount: Decimal | None) -> str:
    """French money format: 3 160,50 €."""
    if amount is None:
        return "—"
    whole, cents = f"{amount:,.2f}".split(".")
    return whole.replace(",", NARROW_NO_BREAK_SPACE) + "," + cents + NO_BREAK_SPACE + "€"


def state_badge(state: str) -> str:
    return format_html(
        '<span class="order-state" style="background:{}">{}</span>',
        STATE_COLOURS.get(state, "#333"),
        OrderState(state).label,
    )


# --- Programme, provider, solution ------------------------------------------------------------------------------------


class PriceCeilingInline(admin.TabularInline):
    model = PriceCeiling
    extra = 0
    fields = ("prestation", "category", "vat_regime", "amount")
    ordering = ("prestation", "category", "vat_regime")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "couloir", "date_4", "date_5", "date_6")
    inlines = [PriceCeilingInline]
    fieldsets = (
        (None, {"fields": ("code", "name", "couloir")}),
        (
            _("Calendrier (12:00, heure de Paris)"),
            {"fields": ("date_0", "date_1", "date_2", "date_3", "date_4", "date_5", "date_6")},
        ),
        (
            _("Paramètres"),
            {
                "fields": (
                    "advance_rate",
                    "pilot_size",
                    "pre_order_window_days",
                    "advance_exception_days",
                    "secondary_observation_months",
                    "secondary_request_months",
                    "secondary_window_months",
                    "termination_notice_months",
                    "portability_days",
                    "satisfaction_report_months",
                    "ans_check_months",
                )
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "siren", "asp_enrolment_validated_on", "preserie_validated_on")


class SolutionVersionFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        pending = [
            rules.VersionFacts(
                form.cleaned_data["label"],
                form.cleaned_data["released_on"],
                form.cleaned_data.get("end_announced_on"),
                form.cleaned_data.get("is_wave1_referenced", False),
                form.cleaned_data.get("declared_obsolete", False),
            )
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            services.solution_versions_check(solution=self.instance, pending=pending)
        except BusinessRuleError as error:
            raise forms.ValidationError([violation.message for violation in error.violations]) from error


class SolutionVersionInline(admin.TabularInline):
    model = SolutionVersion
    formset = SolutionVersionFormSet
    extra = 0
    fields = ("label", "released_on", "end_announced_on", "is_wave1_referenced", "declared_obsolete")


@admin.register(Solution)
class SolutionAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "programme", "ans_reference_number", "referenced_at", "pilot_validated_at")
    list_filter = ("programme",)
    inlines = [SolutionVersionInline]


# --- Orders ----------------------------------------------------------------------------------------------------


class NextDeadlineWindowFilter(admin.SimpleListFilter):
    title = _("prochaine échéance")
    parameter_name = "echeance"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _days) in selectors.DEADLINE_WINDOWS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() not in selectors.DEADLINE_WINDOWS:
            return queryset
        ids = selectors.order_ids_with_next_deadline_in_window(queryset, self.value(), timezone.now())
        return queryset.filter(pk__in=ids)


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "actor_label", "action", "from_state", "to_state", "accepted", "message")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")
    verbose_name_plural = _("Journal (immuable)")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderCreateForm(forms.Form):
    programme = forms.ModelChoiceField(Programme.objects.all(), label=_("Programme"))
    client = forms.ModelChoiceField(Order._meta.get_field("client").related_model.objects.all(), label=_("Client"))
    solution = forms.ModelChoiceField(Solution.objects.select_related("programme"), label=_("Solution"))
    prestation = forms.ChoiceField(
        choices=Order._meta.get_field("prestation").choices, label=_("Prestation principale")
    )
    vat_regime = forms.ChoiceField(
        choices=[("", _("Régime du fournisseur"))] + list(Order._meta.get_field("vat_regime").choices),
        required=False,
        label=_("Régime de TVA"),
    )
    principal_amount = forms.DecimalField(
        max_digits=10,
        decimal_places=2,
        required=False,
        label=_("Montant principal (€)"),
        help_text=_("Vide : le plafond."),
    )
    secondary_amount = forms.DecimalField(
        max_digits=10,
        decimal_places=2,
        required=False,
        label=_("Montant secondaire (€)"),
        help_text=_("Vide : le plafond."),
    )
    issued_at = forms.SplitDateTimeField(label=_("Émis le"), widget=AdminSplitDateTime, initial=timezone.now)
    salesperson = forms.ModelChoiceField(
        Order._meta.get_field("salesperson").related_model.objects.filter(is_staff=True),
        required=False,
        label=_("Commercial"),
    )
    is_pilot = forms.BooleanField(required=False, label=_("Périmètre pilote"))


class TermsForm(forms.Form):
    prestation = forms.ChoiceField(
        choices=Order._meta.get_field("prestation").choices, label=_("Prestation principale")
    )
    vat_regime = forms.ChoiceField(choices=Order._meta.get_field("vat_regime").choices, label=_("Régime de TVA"))
    principal_amount = forms.DecimalField(max_digits=10, decimal_places=2, label=_("Montant principal (€)"))
    secondary_amount = forms.DecimalField(max_digits=10, decimal_places=2, label=_("Montant secondaire (€)"))


def action_form_class(action: services.OrderAction) -> type[forms.Form]:
    """A form with one field per value the action needs (dates in Paris time, choices, texts)."""
    fields: dict[str, forms.Field] = {}
    for spec in action.params:
        if spec.kind == "datetime":
            fields[spec.name] = forms.SplitDateTimeField(
                label=spec.label, required=spec.required, widget=AdminSplitDateTime, initial=timezone.now
            )
        elif spec.kind == "file":
            fields[spec.name] = forms.FileField(label=spec.label, required=spec.required)
        elif spec.kind == "choice":
            fields[spec.name] = forms.ChoiceField(label=spec.label, required=spec.required, choices=spec.choices)
        else:
            long_text = spec.name in {"reason", "asp_message"}
            fields[spec.name] = forms.CharField(
                label=spec.label,
                required=spec.required,
                widget=forms.Textarea(attrs={"rows": 3, "cols": 60}) if long_text else forms.TextInput,
            )
    return type(f"{action.name.title()}Form", (forms.Form,), fields)


def zip_response(archive: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def add_violations_to_form(form: forms.Form, error: BusinessRuleError) -> None:
    for violation in error.violations:
        form.add_error(violation.field if violation.field in form.fields else None, violation.message)


@admin.register(Order)
class OrderAdmin(AllOrNothingImportAdminMixin, ImportExportMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "client_name",
        "client_kind",
        "client_tranche",
        "state_display",
        "principal_display",
        "secondary_display",
        "salesperson",
        "next_deadline_display",
    )
    list_filter = (
        "state",
        "programme",
        "client__kind",
        "client__tranche",
        "salesperson",
        NextDeadlineWindowFilter,
        "is_pilot",
    )
    search_fields = ("number", "client__name", "client__rpps", "client__finess")
    list_per_page = 50
    ordering = ("-created_at",)
    inlines = [OrderEventInline]
    change_form_template = "admin/orders/order/change_form.html"

    class Media:
        css = {"all": ["orders/admin.css"]}

    actions = [
        "bulk_file_advance",
        "bulk_record_advance_paid",
        "bulk_generate_order_forms",
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
        return selectors.order_list_queryset()

    def get_import_resource_classes(self, request: HttpRequest) -> list[type]:
        return [OrderImportResource]

    def get_export_resource_classes(self, request: HttpRequest) -> list[type]:
        return [OrderExportResource]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Orders change only through the services (transitions, terms, checklist): every field is read-only here.
        return [field.name for field in Order._meta.concrete_fields]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing is ever deleted (SPEC §7); cancel with a reason instead

    # --- list columns ---

    @admin.display(description=_("client"), ordering="client__name")
    def client_name(self, order: Order) -> str:
        return order.client.name

    @admin.display(description=_("type"), ordering="client__kind")
    def client_kind(self, order: Order) -> str:
        return order.client.get_kind_display()

    @admin.display(description=_("tranche"), ordering="client__tranche")
    def client_tranche(self, order: Order) -> str:
        return order.client.tranche or "—"

    @admin.display(description=_("état"), ordering="state")
    def state_display(self, order: Order) -> str:
        return state_badge(order.state)

    @admin.display(description=_("principal"), ordering="principal_amount")
    def principal_display(self, order: Order) -> str:
        return euros(order.principal_amount)

    @admin.display(description=_("secondaire"), ordering="secondary_amount")
    def secondary_display(self, order: Order) -> str:
        return euros(order.secondary_amount)

    @admin.display(description=_("prochaine échéance"))
    def next_deadline_display(self, order: Order) -> str:
        deadline = rules.next_deadline(order, timezone.now())
        if deadline is None:
            return "—"
        return format_html(
            '<span class="deadline deadline-{}" title="{}">{} · {}</span>',
            deadline.status,
            deadline.action,
            rules.format_deadline(deadline.due_at)[:10],
            deadline.actor_label,
        )

    # --- creation through the service ---

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = OrderCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                order = services.order_create(
                    programme=data["programme"],
                    client=data["client"],
                    solution=data["solution"],
                    prestation=data["prestation"],
                    vat_regime=data["vat_regime"] or None,
                    principal_amount=data["principal_amount"],
                    secondary_amount=data["secondary_amount"],
                    issued_at=data["issued_at"],
                    salesperson=data["salesperson"],
                    is_pilot=data["is_pilot"],
                    acting_user=request.user,
                )
            except BusinessRuleError as error:
                add_violations_to_form(form, error)
            else:
                messages.success(request, f"Commande {order.number} créée (brouillon).")
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Nouveau bon de commande"),
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/orders/order/create.html", context)

    # --- order page ---

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        order = get_object_or_404(selectors.order_list_queryset(), pk=object_id)
        now = timezone.now()
        table = services.ceiling_table(order.programme)
        category = order.client.ceiling_category
        advance_amount, balance_amount = rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)
        checklist = [
            {"code": code, "label": label, "done_on": order.deployment_checklist.get(code)}
            for code, label in rules.checklist_items_for(order.client)
        ]
        extra = {
            "order": order,
            "state_badge": state_badge(order.state),
            "availabilities": services.available_actions(order, request.user, now),
            "deadlines": rules.order_deadlines(order, now),
            "principal": euros(order.principal_amount),
            "principal_ceiling": euros(table.get((order.prestation, category, order.vat_regime))),
            "secondary": euros(order.secondary_amount),
            "secondary_ceiling": euros(table.get(("secondary", category, order.vat_regime))),
            "advance_split": euros(order.advance_amount or advance_amount),
            "balance_split": euros(order.balance_amount or balance_amount),
            "checklist": checklist,
            "can_edit_checklist": request.user.has_perm("orders.record_installation")
            and order.state in services.CHECKLIST_EDITABLE_STATES,
            "can_edit_terms": order.state == "draft" and request.user.has_perm("orders.change_order_terms"),
            "documents": order.documents.order_by("kind", "-version"),
            "invoices": order.invoices.select_related("credited_invoice").order_by("issued_at", "pk"),
            "can_invoice": request.user.has_perm("orders.file_balance"),
            "can_generate": request.user.has_perm("orders.change_order"),
            "document_kinds": [(kind, DocumentKind(kind).label) for kind in documents.TEMPLATES],
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("<int:order_id>/action/<str:action_name>/", view(self.action_view), name="orders_order_action"),
            path("<int:order_id>/checklist/", view(self.checklist_view), name="orders_order_checklist"),
            path("<int:order_id>/terms/", view(self.terms_view), name="orders_order_terms"),
            path("<int:order_id>/documents/generer/", view(self.generate_document_view), name="orders_order_generate"),
            path("documents/<int:document_id>/", view(self.download_view), name="orders_document_download"),
            path("<int:order_id>/factures/<str:kind>/", view(self.issue_invoice_view), name="orders_order_invoice"),
            path("factures/<int:invoice_id>/avoir/", view(self.credit_invoice_view), name="orders_invoice_credit"),
            path(
                "<int:order_id>/dossier-asp/<str:request_kind>/", view(self.asp_package_view), name="orders_asp_package"
            ),
            *super().get_urls(),
        ]

    def _order_or_403(self, request: HttpRequest, order_id: int) -> Order:
        order = get_object_or_404(selectors.order_list_queryset(), pk=order_id)
        if not self.has_view_permission(request, order):
            raise PermissionDenied
        return order

    def _page(self, request: HttpRequest, order: Order, template: str, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": order,
                "order": order,
                "state_badge": state_badge(order.state),
                **context,
            },
        )

    def action_view(self, request: HttpRequest, order_id: int, action_name: str) -> HttpResponse:
        order = self._order_or_403(request, order_id)
        action = services.ACTIONS.get(action_name)
        if action is None:
            raise PermissionDenied
        form = action_form_class(action)(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            params = {name: value for name, value in form.cleaned_data.items() if value not in (None, "")}
            try:
                order = services.perform(action_name, order_id=order.pk, acting_user=request.user, params=params)
            except BusinessRuleError as error:
                add_violations_to_form(form, error)
                messages.error(request, f"Refusé, rien n'a été modifié : {error.message}")
            else:
                messages.success(request, f"{action.label} : fait. État : {OrderState(order.state).label}.")
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return self._page(
            request,
            order,
            "admin/orders/order/action_form.html",
            title=f"{action.label} — {order.number}",
            action=action,
            form=form,
            media=self.media + form.media,
        )

    def checklist_view(self, request: HttpRequest, order_id: int) -> HttpResponse:
        order = self._order_or_403(request, order_id)
        if request.method != "POST" or not request.user.has_perm("orders.record_installation"):
            raise PermissionDenied
        done = {code: f"item_{code}" in request.POST for code, _label in rules.checklist_items_for(order.client)}
        try:
            services.order_update_checklist(order_id=order.pk, done=done, acting_user=request.user)
        except BusinessRuleError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Liste de déploiement enregistrée.")
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def generate_document_view(self, request: HttpRequest, order_id: int) -> HttpResponse:
        order = self._order_or_403(request, order_id)
        if request.method != "POST" or not self.has_change_permission(request, order):
            raise PermissionDenied
        kind = request.POST.get("kind", DocumentKind.ORDER_FORM)
        if kind not in documents.TEMPLATES:
            raise PermissionDenied
        try:
            document = documents.document_generate(order_id=order.pk, kind=kind, acting_user=request.user)
        except BusinessRuleError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{document.get_kind_display()} généré (version {document.version}).")
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def issue_invoice_view(self, request: HttpRequest, order_id: int, kind: str) -> HttpResponse:
        order = self._order_or_403(request, order_id)
        if request.method != "POST" or kind not in {"principal", "secondary"}:
            raise PermissionDenied
        if not request.user.has_perm("orders.file_balance"):
            messages.error(request, "Votre rôle ne permet pas d'émettre une facture.")
        else:
            try:
                invoice = invoices.invoice_issue(order_id=order.pk, kind=kind, acting_user=request.user)
            except BusinessRuleError as error:
                messages.error(request, f"Refusé, rien n'a été émis : {error.message}")
            else:
                messages.success(request, f"Facture {invoice.number} émise ({euros(invoice.total_ttc)} TTC).")
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def credit_invoice_view(self, request: HttpRequest, invoice_id: int) -> HttpResponse:
        invoice = get_object_or_404(Invoice, pk=invoice_id)
        self._order_or_403(request, invoice.order_id)
        if request.method != "POST" or not request.user.has_perm("orders.file_balance"):
            raise PermissionDenied
        try:
            credit = invoices.invoice_credit(
                invoice_id=invoice.pk, reason=request.POST.get("reason", ""), acting_user=request.user
            )
        except BusinessRuleError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Avoir {credit.number} émis : la facture {invoice.number} est annulée.")
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[invoice.order_id]))

    def asp_package_view(self, request: HttpRequest, order_id: int, request_kind: str) -> HttpResponse:
        order = self._order_or_403(request, order_id)
        if request_kind not in asp_packages.REQUESTS:
            raise PermissionDenied
        archive, refused = asp_packages.package_zip([order], request_kind)
        if refused:
            messages.error(request, refused[0])
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return zip_response(archive, f"{order.number}-asp-{request_kind}.zip")

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

    def download_view(self, request: HttpRequest, document_id: int) -> HttpResponse:
        """Documents are served only to staff who may view the order (never a public media URL)."""
        document = get_object_or_404(Document.objects.select_related("order"), pk=document_id)
        self._order_or_403(request, document.order_id)
        return FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=f"{document.order.number}-{document.kind}-v{document.version}.pdf",
            content_type="application/pdf",
        )

    def terms_view(self, request: HttpRequest, order_id: int) -> HttpResponse:
        order = self._order_or_403(request, order_id)
        if not request.user.has_perm("orders.change_order_terms"):
            raise PermissionDenied
        initial = {
            "prestation": order.prestation,
            "vat_regime": order.vat_regime,
            "principal_amount": order.principal_amount,
            "secondary_amount": order.secondary_amount,
        }
        form = TermsForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.order_update_terms(order_id=order.pk, acting_user=request.user, **form.cleaned_data)
            except BusinessRuleError as error:
                add_violations_to_form(form, error)
            else:
                messages.success(request, "Montants du bon de commande enregistrés.")
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return self._page(
            request, order, "admin/orders/order/action_form.html", title=f"Montants — {order.number}", form=form
        )

    # --- bulk actions: each order on its own, one report ---

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
