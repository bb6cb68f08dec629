"""A client opens its space from the link of a reminder e-mail in a real headless Chromium, reads what it must sign
(in French even with an English browser), downloads the document, and logs out."""

import re

import pytest
import time_machine

from monitoring.models import OutboxEmail
from monitoring.reminders import deadlines_scan, outbox_render_pending
from orders.documents import document_generate
from portal.signing import signature_request_send
from tests.e2e.browser import screenshots
from tests.factories import advance, make_doctor, make_order, paris


@pytest.mark.usefixtures("programme_data")
def test_a_client_follows_the_reminder_link_reads_what_to_sign_and_downloads_it(
    live_server, new_browser_page, assert_accessible, settings, tmp_path
):
    settings.SITE_URL = live_server.url
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(client=make_doctor(email="dr.e2e@cabinet.example")), "installed")
        document_generate(order_id=order.pk, kind="va", acting_user=None)
        signature_request_send(order_id=order.pk, acting_user=None)  # reminders follow the sending (issue #12)
    date_5 = order.programme.date_5
    with time_machine.travel(date_5.replace(hour=7), tick=False):  # J0 of the VA signature: a client reminder
        deadlines_scan()
        outbox_render_pending()  # the sender renders the body (and issues the link) before sending
    reminder = OutboxEmail.objects.get(kind="client_reminder", to="dr.e2e@cabinet.example")
    link = re.search(r"(http://\S+/espace-client/acces/\S+)", reminder.body_text).group(1)
    assert "suite=" in link
    page = new_browser_page(locale="en-US", accept_downloads=True)

    page.goto(link)

    todo = page.locator(".todo-card").inner_text()
    assert "Signer la Vérification d'aptitude" in todo
    assert "juillet" in todo or "juin" in todo or "mai" in todo  # French month names, not the browser's English
    screenshots(page, "client-order-va-to-sign")  # «Vérification d'aptitude», one name per document (issue #12)
    assert_accessible(page, "client order page")
    with page.expect_download() as download:
        page.click("text=Télécharger le document à signer")
    saved = tmp_path / "va.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    page.click("text=Se déconnecter")
    assert "Vous êtes déconnecté" in page.locator(".messages").inner_text()
    assert_accessible(page, "client space after logging out")
