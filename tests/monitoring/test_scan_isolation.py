"""One order that cannot be read or processed never stops the daily scan for the others.

It is set aside (its own work undone), logged, counted and listed in the job's summary, and each admin gets one
e-mail a day about it.
"""

from datetime import datetime

import pytest
import time_machine
from django.db import DataError, connection, transaction

from monitoring import reminders
from monitoring.models import JobRun, OutboxEmail, ReminderDispatch
from orders import deadline_fingerprints, rules, services
from orders.models import Order
from orders.roles import ADMIN_GROUP, SALES_GROUP
from tests.factories import make_order, make_solution, make_user, paris

SIGNATURE = {"signature_method": "eidas_simple", "signatory_name": "Dr X"}


@pytest.fixture
def team(db):
    return {
        "sales": make_user("vente", SALES_GROUP, email="vente@logimed.example"),
        "admins": [make_user(f"chef{n}", ADMIN_GROUP, email=f"chef{n}@logimed.example") for n in (1, 2)],
    }


def scan_at(moment: datetime) -> reminders.ScanSummary:
    with time_machine.travel(moment, tick=False):
        return reminders.deadlines_scan()


def two_drafts(team):
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        return [make_order(salesperson=team["sales"], issued_at=paris(2026, 10, 30)) for _ in range(2)]


def two_pre_orders(team):
    solution = make_solution(complete_dossier_submitted_at=None, referenced_at=None)
    orders = []
    with time_machine.travel(paris(2026, 7, 1, 9), tick=False):  # 120 days capped by Date 2 (22/07/2026 12:00)
        for _ in range(2):
            order = make_order(solution=solution, salesperson=team["sales"], issued_at=paris(2026, 6, 29))
            params = {"signed_at": paris(2026, 6, 30)} | SIGNATURE
            orders.append(services.perform("sign", order_id=order.pk, acting_user=None, params=params))
    return orders


def deploy_rules(monkeypatch, order_deadlines) -> None:
    """New rules, as a deployment brings them: a new ``rules.order_deadlines`` and a new version of the rules, so
    that the next reconciliation computes every order with them (``orders.deadline_fingerprints``)."""
    monkeypatch.setattr(rules, "order_deadlines", order_deadlines)
    monkeypatch.setattr(deadline_fingerprints, "RULES_VERSION", "deployed")


def assert_set_aside_and_reported(summary, broken, team):
    assert summary.failed_orders == 1
    (line,) = summary.failures
    assert line.startswith(f"Erreur sur la commande {broken.number} (")
    run = JobRun.objects.get(job=reminders.SCAN_JOB)
    assert run.status == JobRun.DONE and run.summary["failed_orders"] == 1 and run.summary["failures"] == [line]
    notices = OutboxEmail.objects.filter(kind="scan_set_aside")
    assert sorted(notices.values_list("to", flat=True)) == sorted(admin.email for admin in team["admins"])
    assert all(broken.number in notice.subject and line in notice.body_text for notice in notices)


@pytest.mark.django_db
def test_a_rule_failing_on_one_order_leaves_the_reminders_of_the_others(team, monkeypatch):
    broken, healthy = two_drafts(team)
    order_deadlines = rules.order_deadlines

    def failing_for_one(order, now):
        if order.pk == broken.pk:
            raise OverflowError("date value out of range")
        return order_deadlines(order, now)

    deploy_rules(monkeypatch, failing_for_one)

    summary = scan_at(paris(2026, 12, 9, 7))

    assert set(ReminderDispatch.objects.values_list("order", flat=True)) == {healthy.pk}
    assert summary.orders == 1 and summary.reminders == 2  # the salesperson's line and the client's e-mail
    assert "OverflowError : date value out of range" in summary.failures[0]
    assert_set_aside_and_reported(summary, broken, team)


