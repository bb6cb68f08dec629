"""Benchmark: the secondary prestation's PERF portfolio and the bulk import of monthly figures (AF §3.3, §4.5).

Not a test: it prints figures, each beside its floor.
- The portfolio page (``/admin/monitoring/monitoringmonth/portefeuille/``) with ``--orders`` orders × 24 months
  on PostgreSQL, beside the bare aggregate query it runs (``monitoring.portfolio.portfolio_totals``). The PERF
  summaries are written by the same ``refresh_perf_summaries`` the services call on every write.
- An import of ``--rows`` monthly rows (CSV, ``monitoring.imports.import_file``: parse, validate every row, write the
  revisions, the months and the summaries), beside a raw ``bulk_create`` of the same ``MonitoringMonth`` rows.
  Both run in a rolled-back transaction. Floor: 5 000 validated rows/s.

    .venv/bin/python benchmarks/bench_monitoring.py --orders 100000 --rows 50000

It runs in a database of its own (``--database-url``, created, migrated, then dropped).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_orders import drop_database, recreate_database  # noqa: E402

PARIS = ZoneInfo("Europe/Paris")
PORTFOLIO_VA = datetime(2024, 10, 15, 12, tzinfo=PARIS)  # secondary start 1 November 2024: 24 months to October 2026
IMPORT_VA = datetime(2024, 12, 10, 12, tzinfo=PARIS)  # start 1 January 2025: 20 months to August 2026 per order
IMPORT_MONTHS = 20


def seed_orders(count: int, start: int, va_signed_at: datetime, prefix: str) -> list[int]:
    from clients.models import Client
    from clients.rules import luhn_check_digit
    from orders.models import Order, Solution

    solution = Solution.objects.select_related("programme").get()
    ids: list[int] = []
    for offset in range(start, start + count, 5000):
        size = min(5000, start + count - offset)
        clients = Client.objects.bulk_create(
            [
                Client(
                    kind="doctor", name=f"Dr Bench {index}", rpps=f"2{index:09d}" + luhn_check_digit(f"2{index:09d}")
                )
                for index in range(offset, offset + size)
            ]
        )
        orders = Order.objects.bulk_create(
            [
                Order(
                    number=f"{prefix}-{position:07d}",
                    programme=solution.programme,
                    client=client,
                    solution=solution,
                    prestation="principal_v2",
                    vat_regime="vat_20",
                    principal_amount=Decimal("451.50"),
                    secondary_amount=Decimal("125.00"),
                    issued_at=va_signed_at.replace(year=va_signed_at.year - 1),
                    va_signed_at=va_signed_at,
                    state="va_signed",
                )
                for position, client in enumerate(clients, start=offset)
            ]
        )
        ids += [order.pk for order in orders]
    return ids


def seed_months_and_summaries(first_id: int) -> None:
    """24 months per order in one INSERT … SELECT; every 10th order has only 5 (not enough data); Dm varies."""
    from django.db import connection
    from django.utils import timezone

    from monitoring.services import FIGURE_FIELDS, refresh_perf_summaries
    from orders import rules
    from orders.models import Order

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO monitoring_monitoringmonth
                (order_id, month, documents_expected, documents_sent, patients_seen, patients_qualified,
                 patients_transitional, recorded_at)
            SELECT o.id, (date '2024-11-01' + make_interval(months => g))::date, 20,
                   LEAST(20, o.id %% 17 + g %% 3), 90, 70, 8, now()
            FROM orders_order o CROSS JOIN generate_series(0, 23) g
            WHERE o.id >= %s AND (o.id %% 10 <> 0 OR g < 5)
            """,
            [first_id],
        )
    today = rules.paris_date(timezone.now())
    ids = list(Order.objects.filter(pk__gte=first_id).order_by("pk").values_list("pk", flat=True))
    from monitoring.models import MonitoringMonth

    for offset in range(0, len(ids), 5000):
        chunk = ids[offset : offset + 5000]
        orders = Order.objects.select_related("programme").filter(pk__in=chunk)
        figures: dict[int, dict[date, tuple[int, ...]]] = {pk: {} for pk in chunk}
        for row in MonitoringMonth.objects.filter(order_id__in=chunk).values_list("order_id", "month", *FIGURE_FIELDS):
            figures[row[0]][row[1]] = tuple(row[2:])
        refresh_perf_summaries([(order, figures[order.pk]) for order in orders], today=today)


