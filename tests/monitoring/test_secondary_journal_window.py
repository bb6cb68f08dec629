"""The ASP/ANS journal of the chosen window reads the corrected current values and the same window as the portfolio
(AF §3.3, §4.5, §6.5): ``orders.documents`` (``rules.best_perf_window``) and ``monitoring.perf`` agree."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from monitoring.models import PerfSummary
from monitoring.services import MonthReport, order_analysis, record_months
from orders import rules
from orders.documents.asp_packages import monitoring_journal_csv
from orders.documents.rendering import perf_window
from tests.factories import advance, make_order, paris

pytestmark = pytest.mark.django_db
START = date(2026, 11, 1)


def test_a_correction_that_changes_the_best_window_changes_the_journal_window_too():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(), "va_signed")
    with time_machine.travel(paris(2027, 12, 10, 10), tick=False):
        dms = [7, 7, 7, 7, 7, 7, 12, 12]  # 35 % on Nov–Apr; Jan–Jun reaches 52/120 = 43 % → PERF 0,5
        record_months(order, [MonthReport(rules.add_months(START, i), 20, dm, 90, 70, 8) for i, dm in enumerate(dms)])
        assert perf_window(order).first_month == date(2027, 1, 1)
        record_months(order, [MonthReport(START, 20, 20, 90, 70, 8)], reason="Envois retrouvés")  # Nov: 20 sent
        analysis = order_analysis(order)

    window = perf_window(order)
    assert window == analysis.best
    assert (window.first_month, window.dt, window.dm, window.perf) == (START, 120, 55, Decimal("0.5"))
    summary = PerfSummary.objects.get(order=order)
    assert (summary.best_first_month, summary.best_dm) == (START, 55)
    rows = monitoring_journal_csv(order).decode().splitlines()
    assert rows[1].split(";")[4:8] == ["11/2026", "11/2026", "20", "20"]  # the corrected value, not the first one
    assert rows[-1].split(";")[3:8] == ["fenetre", "11/2026", "04/2027", "120", "55"]
