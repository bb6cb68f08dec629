"""Benchmark: how the order list and the deadline computation cost grow with the number of orders.

Not a test: it prints figures. It runs in a database of its own (created, migrated, then dropped), so it never
touches real data. PostgreSQL by default (the production database):

    .venv/bin/python benchmarks/bench_orders.py --sizes 1000 10000 100000

Options: --database-url postgres://postgres@127.0.0.1:5432/segur_bench (the database is dropped and re-created),
--repeat N (list renders per size, median reported).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATES_WITH_DATES = [
    # state, share of orders, fields set (days after issue)
    ("draft", 20, {}),
    ("pre_order", 5, {"signed_at": 1}),
    ("firm", 25, {"signed_at": 1, "firm_at": 1}),
    ("advance_requested", 15, {"signed_at": 1, "advance_requested_at": 3}),
    ("advance_paid", 10, {"signed_at": 1, "advance_requested_at": 3, "advance_paid_at": 20}),
    ("installed", 8, {"signed_at": 1, "advance_requested_at": 3, "advance_paid_at": 20, "installed_at": 30}),
    (
        "va_signed",
        7,
        {"signed_at": 1, "advance_requested_at": 3, "advance_paid_at": 20, "installed_at": 30, "va_signed_at": 35},
    ),
    (
        "balance_paid",
        10,
        {
            "signed_at": 1,
            "advance_requested_at": 3,
            "advance_paid_at": 20,
            "installed_at": 30,
            "va_signed_at": 35,
            "balance_requested_at": 40,
            "balance_paid_at": 60,
        },
    ),
]


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}"')


def state_for(position: int, total_weight: int) -> tuple[str, dict[str, int]]:
    """Spread orders over the states by their share, deterministically."""
    slot = position % total_weight
    for state, share, dates in STATES_WITH_DATES:
        if slot < share:
            return state, dates
        slot -= share
    raise AssertionError(position)


def seed(count: int, start: int) -> None:
    """Add ``count`` orders (and their clients) with bulk inserts: this measures reads, not the write rules."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from clients.models import Client
    from clients.rules import luhn_check_digit
    from orders.models import Order, Solution

    solution = Solution.objects.select_related("programme").get()
    salespeople = list(get_user_model().objects.filter(groups__name="Commercial").values_list("pk", flat=True))
    issued = timezone.now() - timedelta(days=90)
    total_weight = sum(share for _state, share, _dates in STATES_WITH_DATES)
    batch = 5000
    for offset in range(start, start + count, batch):
        size = min(batch, start + count - offset)
        clients = []
        for index in range(offset, offset + size):
            payload = f"1{index:09d}"
            clients.append(
                Client(
                    kind="doctor",
                    name=f"Dr Bench {index}",
                    rpps=payload + luhn_check_digit(payload),
                    email=f"cabinet{index}@bench.example",
                )
            )
        clients = Client.objects.bulk_create(clients)
        orders = []
        for position, client in enumerate(clients, start=offset):
            state, dates = state_for(position, total_weight)
            fields = {name: issued + timedelta(days=days) for name, days in dates.items()}
            orders.append(
                Order(
                    salesperson_id=salespeople[position % len(salespeople)],
                    number=f"BC-BENCH-{position:07d}",
                    programme=solution.programme,
                    client=client,
                    solution=solution,
                    prestation="principal_v2",
                    vat_regime="vat_20",
                    principal_amount=Decimal("451.50"),
                    secondary_amount=Decimal("125.00"),
                    issued_at=issued,
                    state=state,
                    **fields,
                )
            )
        Order.objects.bulk_create(orders)


