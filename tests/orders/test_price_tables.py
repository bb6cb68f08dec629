"""Every cell of the published price tables (AF §5.3, §5.4; SPEC §8) and the programme calendar (AF §II)."""

from datetime import UTC, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from orders.models import PriceCeiling, Programme

PARIS = ZoneInfo("Europe/Paris")
CENT = Decimal("0.01")
CATEGORIES = ("doctor", "tranche_a", "tranche_b", "tranche_c", "tranche_d", "tranche_e")
# Typed again from SPEC §8 on purpose (not imported from the migration): columns TTC 20 %, TTC 8.5 %, HT.
PUBLISHED = {
    "principal_v2": [
        ("451.50", "408.23", "376.25"),
        ("3160.50", "2857.62", "2633.75"),
        ("5418.00", "4898.78", "4515.00"),
        ("7675.50", "6939.93", "6396.25"),
        ("9933.00", "8981.09", "8277.50"),
        ("12190.50", "11022.24", "10158.75"),
    ],
    "principal_v1v2": [
        ("580.50", "524.87", "483.75"),
        ("4063.50", "3674.08", "3386.25"),
        ("6966.00", "6298.43", "5805.00"),
        ("9868.50", "8922.77", "8223.75"),
        ("12771.00", "11547.11", "10642.50"),
        ("15673.50", "14171.46", "13061.25"),
    ],
    "secondary": [
        ("125.00", "113.02", "104.17"),
        ("875.00", "791.15", "729.17"),
        ("1500.00", "1356.25", "1250.00"),
        ("2125.00", "1921.35", "1770.83"),
        ("2750.00", "2486.46", "2291.67"),
        ("3375.00", "3051.56", "2812.50"),
    ],
}
CELLS = [
    (prestation, category, vat_regime, Decimal(amount))
    for prestation, rows in PUBLISHED.items()
    for category, row in zip(CATEGORIES, rows, strict=True)
    for vat_regime, amount in zip(("vat_20", "vat_8_5", "ht"), row, strict=True)
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("prestation", "category", "vat_regime", "amount"), CELLS, ids=["-".join(cell[:3]) for cell in CELLS]
)
def test_every_published_ceiling_cell(prestation, category, vat_regime, amount):
    cell = PriceCeiling.objects.get(
        programme__code="MDV-LGC-Va2", prestation=prestation, category=category, vat_regime=vat_regime
    )

    assert cell.amount == amount


@pytest.mark.django_db
def test_the_tables_hold_exactly_the_54_published_cells():
    stored = PriceCeiling.objects.filter(programme__code="MDV-LGC-Va2").values_list(
        "prestation", "category", "vat_regime"
    )

    assert len(CELLS) == 54
    assert sorted(stored) == sorted(cell[:3] for cell in CELLS)


ROWS = [
    (prestation, category, *map(Decimal, row))
    for prestation, rows in PUBLISHED.items()
    for category, row in zip(CATEGORIES, rows, strict=True)
]


@pytest.mark.parametrize(
    ("prestation", "category", "ttc_20", "ttc_8_5", "ht"), ROWS, ids=[f"{row[0]}-{row[1]}" for row in ROWS]
)
def test_the_ttc_columns_are_the_ht_column_with_vat(prestation, category, ttc_20, ttc_8_5, ht):
    # Guards a typo in the typed tables. Every published pair holds to the cent, half-up: HT × 1.2 = TTC 20 % and
    # HT × 1.085 = TTC 8.5 % (the published HT are themselves rounded, e.g. 104.17 × 1.2 = 125.004 → 125.00).
    assert (ht * Decimal("1.2")).quantize(CENT, ROUND_HALF_UP) == ttc_20
    assert (ht * Decimal("1.085")).quantize(CENT, ROUND_HALF_UP) == ttc_8_5


@pytest.mark.django_db
def test_programme_dates_are_noon_in_paris():
    programme = Programme.objects.get(code="MDV-LGC-Va2")
    expected = {
        "date_1": datetime(2025, 10, 15, 10, tzinfo=UTC),  # 12:00 CEST
        "date_2": datetime(2026, 7, 22, 10, tzinfo=UTC),
        "date_3": datetime(2026, 10, 14, 10, tzinfo=UTC),
        "date_4": datetime(2026, 12, 16, 11, tzinfo=UTC),  # 12:00 CET
        "date_5": datetime(2027, 7, 13, 10, tzinfo=UTC),
        "date_6": datetime(2027, 10, 13, 10, tzinfo=UTC),
    }
    dates = {name: getattr(programme, name) for name in expected}

    assert all(timezone.is_aware(value) for value in dates.values())
    assert dates == expected
    assert all(value.astimezone(PARIS).time() == time(12) for value in dates.values())
    assert list(dates.values()) == sorted(dates.values()) and len(set(dates.values())) == len(dates)
    assert programme.date_0 is None  # not given by the AF: set by an administrator once the arrêté is published
    assert programme.couloir == "LGC"
    assert programme.advance_rate == Decimal("0.40")
    assert programme.pilot_size == 5
    assert programme.pre_order_window_days == 120
