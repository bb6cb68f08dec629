"""The documented production start really serves: scripts/start_production.sh (migrate, collectstatic, gunicorn) on the
production settings answers the admin login page, a hashed static file and /healthz; the wheel ships every app."""

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from setuptools import find_namespace_packages

from tests import conftest

HOST = "segur.example.org"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": HOST, **(headers or {})})
        response = connection.getresponse()
        return response.status, {key.lower(): value for key, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def wait_until_serving(process: subprocess.Popen, port: int, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the production start stopped (exit {process.returncode}):\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"gunicorn did not listen on port {port} within {timeout} s:\n{log.read_text()}")


@pytest.fixture
def production_server(transactional_db, tmp_path):
    """``scripts/start_production.sh web`` on the production settings and this test's database; yields the port."""
    port = free_port()
    log = tmp_path / "server.log"
    environment = {
        **{key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
        "DJANGO_SETTINGS_MODULE": "segur_portal.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": conftest.test_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SEGUR_VAR_DIR": str(tmp_path / "var"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
        "PYTHON": sys.executable,
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            ["bash", "scripts/start_production.sh", "web"],
            cwd=Path(settings.BASE_DIR),
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(process, port, log)
        yield port, log
    finally:
        conftest.process_stop(process)


@pytest.mark.postgres
def test_the_production_start_serves_pages_static_files_and_health_behind_the_proxy(production_server):
    port, log = production_server
    https = {"X-Forwarded-Proto": "https"}

    status, headers, body = fetch(port, "/admin/login/", https)
    assert status == 200, body.decode()[:2000]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "strict-transport-security" in headers
    page = body.decode()
    stylesheet = next(part.split('"')[0] for part in page.split('href="')[1:] if "/static/admin/css/base." in part)
    assert stylesheet != "/static/admin/css/base.css"  # a hashed name, from the manifest collectstatic wrote

    status, headers, body = fetch(port, stylesheet, https)
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert "immutable" in headers["cache-control"]
    assert body

    # The health probe calls the app itself over plain HTTP: an answer, not a redirect to HTTPS.
    status, headers, body = fetch(port, "/healthz")
    assert status == 200, body.decode()
    assert json.loads(body)["database"]["ok"] is True
    # Any other page over plain HTTP is sent to HTTPS.
    status, headers, _body = fetch(port, "/admin/login/")
    assert status == 301
    assert headers["location"] == f"https://{HOST}/admin/login/"

    # A personal link's token never reaches gunicorn's access log, only its digest.
    token = "Q0xJRU5ULVNFQ1JFVC1UT0tFTg:1uXyZa:abcdefghijklmnop"
    fetch(port, f"/espace-client/acces/{token}/", https)
    time.sleep(0.5)
    access_lines = [line for line in log.read_text().splitlines() if '"GET /espace-client/acces/' in line]
    assert len(access_lines) == 1
    assert "/espace-client/acces/<jeton:" in access_lines[0]
    assert token not in access_lines[0]


def test_the_wheel_ships_every_project_app_and_its_subpackages():
    """setuptools' own package discovery, on the configuration of pyproject.toml (what ``pip wheel`` would pack)."""
    base = Path(settings.BASE_DIR)
    find = tomllib.loads((base / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    shipped = set(find_namespace_packages(where=str(base), include=find["include"], exclude=find.get("exclude", ())))
    project_apps = [config for config in apps.get_app_configs() if Path(config.path).parent == base]
    wanted = {"segur_portal", "segur_portal.settings"}
    for config in project_apps:
        for init in Path(config.path).rglob("__init__.py"):
            wanted.add(".".join(init.parent.relative_to(base).parts))

    assert {config.name for config in project_apps} == {"clients", "orders", "monitoring", "portal", "api"}
    assert wanted - shipped == set()
    assert not {name for name in shipped if name.split(".")[0] in {"tests", "benchmarks", "scripts"}}
