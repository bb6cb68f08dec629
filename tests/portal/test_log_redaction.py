"""No client-space token reaches a log: Django's request logs (runserver's request lines, "Forbidden: <path>"),
gunicorn's access and error logs; each token is replaced by ``<jeton:HASH8>``, a short digest that matches a log
line with a support request but opens nothing."""

import hashlib
import http.client
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.urls import reverse
from gunicorn.config import Config

from portal.access import access_token
from portal.log_redaction import PortalTokenFilter, RedactingGunicornLogger, mask_links, redact, token_digest
from tests import conftest
from tests.factories import make_doctor

TOKEN = "k3Y_6dx0qLmC2s-9ZyTfRb7uWnAe1HjP.4Vt8GmQwXc0sLrN-2bYfK9pE7hJ1uZaDiO5xS3vT6gMq_"
OLD_TOKEN = "eyJjIjo0MiwiZSI6ImRyLm1hcnRpbkBjYWJpbmV0LmZyIn0:1u2v3w:AbCdEf-GhIjKlMnOpQrStUvWxYz0123456789"


def jeton(token: str) -> str:
    return f"<jeton:{hashlib.sha256(token.encode()).hexdigest()[:8]}>"


# --- The redaction itself ------------------------------------------------------------------------------------------


def test_a_token_in_a_path_is_replaced_by_its_short_digest_and_the_rest_is_kept():
    line = f'"GET /espace-client/acces/{TOKEN}/?suite=/espace-client/commandes/BC-1/ HTTP/1.1" 302 0'

    assert redact(line) == (
        f'"GET /espace-client/acces/{jeton(TOKEN)}/?suite=/espace-client/commandes/BC-1/ HTTP/1.1" 302 0'
    )
    assert token_digest(TOKEN) == jeton(TOKEN)[7:-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Forbidden: /espace-client/acces/{OLD_TOKEN}/", f"Forbidden: /espace-client/acces/{jeton(OLD_TOKEN)}/"),
        (
            f"https://portail.example/espace-client/acces/{TOKEN}",
            f"https://portail.example/espace-client/acces/{jeton(TOKEN)}",
        ),
        (
            f"/espace-client/acces/{TOKEN}/ puis /espace-client/acces/{OLD_TOKEN}?x=1",
            f"/espace-client/acces/{jeton(TOKEN)}/ puis /espace-client/acces/{jeton(OLD_TOKEN)}?x=1",
        ),
        ("/espace-client/commandes/BC-LGC-000001/", "/espace-client/commandes/BC-LGC-000001/"),
        ("/admin/acces/x/", "/admin/acces/x/"),
    ],
)
def test_every_token_is_redacted_and_nothing_else(text, expected):
    assert redact(text) == expected


def test_the_filter_redacts_the_message_and_its_arguments_and_keeps_the_record():
    tuple_record = logging.LogRecord(
        "django.server",
        logging.INFO,
        "",
        0,
        '"%s" %s %s',
        (f"GET /espace-client/acces/{TOKEN}/ HTTP/1.1", 302, 0),
        None,
    )
    dict_record = logging.LogRecord("x", logging.WARNING, "", 0, "lien %(path)s", None, None)
    dict_record.args = {"path": f"/espace-client/acces/{TOKEN}/", "status": 403}
    message_record = logging.LogRecord("x", logging.ERROR, "", 0, f"échec sur /espace-client/acces/{TOKEN}/", (), None)

    for record in (tuple_record, dict_record, message_record):
        assert PortalTokenFilter().filter(record) is True
        assert TOKEN not in record.getMessage() and jeton(TOKEN) in record.getMessage()
    assert tuple_record.args[1:] == (302, 0) and dict_record.args["status"] == 403


def test_outbox_bodies_show_links_masked():
    body = f"Votre lien :\nhttp://127.0.0.1:8000/espace-client/acces/{TOKEN}/?suite=%2Fespace-client%2F\nÀ bientôt"
    html_body = f'<a href="https://portail.example/espace-client/acces/{TOKEN}/" style="x">Ouvrir</a>'

    assert mask_links(body) == "Votre lien :\n…/espace-client/acces/•••\nÀ bientôt"
    assert mask_links(html_body) == '<a href="…/espace-client/acces/•••" style="x">Ouvrir</a>'


