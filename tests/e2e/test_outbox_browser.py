"""An administrator reads a staff digest in the outbox before the sender has written its text (SPEC §10, issue 13):
the scan records the digest's content only, the page shows it as it will read — in a real headless Chromium."""

import re

import pytest
import time_machine

from monitoring import reminders
from monitoring.models import OutboxEmail
from orders.roles import ADMIN_GROUP, SALES_GROUP
from tests.e2e.browser import log_in, screenshots, staff_user
from tests.factories import make_order, make_user, paris

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.mark.usefixtures("programme_data")
def test_an_administrator_reads_a_digest_not_rendered_yet_then_as_it_was_sent(
    live_server, new_browser_page, assert_accessible
):
    seller = make_user("vente", SALES_GROUP, email="vente@logimed.example", first_name="Camille")
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        orders = [make_order(salesperson=seller, issued_at=paris(2026, 10, 30)) for _ in range(2)]
    with time_machine.travel(paris(2026, 12, 9, 7), tick=False):  # J-7 of the Date 4
        reminders.deadlines_scan()
    digest = OutboxEmail.objects.get(kind="staff_digest")
    assert digest.body_text == ""  # the scan wrote its content, not its text
    staff_user("chef", ADMIN_GROUP)
    page = new_browser_page(viewport={"width": 1440, "height": 900})

    log_in(page, live_server.url, "chef")
    page.locator("#content-main").get_by_role("link", name="Boîte d'envoi").click()
    page.get_by_role("link", name="Récapitulatif des échéances (équipe)").click()
    row = page.locator("#result_list tbody tr", has_text="vente@logimed.example")
    expect(row).to_contain_text("Échéances Ségur du 09/12/2026 : 2 actions")
    screenshots(page, "outbox-digests")
    row.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/admin/monitoring/outboxemail/{digest.pk}/change/"))

    body = page.locator(".field-masked_body_text")
    expect(body).to_contain_text("Bonjour Camille,")
    expect(body).to_contain_text("16/12/2026 12:00 — Faire signer le bon de commande par le client (AF §4.3)")
    expect(body).to_contain_text("Montant en jeu : 1\u00a0153,00 €")
    for order in orders:
        expect(body).to_contain_text(order.number)
    expect(page.locator(".field-subject")).to_contain_text("Échéances Ségur du 09/12/2026 : 2 actions")
    screenshots(page, "outbox-digest-before-sending")
    assert_accessible(page, "a staff digest in the outbox")

    with time_machine.travel(paris(2026, 12, 9, 7, 5), tick=False):
        reminders.outbox_send_due()
    page.reload()
    expect(page.locator(".field-status")).to_contain_text("envoyé")
    expect(body).to_contain_text("16/12/2026 12:00 — Faire signer le bon de commande par le client (AF §4.3)")
    screenshots(page, "outbox-digest-sent")
