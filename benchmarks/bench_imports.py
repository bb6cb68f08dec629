"""Benchmark: time and peak memory of the Base de référence import as the file grows, beside a floor.

    .venv/bin/python benchmarks/bench_imports.py --sizes 1000 10000 100000

For each size it writes a CSV file (``;``, Windows-1252, as French Excel saves it) and measures:
- floor: a plain ``csv.reader`` over the file (nothing kept);
- preview: what the admin's preview does (stream the stored file, check every row, write them in batches, roll back);
- import: the confirmation (the same, committed, then every structure's tranche refreshed).
Time is measured without tracing; peak memory is the peak of Python allocations (tracemalloc) in a second run, and
the process's maximum resident size is printed at the end. Runs in its own PostgreSQL database (created, migrated,
dropped).

With ``--what doctors-orders`` (issue 13) it measures instead the admin's imports of doctors and of draft orders
(``DoctorResource`` / ``OrderImportResource``, preview then confirm, each in a rolled-back transaction so every size
starts from the same database) beside their floor: a plain ``bulk_create`` of the same rows (for orders, the orders
and their creation events). It prints rows per second and the number of SQL queries of each.
"""

import argparse
import csv
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_orders import drop_database, recreate_database  # noqa: E402


def luhn_completed(digits: str) -> str:
    """``digits`` followed by the check digit that makes the whole a valid Luhn number (FINESS, SPEC §4)."""
    for check in "0123456789":
        candidate = digits + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError(digits)


def write_reference_file(path: Path, size: int) -> None:
    with path.open("w", encoding="cp1252", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["finess", "raison_sociale", "tranche", "effectif"])
        for number in range(size):
            finess = luhn_completed(f"{75 + number % 20:02d}{number:06d}")
            writer.writerow(
                [finess, f"Maison de santé pluriprofessionnelle n° {number}", "ABCDE"[number % 5], number % 90]
            )


