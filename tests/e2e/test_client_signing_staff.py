"""Issue #12, staff side in a real headless Chromium: "send for signature" on the order page, then the evidence of
the client's online signature on the same page. Screenshots at 1440 and 390 px; axe-core."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import OutboxEmail
from orders.models import Programme
from orders.roles import ADMIN_GROUP
from portal import signing
from portal.access import access_token, access_verify
from portal.sealing import demo_certificate_ensure
from tests.e2e.browser import log_in, screenshots, staff_user
from tests.factories import make_doctor, make_order


@pytest.mark.usefixtures("programme_data")
def test_staff_send_the_order_form_for_signature_then_read_the_evidence(
    live_server, new_browser_page, assert_accessible, settings, tmp_path, monkeypatch
):
    settings.SITE_URL = live_server.url
    monkeypatch.setenv("SEGUR_SEAL_PKCS12_PATH", str(demo_certificate_ensure(tmp_path / "seal.p12", "pw")))
    monkeypatch.setenv("SEGUR_SEAL_PKCS12_PASSWORD", "pw")
    now = timezone.now()
    programme = Programme.objects.get()
    if programme.date_4 < now + timedelta(days=2):
        Programme.objects.filter(pk=programme.pk).update(
            date_4=now + timedelta(days=20), date_5=now + timedelta(days=200), date_6=now + timedelta(days=300)
        )
    order = make_order(client=make_doctor(email="dr.staff@cabinet.example"), issued_at=now - timedelta(days=1))
    staff_user("chef", ADMIN_GROUP)
    page = new_browser_page()
    log_in(page, live_server.url, "chef")

    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    page.click("text=Envoyer pour signature : Bon de commande")
    assert "envoyé pour signature à dr.staff@cabinet.example" in page.locator(".messagelist").inner_text()
    assert OutboxEmail.objects.filter(kind="signature_invitation", to="dr.staff@cabinet.example").exists()

    granted = access_verify(access_token(order.client, order.client.email))
    document = signing.signable_documents(order)["order_form"]
    code = signing.code_send(
        granted=granted, document=document, signatory_name="Dr Staff", signatory_capacity="Gérant", consent=True
    )
    typed = re.search(r"^(\d{6})$", OutboxEmail.objects.filter(kind="signing_code").latest("pk").body_text, re.M)
    signing.sign(
        granted=granted, signing_code_id=code.pk, typed=typed.group(1), ip_address="192.0.2.7", user_agent="UA"
    )
    page.reload()

    panel = page.locator("#signature-en-ligne").inner_text()
    assert "Preuve de signature : Bon de commande" in panel and "192.0.2.7" in panel and "Dr Staff — Gérant" in panel
    assert_accessible(page, "order page with the signature evidence")
    page.locator("#signature-en-ligne").scroll_into_view_if_needed()
    screenshots(page, "staff-signature-evidence")
