"""Pure rules: money (AF §5), calendar (AF §II), PERF (AF §3.3), obsolete versions (AF §4.3)."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from orders import rules
from orders.rules import MonthFigures, VersionFacts

UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("principal", "advance", "balance"),
    [
        ("451.50", "180.60", "270.90"),
        ("408.23", "163.29", "244.94"),  # 163.292 → 163.29
        ("376.25", "150.50", "225.75"),
        ("2857.62", "1143.05", "1714.57"),  # 1143.048 → 1143.05
        ("0.05", "0.02", "0.03"),  # 0.020
        ("0.15", "0.06", "0.09"),
        ("100.01", "40.00", "60.01"),  # 40.004 → 40.00
        ("100.04", "40.02", "60.02"),  # 40.016 → 40.02
        ("1.25", "0.50", "0.75"),
        ("0.0125", "0.01", "0.0025"),  # half-up at the cent: 0.005 → 0.01
    ],
)
def test_advance_is_40_percent_half_up_and_balance_is_the_remainder(principal, advance, balance):
    computed_advance, computed_balance = rules.advance_and_balance(Decimal(principal), Decimal("0.40"))

    assert computed_advance == Decimal(advance)
    assert computed_balance == Decimal(balance)
    assert computed_advance + computed_balance == Decimal(principal)


def test_half_up_not_bankers_rounding():
    # 0.40 × 1.3125 = 0.525 → 0.53 half-up (banker's rounding would give 0.52)
    assert rules.advance_and_balance(Decimal("1.3125"), Decimal("0.40"))[0] == Decimal("0.53")


@pytest.mark.parametrize(
    ("dt", "dm", "perf"),
    [
        (60, 60, "0"),  # Dt ≤ 60 → 0
        (61, 37, "1"),  # 37/61 = 60.66 % ≥ 60 %
        (100, 60, "1"),  # exactly 60 %
        (100, 59, "0.5"),
        (100, 40, "0.5"),  # exactly 40 %
        (100, 39, "0"),
        (61, 0, "0"),
    ],
)
def test_perf_thresholds_with_exact_integer_arithmetic(dt, dm, perf):
    assert rules.perf_level(dt, dm) == Decimal(perf)


def test_best_window_picks_the_best_six_continuous_months_within_eighteen():
    start = date(2027, 1, 1)
    months = [MonthFigures(rules.add_months(start, i), 20, 5) for i in range(18)]
    # Months 6..11 are good: 6 × 20 = 120 documents, 6 × 13 = 78 sent = 65 %.
    months = [MonthFigures(m.month, 20, 13) if 6 <= i <= 11 else m for i, m in enumerate(months)]

    window = rules.best_perf_window(months, start=start, observation_months=18, window_months=6)

    assert window.perf == Decimal("1")
    assert window.first_month == date(2027, 7, 1)
    assert window.last_month == date(2027, 12, 1)


def test_a_gap_in_the_journal_breaks_the_continuous_window():
    start = date(2027, 1, 1)
    months = [MonthFigures(rules.add_months(start, i), 100, 90) for i in range(12) if i != 3 and i != 9]

    assert rules.best_perf_window(months, start=start, observation_months=18, window_months=6) is None


def test_months_after_eighteen_do_not_count():
    start = date(2027, 1, 1)
    months = [MonthFigures(rules.add_months(start, i), 100, 90) for i in range(13, 24)]

    assert rules.best_perf_window(months, start=start, observation_months=18, window_months=6) is None


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2027, 1, 1), 18, date(2028, 7, 1)),
        (date(2027, 11, 30), 20, date(2029, 7, 30)),
    ],
)
def test_add_months_clamps_to_the_end_of_month(day, months, expected):
    assert rules.add_months(day, months) == expected


def test_secondary_starts_the_first_of_the_month_after_the_va():
    va_on_the_1st = SimpleNamespace(va_signed_at=datetime(2027, 3, 1, 9, tzinfo=rules.PARIS))
    va_on_the_31st = SimpleNamespace(va_signed_at=datetime(2027, 3, 31, 23, 30, tzinfo=rules.PARIS))

    assert rules.secondary_start(va_on_the_1st) == date(2027, 4, 1)
    assert rules.secondary_start(va_on_the_31st) == date(2027, 4, 1)


def test_secondary_start_uses_the_paris_day_not_the_utc_day():
    # 31/03/2027 22:30 UTC is already 1st April 00:30 in Paris (summer time): the VA was signed in April.
    va = SimpleNamespace(va_signed_at=datetime(2027, 3, 31, 22, 30, tzinfo=UTC))

    assert rules.secondary_start(va) == date(2027, 5, 1)


def test_deadlines_are_at_noon_paris_across_daylight_saving():
    winter = rules.noon_paris(date(2026, 12, 16))
    summer = rules.noon_paris(date(2027, 7, 13))

    assert winter.astimezone(UTC).hour == 11
    assert summer.astimezone(UTC).hour == 10
    # 120 days after a signature in March (winter time) lands in July (summer time): still 12:00 in Paris.
    deadline = rules.noon_paris(date(2026, 3, 20) + timedelta(days=120))
    assert deadline.astimezone(rules.PARIS).hour == 12


def versions(*specs):
    return [VersionFacts(*spec) for spec in specs]


DATE_0 = datetime(2025, 6, 1, 12, tzinfo=rules.PARIS)


def test_obsolete_declaration_within_the_rules_is_accepted():
    declared = versions(
        ("9", date(2019, 1, 1), date(2024, 1, 10), False, True),
        ("10", date(2021, 1, 1), None, True, False),
        ("11", date(2024, 6, 1), None, False, False),
    )

    assert rules.obsolete_declaration_violations(declared, DATE_0) == []


def test_obsolete_without_public_announcement_before_date_0_is_refused():
    declared = versions(
        ("9", date(2019, 1, 1), date(2025, 7, 1), False, True), ("11", date(2024, 6, 1), None, False, False)
    )

    codes = [v.code for v in rules.obsolete_declaration_violations(declared, DATE_0)]

    assert codes == ["OBSOLETE_NOT_ANNOUNCED_BEFORE_DATE_0"]


def test_the_most_recent_version_at_date_0_cannot_be_obsolete():
    declared = versions(
        ("9", date(2019, 1, 1), date(2024, 1, 10), False, True),
        ("10", date(2021, 1, 1), date(2024, 1, 10), False, True),
        ("12", date(2025, 9, 1), None, False, False),  # released after Date 0
    )

    codes = [v.code for v in rules.obsolete_declaration_violations(declared, DATE_0)]

    assert codes == ["OBSOLETE_MOST_RECENT_AT_DATE_0"]


def test_the_wave1_version_and_later_cannot_be_obsolete():
    declared = versions(
        ("9", date(2019, 1, 1), date(2024, 1, 10), True, True),
        ("10", date(2021, 1, 1), None, False, False),
    )

    codes = [v.code for v in rules.obsolete_declaration_violations(declared, DATE_0)]

    assert codes == ["OBSOLETE_WAVE1_OR_LATER"]


def test_obsolete_declaration_needs_date_0():
    declared = versions(("9", date(2019, 1, 1), date(2024, 1, 10), False, True))

    assert [v.code for v in rules.obsolete_declaration_violations(declared, None)] == ["DATE_0_UNKNOWN"]
