"""The order page and the views behind its buttons: actions, checklist, amounts, documents, invoices, ASP packages."""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders import asp_packages, documents, invoices, rules, selectors, services
from orders.admin.common import add_violations_to_form, euros, state_badge, zip_response
from orders.exceptions import BusinessRuleError
from orders.models import Document, DocumentKind, Invoice, Order, OrderState


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


class OrderPageMixin:
    """The order page and its action views; every change goes through the services."""

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        order = self.get_object(request, object_id)
        if order is None:  # unknown or malformed id: Django's own "does not exist" answer
            return super().change_view(request, object_id, form_url, extra_context)
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
