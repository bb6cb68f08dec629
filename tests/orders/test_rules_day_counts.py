"""Day and month counts are Paris calendar days; Date 2 caps the 120 days of a pre-order (AF §II, §4.3–§4.5)."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from orders import rules
from tests.factories import paris

DATE_2 = paris(2026, 7, 22, 12)


def programme(**overrides):
    fields = {
        "date_2": DATE_2,
        "pre_order_window_days": 120,
        "secondary_request_months": 20,
        "secondary_observation_months": 18,
        "termination_notice_months": 12,
        "portability_days": 15,
    }
    return SimpleNamespace(**(fields | overrides))


def test_the_120_days_end_with_the_whole_paris_day_120():
    """AF §4.3 «120 jours calendaires»: signed 02/03/2026 (any hour), the dossier is due by 30/06/2026 23:59."""
    deadline = rules.complete_dossier_deadline(signed_at=paris(2026, 3, 2, 18), programme=programme())

    assert rules.paris_date(deadline) == date(2026, 3, 2) + timedelta(days=120) == date(2026, 6, 30)
    assert rules.complete_dossier_on_time(paris(2026, 6, 30, 15), deadline)  # 15:00 on day 120: on time
    assert rules.complete_dossier_on_time(paris(2026, 6, 30, 23, 59, 59), deadline)
    assert not rules.complete_dossier_on_time(paris(2026, 7, 1, 0), deadline)  # day 121: late
    assert rules.format_deadline(deadline) == "30/06/2026"


def test_the_day_count_is_paris_days_even_for_a_signature_late_in_the_utc_evening():
    # 31/03/2026 23:30 in Paris is 21:30 UTC, still the 31st: the 120 days run to 29/07 (then capped by Date 2).
    deadline = rules.complete_dossier_deadline(signed_at=paris(2026, 3, 31, 23, 30), programme=programme())

    assert deadline == DATE_2


def test_date_2_caps_the_120_days():
    """AF §II, §4.3: signed 02/07/2026, 120 days would run to 30/10/2026; the dossier is due by Date 2."""
    deadline = rules.complete_dossier_deadline(signed_at=paris(2026, 7, 2), programme=programme())

    assert deadline == DATE_2
    assert rules.complete_dossier_on_time(DATE_2, deadline)
    assert not rules.complete_dossier_on_time(DATE_2 + timedelta(seconds=1), deadline)
    assert not rules.complete_dossier_on_time(paris(2026, 8, 10), deadline)  # within 120 days, after Date 2
    assert not rules.complete_dossier_on_time(None, deadline)
    assert rules.format_deadline(deadline) == "22/07/2026 12:00"  # Date 2 is an instant


@pytest.mark.parametrize(
    ("signed_at", "expected"),
    [
        (paris(2026, 3, 24), rules.end_of_day_paris(date(2026, 7, 22))),  # day 120 is Date 2's day: noon is earlier
        (paris(2026, 3, 23), rules.end_of_day_paris(date(2026, 7, 21))),
    ],
)
def test_the_earlier_of_the_two_limits_wins(signed_at, expected):
    assert rules.complete_dossier_deadline(signed_at=signed_at, programme=programme()) == min(expected, DATE_2)


def test_lapse_uses_the_effective_deadline():
    """AF §4.3: a pre-order signed 02/07/2026 without dossier lapses just after Date 2, not on 31/10/2026."""
    order = SimpleNamespace(signed_at=paris(2026, 7, 2))
    solution = SimpleNamespace(refused_at=None, complete_dossier_submitted_at=None)

    assert rules.lapse_reason(order=order, programme=programme(), solution=solution, now=DATE_2) is None
    reason = rules.lapse_reason(
        order=order, programme=programme(), solution=solution, now=DATE_2 + timedelta(seconds=1)
    )
    assert reason and "avant la Date 2 (22/07/2026 12:00)" in reason


def test_lapse_after_120_days_waits_for_the_end_of_day_120():
    order = SimpleNamespace(signed_at=paris(2026, 3, 2))
    solution = SimpleNamespace(refused_at=None, complete_dossier_submitted_at=None)

    assert rules.lapse_reason(order=order, programme=programme(), solution=solution, now=paris(2026, 6, 30, 23)) is None
    reason = rules.lapse_reason(order=order, programme=programme(), solution=solution, now=paris(2026, 7, 1, 0))
    assert reason and "120 jours calendaires" in reason and "30/06/2026" in reason


def test_end_of_day_is_the_last_instant_of_the_paris_day_across_daylight_saving():
    for day in (date(2026, 3, 29), date(2026, 10, 25), date(2026, 12, 8)):  # DST changes, winter
        end = rules.end_of_day_paris(day)
        assert rules.paris_date(end) == day
        assert rules.paris_date(end + timedelta(microseconds=1)) == day + timedelta(days=1)
        assert rules.is_end_of_day(end) and not rules.is_end_of_day(rules.noon_paris(day))


def test_the_order_deadline_and_its_reminders_use_the_effective_deadline():
    """The PRE_ORDER_120_DAYS deadline (calendar, reminders) falls at Date 2 when Date 2 comes first (AF §4.3)."""
    fields = dict.fromkeys(rules.DEADLINE_ORDER_FIELDS) | {"state": "pre_order", "is_pilot": False}
    order = SimpleNamespace(**fields | {"signed_at": paris(2026, 7, 2)})
    order.programme = programme(date_4=paris(2026, 12, 16))
    order.solution = SimpleNamespace(complete_dossier_submitted_at=paris(2026, 8, 10))

    deadline = next(d for d in rules.order_deadlines(order, paris(2026, 7, 22, 11)) if d.code == "PRE_ORDER_120_DAYS")
    late = next(d for d in rules.order_deadlines(order, paris(2026, 8, 11)) if d.code == "PRE_ORDER_120_DAYS")

    assert (deadline.due_at, deadline.status) == (DATE_2, "upcoming")
    assert late.status == "overdue"  # the dossier of 10/08 came after Date 2: it does not meet it
