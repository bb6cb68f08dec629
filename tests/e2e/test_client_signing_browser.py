"""Issue #12, done when: a client follows the "to sign" e-mail in a real headless Chromium, reads the order form,
says who signs, receives the one-time code by e-mail, signs, and the order's state changed; the sealed copy's PAdES
signature validates with pyHanko and fails after one byte changed; the evidence chain verifies and fails after one
row is edited. Screenshots at 1440 and 390 px; axe-core on every page; no horizontal scroll at 390 px."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from monitoring.reminders import outbox_send_due
from orders.models import Document, Programme
from orders.roles import SALES_GROUP
from portal.access import access_token
from portal.evidence import evidence_chain_verify
from portal.models import SignatureEvidence, TrainingSession
from portal.sealing import demo_certificate_ensure, seal_validate
from portal.signing import signature_request_send
from tests.e2e.browser import SCREENSHOTS, screenshots, staff_user
from tests.factories import advance, make_doctor, make_order


def no_horizontal_scroll(page) -> None:
    page.set_viewport_size({"width": 390, "height": 900})
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
    )
    assert width <= 390, f"{page.url} is {width} px wide at 390 px: {wide}"
    page.set_viewport_size({"width": 1440, "height": 900})


def mail_to(address: str, subject_part: str):
    outbox_send_due()
    found = [m for m in mail.outbox if address in m.to and subject_part in m.subject]
    assert found, [m.subject for m in mail.outbox]
    return found[-1]


@pytest.mark.usefixtures("programme_data")
def test_a_client_signs_the_order_form_online_from_the_email(
    live_server, new_browser_page, assert_accessible, settings, tmp_path, monkeypatch
):
    settings.SITE_URL = live_server.url
    monkeypatch.setenv("SEGUR_SEAL_PKCS12_PATH", str(demo_certificate_ensure(tmp_path / "seal.p12", "pw")))
    monkeypatch.setenv("SEGUR_SEAL_PKCS12_PASSWORD", "pw")
    now = timezone.now()
    programme = Programme.objects.get()
    if programme.date_4 < now + timedelta(days=2):  # the test keeps working whatever day it runs
        Programme.objects.filter(pk=programme.pk).update(
            date_4=now + timedelta(days=20), date_5=now + timedelta(days=200), date_6=now + timedelta(days=300)
        )
    order = make_order(client=make_doctor(email="dr.signe@cabinet.example"), issued_at=now - timedelta(days=1))
    assert not Document.objects.filter(order=order).exists()

    signature_request_send(order_id=order.pk, acting_user=staff_user("commercial", SALES_GROUP))
    invitation = mail_to("dr.signe@cabinet.example", "à signer en ligne")
    link = re.search(r"(http://\S+/espace-client/acces/\S+)", invitation.body).group(1)
    page = new_browser_page()

    page.goto(link)
    assert_accessible(page, "client order page with a document to sign")
    no_horizontal_scroll(page)
    screenshots(page, "client-signing-order")
    page.click("text=Lire et signer en ligne")
    assert page.locator("iframe.pdf-frame").count() == 1
    assert_accessible(page, "signing page")
    no_horizontal_scroll(page)
    screenshots(page, "client-signing-read")
    page.click("text=Recevoir mon code de signature")  # nothing typed: every field is named
    assert "Nom et prénom du signataire : ce champ est obligatoire." in page.content()
    assert_accessible(page, "signing page with errors")
    page.fill("#id_signatory_name", "Dr Claire Signe")
    page.fill("#id_signatory_capacity", "Médecin titulaire du cabinet")
    page.check("#id_consent")
    page.click("text=Recevoir mon code de signature")
    code = re.search(r"^(\d{6})$", mail_to("dr.signe@cabinet.example", "Votre code").body, re.MULTILINE).group(1)
    page.fill("#id_code", "000000" if code != "000000" else "111111")
    page.click("text=Signer le document")
    assert "Code incorrect" in page.content()
    assert_accessible(page, "code page with a wrong code")
    no_horizontal_scroll(page)
    screenshots(page, "client-signing-code")
    page.fill("#id_code", code)
    page.click("text=Signer le document")

    assert "C'est signé" in page.locator(".messages").inner_text()
    assert_accessible(page, "order page once signed")
    screenshots(page, "client-signing-done")
    order.refresh_from_db()
    assert order.state in {"pre_order", "firm"} and order.signature_method == "eidas_simple"
    signed = Document.objects.get(order=order, kind="signed_order_form")
    pdf = signed.file.open("rb").read()
    assert seal_validate(pdf).valid
    tampered = bytearray(pdf)
    tampered[len(pdf) // 3] ^= 0x01
    assert not seal_validate(bytes(tampered)).valid
    assert mail_to("dr.signe@cabinet.example", "copie signée").attachments
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "client-signing-signed.pdf").write_bytes(pdf)  # rendered with pdftoppm and looked at
    assert evidence_chain_verify() == []
    row = SignatureEvidence.objects.get()
    trigger = connection.vendor == "postgresql"  # the write-once trigger (PostgreSQL; none on the embedded SQLite)
    with connection.cursor() as cursor:  # someone owning the database disables the write-once trigger, edits a row
        if trigger:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE portal_signatureevidence DISABLE TRIGGER portal_signatureevidence_write_once")
        cursor.execute("UPDATE portal_signatureevidence SET ip_address = '10.9.9.9' WHERE id = %s", [row.pk])
        if trigger:
            cursor.execute("ALTER TABLE portal_signatureevidence ENABLE TRIGGER portal_signatureevidence_write_once")
    assert [problem.evidence_id for problem in evidence_chain_verify()] == [row.pk]


@pytest.mark.usefixtures("programme_data")
def test_the_client_space_pages_of_issue_12_read_well_on_a_phone(live_server, new_browser_page, assert_accessible):
    order = advance(make_order(client=make_doctor(email="dr.avis@cabinet.example")), "va_signed")
    TrainingSession.objects.create(
        title="Prise en main de la mise à jour",
        starts_at=timezone.now() + timedelta(days=5),
        format="remote",
        link="https://visio.example/prise-en-main",
        material="https://docs.example/support.pdf",
    )
    page = new_browser_page()
    page.goto(live_server.url + reverse("portal:access", args=[access_token(order.client, order.client.email)]))
    page.goto(live_server.url + reverse("portal:order", args=[order.number]))
    page.click("text=Répondre au questionnaire")
    assert_accessible(page, "satisfaction questionnaire")
    no_horizontal_scroll(page)
    screenshots(page, "client-satisfaction")
    page.check("#id_overall_3")
    page.check("#id_installation_4")
    page.check("#id_support_4")
    page.check("#id_recommend_0")
    page.click("text=Envoyer mes réponses")
    assert "Merci pour vos réponses" in page.locator(".messages").inner_text()
    page.click("text=Demander l'export de mes données")
    assert "portabilité est enregistrée" in page.locator(".messages").inner_text()
    assert_accessible(page, "order page after the portability request")
    no_horizontal_scroll(page)
    screenshots(page, "client-order-completed")
    page.click("text=Formations")
    assert_accessible(page, "training sessions")
    no_horizontal_scroll(page)
    screenshots(page, "client-trainings")
