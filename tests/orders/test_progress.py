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

    assert labels.index("Procès-verbal d'installation pilote signé") < labels.index("Vérification d'aptitude signée")
    assert ("Procès-verbal d'installation pilote signé", progress.CURRENT) in statuses(order)
    assert [action.label for action in actions] == ["Signer le procès-verbal d'installation pilote"]


def test_past_date_5_the_signature_is_overdue_for_the_client():
    order = advance(make_order(), "installed")

    (action,) = progress.client_actions(order, order.programme.date_5.replace(minute=1))

    assert action.overdue and action.label == "Signer la Vérification d'aptitude"


def test_a_side_exit_stops_the_path_and_explains_itself():
    order = make_order()
    order = services.perform("cancel", order_id=order.pk, acting_user=None, params={"reason": "doublon"})

    assert progress.CURRENT not in {status for _label, status in statuses(order)}
    assert progress.client_state_text(order) == "Cette commande a été annulée."
    assert progress.client_actions(order, paris(2026, 11, 23)) == []


def test_every_state_has_its_client_text():
    from orders.models import OrderState

    assert set(progress.CLIENT_STATE_TEXT) == set(OrderState.values)


def test_the_client_texts_use_one_name_per_document_and_no_section_numbers():
    """Issue #12: the client reads «Vérification d'aptitude» (never «VA» nor «Aptitude»), no «AF §»."""
    texts = list(progress.CLIENT_STATE_TEXT.values()) + [label for label, _ in progress.CLIENT_ACTION_TEXT.values()]
    order = advance(make_order(is_pilot=True), "installed")
    texts += [progress.client_state_text(order)] + [label for label, _status in statuses(order)]
    for text in texts:
        assert "(VA)" not in text and "Aptitude" not in text and "AF §" not in text and " PV " not in text, text
    assert progress.client_state_text(order).endswith("il reste à signer le procès-verbal d'installation pilote.")
    assert progress.CLIENT_STATE_TEXT["installed"].endswith("il reste à signer la Vérification d'aptitude.")
