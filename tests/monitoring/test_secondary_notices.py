"""The client notice of the levels reached (AF §4.5): e-mailed when a month's figures are recorded, at most once a
month per order, in plain French; the same words on the order's page of the client space."""

import html
import re
from datetime import date
from unittest import mock

import pytest
import time_machine
from django.urls import reverse
from django.utils.html import strip_tags

from monitoring import notices, tasks
from monitoring.models import OutboxEmail, RevisionSource
from monitoring.services import MonthReport, order_analysis, record_months, record_months_bulk
from orders import rules, services
from portal.access import access_token
from tests.factories import advance, make_doctor, make_order, paris

pytestmark = pytest.mark.django_db
START = date(2026, 11, 1)
JARGON = ("SPEC", "AF §", "PERF", "Dt", "Dm", "Tq", "fenêtre", "(s)")


@pytest.fixture
def order():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        return advance(make_order(client=make_doctor(email="dr.morel@cabinet.example")), "va_signed")


def reports(dms, first=START, dt=20):
    return [MonthReport(rules.add_months(first, i), dt, dm, 100, 80, 10) for i, dm in enumerate(dms)]


def notices_sent():
    return list(OutboxEmail.objects.filter(kind=notices.KIND).order_by("pk"))


def test_recording_a_month_tells_the_client_the_level_and_what_is_missing_in_plain_french(order):
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        record_months(order, reports([9] * 6))  # 54/120 = 45 % → half the level; 18 more documents for 60 %

    (email,) = notices_sent()
    assert email.to == "dr.morel@cabinet.example" and order.number in email.subject
    body = " ".join(email.body_text.split())
    assert "Moitié du niveau atteinte : de novembre 2026 à avril 2027, vous avez envoyé 54 documents sur 120" in body
    assert (
        "Pour atteindre 60 % sur les mois de novembre 2026 à avril 2027, il manque 18 documents envoyés "
        "à Mon espace santé." in body
    )
    assert "Il reste 11 mois, jusqu'au 30/04/2028, pour progresser." in body
    assert "/espace-client/acces/" in body and "Il reste 11 mois" in email.body_html
    # The personal link's random key may hold any letters: the jargon is looked for in the text around it.
    texts = [re.sub(r"https?://\S+", "", text) for text in (body, strip_tags(email.body_html))]
    for word in JARGON:
        assert all(word not in text for text in texts), word


def test_at_most_one_notice_a_month_per_order_whatever_the_source(order):
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        record_months(order, reports([9] * 3))
        record_months(order, reports([9] * 3, first=date(2027, 2, 1)), source=RevisionSource.IMPORT)
        record_months(order, reports([12], first=START), source=RevisionSource.API, reason="Relevé corrigé")
    with time_machine.travel(paris(2027, 7, 2, 10), tick=False):
        record_months(order, reports([12], first=date(2027, 6, 1)))

    sent = notices_sent()
    assert len(sent) == 2
    assert "Le niveau se mesure sur 6 mois consécutifs de relevés : il en manque 3 pour une première mesure." in (
        sent[0].body_text
    )
    assert "Moitié du niveau atteinte : de novembre 2026 à avril 2027, vous avez envoyé 57 documents" in " ".join(
        sent[1].body_text.split()
    )


def test_a_write_that_changes_nothing_tells_nobody(order):
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        record_months(order, reports([9] * 6))
        OutboxEmail.objects.all().delete()
        record_months(order, reports([9] * 6))  # the same figures again: nothing written

    assert notices_sent() == []


def test_a_terminated_order_or_a_client_without_address_gets_no_notice(order):
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        services.perform(
            "record_termination",
            order_id=order.pk,
            acting_user=None,
            params={"terminated_at": paris(2027, 6, 1, 10), "reason": "Départ"},
        )
        order.refresh_from_db()
        record_months(order, reports([9] * 6))

    assert notices_sent() == []
    assert notices.client_perf_words(order_analysis(order), window_months=6) == [
        "Votre commande est résiliée : la Prestation secondaire ne sera pas versée."
    ]


def test_a_big_import_with_the_broker_down_is_caught_up_by_the_nightly_job(
    order, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(notices, "INLINE_MAX", 0)
    with (
        time_machine.travel(paris(2027, 6, 10, 10), tick=False),
        mock.patch.object(tasks.send_perf_notices, "delay", side_effect=OSError("broker down")) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        record_months_bulk([(order, reports([9] * 6))], source=RevisionSource.IMPORT, all_or_nothing=True)
    assert delay.call_args.args == ([order.pk],) and notices_sent() == []

    with time_machine.travel(paris(2027, 6, 11, 6, 30), tick=False):
        tasks.refresh_perf_summaries()
        tasks.refresh_perf_summaries()

    (email,) = notices_sent()
    assert "Moitié du niveau atteinte" in email.body_text


def test_the_task_writes_the_notices_of_the_orders_it_is_given(order, django_capture_on_commit_callbacks):
    monkey = mock.patch.object(notices, "INLINE_MAX", 0)
    with monkey, time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        with (
            mock.patch.object(tasks.send_perf_notices, "delay") as delay,
            django_capture_on_commit_callbacks(execute=True),
        ):
            record_months(order, reports([12] * 6), source=RevisionSource.IMPORT)
        assert delay.call_args.args == ([order.pk],) and notices_sent() == []
        assert tasks.send_perf_notices([order.pk]) == 1
        assert tasks.send_perf_notices([order.pk]) == 0

    assert "Niveau plein atteint" in notices_sent()[0].body_text


def test_the_client_space_order_page_says_the_level_in_words(client, order):
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        record_months(order, reports([9] * 6))
        client.get(reverse("portal:access", args=[access_token(order.client, order.client.email)]))
        page = html.unescape(client.get(reverse("portal:order", args=[order.number])).content.decode())

    read = " ".join(strip_tags(page).split())
    assert "Où vous en êtes sur six mois" in read
    assert (
        "Pour atteindre 60 % sur les mois de novembre 2026 à avril 2027, il manque 18 documents envoyés "
        "à Mon espace santé." in read
    )
    assert "Novembre 2026 : 9 documents envoyés sur 20 attendus (45 %) — objectif atteint à moitié" in read


def test_the_notices_of_a_write_take_the_same_queries_for_2_orders_as_for_6():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        orders = [
            advance(make_order(client=make_doctor(email=f"dr.{i}@cabinet.example")), "va_signed") for i in range(8)
        ]
    counts = []
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        for group in (orders[:2], orders[2:]):
            with CaptureQueriesContext(connection) as queries:
                record_months_bulk([(order, reports([9] * 6)) for order in group], source=RevisionSource.IMPORT)
            counts.append(len(queries))

    assert counts[0] == counts[1]
    assert len(notices_sent()) == 8
