"""The order page and the views behind its buttons: actions, checklist, amounts, documents, invoices, ASP packages."""

from datetime import date
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

from monitoring.charts import order_panel
from orders import asp_packages, documents, event_labels, invoices, rules, selectors, services
from orders.admin.common import add_violations_to_form, client_kind_label, euros, state_badge, zip_response
from orders.exceptions import BusinessRuleError
from orders.models import Document, DocumentKind, Invoice, Order, OrderState
from orders.roles import GROUP_PERMISSIONS
from portal.signing import signature_request_send
from portal.staff import SEND_PERMISSION, signature_panel


def checklist_day(value: Any) -> date | bool | None:
    """A ticked item's day (stored as an ISO date) as a date, for the template to write it the French way."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return bool(value)


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
            widget = AdminSplitDateTime()  # two inputs under one <label>: each is named for screen readers
            widget.widgets[0].attrs["aria-label"] = _("%(label)s : date (jj/mm/aaaa)") % {"label": spec.label}
            widget.widgets[1].attrs["aria-label"] = _("%(label)s : heure de Paris (HH:MM)") % {"label": spec.label}
            fields[spec.name] = forms.SplitDateTimeField(
                label=spec.label, required=spec.required, widget=widget, initial=timezone.now
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


# Actions that end or undo an order: offered, never put forward as "the next step".
EXCEPTIONAL_ACTIONS = {
    "lapse",
    "return_advance",
    "return_balance",
    "declare_not_completed",
    "record_referencing_withdrawal",
    "record_termination",
    "cancel",
    "request_portability",
    "deliver_portability",
    "notify_date_2",
}
# The ASP package of a request is offered where the request is filed or can be (AF §6.2, §6.4, §6.5).
ASP_PACKAGE_STATES = {
    "advance": {"pre_order", "firm", "advance_requested"},
    "balance": {"va_signed", "balance_requested"},
    "secondary": {"balance_paid", "secondary_requested"},
}
ASP_PACKAGE_LABELS = {
    "advance": _("avance"),
    "balance": _("solde"),
    "secondary": _("Prestation secondaire"),
}
EVENT_LOG_LIMIT = 50


def action_permission(order: Order, action: services.OrderAction) -> str:
    """The permission an action needs from the order's state (its transition's, or the stateless action's)."""
    if not action.transition:
        return services.STATELESS_ACTION_PERMISSIONS[action.name]
    method = getattr(Order, action.transition_name(order, {}, timezone.now()))
    transition = method._django_fsm.get_transition(order.state)
    return str(transition.permission or "") if transition else ""


def roles_with(permission: str) -> list[str]:
    return [group for group, permissions in GROUP_PERMISSIONS.items() if permission in permissions]


def _permission_only(availability: services.ActionAvailability) -> bool:
    return bool(availability.violations) and all(v.code == "PERMISSION_DENIED" for v in availability.violations)


def action_panel(order: Order, availabilities: list[services.ActionAvailability]) -> dict[str, Any]:
    """The order's actions for this person: the next step (primary), the other allowed actions, the actions blocked
    by a rule (with reasons) and, in one line per role, those reserved to another role."""
    allowed = [a for a in availabilities if a.allowed]
    primary = next((a for a in allowed if a.action.name not in EXCEPTIONAL_ACTIONS), None)
    reserved: dict[str, list[str]] = {}
    for availability in availabilities:
        if _permission_only(availability):
            for role in roles_with(action_permission(order, availability.action)) or [str(_("Administrateur"))]:
                reserved.setdefault(role, []).append(availability.action.label)
    next_step = None
    if primary is None:
        upcoming = next((a for a in availabilities if a.action.name not in EXCEPTIONAL_ACTIONS), None)
        if upcoming is not None:
            next_step = {
                "label": upcoming.action.label,
                "mine": not _permission_only(upcoming),
                "roles": roles_with(action_permission(order, upcoming.action)),
                "reasons": [] if _permission_only(upcoming) else [v.message for v in upcoming.violations],
            }
    return {
        "primary": primary,
        "secondary": [a for a in allowed if a is not primary],
        "blocked": [
            a
            for a in availabilities
            if not a.allowed and not _permission_only(a) and not (next_step and a.action.label == next_step["label"])
        ],
        "reserved": sorted(reserved.items()),
        "next_step": next_step,
    }


