"""Actions on a selection of orders: a confirmation page, then each order on its own through the services, and a
bulk run record people can come back to (issue 10)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from orders import asp_packages, bulk, documents, rules, services
from orders.admin.common import euros, state_badge, zip_response
from orders.exceptions import RuleViolation
from orders.models import DocumentKind, Order


def paris_date_time(value: datetime) -> tuple[str, str]:
    """The French date and time of ``value`` in Paris: ("23/11/2026", "14:00")."""
    local = timezone.localtime(value)
    return f"{local:%d/%m/%Y}", f"{local:%H:%M}"


def paris_when(value: datetime) -> str:
    """« 23/11/2026 à 14:00 », Paris time."""
    day, time = paris_date_time(value)
    return _g("%(date)s à %(time)s") % {"date": day, "time": time}


def run_counts(total: int, done: int, refused: int, *, with_noun: bool = False) -> str:
    """« 38 traitées : 35 faites, 3 refusées » (« 38 commandes traitées : … » ``with_noun``), each number with its own
    French plural."""
    treated = (
        ngettext("%(count)s commande traitée", "%(count)s commandes traitées", total)
        if with_noun
        else ngettext("%(count)s traitée", "%(count)s traitées", total)
    )
    return _g("%(total)s : %(done)s, %(refused)s") % {
        "total": treated % {"count": total},
        "done": ngettext("%(count)s faite", "%(count)s faites", done) % {"count": done},
        "refused": ngettext("%(count)s refusée", "%(count)s refusées", refused) % {"count": refused},
    }


def _now_to_the_minute() -> datetime:
    return timezone.localtime().replace(second=0, microsecond=0)


def bulk_params_form_class(action: services.OrderAction) -> type[forms.Form]:
    """The values a bulk action records on every order: its date (Paris time, default now) and its texts."""
    fields: dict[str, forms.Field] = {}
    for spec in action.params:
        if spec.kind == "datetime":
            widget = AdminSplitDateTime()
            widget.widgets[0].attrs["aria-label"] = _g("%(label)s : date (jj/mm/aaaa)") % {"label": spec.label}
            widget.widgets[1].attrs["aria-label"] = _g("%(label)s : heure de Paris (HH:MM)") % {"label": spec.label}
            widget.widgets[1].format = "%H:%M"
            fields[spec.name] = forms.SplitDateTimeField(
                label=spec.label, required=True, widget=widget, initial=_now_to_the_minute
            )
        elif spec.kind == "text":
            max_length, _multiline = services.TEXT_PARAM_LIMITS.get(spec.name, (None, True))
            fields[spec.name] = forms.CharField(
                label=spec.label,
                required=spec.required,
                max_length=max_length,
                help_text=_("Facultatif : la même valeur est enregistrée sur chaque commande.")
                if not spec.required
                else "",
            )
    return type(f"Bulk{action.name.title()}Form", (forms.Form,), fields)


# What the confirmation says will be recorded, per action: (singular, plural) with %(count)s, %(date)s, %(time)s.
WILL_RECORD = {
    "file_advance": (
        "%(count)s demande d'avance sera enregistrée comme reçue par l'ASP le %(date)s à %(time)s.",
        "%(count)s demandes d'avance seront enregistrées comme reçues par l'ASP le %(date)s à %(time)s.",
    ),
    "record_advance_paid": (
        "%(count)s versement d'avance sera enregistré comme reçu le %(date)s à %(time)s.",
        "%(count)s versements d'avance seront enregistrés comme reçus le %(date)s à %(time)s.",
    ),
}


@dataclass(frozen=True)
class BulkLine:
    """One selected order on the confirmation page, with why the action cannot run on it now (empty: it can)."""

    order: Order
    state: str
    amount: str
    violations: list[RuleViolation]


class OrderBulkMixin:
    """Bulk actions of the order list."""

    # --- ASP packages and document batches: no record to keep ---------------------------------------------------

    def _bulk_package(self, request: HttpRequest, queryset: QuerySet[Order], request_kind: str) -> HttpResponse:
        orders = list(queryset.order_by("pk"))
        archive, refused = asp_packages.package_zip(orders, request_kind)
        if refused:
            message = ngettext(
                "%(count)s dossier incomplet n'est pas dans le ZIP : la raison est dans le fichier refus.txt de "
                "l'archive.",
                "%(count)s dossiers incomplets ne sont pas dans le ZIP : les raisons sont dans le fichier refus.txt "
                "de l'archive.",
                len(refused),
            ) % {"count": len(refused)}
            self.message_user(request, message, messages.WARNING)
        return zip_response(archive, asp_packages.package_filename(request_kind, len(orders) - len(refused)))

    @admin.action(description=_("Générer les bons de commande (lot en tâche de fond)"))
    def bulk_generate_order_forms(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        order_ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        batch = documents.batch_request(order_ids=order_ids, kind=DocumentKind.ORDER_FORM, acting_user=request.user)
        url = reverse("admin:orders_documentbatch_change", args=[batch.pk])
        text = ngettext(
            "Lot de %(count)s bon de commande lancé :",
            "Lot de %(count)s bons de commande lancé :",
            batch.total,
        ) % {"count": batch.total}
        self.message_user(request, format_html('{} <a href="{}">suivre l\'avancement</a>.', text, url))

    def has_send_for_signature_permission(self, request: HttpRequest) -> bool:
        from portal.staff import SEND_PERMISSION

        return request.user.has_perm(SEND_PERMISSION)

    @admin.action(
        description=_("Envoyer pour signature en ligne (PDF généré si besoin, e-mail au client)"),
        permissions=["send_for_signature"],
    )
    def bulk_send_for_signature(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        """Issue #12: each order's document to sign, generated if needed, is e-mailed to its client."""
        from portal.staff import signature_requests_send_bulk

        order_ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        result = signature_requests_send_bulk(order_ids=order_ids, acting_user=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)s document envoyé pour signature.", "%(count)s documents envoyés pour signature.", result.sent
            )
            % {"count": result.sent},
        )
        for number, reason in result.refused:
            text = _g("%(number)s non envoyé : %(reason)s") % {"number": number, "reason": reason}
            self.message_user(request, text, messages.WARNING)

    @admin.action(description=_("Exporter les dossiers ASP — demandes d'avance (ZIP)"))
    def bulk_package_advance(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._bulk_package(request, queryset, "advance")

    @admin.action(description=_("Exporter les dossiers ASP — demandes de solde (ZIP)"))
    def bulk_package_balance(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._bulk_package(request, queryset, "balance")

    # --- Transitions in bulk: confirmation page, run, result page -----------------------------------------------

    def has_file_advance_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.file_advance")

    def has_record_asp_decision_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.record_asp_decision")

    def _bulk(self, request: HttpRequest, queryset: QuerySet[Order], action_name: str) -> HttpResponse:
        """Show what will happen to each selected order and ask the value to record; run only once confirmed."""
        action = services.ACTIONS[action_name]
        form_class = bulk_params_form_class(action)
        confirmed = request.POST.get("confirm") == "yes"
        form = form_class(request.POST) if confirmed or "preview" in request.POST else form_class()
        if form.is_bound and form.is_valid():
            params = {name: value for name, value in form.cleaned_data.items() if value not in (None, "")}
        else:
            params = {name: field.initial() for name, field in form.fields.items() if callable(field.initial)}
        if confirmed and form.is_valid():
            order_ids = list(queryset.values_list("pk", flat=True))
            run = bulk.bulk_run_perform(
                action_name=action_name, order_ids=order_ids, params=params, acting_user=request.user
            )
            url = reverse("admin:orders_bulkrun_change", args=[run.pk])
            counts = run_counts(run.done_count + run.refused_count, run.done_count, run.refused_count)
            level = messages.SUCCESS if not run.refused_count else messages.WARNING
            self.message_user(
                request, format_html('{} — <a href="{}">{}</a>', counts, url, _g("voir le compte rendu")), level
            )
            return HttpResponseRedirect(url)
        return self._bulk_confirmation(request, queryset, action, form, params)

    def _bulk_confirmation(
        self,
        request: HttpRequest,
        queryset: QuerySet[Order],
        action: services.OrderAction,
        form: forms.Form,
        params: dict[str, Any],
    ) -> TemplateResponse:
        now = timezone.now()
        lines = []
        for order in queryset.select_related("programme", "solution__provider", "client").order_by("number"):
            preview = dict(params)
            violations = services.date_param_violations(order, action, preview) or services.action_violations(
                order, action, preview, request.user, now
            )
            advance_amount, _balance = rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)
            amount = euros(order.advance_amount or advance_amount)
            lines.append(BulkLine(order, state_badge(order.state), amount, violations))
        lines.sort(key=lambda line: (not line.violations, line.order.number))
        possible = sum(1 for line in lines if not line.violations)
        date_spec = next(spec for spec in action.params if spec.kind == "datetime")
        day, time = paris_date_time(params[date_spec.name])
        singular, plural = WILL_RECORD[action.name]
        will_record = ngettext(singular, plural, possible) % {"count": possible, "date": day, "time": time}
        refused = len(lines) - possible
        will_refuse = (
            ngettext(
                "%(count)s commande sera refusée, avec sa raison (voir ci-dessous).",
                "%(count)s commandes seront refusées, chacune avec sa raison (voir ci-dessous).",
                refused,
            )
            % {"count": refused}
            if refused
            else ""
        )
        return TemplateResponse(
            request,
            "admin/orders/bulk/confirm.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _g("À confirmer : %(action)s") % {"action": action.label},
                "action": action,
                "action_code": request.POST.get("action", ""),
                "lines": lines,
                "possible": possible,
                "will_record": will_record,
                "will_refuse": will_refuse,
                "form": form,
                "media": self.media + form.media,
                "selected_field": helpers.ACTION_CHECKBOX_NAME,
                "list_url": request.get_full_path(),
            },
        )

    @admin.action(
        description=_("Déposer les demandes d'avance (date de réception par l'ASP)"), permissions=["file_advance"]
    )
    def bulk_file_advance(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._bulk(request, queryset, "file_advance")

    @admin.action(
        description=_("Enregistrer le versement de l'avance (date du versement)"), permissions=["record_asp_decision"]
    )
    def bulk_record_advance_paid(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        return self._bulk(request, queryset, "record_advance_paid")
