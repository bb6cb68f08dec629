"""Benchmark: how the order list and the deadline computation cost grow with the number of orders.

Not a test: it prints figures. It runs in a database of its own (created, migrated, then dropped), so it never
touches real data. PostgreSQL by default (the production database):

    .venv/bin/python benchmarks/bench_orders.py --sizes 1000 10000 100000

Options: --database-url postgres://postgres@127.0.0.1:5432/segur_bench (the database is dropped and re-created),
--repeat N (list renders, scans and their floors per size, median reported).
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


def analyze() -> None:
    """Refresh PostgreSQL's statistics after the bulk inserts, as autovacuum does in production a little later:
    without them the planner takes the tables for empty and scans instead of reading the indexes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def median_get(browser, url: str, repeat: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Median time (ms) of ``repeat`` GETs of ``url`` and the queries of the last one."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = browser.get(url)
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(timings) * 1000, len(queries)


def scan_floors(now) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The scan's floors, measured beside it: reading the same rows as plain tuples (every open order's deadline
    fields, the stored deadlines, today's candidates with their order, client, salesperson and solution), and
    writing the same outbox and dispatch rows with ``bulk_create`` (then rolled back)."""
    from django.db import connection, transaction

    from monitoring import reminders
    from monitoring.models import OutboxEmail, ReminderDispatch
    from orders import rules
    from orders.models import Order, StoredDeadline
    from orders.selectors import with_open_deadlines
    from segur_portal.bulk_insert import insert_rows

    today, offsets = rules.paris_date(now), reminders.reminder_offsets()
    started = time.perf_counter()
    with connection.cursor():
        fields = ("pk", "programme_id", "solution_id", *rules.DEADLINE_ORDER_FIELDS, "principal_amount")
        for _row in with_open_deadlines(Order.objects.all()).values_list(*fields).iterator(chunk_size=2000):
            pass
        for _row in StoredDeadline.objects.values_list("order_id", *reminders.deadline_store.ROW_FIELDS).iterator(
            chunk_size=2000
        ):
            pass
        candidates = StoredDeadline.objects.filter(due_at__lt=reminders._candidates_before(today, offsets))
        for _row in candidates.values_list(
            "order_id",
            "code",
            "due_at",
            "order__number",
            "order__client__name",
            "order__client__email",
            "order__salesperson__email",
            "order__solution__name",
            "order__principal_amount",
        ).iterator(chunk_size=2000):
            pass
    read_floor = time.perf_counter() - started
    columns = reminders.EMAIL_COLUMNS
    with transaction.atomic():
        emails = list(OutboxEmail.objects.order_by("pk").values_list(*columns))
        dispatches = list(ReminderDispatch.objects.order_by("pk").values_list(*reminders.DISPATCH_COLUMNS))
        transaction.set_rollback(True)
    write_floors = {}
    for how in ("copy", "bulk_create"):
        with transaction.atomic():
            ReminderDispatch.objects.all().delete()
            OutboxEmail.objects.all().delete()
            started = time.perf_counter()
            if how == "copy":  # the cheapest way PostgreSQL takes the rows: one COPY per table
                first = insert_rows(OutboxEmail, columns, emails, with_ids=True)[:1]
                insert_rows(
                    ReminderDispatch, reminders.DISPATCH_COLUMNS, [(*row[:-2], *first, row[-1]) for row in dispatches]
                )
            else:  # the ORM's bulk insert
                made = OutboxEmail.objects.bulk_create(
                    [OutboxEmail(**dict(zip(columns, row, strict=True))) for row in emails], batch_size=2000
                )
                ReminderDispatch.objects.bulk_create(
                    [
                        ReminderDispatch(
                            **{**dict(zip(reminders.DISPATCH_COLUMNS, row, strict=True)), "email_id": made[0].pk}
                        )
                        for row in dispatches
                    ],
                    batch_size=2000,
                )
            write_floors[how] = time.perf_counter() - started
            transaction.set_rollback(True)
    return {
        "read_floor_s": read_floor,
        "write_floor_s": write_floors["copy"],
        "bulk_create_s": write_floors["bulk_create"],
        "scan_emails": len(emails),
    }


def measure(repeat: int) -> dict[str, float]:
    import tracemalloc

    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries, transaction
    from django.test import Client as HttpClient
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from monitoring import reminders
    from orders import rules
    from orders.models import Order

    browser = HttpClient()
    browser.force_login(get_user_model().objects.get(username="bench"))
    list_ms, list_queries = median_get(browser, "/admin/orders/order/", repeat)
    filter_ms, filter_queries = median_get(browser, "/admin/orders/order/?echeance=7", repeat)
    overdue_ms, _ = median_get(browser, "/admin/orders/order/?echeance=overdue", repeat)
    facets_ms, facets_queries = median_get(browser, "/admin/orders/order/?echeance=30&_facets=1", 1)
    reset_queries()
    now = timezone.now()
    with CaptureQueriesContext(connection) as deadline_queries:
        started = time.perf_counter()
        deadlines = 0
        orders = Order.objects.select_related("programme", "solution").iterator(chunk_size=2000)
        for order in orders:
            deadlines += len(rules.order_deadlines(order, now))
        deadline_seconds = time.perf_counter() - started

    scan_queries: list[str] = []

    def count_query(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        scan_queries.append(sql)  # every statement, including bulk inserts and cursor fetches' queries
        return execute(sql, params, many, context)

    # The scan and its floors, ``repeat`` times each (the median of each is reported: one run on a shared machine
    # varies by a fifth), every run rolled back so that each scans the same day afresh.
    scan_runs: list[float] = []
    floor_runs: list[dict[str, float]] = []
    for attempt in range(repeat):
        scan_queries.clear()
        with transaction.atomic():
            with connection.execute_wrapper(count_query):
                started = time.perf_counter()
                summary = reminders.deadlines_scan(now=now)
                scan_runs.append(time.perf_counter() - started)
            floor_runs.append(scan_floors(now))  # the same rows, read and written bare, beside the scan's output
            if attempt == 0:
                started = time.perf_counter()  # the e-mails' bodies, rendered by the sender (off the scan)
                rendered = reminders.outbox_render_pending()
                render_seconds = time.perf_counter() - started
            transaction.set_rollback(True)  # the next run (and size) scans the same day again
    scan_seconds = statistics.median(scan_runs)
    floors = {name: statistics.median(run[name] for run in floor_runs) for name in floor_runs[0]}
    with transaction.atomic():
        tracemalloc.start()
        reminders.deadlines_scan(now=now)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        transaction.set_rollback(True)
    client_ms, client_queries = measure_client_page(repeat)
    calendar_ms, calendar_queries = median_get(browser, "/admin/calendrier/", repeat)
    return {
        "calendar_ms": calendar_ms,
        "calendar_queries": calendar_queries,
        "client_ms": client_ms,
        "client_queries": client_queries,
        "scan_s": scan_seconds,
        "render_s": render_seconds,
        "rendered": rendered,
        "scan_queries": len(scan_queries),
        "scan_reminders": summary.reminders,
        "scan_peak_mb": peak / 1e6,
        **floors,
        "list_ms": list_ms,
        "list_queries": list_queries,
        "filter_ms": filter_ms,
        "filter_queries": filter_queries,
        "overdue_ms": overdue_ms,
        "facets_ms": facets_ms,
        "facets_queries": facets_queries,
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


def set_up_django(database_url: str) -> None:
    """A fresh benchmark database and Django under the production settings (no collectstatic: plain static
    storage), shared by the benchmark scripts; the caller migrates."""
    recreate_database(database_url)
    os.environ["DATABASE_URL"] = database_url
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

    settings.DEBUG = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/segur_bench")
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    if not arguments.database_url.startswith("postgres"):
        parser.error("the benchmark runs on PostgreSQL, the production database")

    set_up_django(arguments.database_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

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
            "orders | store rebuild (s) | list (ms) / q | filter 7 d (ms) / q | filter overdue (ms) | "
            "facets (ms) / q | "
            "deadlines (s) | scan (s) | read floor (s) | write floor (s) | scan / floors | scan queries | reminders | "
            "e-mails | scan peak (MB) | client page (ms) / q | calendar (ms) / q | sender render (s) / e-mails",
            flush=True,
        )
        seeded = 0
        for size in sorted(arguments.sizes):
            seed(size - seeded, seeded)
            seeded = size
            from orders import deadline_store

            started = time.perf_counter()
            deadline_store.rebuild()  # the orders were bulk-inserted: their stored deadlines are written here
            rebuild_s = time.perf_counter() - started
            analyze()
            f = measure(arguments.repeat)
            floors = f["read_floor_s"] + f["write_floor_s"]
            print(
                f"{size} | {rebuild_s:.2f} | {f['list_ms']:.1f} / {f['list_queries']} | "
                f"{f['filter_ms']:.1f} / {f['filter_queries']} | {f['overdue_ms']:.1f} | "
                f"{f['facets_ms']:.1f} / {f['facets_queries']} | {f['deadline_s']:.3f} | {f['scan_s']:.2f} | "
                f"{f['read_floor_s']:.2f} | {f['write_floor_s']:.2f} | {f['scan_s'] / floors:.2f} | "
                f"{f['scan_queries']} | {f['scan_reminders']} | {f['scan_emails']} | {f['scan_peak_mb']:.1f} | "
                f"{f['client_ms']:.1f} / {f['client_queries']} | {f['calendar_ms']:.1f} / {f['calendar_queries']} | "
                f"{f['render_s']:.2f} / {f['rendered']}",
                flush=True,
            )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(arguments.database_url)


if __name__ == "__main__":
    main()
