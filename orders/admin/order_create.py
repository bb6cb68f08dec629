"""A new order form (draft) through ``services.order_create``."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime, AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from orders import services
from orders.admin.common import add_violations_to_form
from orders.exceptions import BusinessRuleError
from orders.models import Order, Programme, Solution
from orders.roles import SALES_GROUP


def _issued_at_widget() -> AdminSplitDateTime:
    """Two inputs under one <label>: each is named for screen readers."""
    widget = AdminSplitDateTime()
    widget.widgets[0].attrs["aria-label"] = _("Émis le : date (jj/mm/aaaa)")
    widget.widgets[1].attrs["aria-label"] = _("Émis le : heure de Paris (HH:MM)")
    return widget


class OrderCreateForm(forms.Form):
    programme = forms.ModelChoiceField(Programme.objects.all(), label=_("Programme"))
    client = forms.ModelChoiceField(
        Order._meta.get_field("client").related_model.objects.all(),
        label=_("Client"),
        help_text=_("Tapez une partie du nom, du RPPS ou du FINESS (accents et majuscules indifférents)."),
        widget=AutocompleteSelect(Order._meta.get_field("client"), admin.site, attrs={"style": "width: 32em"}),
    )
    solution = forms.ModelChoiceField(Solution.objects.select_related("programme"), label=_("Solution"))
    prestation = forms.ChoiceField(
        choices=Order._meta.get_field("prestation").choices, label=_("Prestation principale")
    )
    vat_regime = forms.ChoiceField(
        choices=[("", _("Régime du client (son département)"))] + list(Order._meta.get_field("vat_regime").choices),
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
    issued_at = forms.SplitDateTimeField(
        label=_("Émis le"),
        widget=_issued_at_widget(),
        initial=timezone.now,
    )
    salesperson = forms.ModelChoiceField(
        Order._meta.get_field("salesperson").related_model.objects.filter(is_staff=True),
        required=False,
        label=_("Commercial"),
    )
    is_pilot = forms.BooleanField(required=False, label=_("Périmètre pilote"))


def order_create_initial(request: HttpRequest) -> dict[str, Any]:
    """What a new order starts with: the only (or latest) programme, its solution when it has one, the salesperson
    himself when he is in the Commercial group, and the client given by ``?client=<id>`` (from the client's page)."""
    initial: dict[str, Any] = {}
    programme = Programme.objects.order_by("-date_4", "-pk").first()
    if programme is not None:
        initial["programme"] = programme.pk
        solution = programme.solutions.order_by(F("referenced_at").desc(nulls_last=True), "-pk").first()
        if solution is not None:
            initial["solution"] = solution.pk
    if request.user.groups.filter(name=SALES_GROUP).exists():
        initial["salesperson"] = request.user.pk
    client_id = request.GET.get("client", "")
    if client_id.isdigit() and OrderCreateForm.base_fields["client"].queryset.filter(pk=client_id).exists():
        initial["client"] = int(client_id)
    return initial


class OrderCreateMixin:
    """The creation page of an order (state draft)."""

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = OrderCreateForm(request.POST or None, initial=order_create_initial(request))
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
                messages.success(request, _("Commande %(number)s créée (brouillon).") % {"number": order.number})
                return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Nouveau bon de commande"),
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/orders/order/create.html", context)
