"""What reads the stored deadlines says what ``rules.order_deadlines`` says (SPEC §10): the list's "next deadline"
filter, and the calendar — with all its rows or with the first rows of each day and the database's counts — in a
number of queries that does not grow with the orders."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.selectors import deadline_calendar
from orders import rules, selectors
from orders.demo import seed_demo
from orders.models import Order
from tests.factories import paris

pytestmark = pytest.mark.django_db
NOW = paris(2026, 11, 23, 10)


@pytest.fixture
def demo():
    with time_machine.travel(NOW, tick=False):
        seed_demo(now=NOW)


def in_window(order: Order, window: str, now) -> bool:  # type: ignore[no-untyped-def]
    """The filter's meaning, computed from the rules on the full order."""
    deadline = rules.next_deadline(order, now)
    _label, days = selectors.DEADLINE_WINDOWS[window]
    if deadline is None:
        return False
    if days is None:
        return deadline.status == rules.OVERDUE
    return deadline.status == rules.UPCOMING and deadline.due_at <= now + timedelta(days=days)


@pytest.mark.parametrize("later", [0, 20, 200])
def test_the_next_deadline_filter_lists_the_orders_the_rules_say(demo, later):
    now = NOW + timedelta(days=later)
    orders = list(Order.objects.select_related("programme", "solution"))
    for window in selectors.DEADLINE_WINDOWS:
        with CaptureQueriesContext(connection) as queries:
            found = set(
                selectors.with_next_deadline_in_window(Order.objects.all(), window, now).values_list("pk", flat=True)
            )
        assert len(queries) == 1
        assert found == {order.pk for order in orders if in_window(order, window, now)}, window


def rules_calendar(now, horizon) -> dict:  # type: ignore[no-untyped-def]
    """(day or "overdue", code) -> count, amount: from the rules over every order."""
    counts: dict = {}
    for order in Order.objects.select_related("programme", "solution"):
        for deadline in rules.order_deadlines(order, now):
            if deadline.status == rules.MET or deadline.due_at > horizon:
                continue
            key = ("overdue" if deadline.status == rules.OVERDUE else rules.paris_date(deadline.due_at), deadline.code)
            count, amount = counts.get(key, (0, Decimal("0")))
            counts[key] = (count + 1, amount + order.principal_amount + order.secondary_amount)
    return counts


def calendar_counts(overdue, days) -> dict:  # type: ignore[no-untyped-def]
    counts = {}
    for day in [overdue, *days]:
        for group in day.by_deadline():
            if group["code"] in {"COMPLETE_DOSSIER", "PILOT_VALIDATION", "SATISFACTION_REPORT"}:
                continue  # provider and solution deadlines: not stored, computed apart
            key = ("overdue" if day is overdue else day.day, group["code"])
            counts[key] = (group["count"], group["amount"])
    return counts


@pytest.mark.parametrize("later", [0, 60])
def test_the_calendar_shows_the_deadlines_the_rules_give(demo, later):
    now = NOW + timedelta(days=later)
    expected = rules_calendar(now, now + timedelta(days=90))

    full = deadline_calendar(now=now)
    with CaptureQueriesContext(connection) as queries:
        first_rows = deadline_calendar(now=now, rows_per_day=2)

    assert calendar_counts(*full) == expected
    assert calendar_counts(*first_rows) == expected
    assert len(queries) <= 10  # four for the orders' deadlines, the rest for the provider's: not per order
    overdue, days = first_rows
    assert all(len([i for i in day.items if i["order"]]) <= 2 for day in [overdue, *days])
    assert [day.count for day in full[1]] == [day.count for day in days]
    assert full[0].amount == overdue.amount
    for day_full, day_first in zip(full[1], days, strict=True):
        shown = [item for item in day_full.items if item["order"]][:2]
        assert [i["order"].pk for i in shown] == [i["order"].pk for i in day_first.items if i["order"]][:2]


def test_the_order_list_filters_on_the_next_deadline_without_facet_counts(admin_client, demo, frozen_today):
    url = "/admin/orders/order/?echeance=30&commercial=tous"
    with CaptureQueriesContext(connection) as plain:
        page = admin_client.get(url)
    with CaptureQueriesContext(connection) as asked:
        with_facets = admin_client.get(url + "&_facets=1")

    assert page.status_code == with_facets.status_code == 200
    assert len(asked) == len(plain)  # facets are off: "?_facets=1" computes nothing more
    expected = selectors.with_next_deadline_in_window(Order.objects.all(), "30", NOW).count()
    assert expected > 0
    assert f"{expected} commande" in page.content.decode()