def measure(repeat: int) -> dict[str, float]:
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from orders import rules
    from orders.models import Order

    browser = HttpClient()
    browser.force_login(get_user_model().objects.get(username="bench"))
    timings = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = browser.get("/admin/orders/order/")
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    list_queries = len(queries)
    reset_queries()
    now = timezone.now()
    with CaptureQueriesContext(connection) as deadline_queries:
        started = time.perf_counter()
        deadlines = 0
        orders = Order.objects.select_related("programme", "solution").iterator(chunk_size=2000)
        for order in orders:
            deadlines += len(rules.order_deadlines(order, now))
        deadline_seconds = time.perf_counter() - started
    from django.db import transaction

    from monitoring import reminders

    scan_queries: list[str] = []

    def count_query(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        scan_queries.append(sql)  # every statement, including bulk inserts and cursor fetches' queries
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_query), transaction.atomic():
        started = time.perf_counter()
        summary = reminders.deadlines_scan(now=now)
        scan_seconds = time.perf_counter() - started
        transaction.set_rollback(True)  # the next size scans the same day again
    client_ms, client_queries = measure_client_page(repeat)
    with CaptureQueriesContext(connection) as calendar_queries:
        started = time.perf_counter()
        calendar = browser.get("/admin/calendrier/")
        calendar_seconds = time.perf_counter() - started
    assert calendar.status_code == 200, calendar.status_code
    return {
        "calendar_s": calendar_seconds,
        "calendar_queries": len(calendar_queries),
        "calendar_kb": len(calendar.content) / 1024,
        "client_ms": client_ms,
        "client_queries": client_queries,
        "scan_s": scan_seconds,
        "scan_queries": len(scan_queries),
        "scan_reminders": summary.reminders,
        "list_ms": statistics.median(timings) * 1000,
        "list_queries": list_queries,
        "deadline_s": deadline_seconds,
        "deadline_queries": len(deadline_queries),
        "deadlines": deadlines,
    }


def measure_client_page(repeat: int) -> tuple[float, int]:
    """A client's order page in the client space, opened with its personal link: it should not grow with the
    number of orders of the other clients."""
    from django.db import connection
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order
    from portal.access import access_url

    order = Order.objects.select_related("client").order_by("pk").first()
    browser = HttpClient()
    link = access_url(order.client, order.client.email).split("/espace-client/", 1)[1]
    assert browser.get(f"/espace-client/{link}").status_code == 302
    timings = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = browser.get(f"/espace-client/commandes/{order.number}/")
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(timings) * 1000, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/segur_bench")
    parser.add_argument("--repeat", type=int, default=5)
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

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic for a benchmark
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
        from django.contrib.auth.models import Group

        sales_group = Group.objects.get(name="Commercial")
        for index in range(10):
            user = get_user_model().objects.create_user(
                f"vente{index}", email=f"vente{index}@bench.example", is_staff=True
            )
            user.groups.add(sales_group)
        print(
            f"{'orders':>8} | {'list (ms, median)':>17} | {'list queries':>12} | {'deadlines (s)':>13} | "
            f"{'µs / order':>10} | {'deadline queries':>16} | {'scan (s)':>14} | {'scan queries':>12} | "
            f"{'reminders':>9} | {'client page (ms)':>16} | {'client queries':>14} | {'calendar (s)':>12} | "
            f"{'calendar queries':>16} | {'calendar (KiB)':>14}"
        )
        seeded = 0
        for size in sorted(arguments.sizes):
            seed(size - seeded, seeded)
            seeded = size
            figures = measure(arguments.repeat)
            print(
                f"{size:>8} | {figures['list_ms']:>17.1f} | {figures['list_queries']:>12} | "
                f"{figures['deadline_s']:>13.3f} | {figures['deadline_s'] / size * 1e6:>10.1f} | "
                f"{figures['deadline_queries']:>16} | {figures['scan_s']:>14.2f} | {figures['scan_queries']:>12} | "
                f"{figures['scan_reminders']:>9} | {figures['client_ms']:>16.1f} | {figures['client_queries']:>14} | "
                f"{figures['calendar_s']:>12.2f} | {figures['calendar_queries']:>16} | {figures['calendar_kb']:>14.0f}",
                flush=True,
            )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(arguments.database_url)


if __name__ == "__main__":
    main()
