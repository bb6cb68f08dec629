"""The staff home page (issue 14) in headless Chromium: a manager, a salesperson and deployment staff each open it,
read their blocks, follow a number to the filtered order list; axe-core finds nothing serious, at 1440 and 390 px."""

import re

import pytest
from django.contrib.auth import get_user_model

from orders.demo import seed_demo
from orders.models import Order
from tests.e2e.browser import PASSWORD, log_in, screenshots

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.fixture
def demo_staff(programme_data):
    seed_demo()
    users = get_user_model().objects.filter(username__in=["a.roux", "c.durand", "m.bernard"])
    for user in users:
        user.set_password(PASSWORD)
        user.save()
    return {user.username: user for user in users}


ROLES = [("a.roux", True, False), ("c.durand", False, True), ("m.bernard", False, False)]  # manager, sales, deployment


def test_the_dashboard_by_role(live_server, new_browser_page, assert_accessible, demo_staff):
    drafts = Order.objects.filter(state="draft").count()
    for username, sees_money, sees_own in ROLES:
        page = new_browser_page(viewport={"width": 1440, "height": 900})
        log_in(page, live_server.url, username)
        page.wait_for_url("**/admin/")

        dashboard = page.locator("section.staff-dashboard")
        expect(dashboard.get_by_role("heading", name="Commandes par état")).to_be_visible()
        expect(dashboard.get_by_role("heading", name="Prêt pour les demandes de solde")).to_be_visible()
        expect(dashboard.get_by_role("heading", name="Argent")).to_have_count(1 if sees_money else 0)
        expect(dashboard.get_by_role("heading", name="Mes commandes", exact=False)).to_have_count(1 if sees_own else 0)
        expect(dashboard.get_by_role("img", name="Nombre de commandes par état", exact=False)).to_be_visible()
        screenshots(page, f"dashboard-{username}")
        assert_accessible(page, f"dashboard as {username}")
        page.set_viewport_size({"width": 390, "height": 900})
        assert_accessible(page, f"dashboard as {username} at 390 px")
        page.set_viewport_size({"width": 1440, "height": 900})

        table = dashboard.locator("table", has=page.locator("caption", has_text=re.compile("^Commandes par état$")))
        table.get_by_role("row", name="Brouillon").get_by_role("link").click()
        page.wait_for_url("**/admin/orders/order/?**")
        expect(page.locator("#result_list tbody tr")).to_have_count(min(drafts, 50))
        page.context.close()
