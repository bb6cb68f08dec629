"""Finance records an ASP return in a real headless Chromium, sees it on the order page, then finds the order again in
the list with the "Retournée par l'ASP" filter — clicks and typing only, no direct POST (issue #10)."""

import pytest
import time_machine

from orders.models import OrderEvent
from orders.roles import FINANCE_GROUP
from tests.e2e.browser import log_in, screenshots, staff_user
from tests.e2e.test_order_page_forms import open_from_list
from tests.factories import advance, make_order, make_structure, paris

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

ASP_MESSAGE = "Le bon de commande signé est illisible : joindre une copie lisible."


@pytest.mark.usefixtures("programme_data")
def test_finance_records_an_asp_rejection_sees_it_and_finds_it_with_the_filter(
    live_server, new_browser_page, assert_accessible
):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(client=make_structure(name="MSP des Tilleuls")), "advance_requested")
        other = advance(make_order(client=make_structure(name="MSP du Port")), "advance_requested")
    staff_user("compta", FINANCE_GROUP)
    page = new_browser_page(viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, "compta")
    open_from_list(page, live_server, order)

    expect(page.locator(".order-header")).to_contain_text("MSP des Tilleuls")
    expect(page.locator(".order-primary")).to_have_text("Enregistrer le versement de l'avance")
    assert_accessible(page, "order page")
    page.get_by_role("link", name="Enregistrer un retour de l'ASP sur l'avance").click()
    assert_accessible(page, "ASP return form")
    page.get_by_label("Décision de l'ASP").select_option(label="Demande rejetée")
    page.get_by_label("Message de l'ASP").press_sequentially(ASP_MESSAGE)
    page.get_by_role("button", name="Confirmer").click()

    notice = page.locator(".asp-return")
    expect(notice).to_contain_text("Retournée par l'ASP : demande d'avance rejetée")
    expect(notice).to_contain_text(ASP_MESSAGE)
    expect(page.locator(".event-log")).to_contain_text("Retour de l'ASP sur l'avance")
    expect(page.locator(".event-log")).to_contain_text(ASP_MESSAGE)
    event = OrderEvent.objects.filter(order=order, action="return_advance").get()
    assert event.payload["return_kind"] == "rejected"
    screenshots(page, "order-page-asp-return")
    assert_accessible(page, "order page with an ASP return")

    page.locator(".breadcrumbs a[href$='/admin/orders/order/']").click()  # the list, not the app index
    expect(page.locator("#result_list")).to_contain_text(other.number)
    asp_filter = page.locator("#changelist-filter details", has_text="retournée par l")
    asp_filter.get_by_role("link", name="Rejetée").click()

    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(order.number)
    expect(rows.first.locator(".asp-return-cell")).to_contain_text("Retour ASP — Rejetée : Le bon de commande signé")
    screenshots(page, "order-list-asp-returns")
    assert_accessible(page, "order list filtered on ASP returns")