def readable_events(order: Order, limit: int = EVENT_LOG_LIMIT) -> list[dict[str, Any]]:
    """The latest events of the order in French: what, who, when, from → to, outcome, details, evidence link."""
    events = order.events.order_by("-created_at", "-pk")[:limit]
    rows = []
    for event in events:
        evidence = (event.payload or {}).get("signed_document")
        document_id = evidence.get("document_id") if isinstance(evidence, dict) else None
        rows.append(
            {
                "label": event_labels.event_label(event.action, event.accepted),
                "actor": event.actor_label if event.actor_label != "system" else _("Système"),
                "at": timezone.localtime(event.created_at),
                "from_state": event_labels.state_label(event.from_state) if event.from_state else "",
                "to_state": event_labels.state_label(event.to_state) if event.to_state else "",
                "changed": bool(event.from_state) and event.from_state != event.to_state,
                "accepted": event.accepted,
                "message": event.message,
                "details": event_labels.payload_details(event.action, event.payload or {}),
                "evidence_url": reverse("admin:orders_document_download", args=[document_id]) if document_id else "",
            }
        )
    return rows


def filled_fieldsets(fieldsets: Any, order: Order) -> list[tuple[Any, dict[str, Any]]]:
    """The read-only fieldsets without the dates and references not recorded yet (no walls of "-")."""
    result = []
    for name, options in fieldsets:
        fields = [f for f in options["fields"] if getattr(order, f, None) not in (None, "")]
        if fields:
            result.append((name, {**options, "fields": fields}))
    return result


