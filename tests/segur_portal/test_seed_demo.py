from collections import Counter

import pytest
from django.apps import apps
from django.core.management import call_command

from monitoring.models import OutboxEmail
from orders.models import Order, OrderEvent, OrderState
from portal.models import PortalLink

# The ANS check window (6 months after the end of the month a journal is received, AF §4.5) cannot have ended for
# any order of this programme yet: "closed" is the one state the demo cannot reach honestly as of 2026.
UNREACHABLE_YET = {OrderState.CLOSED}


def row_counts() -> dict[str, int]:
    """Rows of every model but the client-space links: each run prints a new one (a link's key is stored nowhere)."""
    return {model._meta.label: model.objects.count() for model in apps.get_models() if model is not PortalLink}


@pytest.mark.django_db
def test_seed_demo_walks_every_state_through_the_rules_and_is_idempotent(capsys):
    call_command("seed_demo")
    first = row_counts()
    call_command("seed_demo")

    output = capsys.readouterr().out
    assert row_counts() == first
    notices = OutboxEmail.objects.filter(kind="perf_notice").count()  # each carries its own link (AF §4.5)
    assert PortalLink.objects.count() - notices == output.count("/espace-client/acces/") == 2
    assert "déjà présentes" in output
    assert "login admin / segur-demo-2026" in output
    states = Counter(Order.objects.values_list("state", flat=True))
    assert set(OrderState.values) - set(states) == UNREACHABLE_YET
    assert 190 <= first["clients.Client"] <= 210
    assert Order.objects.filter(pilot_pv_signed_at__isnull=False).count() == 5
    for order in Order.objects.all():
        events = list(OrderEvent.objects.filter(order=order, accepted=True).order_by("created_at", "pk"))
        assert events[0].action == "create"
        transitions = [event for event in events if event.from_state != event.to_state]
        for earlier, later in zip(transitions, transitions[1:], strict=False):
            assert earlier.to_state == later.from_state
        assert events[-1].to_state == order.state
