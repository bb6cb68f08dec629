"""Programme MDV-LGC-Va2: its calendar (AF §II, SPEC §2) and every cell of its price tables (AF §5.3, §5.4, SPEC §8).

The data are written here literally (a migration must not import app code); tests check every cell.
"""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import migrations

PARIS = ZoneInfo("Europe/Paris")
CODE = "MDV-LGC-Va2"
CATEGORIES = ("doctor", "tranche_a", "tranche_b", "tranche_c", "tranche_d", "tranche_e")
VAT_REGIMES = ("vat_20", "vat_8_5", "ht")
# prestation → one row per category, columns (TTC 20 %, TTC 8.5 %, HT)
TABLES = {
    "principal_v2": (
        ("451.50", "408.23", "376.25"),
        ("3160.50", "2857.62", "2633.75"),
        ("5418.00", "4898.78", "4515.00"),
        ("7675.50", "6939.93", "6396.25"),
        ("9933.00", "8981.09", "8277.50"),
        ("12190.50", "11022.24", "10158.75"),
    ),
    "principal_v1v2": (
        ("580.50", "524.87", "483.75"),
        ("4063.50", "3674.08", "3386.25"),
        ("6966.00", "6298.43", "5805.00"),
        ("9868.50", "8922.77", "8223.75"),
        ("12771.00", "11547.11", "10642.50"),
        ("15673.50", "14171.46", "13061.25"),
    ),
    "secondary": (
        ("125.00", "113.02", "104.17"),
        ("875.00", "791.15", "729.17"),
        ("1500.00", "1356.25", "1250.00"),
        ("2125.00", "1921.35", "1770.83"),
        ("2750.00", "2486.46", "2291.67"),
        ("3375.00", "3051.56", "2812.50"),
    ),
}


def noon(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, 0, tzinfo=PARIS)


def create_programme(apps, schema_editor):
    Programme = apps.get_model("orders", "Programme")
    PriceCeiling = apps.get_model("orders", "PriceCeiling")
    programme, _created = Programme.objects.update_or_create(
        code=CODE,
        defaults={
            "name": "Mise à jour des logiciels de gestion de cabinet — vague 2 (SONS MDV-LGC-Va2)",
            "couloir": "LGC",
            "date_0": None,
            "date_1": noon(2025, 10, 15),
            "date_2": noon(2026, 7, 22),
            "date_3": noon(2026, 10, 14),
            "date_4": noon(2026, 12, 16),
            "date_5": noon(2027, 7, 13),
            "date_6": noon(2027, 10, 13),
        },
    )
    for prestation, rows in TABLES.items():
        for category, amounts in zip(CATEGORIES, rows, strict=True):
            for vat_regime, amount in zip(VAT_REGIMES, amounts, strict=True):
                PriceCeiling.objects.update_or_create(
                    programme=programme,
                    prestation=prestation,
                    category=category,
                    vat_regime=vat_regime,
                    defaults={"amount": Decimal(amount)},
                )


def delete_programme(apps, schema_editor):
    Programme = apps.get_model("orders", "Programme")
    PriceCeiling = apps.get_model("orders", "PriceCeiling")
    PriceCeiling.objects.filter(programme__code=CODE).delete()
    Programme.objects.filter(code=CODE).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(create_programme, delete_programme)]
