"""Benchmark: the staff dashboard (the admin home page, ``orders.dashboard``) at 1k, 10k and 100k orders.

Not a test: it prints figures. Same database and seed as ``bench_orders.py`` (its own PostgreSQL database, created,
migrated, then dropped; orders spread over the states by bulk inserts). For each size it prints the page's time
(median of ``--repeat`` renders, logged-in superuser, production settings) and its number of queries, beside the
time of the bare aggregate queries it runs (``orders.dashboard``'s SQL functions, without the page) and the time of
the deadline block (``deadlines_ahead``, read from the deadline engine's calendar):

    .venv/bin/python benchmarks/bench_dashboard.py --sizes 1000 10000 100000
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_orders import analyze, drop_database, seed, set_up_django  # noqa: E402


def median_seconds(function, repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def measure(repeat: int) -> dict[str, float]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client as HttpClient
    from django.utils import timezone

    from orders import dashboard
    from orders.models import Order, Programme

    browser = HttpClient()
    browser.force_login(get_user_model().objects.get(username="bench"))
    assert browser.get("/admin/").status_code == 200  # warm-up
    queries: list[str] = []

    def count_query(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)  # every statement (as bench_orders counts the scan's)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count_query):
        response = browser.get("/admin/")
    assert response.status_code == 200, response.status_code
    assert "Où en sont les commandes" in response.content.decode()
    page_s = median_seconds(lambda: browser.get("/admin/"), repeat)
    now = timezone.now()
    orders = Order.objects.all()
    programme = Programme.objects.order_by("date_4").first()

    def aggregates() -> None:
        dashboard.pipeline_by_state(orders)
        dashboard.pipeline_by_salesperson(orders)
        dashboard.pipeline_by_client(orders)
        dashboard.pipeline_by_programme(orders)
        dashboard.money_figures(orders)
        dashboard.by_vat_regime(orders)
        dashboard.pace(orders, programme, now)
        dashboard.readiness(now)

    page_queries = len(queries)
    queries.clear()
    with connection.execute_wrapper(count_query):
        aggregates()
    aggregate_queries = len(queries)
    return {
        "page_ms": page_s * 1000,
        "page_queries": page_queries,
        "page_kb": len(response.content) / 1024,
        "aggregates_ms": median_seconds(aggregates, repeat) * 1000,
        "aggregate_queries": aggregate_queries,
        "deadlines_ms": median_seconds(lambda: dashboard.deadlines_ahead(now), repeat) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/segur_bench_dashboard")
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    if not arguments.database_url.startswith("postgres"):
        parser.error("the benchmark runs on PostgreSQL, the production database")

    set_up_django(arguments.database_url)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        from orders import deadline_store
        from tests.factories import make_provider, make_solution

        make_solution(provider=make_provider())
        get_user_model().objects.create_superuser("bench", password="bench-password-not-used")
        sales_group = Group.objects.get(name="Commercial")
        for index in range(10):
            user = get_user_model().objects.create_user(
                f"vente{index}", email=f"vente{index}@bench.example", is_staff=True
            )
            user.groups.add(sales_group)
        print(
            f"{'orders':>8} | {'page (ms, median)':>17} | {'page queries':>12} | {'page (KiB)':>10} | "
            f"{'aggregates (ms)':>15} | {'aggregate queries':>17} | {'deadlines (ms)':>14} | {'page / aggregates':>17}"
        )
        seeded = 0
        for size in sorted(arguments.sizes):
            seed(size - seeded, seeded)
            seeded = size
            deadline_store.rebuild()  # the orders were bulk-inserted: their stored deadlines are written here
            analyze()
            figures = measure(arguments.repeat)
            print(
                f"{size:>8} | {figures['page_ms']:>17.1f} | {figures['page_queries']:>12} | "
                f"{figures['page_kb']:>10.0f} | {figures['aggregates_ms']:>15.1f} | "
                f"{figures['aggregate_queries']:>17} | {figures['deadlines_ms']:>14.1f} | "
                f"{figures['page_ms'] / figures['aggregates_ms']:>17.2f}",
                flush=True,
            )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(arguments.database_url)


if __name__ == "__main__":
    main()
