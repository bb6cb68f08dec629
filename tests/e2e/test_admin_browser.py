"""A staff member drives the admin in a real headless Chromium: log in, open an order, run a transition."""

import pytest
import time_machine

from orders.roles import FINANCE_GROUP
from tests.factories import advance, make_order, make_user, paris


@pytest.mark.usefixtures("programme_data")
def test_finance_files_an_advance_request_from_the_order_page(
    live_server, new_browser_page, assert_accessible, tmp_path
):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(), "firm")
    user = make_user("compta", FINANCE_GROUP)
    user.set_password("mot-de-passe-de-test")
    user.save()
    page = new_browser_page()

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "compta")
    page.fill("#id_password", "mot-de-passe-de-test")
    assert_accessible(page, "login")
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/orders/order/")
    assert page.locator("#result_list").inner_text().count(order.number) == 1
    page.screenshot(path=str(tmp_path / "order_list.png"))
    assert_accessible(page, "order list")
    page.click(f"text={order.number}")
    assert_accessible(page, "order page")
    page.click('a.order-action:has-text("Déposer la demande d\'avance")')
    assert_accessible(page, "advance request form")
    page.fill("input[name=received_at_0]", "20/11/2026")  # a fixed date: the test must not depend on today
    page.fill("input[name=received_at_1]", "09:30")
    page.fill("input[name=asp_reference]", "ASP-E2E-1")
    page.click("input[type=submit][value=Confirmer]")

    assert "Avance demandée" in page.locator(".order-panel h2").inner_text()
    assert "fait" in page.locator(".messagelist").inner_text()
    assert_accessible(page, "order page after the transition")
    order.refresh_from_db()
    assert order.state == "advance_requested"
    assert order.advance_asp_reference == "ASP-E2E-1"