def measure_portfolio(repeat: int) -> dict[str, float]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client as HttpClient
    from django.utils import timezone

    from monitoring.portfolio import portfolio_totals
    from orders import rules

    browser = HttpClient()
    browser.force_login(get_user_model().objects.get(username="bench"))
    today = rules.paris_date(timezone.now())
    aggregate, page, deep = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        totals = portfolio_totals(today)
        aggregate.append(time.perf_counter() - started)
        queries: list[str] = []

        def count_query(execute, sql, params, many, context, queries=queries):  # type: ignore[no-untyped-def]
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count_query):
            started = time.perf_counter()
            response = browser.get("/admin/monitoring/monitoringmonth/portefeuille/")
            page.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        started = time.perf_counter()
        assert browser.get("/admin/monitoring/monitoringmonth/portefeuille/?page=200").status_code == 200
        deep.append(time.perf_counter() - started)
    return {
        "aggregate_ms": statistics.median(aggregate) * 1000,
        "page_ms": statistics.median(page) * 1000,
        "page_200_ms": statistics.median(deep) * 1000,
        "queries": len(queries),
        "totals": totals,
    }


def measure_import(rows: int) -> dict[str, float]:
    from django.db import transaction

    from monitoring.imports import import_file
    from monitoring.models import MonitoringMonth
    from orders import rules
    from orders.models import Order

    order_count = -(-rows // IMPORT_MONTHS)
    ids = seed_orders(order_count, 900_000, IMPORT_VA, "BC-IMPORT")
    numbers = dict(Order.objects.filter(pk__in=ids).values_list("pk", "number"))
    start = date(2025, 1, 1)
    lines = ["commande;mois;Dt;Dm;T;Tq;Ts"]
    months = []
    for index in range(rows):
        order_id, offset = ids[index // IMPORT_MONTHS], index % IMPORT_MONTHS
        month = rules.add_months(start, offset)
        dm = (order_id + offset) % 21
        lines.append(f"{numbers[order_id]};{month:%m/%Y};20;{dm};90;70;8")
        months.append(
            MonitoringMonth(
                order_id=order_id,
                month=month,
                documents_expected=20,
                documents_sent=dm,
                patients_seen=90,
                patients_qualified=70,
                patients_transitional=8,
            )
        )
    content = ("\n".join(lines) + "\n").encode()
    with transaction.atomic():
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            profiler = cProfile.Profile()
            report = profiler.runcall(import_file, content, "bench.csv")
            profiler.dump_stats(os.environ["BENCH_PROFILE"])
        else:
            report = import_file(content, "bench.csv")
        import_seconds = time.perf_counter() - started
        assert not report.errors, report.errors[:3]
        assert report.new_months == rows, report.new_months
        transaction.set_rollback(True)
    with transaction.atomic():
        started = time.perf_counter()
        MonitoringMonth.objects.bulk_create(months, batch_size=5000)
        bulk_seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    return {"import_s": import_seconds, "bulk_s": bulk_seconds, "bytes": len(content)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/segur_bench_secondary")
    arguments = parser.parse_args()
    if not arguments.database_url.startswith("postgres"):
        parser.error("the benchmark runs on PostgreSQL, the production database")

    recreate_database(arguments.database_url)
    os.environ["DATABASE_URL"] = arguments.database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "segur_portal.settings.production"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 50)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["LOG_LEVEL"] = "WARNING"
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    settings.DEBUG = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    try:
        call_command("migrate", verbosity=0)
        from tests.factories import make_provider, make_solution

        make_solution(provider=make_provider())
        get_user_model().objects.create_superuser("bench", password="bench-password-not-used")
        started = time.perf_counter()
        ids = seed_orders(arguments.orders, 0, PORTFOLIO_VA, "BC-BENCH")
        seed_months_and_summaries(min(ids))
        print(
            f"seeded {arguments.orders} orders × 24 months and their PERF summaries in "
            f"{time.perf_counter() - started:.1f} s"
        )
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        portfolio = measure_portfolio(arguments.repeat)
        totals = portfolio["totals"]
        print(
            f"portfolio, {arguments.orders} orders: page {portfolio['page_ms']:.1f} ms (median, "
            f"{portfolio['queries']} queries), page 200 of the closest list {portfolio['page_200_ms']:.1f} ms; "
            f"floor: bare aggregate query {portfolio['aggregate_ms']:.1f} ms"
        )
        print(
            f"  PERF 1 {totals['perf_1']}, 0,5 {totals['perf_half']}, 0 {totals['perf_0']}, "
            f"not enough data {totals['no_data']}; secured {totals['secured']} €, at risk {totals['at_risk']} €"
        )
        figures = measure_import(arguments.rows)
        rate = arguments.rows / figures["import_s"]
        print(
            f"import, {arguments.rows} rows ({figures['bytes'] / 1024 / 1024:.1f} MiB CSV): "
            f"{figures['import_s']:.2f} s "
            f"= {rate:,.0f} validated rows/s (floor 5 000); raw bulk_create of the same rows "
            f"{figures['bulk_s']:.2f} s = {arguments.rows / figures['bulk_s']:,.0f} rows/s"
        )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(arguments.database_url)


if __name__ == "__main__":
    main()
