"""Issue #12, access: every client-space URL (pages, documents, signing, code verification) refuses another
client's session, an expired, tampered or revoked link; signing always needs the fresh e-mail code; a client session
ends after 30 minutes idle. And the pilot PV and the VA are signed online like the order form (AF §6.3, §4.4)."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from monitoring.models import OutboxEmail
from orders.documents import document_generate
from orders.models import Document
from portal import services
from portal.access import access_token
from portal.sealing import seal_validate
from portal.views import IDLE_TIMEOUT_SECONDS
from tests.factories import advance, make_doctor, make_order, make_user, paris

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("seal_certificate", "frozen_today")]

SIGNER = {"signatory_name": "Dr Jean Dupont", "signatory_capacity": "Médecin", "consent": "1"}


def open_space(browser, client):
    return browser.get(reverse("portal:access", args=[access_token(client, client.email)]))


def last_code() -> str:
    body = OutboxEmail.objects.filter(kind="signing_code").latest("pk").body_text
    return re.search(r"^(\d{6})$", body, re.MULTILINE).group(1)


@pytest.fixture
def two_clients():
    mine = make_order(client=make_doctor(email="dr.mien@cabinet.example"), issued_at=paris(2026, 11, 2, 9))
    theirs = make_order(client=make_doctor(email="dr.autre@cabinet.example"), issued_at=paris(2026, 11, 2, 9))
    document = document_generate(order_id=mine.pk, kind="order_form", acting_user=None)
    return mine, theirs, document


def client_urls(order, document):
    return [
        ("get", reverse("portal:home"), {}),
        ("get", reverse("portal:order", args=[order.number]), {}),
        ("get", reverse("portal:document", args=[document.pk]), {}),
        ("get", reverse("portal:document_preview", args=[document.pk]), {}),
        ("get", reverse("portal:sign", args=[document.pk]), {}),
        ("post", reverse("portal:sign", args=[document.pk]), SIGNER),
        ("get", reverse("portal:sign_code", args=[document.pk]), {}),
        ("post", reverse("portal:sign_code", args=[document.pk]), {"code": "123456"}),
        ("post", reverse("portal:portability", args=[order.number]), {}),
        ("get", reverse("portal:satisfaction", args=[order.number]), {}),
        ("post", reverse("portal:satisfaction", args=[order.number]), {}),
        ("get", reverse("portal:trainings"), {}),
    ]


def test_another_clients_session_finds_nothing(client, two_clients):
    mine, theirs, document = two_clients
    open_space(client, theirs.client)
    own_pages = {reverse("portal:trainings")}  # the same for every client
    for method, url, data in client_urls(mine, document)[1:]:
        if url in own_pages:
            continue
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, url
    assert not OutboxEmail.objects.filter(kind="signing_code").exists()


@pytest.mark.parametrize("how", ["no session", "expired", "tampered", "revoked"])
def test_without_a_valid_link_every_url_leads_to_the_link_request_page(client, two_clients, how):
    mine, _theirs, document = two_clients
    token = access_token(mine.client, mine.client.email)
    if how == "expired":
        with time_machine.travel(paris(2027, 6, 1), tick=False):
            assert client.get(reverse("portal:access", args=[token])).status_code == 403
    elif how == "tampered":
        assert client.get(reverse("portal:access", args=[token[:-2] + "xx"])).status_code == 403
    elif how == "revoked":
        client.get(reverse("portal:access", args=[token]))
        services.access_links_revoke(client_id=mine.client.pk, acting_user=make_user("chef"))
    for method, url, data in client_urls(mine, document):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and response["Location"] == reverse("portal:request_link"), url
    assert not OutboxEmail.objects.filter(kind="signing_code").exists()


def test_a_session_ends_after_30_minutes_idle_and_each_page_restarts_the_clock(client, two_clients):
    mine, _theirs, _document = two_clients
    open_space(client, mine.client)
    assert client.session.get_expiry_age() == IDLE_TIMEOUT_SECONDS == 30 * 60
    with time_machine.travel(timedelta(minutes=29)):
        assert client.get(reverse("portal:home")).status_code == 200
    with time_machine.travel(timedelta(minutes=29 + 31)):
        assert client.get(reverse("portal:home"))["Location"] == reverse("portal:request_link")


def test_signing_needs_the_code_of_this_request_even_with_a_valid_session(client, two_clients):
    mine, _theirs, document = two_clients
    open_space(client, mine.client)
    code_url = reverse("portal:sign_code", args=[document.pk])
    assert client.get(code_url)["Location"] == reverse("portal:sign", args=[document.pk])  # no code asked yet
    client.post(reverse("portal:sign", args=[document.pk]), SIGNER)
    code = last_code()
    assert client.post(code_url, {"code": code}).status_code == 302
    client.post(reverse("portal:sign", args=[document.pk]), SIGNER)  # signed: no new code is sent
    assert OutboxEmail.objects.filter(kind="signing_code").count() == 1
    assert client.post(code_url, {"code": code}).status_code == 302  # used code: back to the (refused) form
    assert Document.objects.filter(order=mine, kind="signed_order_form").count() == 1


@pytest.mark.parametrize(
    ("pilot", "kind", "state"), [(True, "pilot_pv", "pilot_pv_signed"), (False, "va", "va_signed")]
)
def test_the_pilot_pv_and_the_va_are_signed_online(client, pilot, kind, state):
    order = advance(make_order(client=make_doctor(email="dr.pv@cabinet.example"), is_pilot=pilot), "installed")
    document = document_generate(order_id=order.pk, kind=kind, acting_user=None)
    open_space(client, order.client)
    client.post(reverse("portal:sign", args=[document.pk]), SIGNER)
    response = client.post(reverse("portal:sign_code", args=[document.pk]), {"code": last_code()})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == state
    signed = Document.objects.get(order=order, kind=f"signed_{kind}")
    assert seal_validate(signed.file.open("rb").read()).valid
