from datetime import date

import pytest
import time_machine

from monitoring.models import MonitoringMonth
from monitoring.services import MonthReport, monitoring_record_months
from tests.factories import advance, make_order, paris


@pytest.fixture
def order_after_va(db):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        return advance(make_order(), "va_signed")  # VA in October 2026 → secondary starts 1 November 2026


@pytest.fixture(autouse=True)
def months_over():
    """Figures are recorded once their month is over (AF §3.3): the clock stands in August 2027."""
    with time_machine.travel(paris(2027, 8, 10, 10), tick=False):
        yield


def test_valid_months_are_kept_and_invalid_ones_rejected_with_their_reason(order_after_va):
    reports = [
        MonthReport(date(2026, 11, 1), 20, 12, 50, 40, 5),
        MonthReport(date(2026, 12, 1), 20, 21, 50, 40, 5),  # Dm > Dt
        MonthReport(date(2027, 1, 1), 20, 12, 50, 51, 5),  # Tq > T
        MonthReport(date(2027, 2, 1), 20, 12, 50, 40, 41),  # Ts > Tq
        MonthReport(date(2027, 3, 1), 20, 12, 50, 40, -1),
        MonthReport(date(2026, 10, 1), 20, 12, 50, 40, 5),  # before the start
    ]

    result = monitoring_record_months(order=order_after_va, reports=reports)

    assert [month.month for month in result.saved] == [date(2026, 11, 1)]
    reasons = {report.month: [v.code for v in violations] for report, violations in result.rejected}
    assert reasons == {
        date(2026, 12, 1): ["MONITORING_INCONSISTENT"],
        date(2027, 1, 1): ["MONITORING_INCONSISTENT"],
        date(2027, 2, 1): ["MONITORING_INCONSISTENT"],
        date(2027, 3, 1): ["MONITORING_NEGATIVE"],
        date(2026, 10, 1): ["MONITORING_BEFORE_START"],
    }
    assert "Dm (21) ne peut dépasser Dt (20)" in result.rejected[0][1][0].message
    assert MonitoringMonth.objects.count() == 1


def test_a_recorded_month_is_not_changed_without_the_reason_of_the_correction(order_after_va):
    """AF §4.5: a correction says why; without a reason the recorded month stays what it was."""
    monitoring_record_months(order=order_after_va, reports=[MonthReport(date(2026, 11, 1), 20, 12, 50, 40, 5)])

    result = monitoring_record_months(order=order_after_va, reports=[MonthReport(date(2026, 11, 1), 99, 99, 99, 9, 9)])

    assert [v.code for v in result.rejected[0][1]] == ["MONITORING_CORRECTION_REASON"]
    assert MonitoringMonth.objects.get().documents_expected == 20


def test_absurd_months_and_figures_are_refused_with_their_reason_and_not_stored(order_after_va):
    """AF §3.3: a month outside the programme's calendar, a figure past 10 million or not a whole number is refused."""
    reports = [
        MonthReport(date(9999, 11, 1), 20, 12, 50, 40, 5),
        MonthReport(date(2027, 4, 1), 10**12, 12, 50, 40, 5),
        MonthReport(date(2027, 5, 1), 20, 12, 2.5, 2, 1),  # type: ignore[arg-type]
        MonthReport(date(2027, 6, 1), 10_000_000, 12, 50, 40, 5),  # the largest accepted figure
    ]

    result = monitoring_record_months(order=order_after_va, reports=reports)

    assert [month.month for month in result.saved] == [date(2027, 6, 1)]
    reasons = {report.month: [v.code for v in violations] for report, violations in result.rejected}
    assert reasons == {
        date(9999, 11, 1): ["DATE_OUT_OF_RANGE"],
        date(2027, 4, 1): ["MONITORING_TOO_LARGE"],
        date(2027, 5, 1): ["MONITORING_NOT_WHOLE"],
    }
    assert MonitoringMonth.objects.filter(order=order_after_va).count() == 1
