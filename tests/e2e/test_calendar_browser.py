"""Déploiement opens the deadline calendar from the admin home, lists a whole crunch day, reads why a deadline is
blocked, and downloads the CSV export — in a real headless Chromium."""

import csv
import io
from pathlib import Path

import pytest
import time_machine

from monitoring import views
from orders.models import Provider
from orders.roles import DEPLOYMENT_GROUP
from tests.e2e.browser import PASSWORD, screenshots
from tests.factories import advance, make_order, make_solution, make_user, paris

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.mark.usefixtures("programme_data")
def test_deployment_lists_a_crunch_day_sees_a_blocked_deadline_and_exports_the_calendar(
    live_server, new_browser_page, assert_accessible, monkeypatch
):
    monkeypatch.setattr(views, "CALENDAR_ROWS_PER_DAY", 3)  # a crunch day, small enough for a test
    with time_machine.travel(paris(2026, 11, 20, 10), tick=False):
        solution = make_solution()
        orders = [advance(make_order(solution=solution), "firm") for _ in range(5)]
    Provider.objects.filter(pk=solution.provider_id).update(asp_enrolment_validated_on=None)
    user = make_user("deploiement", DEPLOYMENT_GROUP)
    user.set_password(PASSWORD)
    user.save()
    page = new_browser_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "deploiement")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    screenshots(page, "admin-home-calendar-entry")
    assert_accessible(page, "admin home")
    page.locator("#content-main").get_by_role("link", name="Calendrier des échéances").click()
    page.wait_for_url("**/admin/calendrier/")
    crunch_day = page.locator("section.calendar-day", has_text="16/12/2026")
    expect(crunch_day.locator("tbody tr")).to_have_count(3)
    screenshots(page, "calendar")
    assert_accessible(page, "calendar")

    crunch_day.get_by_role("link", name="Tout afficher (5)").click()
    page.wait_for_url("**jour=2026-12-16")
    expect(page.locator("section.calendar-day tbody tr")).to_have_count(5)
    for order in orders:
        expect(page.get_by_role("link", name=order.number, exact=True)).to_be_visible()
    blocked = page.locator(".blocked").first
    expect(blocked).to_contain_text("Bloqué : L'enrôlement du Fournisseur auprès de l'ASP doit être validé")
    screenshots(page, "calendar-day")
    assert_accessible(page, "calendar of one day")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter en CSV (filtres en cours)").click()
    download = download_info.value
    content = Path(download.path()).read_bytes()

    assert download.suggested_filename == "calendrier-echeances.csv"
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == views.CSV_HEADERS
    assert {order.number for order in orders} <= {row[3] for row in rows[1:]}
