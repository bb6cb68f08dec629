"""The outbox against a mail server that never answers: a timeout, no transaction or row lock held while sending,
and still at most one send of each e-mail."""

import socket
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, connections, transaction

from monitoring import reminders
from monitoring.models import OutboxEmail
from tests.factories import paris

NOW = paris(2026, 12, 9, 7)


def queue(key: str, to: str = "compta@logimed.example") -> OutboxEmail:
    email, _created = reminders.outbox_add(
        key=key,
        kind="staff_digest",
        to=to,
        subject=f"Échéances Ségur — {key}",
        template="emails/portal_link",
        context={"client": {"name": "Dr Test"}, "access_url": "http://x/", "max_age_days": 30},
    )
    return email


@pytest.fixture
def black_hole(settings):
    """An SMTP port that accepts the connection (the kernel does) and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.getsockname()[1], 1
        yield


def test_the_timeout_comes_from_the_environment_with_a_default():
    assert django_settings.EMAIL_TIMEOUT == 20


@pytest.mark.django_db
def test_a_server_that_never_answers_fails_the_send_in_seconds_and_it_is_retried_later(black_hole):
    email = queue("silent")

    started = time.monotonic()
    with time_machine.travel(NOW, tick=False):
        counts = reminders.outbox_send_due()
    elapsed = time.monotonic() - started

    email.refresh_from_db()
    assert counts == {"sent": 0, "failed": 1} and elapsed < 5, elapsed
    assert (email.status, email.attempts, email.claimed_at) == ("failed", 1, None)
    assert "timed out" in email.last_error
    assert email.next_attempt_at == NOW + timedelta(minutes=2)


@pytest.mark.django_db
def test_a_run_stops_claiming_once_its_time_budget_is_spent(black_hole, monkeypatch):
    first, second = queue("first"), queue("second")
    monkeypatch.setattr(reminders, "SEND_BUDGET", timedelta(seconds=0.5))

    with time_machine.travel(NOW, tick=False):
        counts = reminders.outbox_send_due()

    assert counts == {"sent": 0, "failed": 1}
    assert OutboxEmail.objects.get(pk=first.pk).status == "failed"
    assert OutboxEmail.objects.get(pk=second.pk).status == "pending"  # for the next run


# --- Claimed, committed, then sent with nothing locked ----------------------------------------------------------------


def in_another_connection(function):
    """Run ``function`` in a thread, on its own database connection (another worker)."""
    result = {}

    def run():
        try:
            result["value"] = function()
        except Exception as exc:  # reported to the test
            result["value"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    return result["value"]


def lock_now(pk):
    with transaction.atomic():
        return OutboxEmail.objects.select_for_update(nowait=True).filter(pk=pk).values_list("status", flat=True).get()


class ObservingBackend(BaseEmailBackend):
    """Looks at the world while the e-mail is "on the wire": transaction, row state, a second sender, the lock."""

    seen: list[tuple] = []

    def send_messages(self, messages):
        email = OutboxEmail.objects.get(to=messages[0].to[0])
        ObservingBackend.seen.append(
            (
                connection.in_atomic_block,
                email.status,
                email.claimed_at is not None,
                in_another_connection(lambda: reminders.outbox_send_due(now=NOW)),
                in_another_connection(lambda: lock_now(email.pk)),
            )
        )
        return len(messages)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_email_is_claimed_and_committed_then_sent_outside_any_transaction_and_lock(settings):
    settings.EMAIL_BACKEND = "tests.monitoring.test_outbox_smtp.ObservingBackend"
    ObservingBackend.seen = []
    email = queue("observed")

    counts = reminders.outbox_send_due(now=NOW)

    (observed,) = ObservingBackend.seen
    in_transaction, status, claimed, second_sender, lock = observed
    assert in_transaction is False
    assert (status, claimed) == ("sending", True)  # the claim is committed before the server is called
    assert second_sender == {"sent": 0, "failed": 0}  # another worker does not send it again
    assert lock == "sending"  # nobody holds the row lock (NOWAIT would have raised)
    assert counts == {"sent": 1, "failed": 0}
    email.refresh_from_db()
    assert (email.status, email.attempts, email.claimed_at) == ("sent", 1, None)


# --- Stale claims -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("claimed_ago", "taken_over"), [(timedelta(seconds=1), True), (-timedelta(seconds=1), False)])
def test_a_claim_older_than_the_sender_can_live_is_taken_over_a_live_one_is_not(mailoutbox, claimed_ago, taken_over):
    email = queue("claimed")
    claimed_at = NOW - reminders.claim_timeout() - claimed_ago  # 31 minutes ago, ± a second
    OutboxEmail.objects.filter(pk=email.pk).update(status="sending", claimed_at=claimed_at, attempts=1)

    counts = reminders.outbox_send_due(now=NOW)

    email.refresh_from_db()
    assert reminders.claim_timeout() == timedelta(minutes=31)  # the sender task's hard time limit, and a minute
    if taken_over:
        assert counts == {"sent": 1, "failed": 0} and len(mailoutbox) == 1
        assert (email.status, email.attempts) == ("sent", 2)
    else:
        assert counts == {"sent": 0, "failed": 0} and mailoutbox == []
        assert (email.status, email.claimed_at) == ("sending", claimed_at)


@pytest.mark.django_db
def test_an_outcome_is_not_recorded_over_a_claim_another_sender_took(mailoutbox):
    queue("raced")
    with time_machine.travel(NOW, tick=False):
        mine = reminders.outbox_claim(NOW)
    later = NOW + reminders.claim_timeout() + timedelta(minutes=1)
    theirs = reminders.outbox_claim(later)  # we looked dead: another sender took it over

    reminders.outbox_record(mine, "TimeoutError: timed out", NOW)  # our late failure must not undo their claim

    theirs.refresh_from_db()
    assert (theirs.pk, theirs.status, theirs.claimed_at, theirs.attempts) == (mine.pk, "sending", later, 2)
