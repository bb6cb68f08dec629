"""Stored deadlines counted per day by PostgreSQL triggers (issue 13): the calendar's counts read from them equal the
stored deadlines counted one by one — after the demo's every action, a raw SQL change, a compaction."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from monitoring import selectors
from orders import deadline_counts, deadline_store
from orders.demo import seed_demo
from orders.models import DeadlineDayCount, Order, StoredDeadline
from tests.factories import make_order, paris

pytestmark = pytest.mark.postgres

NOW = paris(2026, 11, 23, 10)


def calendar_counts(now, *, from_day_counts: bool, code: str = "", monkeypatch=None) -> dict:
    monkeypatch.setattr(deadline_counts, "available", lambda: from_day_counts)
    overdue, days = selectors.deadline_calendar(now=now, code=code, rows_per_day=5)
    monkeypatch.undo()

    def groups(day):
        return {code: (g["count"], g["amount"], g["action"], g["actor"]) for code, g in day.groups.items()}

    return {
        "overdue": (overdue.total, overdue.total_amount, groups(overdue), len(overdue.items)),
        **{day.day.isoformat(): (day.total, day.total_amount, groups(day), len(day.items)) for day in days},
    }


def assert_counts_match(monkeypatch, now=NOW, code=""):
    counted = calendar_counts(now, from_day_counts=False, code=code, monkeypatch=monkeypatch)
    assert counted["overdue"][0] or len(counted) > 1  # something to count
    assert calendar_counts(now, from_day_counts=True, code=code, monkeypatch=monkeypatch) == counted


@pytest.mark.django_db
def test_the_day_counts_equal_the_stored_deadlines_counted_one_by_one(monkeypatch):
    with time_machine.travel(NOW, tick=False):
        seed_demo(now=NOW)
    assert StoredDeadline.objects.count() > 50

    for now in (NOW, NOW + timedelta(days=40), paris(2026, 12, 16, 12, 30), NOW - timedelta(days=30)):
        assert_counts_match(monkeypatch, now)
    assert_counts_match(monkeypatch, code="DATE_4_SIGNATURE")

    rows = DeadlineDayCount.objects.count()
    deadline_counts.compact()
    assert DeadlineDayCount.objects.count() <= rows
    assert_counts_match(monkeypatch)


@pytest.mark.django_db
def test_raw_sql_changes_and_a_rebuild_keep_the_day_counts_right(monkeypatch):
    orders = [make_order(issued_at=paris(2026, 10, 30)) for _ in range(3)]
    with connection.cursor() as cursor:  # behind the services' back: one row moved, one order's rows gone
        cursor.execute(
            "UPDATE orders_storeddeadline SET due_at = due_at + interval '3 days' WHERE order_id = %s", [orders[0].pk]
        )
        cursor.execute("DELETE FROM orders_storeddeadline WHERE order_id = %s", [orders[1].pk])
    assert_counts_match(monkeypatch)

    deadline_store.reconcile()
    assert_counts_match(monkeypatch)
    Order.objects.filter(pk=orders[2].pk).update(state="cancelled")  # behind the services' back
    deadline_store.rebuild()
    deadline_counts.compact()
    assert_counts_match(monkeypatch)
    assert not DeadlineDayCount.objects.filter(count=0).exists()
