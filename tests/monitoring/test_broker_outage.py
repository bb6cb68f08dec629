"""Redis goes down and comes back: e-mails written meanwhile wait in the outbox and leave once, when it is back.

Real processes: a private ``redis-server`` (stopped and started again on the same port), a real Celery worker and
beat on it, PostgreSQL, and a fake SMTP server. Nothing in this test process talks to that broker.
"""

import shutil
import socket
import subprocess
import time

import pytest

from monitoring.models import OutboxEmail
from monitoring.reminders import outbox_add
from tests.conftest import celery_process, process_stop
from tests.monitoring.fake_smtp import FakeSMTPServer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_start(port: int) -> subprocess.Popen:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, seconds=10, what="redis-server")
    return process


def wait_for(condition, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"still waiting after {seconds} s: {what}")


def queue_email(key: str) -> OutboxEmail:
    email, _created = outbox_add(
        key=key,
        kind="staff_digest",
        to="compta@logimed.example",
        subject=f"Échéances Ségur — {key}",
        template="emails/portal_link",
        context={"client": {"name": "Dr Test"}, "access_url": "http://x/", "max_age_days": 30},
    )
    return email


def status(email: OutboxEmail) -> str:
    return OutboxEmail.objects.get(pk=email.pk).status


def test_e_mails_written_while_redis_is_down_leave_once_it_is_back(tmp_path):
    if not (shutil.which("redis-server") or shutil.which("/usr/bin/redis-server")):
        pytest.skip("redis-server is not installed")
    port, smtp = free_port(), FakeSMTPServer(free_port())
    smtp.start()
    redis = redis_start(port)
    broker = f"redis://127.0.0.1:{port}/0"
    env = {
        "SEGUR_OUTBOX_INTERVAL_SECONDS": "1",  # beat asks the worker to send the outbox every second
        "SEGUR_TEST_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
    }
    worker_arguments = ["worker", "--pool=solo", "--without-mingle", "--without-gossip"]
    worker = celery_process(worker_arguments, broker_url=broker, env=env)
    beat = celery_process(["beat", "--schedule", str(tmp_path / "beat-schedule")], broker_url=broker, env=env)
    try:
        before = queue_email("before-outage")
        wait_for(lambda: status(before) == OutboxEmail.SENT, seconds=60, what="the first e-mail sent")

        redis.terminate()
        redis.wait(timeout=10)
        during = queue_email("during-outage")  # what a scan writes while the broker is down
        time.sleep(5)
        assert status(during) == OutboxEmail.PENDING  # kept, not lost, not half-sent
        assert len(smtp.messages) == 1

        redis = redis_start(port)
        wait_for(lambda: status(during) == OutboxEmail.SENT, seconds=90, what="the e-mail written during the outage")
        time.sleep(3)  # a duplicate would arrive now, from a retried or doubled task
        subjects = [message for message in smtp.messages if b"Subject:" in message]
        assert len(subjects) == 2
        assert OutboxEmail.objects.get(pk=during.pk).attempts == 1
    finally:
        for process in (beat, worker):
            process_stop(process)
        redis.terminate()
        redis.wait(timeout=10)
        smtp.stop()
