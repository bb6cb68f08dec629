"""The daily scan in short batches (SPEC §10): it reads today's candidates from the stored deadlines, reconciles them
with the rules first, and keeps each reminder once when a worker dies mid-scan and the scan runs again."""

import logging
from datetime import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring import reminders
from monitoring.models import JobRun, OutboxEmail, ReminderDispatch
from orders.models import Order, StoredDeadline
from orders.roles import ADMIN_GROUP, SALES_GROUP
from tests.factories import advance, make_order, make_user, paris

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(db):
    return {
        "sales": make_user("vente", SALES_GROUP, email="vente@logimed.example"),
        "admin": make_user("chef", ADMIN_GROUP, email="chef@logimed.example"),
    }


def drafts(team, count: int) -> list[Order]:
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        return [make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30)) for _ in range(count)]


def scan_at(moment: datetime) -> reminders.ScanSummary:
    with time_machine.travel(moment, tick=False):
        return reminders.deadlines_scan()


class WorkerKilled(Exception):
    pass


def test_a_scan_killed_between_batches_is_finished_by_the_next_run_each_reminder_once(team, monkeypatch):
    orders = drafts(team, 5)
    monkeypatch.setattr(reminders, "BATCH", 2)  # three batches of orders
    queue = reminders.queue_reminders
    calls = []

    def dies_after_the_first_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        if calls:
            raise WorkerKilled
        calls.append(1)
        return queue(*args, **kwargs)

    monkeypatch.setattr(reminders, "queue_reminders", dies_after_the_first_batch)
    with pytest.raises(WorkerKilled):
        scan_at(paris(2026, 12, 9, 7))

    # What the first batch recorded stays, once; its digest waits, unsendable, for the rest.
    assert ReminderDispatch.objects.count() == 4  # 2 orders × (salesperson + client)
    digest = OutboxEmail.objects.get(kind="staff_digest")
    assert digest.next_attempt_at == reminders.UNSENDABLE
    assert reminders.outbox_send_due(now=paris(2026, 12, 9, 7, 5))["sent"] == 2  # the two client e-mails only
    assert JobRun.objects.get().status == JobRun.RUNNING

    monkeypatch.setattr(reminders, "queue_reminders", queue)
    summary = scan_at(paris(2026, 12, 9, 8))  # the retry

    assert not summary.skipped
    assert ReminderDispatch.objects.count() == 10
    assert set(ReminderDispatch.objects.values_list("order", flat=True)) == {order.pk for order in orders}
    digest = OutboxEmail.objects.get(kind="staff_digest")  # still one digest, with all five orders
    assert digest.next_attempt_at is None and "5 actions" in digest.subject
    reminders.outbox_render(digest)  # as the sender does before sending
    assert all(order.number in digest.body_text for order in orders)
    assert OutboxEmail.objects.filter(kind="client_reminder").count() == 5
    assert scan_at(paris(2026, 12, 9, 9)).skipped  # and a third run does nothing


def test_the_scan_reconciles_the_stored_deadlines_first_and_logs_the_difference(team, caplog):
    drifted, right = drafts(team, 2)
    StoredDeadline.objects.filter(order=drifted).delete()  # lost (a bulk insert, an SQL fix...)

    with caplog.at_level(logging.WARNING):
        summary = scan_at(paris(2026, 12, 9, 7))

    assert summary.deadlines_fixed == 1
    assert "1 orders differed from the rules" in caplog.text
    assert set(ReminderDispatch.objects.values_list("order", flat=True)) == {drifted.pk, right.pk}


def test_the_scan_reads_only_the_orders_with_a_reminder_today(team):
    due, later = drafts(team, 2)
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        advance(later, "va_signed", now=paris(2026, 11, 1, 9))  # its next deadlines are months away
    assert StoredDeadline.objects.filter(order=later).exists()

    with CaptureQueriesContext(connection) as queries:
        summary = scan_at(paris(2026, 12, 9, 7))

    assert summary.orders == 1
    assert set(ReminderDispatch.objects.values_list("order", flat=True)) == {due.pk}
    # Today's candidates are read once, as plain values joined to their order: the due order's range only.
    reads = [q["sql"] for q in queries if '"number" AS "candidate__number"' in q["sql"]]
    assert len(reads) == 1
    assert f'"orders_storeddeadline"."order_id" >= {due.pk}' in reads[0]
    assert f'"orders_storeddeadline"."order_id" <= {due.pk}' in reads[0]
    assert f'"id" >= {due.pk}' in reads[0] and f'"id" <= {due.pk}' in reads[0]  # on the orders' side too
    assert '"orders_storeddeadline"."due_at" <' in reads[0]


