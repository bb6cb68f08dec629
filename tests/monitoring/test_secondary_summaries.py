"""Stored PERF summaries stay true: the backfill of months recorded before summaries existed, the nightly refresh when
an observation ends, and a client termination (AF §3.3, §4.5, §7)."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from monitoring import tasks
from monitoring.models import MonitoringMonth, PerfStatus, PerfSummary
from monitoring.services import MonthReport, rebuild_perf_summaries, record_months
from orders import rules, services
from orders.roles import DEPLOYMENT_GROUP
from tests.factories import advance, make_order, make_user, paris

pytestmark = pytest.mark.django_db
START = date(2026, 11, 1)


@pytest.fixture
def order():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        return advance(make_order(), "va_signed")


def six_months(order, dm=12):
    record_months(order, [MonthReport(rules.add_months(START, i), 20, dm, 100, 80, 10) for i in range(6)])


def test_the_command_builds_the_summaries_of_months_recorded_before_summaries_existed(order):
    """Migration 0004 gave old months their first revision, not their summary: they read « not enough data »."""
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        six_months(order)
        PerfSummary.objects.all().delete()  # as after migration 0004

        call_command("rebuild_perf_summaries")

    summary = PerfSummary.objects.get(order=order)
    assert summary.status == PerfStatus.PERF_1 and summary.best_first_month == START
    assert summary.payable_amount == order.secondary_amount


def test_a_signed_va_without_months_gets_its_summary_and_a_second_run_does_nothing(order):
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        assert rebuild_perf_summaries() == 1
        assert rebuild_perf_summaries() == 0
    assert PerfSummary.objects.get(order=order).status == PerfStatus.NO_DATA


def test_the_nightly_job_refreshes_a_summary_whose_observation_ended_since(order):
    """AF §4.5: on 1 May 2028 the 18 months are over; what is missing no longer counts as « closest to a level »."""
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        six_months(order, dm=9)  # 45 % → PERF 0,5, 18 documents short of 60 %
    assert PerfSummary.objects.get(order=order).missing_count == 18

    with time_machine.travel(paris(2028, 4, 30, 10), tick=False):
        assert tasks.refresh_perf_summaries() == 0  # still running: nothing changes with time
    with time_machine.travel(paris(2028, 5, 1, 6, 30), tick=False):
        assert tasks.refresh_perf_summaries() == 1
        assert tasks.refresh_perf_summaries() == 0

    summary = PerfSummary.objects.get(order=order)
    assert summary.missing_count is None
    assert summary.missing_text.startswith("Période d'observation de 18 mois terminée")
    assert summary.status == PerfStatus.PERF_HALF


def test_the_job_is_in_the_beat_schedule_every_night():
    entry = settings.CELERY_BEAT_SCHEDULE["perf-summaries"]
    assert entry["task"] == "monitoring.tasks.refresh_perf_summaries"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({6}, {30})


def test_a_client_termination_means_no_secondary_payment_on_the_portfolio_and_the_order_page(client, order):
    """AF §7: a terminated order's secondary prestation is not paid, whatever its PERF."""
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        six_months(order)
        assert PerfSummary.objects.get(order=order).payable_amount == order.secondary_amount

        services.perform(
            "record_termination",
            order_id=order.pk,
            acting_user=None,
            params={"terminated_at": paris(2027, 6, 10, 9), "reason": "Départ du cabinet"},
        )

        summary = PerfSummary.objects.get(order=order)
        assert summary.payable_amount == Decimal("0.00") and summary.missing_count is None
        assert rebuild_perf_summaries() == 0  # the summary is already newer than the termination
        client.force_login(make_user("deploiement", DEPLOYMENT_GROUP))
        portfolio = client.get(reverse("admin:monitoring_secondary_portfolio"))
        page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    totals = portfolio.context["totals"]
    assert totals["terminated"] == 1 and totals["perf_1"] == 0 and totals["secured"] == 0
    assert "Commande résiliée par le client : la Prestation secondaire n&#x27;est pas payée" in page
    assert MonitoringMonth.objects.filter(order=order).count() == 6


def test_the_nightly_job_catches_a_termination_recorded_without_the_service(order):
    with time_machine.travel(paris(2027, 6, 10, 10), tick=False):
        six_months(order)
    type(order).objects.filter(pk=order.pk).update(terminated_at=paris(2027, 6, 11, 10))

    with time_machine.travel(paris(2027, 6, 12, 6, 30), tick=False):
        assert rebuild_perf_summaries() == 1

    assert PerfSummary.objects.get(order=order).payable_amount == 0
