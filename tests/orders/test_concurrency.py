"""Two staff members act on the same order at the same time: exactly one wins (PostgreSQL row locks, SPEC §7)."""

import pytest
import time_machine

from orders import services
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderEvent
from tests.concurrency import run_concurrently
from tests.factories import advance, make_order, paris

TODAY = paris(2026, 11, 23, 10)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("programme_data")
def test_two_concurrent_transitions_of_the_same_order_exactly_one_wins():
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "firm")

        results = run_concurrently(
            lambda: services.perform(
                "file_advance", order_id=order.pk, acting_user=None, params={"received_at": TODAY, "asp_reference": "A"}
            ),
            lambda: services.perform("cancel", order_id=order.pk, acting_user=None, params={"reason": "Doublon"}),
        )

    winners = [result for result in results if isinstance(result, Order)]
    losers = [result for result in results if isinstance(result, BusinessRuleError)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert losers[0].codes == ["STATE_NOT_ALLOWED"]
    assert "impossible depuis l'état" in losers[0].message
    order.refresh_from_db()
    assert order.state == winners[0].state
    accepted = OrderEvent.objects.filter(order=order, accepted=True).exclude(action__in=["create", "sign"])
    assert accepted.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("programme_data")
def test_the_same_transition_twice_at_once_is_applied_once():
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "advance_requested")

        results = run_concurrently(
            *[lambda: services.perform("record_advance_paid", order_id=order.pk, acting_user=None)] * 2
        )

    assert sorted(type(result).__name__ for result in results) == ["BusinessRuleError", "Order"]
    assert OrderEvent.objects.filter(order=order, action="record_advance_paid", accepted=True).count() == 1
