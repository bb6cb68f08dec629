"""The order page's HTML: no form inside another, and each button inside the form that does its job.

A browser drops a ``<form>`` opened inside another one and its button then submits the outer (change) form, so a
nested form is a form that silently does nothing. The browser tests click the buttons; this test covers every state.
"""

from html.parser import HTMLParser

import pytest
import time_machine
from django.urls import reverse

from orders.invoices import invoice_issue
from orders.roles import ADMIN_GROUP
from tests.factories import advance, make_order, make_structure, make_user, paris

TODAY = paris(2026, 11, 23, 10)

pytestmark = pytest.mark.django_db


class FormTree(HTMLParser):
    """The open forms while reading the page, the deepest nesting seen, and the form each submit button is in."""

    def __init__(self) -> None:
        super().__init__()
        self.open_forms: list[str] = []
        self.deepest = 0
        self.button_form: dict[str, str] = {}
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.open_forms.append(attributes.get("action") or "")
            self.deepest = max(self.deepest, len(self.open_forms))
        elif tag == "button" and attributes.get("type", "submit") == "submit":
            self._button = []
        elif tag == "input" and attributes.get("type") == "submit":
            self._submit(attributes.get("value") or "")

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.open_forms.pop()
        elif tag == "button" and self._button is not None:
            self._submit(" ".join("".join(self._button).split()))
            self._button = None

    def _submit(self, label: str) -> None:
        self.button_form[label] = self.open_forms[-1] if self.open_forms else "(outside any form)"


def order_in(state: str):
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(client=make_structure()), state, now=TODAY)
        if state == "va_signed":
            invoice_issue(order_id=order.pk, kind="principal", acting_user=None, now=TODAY)
    return order


def form_urls(order) -> dict[str, str]:
    principal = order.invoices.filter(kind="principal").first()
    return {
        "checklist": reverse("admin:orders_order_checklist", args=[order.pk]),
        "generate": reverse("admin:orders_order_generate", args=[order.pk]),
        "principal": reverse("admin:orders_order_invoice", args=[order.pk, "principal"]),
        "secondary": reverse("admin:orders_order_invoice", args=[order.pk, "secondary"]),
        "credit": reverse("admin:orders_invoice_credit", args=[principal.pk]) if principal else "",
    }


@pytest.mark.parametrize(
    ("state", "buttons"),
    [
        ("draft", {"Générer le PDF": "generate"}),
        ("firm", {"Enregistrer la liste": "checklist", "Générer le PDF": "generate"}),
        ("advance_paid", {"Enregistrer la liste": "checklist", "Générer le PDF": "generate"}),
        ("va_signed", {"Émettre la facture principale": "principal", "Émettre un avoir": "credit"}),
        ("balance_paid", {"Émettre la facture secondaire": "secondary", "Émettre un avoir": "credit"}),
    ],
)
def test_no_form_of_the_order_page_is_nested_and_each_button_submits_its_own_form(client, state, buttons):
    order = order_in(state)
    client.force_login(make_user("chef", ADMIN_GROUP))

    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))

    assert response.status_code == 200
    page = FormTree()
    page.feed(response.content.decode())
    page.close()
    assert page.deepest == 1, "a <form> is opened inside another one: the browser drops it"
    assert page.open_forms == []
    urls = form_urls(order)
    assert {label: page.button_form.get(label) for label in buttons} == {
        label: urls[target] for label, target in buttons.items()
    }