def measure(action: Callable[[], Any]) -> tuple[float, float]:
    """Seconds (untraced run), then peak MB of Python allocations (traced run)."""
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    action()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/segur_bench_imports")
    parser.add_argument("--what", choices=["reference", "doctors-orders"], default="reference")
    arguments = parser.parse_args()
    if arguments.what == "doctors-orders":
        bench_doctors_orders(arguments.sizes, arguments.database_url)
        return
    recreate_database(arguments.database_url)
    os.environ.update(
        DATABASE_URL=arguments.database_url, DJANGO_SETTINGS_MODULE="segur_portal.settings.local", LOG_LEVEL="WARNING"
    )
    import resource

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    from clients import services
    from clients.admin import reference_rows
    from clients.models import ReferenceBase

    settings.DEBUG = False  # DEBUG keeps every SQL statement: not what production does
    try:
        call_command("migrate", verbosity=0)
        print("| rows | file (MB) | floor: csv parse (s / peak MB) | preview (s / peak MB) | import (s / peak MB) |")
        print("|---:|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as directory:
            for size in arguments.sizes:
                path = Path(directory) / f"bdr-{size}.csv"
                write_reference_file(path, size)

                def floor(path: Path = path) -> None:
                    with path.open(encoding="cp1252", newline="") as file:
                        for _row in csv.reader(file, delimiter=";"):
                            pass

                def preview(path: Path = path, size: int = size) -> None:
                    with transaction.atomic():
                        services.reference_base_import(version=f"bench-{size}", rows=reference_rows(path, path.name))
                        transaction.set_rollback(True)

                def confirm(path: Path = path, size: int = size) -> None:
                    version = f"bench-{size}-{ReferenceBase.objects.count()}"  # entries are protected: a new version
                    services.reference_base_import(version=version, rows=reference_rows(path, path.name))

                figures = [measure(action) for action in (floor, preview, confirm)]
                cells = " | ".join(f"{seconds:.2f} / {peak:.1f}" for seconds, peak in figures)
                print(f"| {size:,} | {path.stat().st_size / 1_000_000:.1f} | {cells} |".replace(",", " "))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000
        print(f"\nmaximum resident size of the process over the whole run: {rss:.0f} MB")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(arguments.database_url)


DOCTOR_HEADERS = [
    "nom",
    "rpps",
    "specialite",
    "patients_medecin_traitant",
    "email",
    "telephone",
    "adresse",
    "code_postal",
    "ville",
    "version_installee",
    "vague1_beneficiaire",
    "vague1_autofinance",
]
ORDER_HEADERS = ["rpps_ou_finess", "solution", "prestation", "regime_tva", "montant_principal", "montant_secondaire"]


def timed(action: Callable[[], Any]) -> tuple[float, int, Any]:
    """Seconds and SQL statements of ``action`` (run in a transaction rolled back afterwards), and its result."""
    from django.db import connection, transaction

    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with transaction.atomic(), connection.execute_wrapper(count):
        start = time.perf_counter()
        outcome = action()
        seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    return seconds, statements, outcome


def bench_doctors_orders(sizes: list[int], database_url: str) -> None:
    """Doctors and draft orders imported as the admin does, beside ``bulk_create`` of the same rows (issue 13)."""
    recreate_database(database_url)
    os.environ.update(
        DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="segur_portal.settings.local", LOG_LEVEL="WARNING"
    )
    import django

    django.setup()
    import tablib
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False
    settings.SEGUR_IMPORT_MAX_ROWS = max(sizes)
    try:
        call_command("migrate", verbosity=0)
        from clients.models import Client
        from clients.resources import DoctorResource
        from orders.models import Order, OrderEvent
        from orders.resources import OrderImportResource
        from tests.factories import make_solution, make_user, valid_rpps

        user = make_user("bench")
        solution = make_solution()
        label = f"{solution.name} {solution.version}"
        print(
            "| rows | import | floor: bulk_create (rows/s) | preview (rows/s) | × floor | queries "
            "| confirm (rows/s) | × floor | queries |"
        )
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for size in sizes:
            seeds = range(10_000_000 + size * 10, 10_000_000 + size * 11)
            doctors = tablib.Dataset(headers=DOCTOR_HEADERS)
            for seed in seeds:
                doctors.append(
                    [f"Dr Bench {seed}", valid_rpps(seed), "Médecine générale", "800", "cabinet@example.org",
                     "01 02 03 04 05", "3 place du Marché", "69002", "Lyon", "12", "non", "non"]
                )  # fmt: skip

            def doctor_floor(seeds: range = seeds) -> None:
                Client.objects.bulk_create(
                    Client(kind="doctor", name=f"Dr Bench {seed}", rpps=valid_rpps(seed), specialty="Médecine générale",
                           treating_patient_count=800, email="cabinet@example.org", phone="01 02 03 04 05",
                           address="3 place du Marché", postal_code="69002", city="Lyon", installed_version="12")
                    for seed in seeds
                )  # fmt: skip

            def doctor_import(dataset: Any = doctors, dry_run: bool = False) -> Any:
                result = DoctorResource().import_data(dataset, dry_run=dry_run, user=user)
                assert not (result.has_errors() or result.has_validation_errors()), result.invalid_rows[:1]
                return result

            report(size, "doctors", doctor_floor, lambda: doctor_import(dry_run=True), doctor_import)

            # The orders' clients, stored for real (committed): other doctors, one order each.
            Client.objects.bulk_create(
                Client(kind="doctor", name=f"Dr Order {seed}", rpps=valid_rpps(seed + 50_000_000),
                       specialty="Médecine générale", treating_patient_count=800)
                for seed in seeds
            )  # fmt: skip
            clients = list(Client.objects.filter(name__startswith="Dr Order ").order_by("-pk")[:size])
            orders = tablib.Dataset(headers=ORDER_HEADERS)
            for client in clients:
                orders.append([client.rpps, label, "V2", "20", "", ""])

            def order_floor(clients: list[Client] = clients) -> None:
                created = Order.objects.bulk_create(
                    Order(number=f"BENCH-{client.pk}", programme=solution.programme, client=client, solution=solution,
                          prestation="principal_v2", vat_regime="vat_20", principal_amount=451, secondary_amount=100,
                          issued_at=solution.referenced_at)
                    for client in clients
                )  # fmt: skip
                OrderEvent.objects.bulk_create(
                    OrderEvent(order=order, actor_label="bench", action="create", to_state="draft") for order in created
                )

            def order_import(dataset: Any = orders, dry_run: bool = False) -> Any:
                result = OrderImportResource().import_data(dataset, dry_run=dry_run, user=user)
                assert not (result.has_errors() or result.has_validation_errors()), result.invalid_rows[:1]
                return result

            report(size, "draft orders", order_floor, lambda: order_import(dry_run=True), order_import)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(database_url)


def report(
    size: int, name: str, floor: Callable[[], Any], preview: Callable[[], Any], confirm: Callable[[], Any]
) -> None:
    """One line: the floor's rows/s, then preview and confirm: rows/s, how many times slower than the floor, queries."""
    floor_seconds, _floor_queries, _ = timed(floor)
    cells = [f"{size / floor_seconds:_.0f}"]
    for action in (preview, confirm):
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            profile = cProfile.Profile()
            profile.runcall(timed, action)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
        seconds, queries, _ = timed(action)
        cells += [f"{size / seconds:_.0f}", f"{seconds / floor_seconds:.1f}×", str(queries)]
    print(f"| {size:_} | {name} | {' | '.join(cells)} |".replace("_", " "), flush=True)


if __name__ == "__main__":
    main()
