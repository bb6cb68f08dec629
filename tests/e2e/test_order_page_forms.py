"""Every form of the order page, clicked in a real headless Chromium (no direct POST).

The page's own forms (checklist, documents, invoices, credit notes) once sat inside the admin's change form: a browser
drops a nested ``<form>``, so their buttons submitted the change form and nothing was saved. These tests click them.
"""

import importlib

import pytest
import time_machine
from django.apps import apps

from orders.models import Invoice, Order
from orders.roles import DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from orders.rules import checklist_items_for
from tests.e2e.browser import log_in, screenshots, staff_user
from tests.factories import advance, make_order, make_structure, paris

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.fixture
def invoice_series(programme_data):
    """A transactional test starts from a flushed database: put back the invoice series of the data migration."""
    importlib.import_module("orders.migrations.0005_invoices").create_series(apps, None)


def open_from_list(page, live_server, order: Order) -> None:
    """Open the order the way a person does: the order list, then a click on its number."""
    page.goto(f"{live_server.url}/admin/orders/order/")
    page.locator("#result_list").get_by_role("link", name=order.number, exact=True).click()
    page.wait_for_url(f"**/admin/orders/order/{order.pk}/change/")


@pytest.mark.usefixtures("programme_data")
@pytest.mark.parametrize("state", ["firm", "advance_paid"])
def test_deployment_ticks_the_checklist_reloads_it_kept_and_records_the_installation(
    live_server, new_browser_page, assert_accessible, state
):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(client=make_structure()), state)
    staff_user("deploiement", DEPLOYMENT_GROUP)
    items = checklist_items_for(order.client)
    page = new_browser_page()
    log_in(page, live_server.url, "deploiement")
    open_from_list(page, live_server, order)

    assert_accessible(page, f"order page ({state})")
    checklist = page.locator(".order-panel", has_text="Liste de déploiement")
    for _code, label in items:
        checklist.get_by_label(label).check()
    checklist.get_by_role("button", name="Enregistrer la liste").click()
    expect(page.locator(".messagelist")).to_contain_text("Liste de déploiement enregistrée")

    page.reload()
    for _code, label in items:
        assert checklist.get_by_label(label).is_checked(), label
    order.refresh_from_db()
    assert set(order.deployment_checklist) == {code for code, _label in items}
    screenshots(page, f"order-checklist-{state}")
    assert_accessible(page, f"order page with its checklist kept ({state})")

    if state == "firm":  # the advance is not paid yet: the checklist is kept, the installation waits (AF §4.4)
        return
    page.get_by_role("link", name="Enregistrer l'installation").click()
    assert_accessible(page, "installation form")
    date_input = page.locator("input[name=installed_at_0]")
    date_input.fill("")
    date_input.press_sequentially("20/11/2026")
    time_input = page.locator("input[name=installed_at_1]")
    time_input.fill("")
    time_input.press_sequentially("14:30")
    page.get_by_role("button", name="Confirmer").click()

    expect(page.locator(".messagelist")).to_contain_text("Enregistrer l'installation : fait")
    order.refresh_from_db()
    assert order.state == "installed"
    assert order.installed_at == paris(2026, 11, 20, 14, 30)
    assert_accessible(page, "order page after the installation")


@pytest.mark.usefixtures("programme_data")
def test_sales_generates_a_document_by_clicking_generer(live_server, new_browser_page, assert_accessible):
    seller = staff_user("commercial", SALES_GROUP)
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = make_order(salesperson=seller)  # a salesperson's list shows his own orders by default
    page = new_browser_page()
    log_in(page, live_server.url, "commercial")
    open_from_list(page, live_server, order)

    assert_accessible(page, "draft order page")
    documents = page.locator("form.order-generate")
    documents.get_by_label("Document à générer").select_option(label="Bon de commande")
    documents.get_by_role("button", name="Générer le PDF").click()

    expect(page.locator(".messagelist")).to_contain_text("Bon de commande généré (version 1)")
    assert list(order.documents.values_list("kind", "version")) == [("order_form", 1)]
    assert page.get_by_role("link", name="Bon de commande — version 1").count() == 1
    screenshots(page, "order-document-generated")
    assert_accessible(page, "order page with a generated document")


@pytest.mark.usefixtures("invoice_series")
def test_finance_issues_the_principal_invoice_then_a_credit_note(live_server, new_browser_page, assert_accessible):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(), "va_signed", now=paris(2026, 11, 23, 10))
    staff_user("compta", FINANCE_GROUP)
    page = new_browser_page()
    log_in(page, live_server.url, "compta")
    open_from_list(page, live_server, order)

    assert_accessible(page, "order page before invoicing")
    page.get_by_role("button", name="Émettre la facture principale").click()
    expect(page.locator(".messagelist")).to_contain_text("émise")
    invoice = Invoice.objects.get(order=order)
    assert invoice.kind == "principal"
    assert f"Facture {invoice.number} émise" in page.locator(".messagelist").inner_text()
    screenshots(page, "order-invoice-issued")
    assert_accessible(page, "order page with its invoice")

    credit_form = page.locator("form.order-credit-note")
    credit_form.get_by_label("Motif de l'avoir").fill("Erreur de tranche, facture à refaire")
    credit_form.get_by_role("button", name="Émettre un avoir").click()

    expect(page.locator(".messagelist")).to_contain_text(f"la facture {invoice.number} est annulée")
    credit = Invoice.objects.get(order=order, kind="credit_note")
    assert credit.credited_invoice == invoice
    assert page.locator("form.order-credit-note").count() == 0  # a cancelled invoice offers no second credit note
    screenshots(page, "order-credit-note")
    assert_accessible(page, "order page with a credit note")
