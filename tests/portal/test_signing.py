"""Online signature by the client (AF §4.3, §6.4; eIDAS simple signature): the one-time e-mail code (6 digits,
10 minutes, 5 tries, stored hashed), the transition through the services, the sealed PAdES copy, the evidence
chain and its verify command, and every refusal (Date 4 passed, signed twice, superseded version)."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from monitoring.models import OutboxEmail
from orders.documents import document_generate
from orders.models import Document
from portal import signing
from portal.access import access_token
from portal.evidence import evidence_chain_verify
from portal.models import SignatureEvidence, SigningCode
from portal.sealing import seal_validate
from tests.factories import make_doctor, make_order, paris

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seal_certificate", "frozen_today")]

SIGNER = {"signatory_name": "Dr Claire Martin", "signatory_capacity": "Médecin titulaire", "consent": "1"}


@pytest.fixture
def draft():
    order = make_order(client=make_doctor(email="dr.martin@cabinet.example"), issued_at=paris(2026, 11, 2, 9))
    document = document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    return order, document


def open_space(browser, client):
    browser.get(reverse("portal:access", args=[access_token(client, client.email)]))


def last_code() -> str:
    email = OutboxEmail.objects.filter(kind="signing_code").latest("pk")
    return re.search(r"^(\d{6})$", email.body_text, re.MULTILINE).group(1)


def ask_code(browser, document, **overrides):
    return browser.post(reverse("portal:sign", args=[document.pk]), {**SIGNER, **overrides})


def test_a_client_signs_the_order_form_with_the_emailed_code_and_gets_a_sealed_copy(
    client, draft, django_capture_on_commit_callbacks
):
    order, document = draft
    open_space(client, order.client)
    page = client.get(reverse("portal:sign", args=[document.pk]))
    assert page.status_code == 200
    assert reverse("portal:document_preview", args=[document.pk]) in page.content.decode().replace("&#x27;", "'")

    response = ask_code(client, document)
    assert response.status_code == 302 and response["Location"] == reverse("portal:sign_code", args=[document.pk])
    code = last_code()
    stored = SigningCode.objects.get()
    assert code not in stored.code_hash and stored.expires_at - stored.sent_at == timedelta(minutes=10)

    wrong = "000000" if code != "000000" else "111111"
    refused = client.post(reverse("portal:sign_code", args=[document.pk]), {"code": wrong})
    assert refused.status_code == 400 and "encore 4 essais" in refused.content.decode().replace("&#x27;", "'")
    with django_capture_on_commit_callbacks(execute=True):
        signed = client.post(reverse("portal:sign_code", args=[document.pk]), {"code": code})

    assert signed.status_code == 302 and signed["Location"] == reverse("portal:order", args=[order.number])
    order.refresh_from_db()
    assert order.state in {"pre_order", "firm"}
    assert order.signature_method == "eidas_simple" and order.signatory_name == "Dr Claire Martin"
    copy = Document.objects.get(order=order, kind="signed_order_form")
    pdf = copy.file.open("rb").read()
    assert seal_validate(pdf).valid
    tampered = bytearray(pdf)
    tampered[len(pdf) // 2] ^= 0x01
    assert not seal_validate(bytes(tampered)).valid
    evidence = SignatureEvidence.objects.get()
    assert evidence.document_sha256 == document.sha256 and evidence.signed_sha256 == copy.sha256
    assert evidence.signatory_capacity == "Médecin titulaire" and evidence.email == "dr.martin@cabinet.example"
    assert "signe électroniquement" in evidence.consent_text
    sent = [m for m in mail.outbox if "copie signée" in m.subject]
    assert sent and sent[0].attachments[0][1] == pdf


@pytest.mark.postgres  # the row is edited behind the write-once trigger with PostgreSQL's own SQL
def test_the_evidence_chain_verifies_and_breaks_when_one_row_is_edited(client, draft, capsys):
    order, document = draft
    open_space(client, order.client)
    ask_code(client, document)
    client.post(reverse("portal:sign_code", args=[document.pk]), {"code": last_code()})
    other = make_order(client=make_doctor(email="dr.autre@cabinet.example"), issued_at=paris(2026, 11, 2, 9))
    other_document = document_generate(order_id=other.pk, kind="order_form", acting_user=None)
    client.post(reverse("portal:logout"))
    open_space(client, other.client)
    ask_code(client, other_document)
    client.post(reverse("portal:sign_code", args=[other_document.pk]), {"code": last_code()})
    first, second = SignatureEvidence.objects.order_by("pk")
    assert second.previous_hash == first.row_hash
    assert evidence_chain_verify() == []
    call_command("verify_signature_evidence")
    assert "intacte (2 preuves" in capsys.readouterr().out

    with connection.cursor() as cursor:  # someone owning the database disables the write-once trigger, edits a row
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE portal_signatureevidence DISABLE TRIGGER portal_signatureevidence_write_once")
        cursor.execute("UPDATE portal_signatureevidence SET signatory_name = 'Autre' WHERE id = %s", [first.pk])
        cursor.execute("ALTER TABLE portal_signatureevidence ENABLE TRIGGER portal_signatureevidence_write_once")

    assert [problem.evidence_id for problem in evidence_chain_verify()] == [first.pk]
    with pytest.raises(CommandError):
        call_command("verify_signature_evidence")
    with pytest.raises(ValueError):
        first.delete()


def test_a_code_works_once_for_ten_minutes_and_five_tries(client, draft):
    order, document = draft
    open_space(client, order.client)
    url = reverse("portal:sign_code", args=[document.pk])
    ask_code(client, document)
    code = last_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        client.post(url, {"code": wrong})
    assert "Trop d'essais" in client.post(url, {"code": code}).content.decode().replace("&#x27;", "'")

    ask_code(client, document)
    code = last_code()
    with time_machine.travel(paris(2026, 11, 23, 10, 10, 1), tick=False):
        assert "a expiré" in client.post(url, {"code": code}).content.decode().replace("&#x27;", "'")

    ask_code(client, document)
    old = last_code()
    ask_code(client, document)  # a new code replaces the previous one
    if old != last_code():  # the previous code no longer signs anything
        assert "Code incorrect" in client.post(url, {"code": old}).content.decode()
    assert client.post(url, {"code": last_code()}).status_code == 302
    assert "déjà signé" in client.get(reverse("portal:sign", args=[document.pk])).content.decode().replace(
        "&#x27;", "'"
    )


def test_signing_is_refused_after_date_4_noon_and_for_a_superseded_version(client, draft):
    order, document = draft
    newer = document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    open_space(client, order.client)
    page = client.get(reverse("portal:sign", args=[document.pk])).content.decode().replace("&#x27;", "'")
    assert "version plus récente" in page
    assert ask_code(client, document).status_code == 400
    date_4 = order.programme.date_4
    with time_machine.travel(date_4 + timedelta(minutes=1), tick=False):
        open_space(client, order.client)
        page = client.get(reverse("portal:sign", args=[newer.pk])).content.decode().replace("&#x27;", "'")
    assert "ne peut plus être signé" in page and f"{date_4.astimezone(signing.rules.PARIS):%d/%m/%Y} à 12 h" in page
    assert not OutboxEmail.objects.filter(kind="signing_code").exists()


def test_missing_name_capacity_or_consent_is_named_and_sends_no_code(client, draft):
    order, document = draft
    open_space(client, order.client)
    response = ask_code(client, document, signatory_name=" ", consent="")
    page = response.content.decode().replace("&#x27;", "'")
    assert response.status_code == 400
    assert "Nom et prénom du signataire : ce champ est obligatoire." in page
    assert "Cochez la case de consentement" in page
    assert not SigningCode.objects.exists()
