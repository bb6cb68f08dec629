"""Benchmark: time and peak memory of the Base de référence import as the file grows, beside a floor.

    .venv/bin/python benchmarks/bench_imports.py --sizes 1000 10000 100000

For each size it writes a CSV file (``;``, Windows-1252, as French Excel saves it) and measures:
- floor: a plain ``csv.reader`` over the file (nothing kept);
- preview: what the admin's preview does (stream the stored file, check every row, write them in batches, roll back);
- import: the confirmation (the same, committed, then every structure's tranche refreshed).
Time is measured without tracing; peak memory is the peak of Python allocations (tracemalloc) in a second run, and
the process's maximum resident size is printed at the end. Runs in its own PostgreSQL database (created, migrated,
dropped).
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
    arguments = parser.parse_args()
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


if __name__ == "__main__":
    main()