class OrderPageMixin:
    """The order page and its action views; every change goes through the services."""

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        return filled_fieldsets(fieldsets, obj) if obj is not None else fieldsets

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
            {"code": code, "label": label, "done_on": checklist_day(order.deployment_checklist.get(code))}
            for code, label in rules.checklist_items_for(order.client)
        ]
        event_count = order.events.count()
        extra = {
            "order": order,
            "title": f"{order.number} — {order.client.name}",
            "client_kind": client_kind_label(order.client),
            "state_badge": state_badge(order.state),
            "actions": action_panel(order, services.available_actions(order, request.user, now)),
            "asp_return": selectors.open_asp_return(order),
            "deadlines": rules.order_deadlines(order, now),
            "principal": euros(order.principal_amount),
            "principal_ceiling": euros(table.get((order.prestation, category, order.vat_regime))),
            "secondary": euros(order.secondary_amount),
            "secondary_ceiling": euros(table.get(("secondary", category, order.vat_regime))),
            "advance_split": euros(order.advance_amount or advance_amount),
            "balance_split": euros(order.balance_amount or balance_amount),
            "checklist": checklist,
            "today": rules.paris_date(timezone.now()),
            "can_edit_checklist": request.user.has_perm("orders.record_installation")
            and order.state in services.CHECKLIST_EDITABLE_STATES,
            "can_edit_terms": order.state == "draft" and request.user.has_perm("orders.change_order_terms"),
            "documents": order.documents.order_by("kind", "-version"),
            "invoices": order.invoices.select_related("credited_invoice").order_by("issued_at", "pk"),
            "can_invoice": request.user.has_perm("orders.file_balance"),
            "can_generate": request.user.has_perm("orders.change_order"),
            "document_kinds": [
                (kind, DocumentKind(kind).label)
                for kind in documents.TEMPLATES
                if not documents.applicability_violations(order, kind)
            ],
            "asp_packages": [
                (request_kind, label)
                for request_kind, label in ASP_PACKAGE_LABELS.items()
                if order.state in ASP_PACKAGE_STATES[request_kind]
            ],
            "secondary_monitoring": order_panel(order),  # monitoring/charts.py (AF §4.5)
            "events": readable_events(order),
            "signature": signature_panel(order, request.user),
            "event_count": event_count,
            "event_journal_url": reverse("admin:orders_orderevent_changelist") + f"?order__id__exact={order.pk}",
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
            path(
                "<int:order_id>/envoyer-pour-signature/",
                view(self.send_for_signature_view),
                name="orders_order_send_for_signature",
            ),
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
                "client_kind": client_kind_label(order.client),
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
                messages.error(request, _("Refusé, rien n'a été modifié : %(reason)s") % {"reason": error.message})
            else:
                messages.success(
                    request,
                    _("%(action)s : fait. État : %(state)s.")
                    % {"action": action.label, "state": OrderState(order.state).label},
                )
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
        done: dict[str, bool | date] = {}
        for code, label in rules.checklist_items_for(order.client):
            typed = request.POST.get(f"day_{code}", "").strip()
            try:  # the day the work was done, typed by staff (today by default), issue 11
                done[code] = (date.fromisoformat(typed) if typed else True) if f"item_{code}" in request.POST else False
            except ValueError:
                messages.error(request, _("« %(label)s » : date de réalisation illisible.") % {"label": label})
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        try:
            services.order_update_checklist(order_id=order.pk, done=done, acting_user=request.user)
        except BusinessRuleError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Liste de déploiement enregistrée."))
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
            messages.success(
                request,
                _("%(kind)s généré (version %(version)s).")
                % {"kind": document.get_kind_display(), "version": document.version},
            )
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def send_for_signature_view(self, request: HttpRequest, order_id: int) -> HttpResponse:
        """Send the document to sign to the client (generated if needed); reminders follow (issue #12)."""
        order = self._order_or_403(request, order_id)
        if request.method != "POST" or not request.user.has_perm(SEND_PERMISSION):
            raise PermissionDenied
        try:
            invitation = signature_request_send(order_id=order.pk, acting_user=request.user)
        except BusinessRuleError as error:
            messages.error(request, _("Refusé, rien n'a été envoyé : %(reason)s") % {"reason": error.message})
        else:
            messages.success(
                request,
                _("%(kind)s envoyé pour signature à %(email)s.")
                % {"kind": invitation.document.get_kind_display(), "email": invitation.email},
            )
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def issue_invoice_view(self, request: HttpRequest, order_id: int, kind: str) -> HttpResponse:
        order = self._order_or_403(request, order_id)
        if request.method != "POST" or kind not in {"principal", "secondary"}:
            raise PermissionDenied
        if not request.user.has_perm("orders.file_balance"):
            messages.error(request, _("Votre rôle ne permet pas d'émettre une facture."))
        else:
            try:
                invoice = invoices.invoice_issue(order_id=order.pk, kind=kind, acting_user=request.user)
            except BusinessRuleError as error:
                messages.error(request, _("Refusé, rien n'a été émis : %(reason)s") % {"reason": error.message})
            else:
                messages.success(
                    request,
                    _("Facture %(number)s émise (%(amount)s TTC).")
                    % {"number": invoice.number, "amount": euros(invoice.total_ttc)},
                )
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
            messages.success(
                request,
                _("Avoir %(credit)s émis : la facture %(number)s est annulée.")
                % {"credit": credit.number, "number": invoice.number},
            )
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[invoice.order_id]))

    def asp_package_view(self, request: HttpRequest, order_id: int, request_kind: str) -> HttpResponse:
        order = self._order_or_403(request, order_id)
        if request_kind not in asp_packages.REQUESTS:
            raise PermissionDenied
        if order.state not in ASP_PACKAGE_STATES[request_kind]:
            messages.error(
                request,
                _(
                    "Pas de dossier ASP « %(package)s » à l'état « %(state)s » : il se prépare quand la demande est "
                    "déposée ou peut l'être."
                )
                % {"package": ASP_PACKAGE_LABELS[request_kind], "state": OrderState(order.state).label},
            )
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        archive, refused = asp_packages.package_zip([order], request_kind)
        if refused:
            messages.error(request, refused[0])
            return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return zip_response(archive, asp_packages.order_package_filename(order, request_kind))

    def download_view(self, request: HttpRequest, document_id: int) -> HttpResponse:
        """Documents are served only to staff who may view the order (never a public media URL)."""
        document = get_object_or_404(Document.objects.select_related("order"), pk=document_id)
        self._order_or_403(request, document.order_id)
        return FileResponse(
            document.file.open("rb"),
            as_attachment=True,
            filename=documents.document_download_name(document),
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
                messages.success(request, _("Montants du bon de commande enregistrés."))
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        return self._page(
            request,
            order,
            "admin/orders/order/action_form.html",
            title=_("Montants — %(number)s") % {"number": order.number},
            form=form,
        )
