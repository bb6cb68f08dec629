"""Shared fixtures. Tests that need PostgreSQL or Redis are skipped on the embedded defaults, with the reason."""

import pytest
from django.conf import settings
from django.db import connection


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith("redis")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_postgres = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… (CI does)")
    skip_redis = pytest.mark.skip(reason="needs Redis: set CELERY_BROKER_URL=redis://… (CI does)")
    for item in items:
        if "postgres" in item.keywords and not _is_postgres():
            item.add_marker(skip_postgres)
        if "redis" in item.keywords and not _is_redis():
            item.add_marker(skip_redis)


def test_database_url() -> str:
    """The URL of the database this test runs on, for the worker processes it starts."""
    database = connection.settings_dict
    return (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST'] or '127.0.0.1'}"
        f":{database['PORT'] or 5432}/{database['NAME']}"
    )


def celery_process(arguments: list[str], *, broker_url: str, env: dict[str, str] | None = None):
    """Start ``celery -A segur_portal <arguments>`` on this test's database and the given broker."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    environment = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "segur_portal.settings.test",
        **(env or {}),
    }
    command = [sys.executable, "-m", "celery", "-A", "segur_portal", *arguments, "--loglevel=WARNING"]
    return subprocess.Popen(command, env=environment, cwd=Path(settings.BASE_DIR))


def process_stop(process) -> None:
    import subprocess

    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def real_celery_worker(transactional_db):
    """A real ``celery worker`` process on its own queue, reading the same test database as this test.

    Yields the queue name; tasks sent with ``apply_async(queue=...)`` go through the real broker to that process.
    """
    import uuid

    queue = f"test-{uuid.uuid4().hex[:12]}"
    arguments = ["worker", "--pool=solo", "--queues", queue, "--without-mingle", "--without-gossip"]
    process = celery_process(arguments, broker_url=settings.CELERY_BROKER_URL)
    try:
        yield queue
    finally:
        process_stop(process)


@pytest.fixture
def programme_data(transactional_db):
    """Transactional tests start from a flushed database: reload what the data migrations create — the programme
    and the invoice series (FP, FS, AV), whatever test flushed the database before.

    (The staff groups come back by themselves: a flush sends post_migrate.)
    """
    import importlib

    from django.apps import apps

    importlib.import_module("orders.migrations.0002_programme_lgc_va2").create_programme(apps, None)
    importlib.import_module("orders.migrations.0005_invoices").create_series(apps, None)


@pytest.fixture
def frozen_today():
    """The clock stopped at the day these tests describe: Monday 23 November 2026, 10:00 in Paris."""
    import time_machine

    from tests.factories import paris

    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        yield