@pytest.mark.django_db
def test_the_admins_are_told_once_a_day_per_order_set_aside(team, monkeypatch):
    broken, _healthy = two_drafts(team)
    order_deadlines = rules.order_deadlines
    deploy_rules(monkeypatch, lambda order, now: order_deadlines(order, now) if order.pk != broken.pk else 1 / 0)

    scan_at(paris(2026, 12, 9, 7))
    summary = reminders.ScanSummary(run_date="2026-12-09")
    summary.set_aside_one(f"order:{broken.pk}", broken.pk, f"la commande {broken.number}", ZeroDivisionError())
    staff = reminders.staff_by_role()
    reminders.notify_set_aside(summary, paris(2026, 12, 9).date(), staff)  # a second time the same day: nothing
    scan_at(paris(2026, 12, 10, 7))  # the next day: again

    days = OutboxEmail.objects.filter(kind="scan_set_aside").values_list("subject", flat=True)
    expected = [f"Scan des échéances du {day}/12/2026 : erreur sur la commande {broken.number}" for day in ("09", "10")]
    assert sorted(days) == sorted(expected * len(team["admins"]))
    assert summary.emails == 0


@pytest.mark.django_db
def test_a_consequence_failing_for_one_pre_order_is_undone_for_it_alone(team, monkeypatch):
    broken, healthy = two_pre_orders(team)
    queue_notice = reminders._queue_client_notice

    def failing_after_the_lapse(order, kind, *args):
        if order.pk == broken.pk:  # the lapse is written; the notice fails: the lapse must be undone too
            raise ValueError("template error")
        return queue_notice(order, kind, *args)

    monkeypatch.setattr(reminders, "_queue_client_notice", failing_after_the_lapse)

    summary = scan_at(paris(2026, 11, 29, 7))  # long past Date 2, which caps their 120 days

    states = dict(Order.objects.values_list("pk", "state"))
    assert (states[broken.pk], states[healthy.pk]) == ("pre_order", "lapsed")
    assert summary.lapsed == 1
    assert list(OutboxEmail.objects.filter(kind="lapse_notice").values_list("to", flat=True)) == [healthy.client.email]
    assert_set_aside_and_reported(summary, broken, team)


@pytest.mark.django_db
def test_failing_provider_deadlines_do_not_stop_the_order_reminders(team, monkeypatch):
    (order, _other) = two_drafts(team)

    def unreadable(now):
        raise DataError("timestamp too small (before year 1)")

    monkeypatch.setattr(reminders, "provider_deadlines", unreadable)

    summary = scan_at(paris(2026, 12, 9, 7))

    assert summary.failed_orders == 0 and summary.reminders == 4
    assert summary.failures[0].startswith("Erreur sur les échéances du fournisseur et des solutions (DataError")
    assert OutboxEmail.objects.filter(kind="scan_set_aside").count() == 2
    assert ReminderDispatch.objects.filter(order=order).exists()


@pytest.mark.django_db
def test_the_scan_query_count_does_not_grow_with_orders_set_aside_or_not(team, monkeypatch):
    """Reading stays by batches: the savepoints are per batch of orders, not per order."""
    from django.test.utils import CaptureQueriesContext

    two_drafts(team)
    with CaptureQueriesContext(connection) as few:
        scan_at(paris(2026, 12, 9, 7))
    JobRun.objects.all().delete()
    ReminderDispatch.objects.all().delete()
    OutboxEmail.objects.all().delete()
    for _ in range(5):
        two_drafts(team)
    with CaptureQueriesContext(connection) as many:
        scan_at(paris(2026, 12, 9, 7))

    assert len(many) == len(few)


