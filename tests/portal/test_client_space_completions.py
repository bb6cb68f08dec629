"""Issue #12, the client space completed: no jargon (no state code, no AF section, «12 h»), one name per document,
the data portability request (AF §4.4: recorded through the order's action, 15-day clock, e-mail confirmation)."""

import html

import pytest
from django.urls import reverse

from monitoring.models import OutboxEmail
from orders.documents import document_generate
from orders.models import OrderEvent
from portal.access import access_token
from tests.factories import advance, make_doctor, make_order, paris

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def page_of(browser, order) -> str:
    browser.get(reverse("portal:access", args=[access_token(order.client, order.client.email)]))
    return html.unescape(browser.get(reverse("portal:order", args=[order.number])).content.decode())


def test_no_state_code_no_section_number_and_noon_written_12_h(client):
    order = make_order(client=make_doctor(email="dr.a@cabinet.example"), issued_at=paris(2026, 11, 2, 9))
    document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    page = page_of(client, order)
    home = html.unescape(client.get(reverse("portal:home")).content.decode())

    for text in (page, home):
        assert "Brouillon" not in text and "AF §" not in text and "12:00" not in text
    assert "16 décembre 2026 à 12 h" in page and "16/12/2026 à 12 h" in home


def test_a_client_requests_its_data_once_and_is_told_the_15_day_deadline(client):
    order = advance(make_order(client=make_doctor(email="dr.p@cabinet.example")), "installed")
    page = page_of(client, order)
    assert "Demander l'export de mes données" in page

    response = client.post(reverse("portal:portability", args=[order.number]), follow=True)

    order.refresh_from_db()
    assert order.portability_requested_at is not None
    assert OrderEvent.objects.filter(order=order, action="request_portability", accepted=True).exists()
    confirmation = OutboxEmail.objects.get(kind="portability_confirmation", to="dr.p@cabinet.example")
    assert "08/12/2026 à 12 h" in confirmation.body_text  # 23/11 + 15 days, noon
    text = html.unescape(response.content.decode())
    assert "au plus tard le 08/12/2026 à 12 h" in text and "Demander l'export" not in text
    again = client.post(reverse("portal:portability", args=[order.number]), follow=True)
    assert "Demande impossible" in html.unescape(again.content.decode())


def test_portability_is_not_offered_before_the_installation(client):
    order = make_order(client=make_doctor(email="dr.q@cabinet.example"), issued_at=paris(2026, 11, 2, 9))
    assert "Demander l'export" not in page_of(client, order)
    response = client.post(reverse("portal:portability", args=[order.number]))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.portability_requested_at is None
