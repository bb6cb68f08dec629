"""``selectors.deadline_rows`` (light rows for the calendar and the list filter) gives exactly the deadlines of full
orders (SPEC §10), for every state the demo reaches, and costs three queries whatever the number of orders."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import rules, services
from orders.demo import seed_demo
from orders.models import Order
from orders.selectors import deadline_rows
from tests.factories import advance, make_order, paris

pytestmark = pytest.mark.django_db


def test_light_rows_have_the_same_deadlines_as_full_orders_in_every_state():
    now = paris(2026, 11, 23, 10)
    with time_machine.travel(now, tick=False):
        seed_demo(now=now)
        terminated = advance(make_order(issued_at=paris(2026, 9, 1, 9)), "va_signed", now=now)
        params = {"terminated_at": now, "reason": "Départ"}
        services.perform("record_termination", order_id=terminated.pk, acting_user=None, params=params)
        services.perform("request_portability", order_id=terminated.pk, acting_user=None, params={"at": now})
    orders = Order.objects.select_related("programme", "solution", "client").order_by("pk")
    assert len({order.state for order in orders}) >= 15

    with CaptureQueriesContext(connection) as queries:
        rows = {row.pk: row for row in deadline_rows(Order.objects.all(), "number", "client__name")}

    assert len(queries) == 3  # programmes, solutions, orders: not one per order
    for moment in (now, now + timedelta(days=30), now + timedelta(days=400)):
        for order in orders:
            assert rules.order_deadlines(rows[order.pk], moment) == rules.order_deadlines(order, moment), order.state
    assert rows[terminated.pk].client.name == terminated.client.name
    assert rows[terminated.pk].number == terminated.number