# --- A row PostgreSQL holds but Python cannot read -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_order_holding_a_year_1_date_is_set_aside_and_the_others_still_get_their_scan(team):
    broken, healthy = two_pre_orders(team)
    with connection.cursor() as cursor:  # as an old bug stored it: 0000-12-31 in UTC, beyond Python's datetime
        cursor.execute("UPDATE orders_order SET signed_at = '0001-01-01 00:00:00+01' WHERE id = %s", [broken.pk])
    with pytest.raises(DataError), transaction.atomic():
        Order.objects.get(pk=broken.pk)

    summary = scan_at(paris(2026, 11, 29, 7))  # past Date 2 (caps the 120 days): the healthy pre-order lapses

    assert Order.objects.get(pk=healthy.pk).state == "lapsed" and summary.lapsed == 1
    assert Order.objects.filter(pk=broken.pk).values_list("state", flat=True).get() == "pre_order"
    assert "DataError" in summary.failures[0]
    assert_set_aside_and_reported(summary, broken, team)  # read by both passes, reported once


@pytest.mark.postgres
@pytest.mark.django_db
def test_reminders_reach_the_readable_orders_next_to_a_year_1_row(team):
    broken, healthy = two_drafts(team)
    with connection.cursor() as cursor:  # a date the deadline rules read: its deadlines cannot be computed
        cursor.execute("UPDATE orders_order SET installed_at = '0001-01-01 00:00:00+01' WHERE id = %s", [broken.pk])

    summary = scan_at(paris(2026, 12, 9, 7))

    assert set(ReminderDispatch.objects.values_list("order", flat=True)) == {healthy.pk}
    assert summary.orders == 1
    assert_set_aside_and_reported(summary, broken, team)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_year_1_date_the_deadlines_do_not_read_stops_only_that_client_email_in_the_sender(team):
    """The scan reads an order's deadline dates and the few fields a reminder shows, not the whole row: a broken
    column it does not need leaves the order's reminders recorded (its deadlines are right). The client e-mail is
    rendered from the whole order by the sender, which fails for that order alone (kept, retried, the error shown in
    the outbox) and sends the others."""
    broken, healthy = two_drafts(team)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE orders_order SET issued_at = '0001-01-01 00:00:00+01' WHERE id = %s", [broken.pk])

    summary = scan_at(paris(2026, 12, 9, 7))
    assert summary.failed_orders == 0 and summary.orders == 2
    assert set(ReminderDispatch.objects.values_list("order", flat=True)) == {broken.pk, healthy.pk}

    with time_machine.travel(paris(2026, 12, 9, 7, 5), tick=False):
        reminders.outbox_send_due()
    client_emails = ReminderDispatch.objects.filter(email__kind="client_reminder")
    statuses = dict(client_emails.values_list("order", "email__status"))
    assert statuses == {broken.pk: OutboxEmail.FAILED, healthy.pk: OutboxEmail.SENT}
    failed = client_emails.get(order=broken).email
    assert "DataError" in failed.last_error and failed.next_attempt_at is not None
    assert OutboxEmail.objects.get(kind="staff_digest").status == OutboxEmail.SENT


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_batch_of_candidates_that_cannot_be_read_is_read_order_by_order(team, monkeypatch):
    """The candidates are read by batches; if a batch fails (a value Python cannot hold), each order is read alone and
    only the one that still fails is set aside. Forced here by reading a year-1 date with the candidates."""
    broken, healthy = two_drafts(team)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE orders_order SET issued_at = '0001-01-01 00:00:00+01' WHERE id = %s", [broken.pk])
    monkeypatch.setattr(reminders, "CANDIDATE_FIELDS", (*reminders.CANDIDATE_FIELDS, "candidate__issued_at"))
    summary = reminders.ScanSummary(run_date="2026-12-09")
    candidates = reminders.StoredDeadline.objects.filter(due_at__lt=paris(2027, 1, 1))
    ids = sorted([broken.pk, healthy.pk])

    rows = reminders._candidate_rows(candidates, ids, summary)

    assert {row[0] for row in rows} == {healthy.pk} and len(rows) >= 1
    assert summary.failed_orders == 1 and f"la commande {broken.number}" in summary.failures[0]
