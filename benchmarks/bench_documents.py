"""Benchmark: order forms per second with our pipeline vs a bare WeasyPrint render of the same HTML.

    .venv/bin/python benchmarks/bench_documents.py --count 500

Runs in its own PostgreSQL database (created, migrated, dropped). One worker = this process.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_orders import drop_database, recreate_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/segur_bench_documents")
    arguments = parser.parse_args()
    recreate_database(arguments.database_url)
    os.environ.update(
        DATABASE_URL=arguments.database_url,
        DJANGO_SETTINGS_MODULE="segur_portal.settings.local",
        LOG_LEVEL="WARNING",
        MEDIA_ROOT=str(ROOT / "var" / "bench-media"),
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.template.loader import render_to_string
    from weasyprint import HTML

    try:
        call_command("migrate", verbosity=0)
        from orders import documents
        from tests.factories import make_doctor, make_order, make_solution

        solution = make_solution()
        orders = [make_order(solution=solution, client=make_doctor()) for _ in range(arguments.count)]

        started = time.perf_counter()
        for order in orders:
            documents.document_generate(order_id=order.pk, kind="order_form", acting_user=None)
        pipeline = time.perf_counter() - started

        html = render_to_string("documents/order_form.html", documents.order_form_context(orders[0]))
        base_url = documents.STATIC_ROOT.as_uri() + "/"
        started = time.perf_counter()
        for _ in orders:
            HTML(string=html, base_url=base_url).write_pdf()
        bare = time.perf_counter() - started

        print(f"{'documents':>9} | {'pipeline (doc/s)':>16} | {'bare WeasyPrint (doc/s)':>23} | {'overhead':>8}")
        print(
            f"{arguments.count:>9} | {arguments.count / pipeline:>16.1f} | {arguments.count / bare:>23.1f} | "
            f"{pipeline / bare:>7.2f}x"
        )
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(arguments.database_url)


if __name__ == "__main__":
    main()
