"""Issue #12: the order's event log names the client who signed online, not «Système»; the label is written with the
event, once (write-once rows)."""

import re

import pytest
from django.urls import reverse

from monitoring.models import OutboxEmail
from orders.documents import document_generate
from orders.models import OrderEvent
from orders.roles import SALES_GROUP
from portal.access import access_token
from tests.factories import make_doctor, make_order, make_user, paris

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seal_certificate", "frozen_today")]


def test_the_event_log_shows_the_client_signatory_as_the_actor_of_an_online_signature(client):
    order = make_order(client=make_doctor(email="dr.martin@cabinet.example"), issued_at=paris(2026, 11, 2, 9))
    document = document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    client.get(reverse("portal:access", args=[access_token(order.client, order.client.email)]))
    signer = {"signatory_name": "Dr Claire Martin", "signatory_capacity": "Médecin titulaire", "consent": "1"}
    client.post(reverse("portal:sign", args=[document.pk]), signer)
    email = OutboxEmail.objects.filter(kind="signing_code").latest("pk")
    code = re.search(r"^(\d{6})$", email.body_text, re.MULTILINE).group(1)

    assert client.post(reverse("portal:sign_code", args=[document.pk]), {"code": code}).status_code == 302

    event = OrderEvent.objects.get(order=order, action="sign", accepted=True)
    assert (event.actor, event.actor_label) == (None, "Dr Claire Martin (signature en ligne)")
    client.force_login(make_user("c.durand", SALES_GROUP))
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode().replace("&#x27;", "'")
    assert "Dr Claire Martin (signature en ligne)" in page
    create = OrderEvent.objects.get(order=order, action="create")
    assert create.actor_label == OrderEvent.SYSTEM  # the other system events keep their actor