def test_a_digest_lists_a_bounded_number_of_orders_per_deadline_and_counts_the_rest(team, monkeypatch):
    drafts(team, 4)
    monkeypatch.setattr(reminders, "DIGEST_ORDERS_PER_GROUP", 3)

    scan_at(paris(2026, 12, 9, 7))

    digest = OutboxEmail.objects.get(kind="staff_digest")
    assert "4 actions" in digest.subject
    reminders.outbox_render(digest)  # as the sender does before sending
    assert "… et 1 autre (calendrier des échéances)" in digest.body_text
    assert "2\u00a0306,00 €" in digest.body_text  # the amount at stake counts all four: 4 × (451.50 + 125.00)


def test_the_digests_are_recorded_with_their_content_and_the_sender_renders_them(team, client):
    """SPEC §10: the scan records each staff digest with its subject and content only (no template rendered under
    the scan); the outbox page shows it as it will read, and the sender renders and sends it once."""
    from django.core import mail
    from django.urls import reverse

    orders = drafts(team, 2)
    scan_at(paris(2026, 12, 9, 7))  # J-7 of the Date 4

    digest = OutboxEmail.objects.get(kind="staff_digest", to=team["sales"].email)
    assert (digest.body_text, digest.body_html, digest.next_attempt_at) == ("", "", None)
    assert digest.subject == "Échéances Ségur du 09/12/2026 : 2 actions"
    [group] = digest.render_context["groups"]
    assert (group["code"], group["amount"], group["overdue"]) == ("DATE_4_SIGNATURE", "1153.00", False)
    assert [line[0] for line in group["orders"]] == [order.number for order in orders]
    client.force_login(team["admin"])
    page = client.get(reverse("admin:monitoring_outboxemail_change", args=[digest.pk])).content.decode()
    assert "Faire signer le bon de commande par le client" in page and orders[1].number in page
    assert "1\u00a0153,00 €" in page and "render_context" not in page

    with time_machine.travel(paris(2026, 12, 9, 7, 5), tick=False):
        reminders.outbox_send_due()

    [sent] = [message for message in mail.outbox if message.to == [team["sales"].email]]
    assert "16/12/2026 12:00 — Faire signer le bon de commande par le client (AF §4.3)" in sent.body
    assert all(order.number in sent.body for order in orders) and "1\u00a0153,00 €" in sent.body
    html = sent.alternatives[0][0]
    assert reverse("admin:orders_order_change", args=[orders[0].pk]) in html
    assert OutboxEmail.objects.get(pk=digest.pk).body_text == sent.body  # stored as sent
    assert reminders.outbox_render_pending() == 0


def test_digests_are_opened_for_every_person_at_once(team):
    """A person's digest of the day: one left unsendable by a killed run is taken up, one already released today is
    followed by the next one (``…:3`` after ``…:2``), and a new one is written otherwise, for everyone at once: two
    queries, and one more to look for the next keys of a digest already released."""
    others = [make_user(f"vente{index}", SALES_GROUP, email=f"vente{index}@logimed.example") for index in range(3)]
    released, waiting, fresh = others
    book = reminders.DigestBook(paris(2026, 12, 9).date())
    for key in (f"digest:{released.pk}:2026-12-09", f"digest:{released.pk}:2026-12-09:2"):
        OutboxEmail.objects.create(key=reminders.unique_key(key), kind="staff_digest", to=released.email)
    left = OutboxEmail.objects.create(
        key=reminders.unique_key(f"digest:{waiting.pk}:2026-12-09"),
        kind="staff_digest",
        to=waiting.email,
        next_attempt_at=reminders.UNSENDABLE,
    )

    with CaptureQueriesContext(connection) as queries:
        opened = book.open(others)

    assert len(queries) == 3
    assert opened[waiting.pk] == left.pk and left.pk not in book.built  # rebuilt from the database at the end
    third = OutboxEmail.objects.get(pk=opened[released.pk])
    assert third.key == reminders.unique_key(f"digest:{released.pk}:2026-12-09:3")
    assert third.next_attempt_at == reminders.UNSENDABLE and third.to == released.email
    assert OutboxEmail.objects.get(pk=opened[fresh.pk]).key == reminders.unique_key(f"digest:{fresh.pk}:2026-12-09")
    with CaptureQueriesContext(connection) as again:
        assert book.open([*others, *others]) == opened
    assert len(again) == 0
    with CaptureQueriesContext(connection) as usual:  # nobody has a digest today yet
        reminders.DigestBook(paris(2026, 12, 10).date()).open(others)
    assert len(usual) == 2
