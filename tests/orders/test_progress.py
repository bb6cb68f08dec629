"""The order's progress as the client reads it: steps, the current one, and its own deadlines (SPEC §7, §10)."""

import pytest

from orders import progress, services
from tests.factories import advance, make_order, make_solution, paris

pytestmark = pytest.mark.django_db


def statuses(order) -> list[tuple[str, str]]:
    return [(step.label, step.status) for step in progress.order_steps(order)]


def test_a_draft_waits_for_the_signature_before_date_4():
    order = make_order()

    steps = statuses(order)
    actions = progress.client_actions(order, paris(2026, 11, 23))

    assert steps[0] == ("Bon de commande signé", progress.CURRENT)
    assert all(status == progress.TODO for _label, status in steps[1:])
    assert [(action.label, action.document_kind, action.overdue) for action in actions] == [
        ("Signer le bon de commande", "order_form", False)
    ]
    assert actions[0].due_at == order.programme.date_4 and actions[0].reference == "AF §4.3"


def test_a_pilot_order_has_its_pv_step_and_asks_for_the_pv_before_the_va():
    order = advance(make_order(solution=make_solution(), is_pilot=True), "installed")

    labels = [label for label, _status in statuses(order)]
    actions = progress.client_actions(order, paris(2026, 11, 23))

    assert labels.index("PV d'installation pilote signé") < labels.index("Vérification d'Aptitude signée")
    assert ("PV d'installation pilote signé", progress.CURRENT) in statuses(order)
    assert [action.label for action in actions] == ["Signer le PV d'installation pilote"]


def test_past_date_5_the_signature_is_overdue_for_the_client():
    order = advance(make_order(), "installed")

    (action,) = progress.client_actions(order, order.programme.date_5.replace(minute=1))

    assert action.overdue and action.label == "Signer la Vérification d'Aptitude (VA)"


def test_a_side_exit_stops_the_path_and_explains_itself():
    order = make_order()
    order = services.perform("cancel", order_id=order.pk, acting_user=None, params={"reason": "doublon"})

    assert progress.CURRENT not in {status for _label, status in statuses(order)}
    assert progress.client_state_text(order) == "Cette commande a été annulée."
    assert progress.client_actions(order, paris(2026, 11, 23)) == []


def test_every_state_has_its_client_text():
    from orders.models import OrderState

    assert set(progress.CLIENT_STATE_TEXT) == set(OrderState.values)
