"""Issue #12: a client is asked to sign only a document that exists. Staff "send for signature" (order page and bulk
action) generates the PDF if needed and e-mails the link; the deadline engine's client reminders follow only after
that; staff read the evidence of an online signature on the order page."""

import re

import pytest
import time_machine
from django.urls import reverse

from monitoring import reminders
from monitoring.models import OutboxEmail
from orders.models import Document
from orders.roles import ADMIN_GROUP, SALES_GROUP
from portal.access import access_token
from portal.models import SignatureInvitation
from portal.signing import signature_request_send
from tests.factories import advance, make_doctor, make_order, make_user, paris

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft():
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        return make_order(client=make_doctor(email="dr.invite@cabinet.example"), issued_at=paris(2026, 10, 30))


def scan_at(moment):
    with time_machine.travel(moment, tick=False):
        return reminders.deadlines_scan()


def test_a_draft_never_sent_for_signature_gets_no_client_reminder_but_staff_do(draft):
    make_user("vente", SALES_GROUP, email="vente@logimed.example")

    scan_at(paris(2026, 12, 9, 7))  # J-7 of Date 4

    assert not OutboxEmail.objects.filter(kind="client_reminder").exists()
    assert not Document.objects.filter(order=draft).exists()


def test_sending_generates_the_order_form_emails_the_link_and_then_the_client_is_reminded(client, draft):
    with time_machine.travel(paris(2026, 11, 2, 9), tick=False):
        invitation = signature_request_send(order_id=draft.pk, acting_user=None)
        again = signature_request_send(order_id=draft.pk, acting_user=None)  # the same PDF, not a new version

    assert invitation.document.kind == "order_form" and again.document == invitation.document
    assert Document.objects.filter(order=draft, kind="order_form").count() == 1
    email = OutboxEmail.objects.filter(kind="signature_invitation").first()
    assert "à signer en ligne" in email.subject and "16/12/2026 à 12 h" in email.body_text
    link = re.search(r"http://\S+/espace-client/acces/\S+", email.body_text).group(0)
    landing = client.get(link.removeprefix("http://127.0.0.1:8000"), follow=True)
    assert reverse("portal:sign", args=[invitation.document.pk]) in landing.content.decode()

    scan_at(paris(2026, 12, 9, 7))

    assert OutboxEmail.objects.filter(kind="client_reminder", to="dr.invite@cabinet.example").count() == 1


def test_nothing_to_sign_is_refused_with_the_reason():
    order = advance(make_order(), "advance_requested")

    with pytest.raises(Exception, match="Rien à faire signer"):
        signature_request_send(order_id=order.pk, acting_user=None)
    assert not SignatureInvitation.objects.exists()


def test_staff_send_from_the_order_page_and_in_bulk(client, draft):
    other = make_order(client=make_doctor(email="dr.lot@cabinet.example"), issued_at=paris(2026, 10, 30))
    done = advance(make_order(), "advance_requested")
    client.force_login(make_user("chef", ADMIN_GROUP))
    page = client.get(reverse("admin:orders_order_change", args=[draft.pk])).content.decode()
    assert "Envoyer pour signature : Bon de commande" in page

    response = client.post(reverse("admin:orders_order_send_for_signature", args=[draft.pk]))
    assert response.status_code == 302
    assert SignatureInvitation.objects.filter(order=draft).count() == 1
    bulk = client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "bulk_send_for_signature", "_selected_action": [other.pk, done.pk]},
        follow=True,
    ).content.decode()
    assert "1 document envoyé pour signature." in bulk
    assert f"{done.number} non envoyé" in bulk
    assert SignatureInvitation.objects.filter(order=other).exists()


def test_a_client_cannot_open_another_clients_signing_pages(client, draft):
    other = make_order(client=make_doctor(email="dr.autre@cabinet.example"), issued_at=paris(2026, 10, 30))
    with time_machine.travel(paris(2026, 11, 2, 9), tick=False):
        invitation = signature_request_send(order_id=draft.pk, acting_user=None)
    client.get(reverse("portal:access", args=[access_token(other.client, other.client.email)]))
    for name in ("portal:sign", "portal:sign_code", "portal:document_preview", "portal:document"):
        assert client.get(reverse(name, args=[invitation.document.pk])).status_code == 404
        assert client.post(reverse(name, args=[invitation.document.pk]), {"code": "123456"}).status_code in {404, 405}
