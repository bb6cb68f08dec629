from decimal import Decimal

import pytest

from orders.models import OrderEvent
from tests.factories import advance, make_order


@pytest.mark.django_db
def test_an_order_walks_from_draft_to_balance_paid_through_the_services():
    order = make_order()
    assert order.state == "draft"
    assert order.principal_amount == Decimal("451.50")
    assert order.number.startswith("BC-MDV-LGC-Va2-")

    order = advance(order, "balance_paid")

    assert order.state == "balance_paid"
    assert order.advance_amount == Decimal("180.60")
    assert order.balance_amount == Decimal("270.90")
    assert order.advance_amount + order.balance_amount == order.principal_amount
    actions = list(OrderEvent.objects.filter(order=order).values_list("action", flat=True))
    assert actions[0] == "create"
    assert actions[-1] == "record_balance_paid"
    assert all(OrderEvent.objects.filter(order=order).values_list("accepted", flat=True))