@pytest.mark.django_db
def test_djangos_forbidden_warning_for_a_refused_link_is_redacted(client):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    handler.addFilter(PortalTokenFilter())
    request_logger = logging.getLogger("django.request")
    request_logger.addHandler(handler)
    try:
        response = client.get(reverse("portal:access", args=[TOKEN]))
    finally:
        request_logger.removeHandler(handler)

    assert response.status_code == 403
    assert [record.getMessage() for record in records] == [f"Forbidden: /espace-client/acces/{jeton(TOKEN)}/"]


# --- gunicorn's logger ---------------------------------------------------------------------------------------------


def gunicorn_logger(tmp_path: Path) -> RedactingGunicornLogger:
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("errorlog", str(tmp_path / "error.log"))
    return RedactingGunicornLogger(config)


def test_the_gunicorn_access_log_has_no_token_in_the_request_line_path_query_or_referer(tmp_path):
    logger = gunicorn_logger(tmp_path)
    logger.cfg.set("access_log_format", "%(r)s | %(U)s | %(q)s | %(f)s | %({referer}i)s | %(a)s | %(s)s")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/espace-client/acces/{TOKEN}/?suite=/espace-client/",
        "PATH_INFO": f"/espace-client/acces/{TOKEN}/",
        "QUERY_STRING": f"retour=/espace-client/acces/{OLD_TOKEN}/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://portail.example/espace-client/acces/{TOKEN}/",
        "HTTP_USER_AGENT": "Mozilla/5.0",
        "REMOTE_ADDR": "203.0.113.7",
    }
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"]), ("USER-AGENT", "Mozilla/5.0")])
    response = SimpleNamespace(status="302 Found", sent=0, headers=[("Location", "/espace-client/")])

    logger.access(response, request, environ, timedelta(milliseconds=12))

    line = (tmp_path / "access.log").read_text()
    assert TOKEN not in line and OLD_TOKEN not in line
    assert line.count(jeton(TOKEN)) == 4 and jeton(OLD_TOKEN) in line
    assert "Mozilla/5.0 | 302" in line
    assert environ["PATH_INFO"] == f"/espace-client/acces/{TOKEN}/"  # the request itself is untouched


def test_the_gunicorn_error_log_has_no_token(tmp_path):
    logger = gunicorn_logger(tmp_path)

    logger.exception("Error handling request %s", f"/espace-client/acces/{TOKEN}/")

    line = (tmp_path / "error.log").read_text()
    assert TOKEN not in line and f"Error handling request /espace-client/acces/{jeton(TOKEN)}/" in line


# --- The real servers, with the project's logging settings ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server stopped"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    status = connection.getresponse().status
    connection.close()
    return status


SERVERS = {
    "runserver": ["manage.py", "runserver", "--noreload", "127.0.0.1:{port}"],
    "gunicorn": [
        "-m",
        "gunicorn",
        "segur_portal.wsgi",
        "--bind=127.0.0.1:{port}",
        "--workers=1",
        "--logger-class=portal.log_redaction.RedactingGunicornLogger",
        "--access-logfile=-",
        "--error-logfile=-",
    ],
}


@pytest.mark.postgres
@pytest.mark.parametrize("server", SERVERS)
def test_a_real_server_logs_the_requests_of_a_link_without_its_token(transactional_db, server):
    valid = access_token(make_doctor(email="dr.logs@cabinet.example"), "dr.logs@cabinet.example")
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "segur_portal.settings.local",
        "DATABASE_URL": conftest.test_database_url(),
        "DEBUG": "false",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, *(argument.format(port=port) for argument in SERVERS[server])]
    process = subprocess.Popen(
        command, env=environment, cwd=Path(settings.BASE_DIR), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until_listening(port, process)
        opened = get(port, f"/espace-client/acces/{valid}/?suite=/espace-client/")
        refused = get(port, f"/espace-client/acces/{TOKEN}/", {"Referer": f"http://x/espace-client/acces/{valid}/"})
    finally:
        conftest.process_stop(process)
    output = process.stdout.read().decode()

    assert (opened, refused) == (302, 403)
    assert valid not in output and TOKEN not in output, output
    assert f"/espace-client/acces/{jeton(valid)}/" in output and f"/espace-client/acces/{jeton(TOKEN)}/" in output
    if server == "runserver":  # Django's own warning for the refused link, besides the request lines
        assert f"Forbidden: /espace-client/acces/{jeton(TOKEN)}/" in output
