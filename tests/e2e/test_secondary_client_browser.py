"""A client follows the link of the monthly notice of the levels reached and reads, on its order page, where it stands
over six months, in words — in a real headless Chromium at 1440 and 390 px, with axe-core (AF §4.5)."""

import re
from datetime import date

import pytest
import time_machine

from monitoring.models import OutboxEmail
from monitoring.services import MonthReport, record_months
from orders import rules
from tests.e2e.browser import screenshots
from tests.factories import advance, make_doctor, make_order, paris

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.mark.usefixtures("programme_data")
def test_the_client_reads_the_level_reached_from_the_notice_link(
    live_server, new_browser_page, assert_accessible, settings
):
    settings.SITE_URL = live_server.url
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(client=make_doctor(email="dr.perf@cabinet.example")), "va_signed")
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        start = date(2026, 11, 1)
        record_months(order, [MonthReport(rules.add_months(start, i), 20, 9, 90, 70, 8) for i in range(6)])
    notice = OutboxEmail.objects.get(kind="perf_notice", to="dr.perf@cabinet.example")
    link = re.search(r"(http://\S+/espace-client/acces/\S+)", notice.body_text).group(1)
    page = new_browser_page(viewport={"width": 1440, "height": 900})

    page.goto(link)

    words = page.locator("ul.perf-words")
    expect(words).to_contain_text("Moitié du niveau atteinte : de novembre 2026 à avril 2027")
    expect(words).to_contain_text("il manque 18 documents envoyés à Mon espace santé")
    expect(page.locator("ul.usage").first).to_contain_text("Novembre 2026 : 9 documents envoyés sur 20 attendus")
    words.scroll_into_view_if_needed()
    screenshots(page, "secondary-client-order")
    assert_accessible(page, "client order page with the levels reached")
