"""Issue 11: each checklist item records the day the work was done, typed by staff in the order page (today by
default), clicked in a real headless Chromium."""

import pytest
import time_machine

from orders.roles import DEPLOYMENT_GROUP
from tests.e2e.browser import log_in, screenshots, staff_user
from tests.e2e.test_order_page_forms import open_from_list
from tests.factories import advance, make_order, make_structure, paris

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.mark.usefixtures("programme_data")
def test_staff_type_the_day_each_item_was_done(live_server, new_browser_page, assert_accessible):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(client=make_structure()), "advance_paid")
    staff_user("deploiement", DEPLOYMENT_GROUP)
    page = new_browser_page()
    log_in(page, live_server.url, "deploiement")
    open_from_list(page, live_server, order)

    checklist = page.locator(".order-panel", has_text="Liste de déploiement")
    checklist.get_by_label("Installation, paramétrage et qualification jusqu'à l'activation effective").check()
    checklist.locator("input[name=day_installation]").fill("2026-11-02")
    checklist.get_by_label("Documentation livrée").check()
    checklist.get_by_role("button", name="Enregistrer la liste").click()
    expect(page.locator(".messagelist")).to_contain_text("Liste de déploiement enregistrée")

    order.refresh_from_db()
    assert order.deployment_checklist["installation"] == "2026-11-02"
    assert order.deployment_checklist["documentation"] == checklist.locator(
        "input[name=day_documentation]"
    ).get_attribute("max")  # today by default
    expect(page.locator(".order-checklist input[name=day_installation]")).to_have_value("2026-11-02")
    screenshots(page, "order-checklist-days")
    assert_accessible(page, "order page with typed checklist days")
