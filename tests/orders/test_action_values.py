"""Texts and choices given to an order action (signatory, ASP reference and message, reason) are refused when they
hold control characters or exceed their length, naming the field; the refused attempt is still logged."""

import pytest

from orders import services
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderEvent
from tests.factories import advance, make_order, paris

pytestmark = pytest.mark.django_db


def refused(action, order, params):
    before = Order.objects.values().get(pk=order.pk)
    with pytest.raises(BusinessRuleError) as caught:
        services.perform(action, order_id=order.pk, acting_user=None, params=params)
    assert Order.objects.values().get(pk=order.pk) == before
    event = OrderEvent.objects.filter(order=order, action=action).last()
    assert event.accepted is False and "\x00" not in str(event.payload)
    return caught.value


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("Erreur\x00", "TEXT_CONTROL_CHARACTER"),
        ("Erreur\u202e", "TEXT_CONTROL_CHARACTER"),
        ("x" * 2001, "TEXT_TOO_LONG"),
    ],
)
def test_a_bad_reason_is_refused_naming_the_field(reason, code):
    error = refused("cancel", make_order(), {"reason": reason})

    assert error.codes == [code]
    assert error.message.startswith("Motif :")


def test_a_reason_on_several_lines_up_to_the_bound_is_kept():
    order = services.perform(
        "cancel", order_id=make_order().pk, acting_user=None, params={"reason": "Doublon.\r\n" + "x" * 1990}
    )

    assert order.closing_reason.startswith("Doublon.\r\n") and len(order.closing_reason) == 2000


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"signatory_name": "Dr Martin\nBcc: x"}, "signatory_name", "TEXT_CONTROL_CHARACTER"),
        ({"signatory_name": "N" * 256}, "signatory_name", "TEXT_TOO_LONG"),
        ({"signature_method": "fax"}, "signature_method", "CHOICE_UNKNOWN"),
    ],
)
def test_the_signature_refuses_bad_values(params, field, code):
    order = make_order()
    signature = {"signed_at": paris(2026, 9, 2), "signature_method": "eidas_simple", "signatory_name": "Dr Martin"}

    error = refused("sign", order, {**signature, **params})

    assert [(violation.field, violation.code) for violation in error.violations] == [(field, code)]


def test_an_asp_reference_longer_than_its_column_is_refused_not_a_database_error():
    order = advance(make_order(), "firm")

    error = refused("file_advance", order, {"received_at": paris(2026, 9, 3), "asp_reference": "R" * 65})

    assert error.codes == ["TEXT_TOO_LONG"]
    assert "Référence ASP : 65 caractères, 64 au plus" in error.message


def test_an_asp_message_with_a_nul_byte_is_refused():
    order = advance(make_order(), "advance_requested")

    error = refused("return_advance", order, {"return_kind": "rejected", "asp_message": "Pièce\x00 manquante"})

    assert error.codes == ["TEXT_CONTROL_CHARACTER"]
