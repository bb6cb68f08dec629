"""Secondary prestation: corrections as revisions, PERF windows per order and their boundaries (AF §3.3, §4.5, §5.4)."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from monitoring import perf
from monitoring.models import MonitoringMonth, MonitoringRevision, PerfStatus, PerfSummary, RevisionSource
from monitoring.services import MonthReport, order_analysis, record_months
from orders import rules
from tests.factories import advance, make_order, paris

START = date(2026, 11, 1)  # VA in October 2026 → the secondary prestation starts on 1 November 2026


@pytest.fixture
def order(db):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        return advance(make_order(), "va_signed")


@pytest.fixture(autouse=True)
def later():
    """The clock in December 2027: the months up to November 2027 are over (AF §3.3)."""
    with time_machine.travel(paris(2027, 12, 10, 10), tick=False):
        yield


def months(first: date, figures: list[tuple[int, int]]) -> list[MonthReport]:
    return [MonthReport(rules.add_months(first, i), dt, dm, 100, 80, 10) for i, (dt, dm) in enumerate(figures)]


def window(dt: int, dm: int) -> list[tuple[int, int]]:
    """Six months adding up to (dt, dm), the remainders in the first month."""
    return [(dt // 6 + dt % 6, dm // 6 + dm % 6)] + [(dt // 6, dm // 6)] * 5


# --- Boundaries of SPEC §9 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dt", "dm", "expected"),
    [
        (60, 60, Decimal("0")),  # Dt = 60: not more than 60 → PERF 0 even at 100 %
        (61, 61, Decimal("1")),  # Dt = 61: counts
        (100, 60, Decimal("1")),  # exactly 60 %
        (100, 59, Decimal("0.5")),  # just below 60 %
        (100, 40, Decimal("0.5")),  # exactly 40 %
        (100, 39, Decimal("0")),  # just below 40 %
        (65, 39, Decimal("1")),  # 39/65 = 60 % exactly in integers
        (65, 38, Decimal("0.5")),
        (65, 26, Decimal("0.5")),  # 26/65 = 40 % exactly
        (65, 25, Decimal("0")),
    ],
)
def test_perf_at_every_threshold_of_the_window(order, dt, dm, expected):
    """AF §3.3: Dt > 60, then 5·Dm ≥ 3·Dt → 1, 5·Dm ≥ 2·Dt → 0,5, else 0 (integers, never floats)."""
    record_months(order, months(START, window(dt, dm)))

    analysis = order_analysis(order)

    assert analysis.best is not None
    assert (analysis.best.dt, analysis.best.dm, analysis.best.perf) == (dt, dm, expected)
    summary = PerfSummary.objects.get(order=order)
    assert summary.best_perf == expected
    assert summary.payable_amount == rules.secondary_payable(order.secondary_amount, expected)


def test_a_window_across_a_year_change_is_named_with_both_years(order):
    record_months(order, months(START, window(120, 80)))  # November 2026 – April 2027

    analysis = order_analysis(order)

    assert (analysis.best.first_month, analysis.best.last_month) == (date(2026, 11, 1), date(2027, 4, 1))
    assert perf.window_label(analysis.best.first_month, analysis.best.last_month) == "novembre 2026–avril 2027"
    assert analysis.missing_text == "PERF 1 atteint sur la fenêtre novembre 2026–avril 2027."


def test_five_months_are_not_a_window(order):
    record_months(order, months(START, [(100, 100)] * 5))

    analysis = order_analysis(order)

    assert analysis.best is None and analysis.status == PerfStatus.NO_DATA
    assert analysis.missing_text == "il manque 1 mois consécutif de relevés pour former une première fenêtre de 6 mois."
    assert PerfSummary.objects.get(order=order).status == PerfStatus.NO_DATA


def test_what_is_missing_is_said_in_documents_on_the_closest_window(order):
    """« il manque N documents envoyés sur la fenêtre … pour atteindre 60 % » (integers, AF §3.3)."""
    record_months(order, months(START, window(120, 58)))  # 48 % → PERF 0,5; 60 % needs Dm ≥ 72

    analysis = order_analysis(order)

    assert analysis.best.perf == Decimal("0.5")
    assert analysis.missing_count == 14
    assert analysis.missing_text == (
        "il manque 14 documents envoyés sur la fenêtre novembre 2026–avril 2027 pour atteindre 60 %."
    )
    assert analysis.first_qualifying.first_month == START


def test_dt_not_above_60_is_said_too(order):
    record_months(order, months(START, window(60, 60)))

    analysis = order_analysis(order)

    assert analysis.missing_count == 1
    assert "1 document produit (Dt doit dépasser 60)" in analysis.missing_text
    assert "pour atteindre 40 %" in analysis.missing_text


def test_the_amount_is_the_secondary_amount_times_perf_and_months_left_count_to_18(order):
    record_months(order, months(START, window(100, 45)))

    analysis = order_analysis(order, today=date(2027, 12, 10))

    assert analysis.payable == rules.secondary_payable(order.secondary_amount, Decimal("0.5"))
    assert analysis.observation_end == date(2028, 5, 1)
    assert analysis.months_left == 5  # December 2027 → May 2028


def test_a_terminated_order_pays_nothing(order):
    order.terminated_at = paris(2027, 6, 1)
    record_months(order, months(START, window(100, 100)))

    assert order_analysis(order).payable == Decimal("0.00")
    assert "résiliée" in order_analysis(order).missing_text


# --- Corrections as revisions (AF §4.5) ------------------------------------------------------------------------------


def test_the_same_payload_twice_changes_nothing(order, django_assert_max_num_queries):
    payload = months(START, window(100, 70))
    record_months(order, payload, source=RevisionSource.API)

    again = record_months(order, payload, source=RevisionSource.API)

    assert again.saved == [] and again.rejected == [] and len(again.unchanged) == 6
    assert MonitoringRevision.objects.filter(order=order).count() == 6


def test_a_correction_is_a_new_revision_and_history_is_kept(order, django_user_model):
    user = django_user_model.objects.create_user("correcteur")
    record_months(order, months(START, [(20, 5)]), user=user)

    result = record_months(
        order, months(START, [(20, 15)]), source=RevisionSource.IMPORT, user=user, reason="Relevé LGC corrigé"
    )

    assert result.corrected == [START]
    revisions = list(MonitoringRevision.objects.filter(order=order, month=START))
    assert [(r.documents_sent, r.source, r.reason) for r in revisions] == [
        (5, "manual", ""),
        (15, "import", "Relevé LGC corrigé"),
    ]
    assert all(r.author == user for r in revisions)
    assert MonitoringMonth.objects.get(order=order, month=START).documents_sent == 15


def test_a_revision_is_never_edited_nor_deleted(order):
    record_months(order, months(START, [(20, 5)]))
    revision = MonitoringRevision.objects.get()

    revision.reason = "réécrit"
    with pytest.raises(ValueError, match="ne se modifie jamais"):
        revision.save()
    with pytest.raises(ValueError, match="ne se supprime jamais"):
        MonitoringRevision.objects.all().delete()


def test_a_correction_changes_the_best_window_and_the_order_qualifies(order):
    """Demo case: a month typed wrong (Dm 1 instead of 16) kept the order at PERF 0,5; the correction makes it 1."""
    figures = [(20, 12)] * 6
    figures[2] = (20, 1)
    record_months(order, months(START, figures))
    before = order_analysis(order)
    assert before.best.perf == Decimal("0.5") and PerfSummary.objects.get(order=order).status == PerfStatus.PERF_HALF

    record_months(order, months(date(2027, 1, 1), [(20, 16)]), reason="Erreur de saisie")

    after = order_analysis(order)
    assert after.best.perf == Decimal("1") and (after.best.dt, after.best.dm) == (120, 76)
    assert PerfSummary.objects.get(order=order).status == PerfStatus.PERF_1


def test_a_correction_moves_the_best_window_to_a_later_one(order):
    record_months(order, months(START, [(20, 12)] * 9))  # 60 % everywhere: the first window is the best
    assert order_analysis(order).best.first_month == START

    record_months(order, months(START, [(20, 0)]), reason="Envois de novembre rejetés par MES")

    best = order_analysis(order).best
    assert (best.perf, best.first_month, best.dm) == (Decimal("1"), date(2026, 12, 1), 72)
    assert PerfSummary.objects.get(order=order).best_first_month == date(2026, 12, 1)


def test_an_order_without_va_is_not_in_the_secondary_prestation(db):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        draft = make_order()

    result = record_months(draft, months(START, [(20, 5)]))

    assert [v.code for v in result.rejected[0][1]] == ["MONITORING_NOT_IN_SECONDARY"]
    assert not MonitoringMonth.objects.exists()


def test_a_month_not_over_yet_is_refused(order):
    result = record_months(order, months(date(2027, 12, 1), [(20, 5)]))

    assert [v.code for v in result.rejected[0][1]] == ["MONITORING_FUTURE"]


def test_all_or_nothing_writes_nothing_when_one_month_is_refused(order):
    payload = months(START, [(20, 5), (20, 21)])

    result = record_months(order, payload, source=RevisionSource.IMPORT, all_or_nothing=True)

    assert result.saved == [] and len(result.rejected) == 1
    assert not MonitoringMonth.objects.exists() and not MonitoringRevision.objects.exists()


def test_the_best_window_is_the_one_the_secondary_request_uses(order):
    """``perf.analyse`` picks its best window as ``rules.best_perf_window`` does (orders.services.perf_window_for)."""
    from orders.services import perf_window_for

    record_months(order, months(START, [(20, 8), (20, 14), (20, 9), (20, 12), (20, 15), (20, 7), (20, 13), (20, 20)]))

    assert order_analysis(order).best == perf_window_for(order)
