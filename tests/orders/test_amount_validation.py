"""Amounts of an order form are positive numbers of euros to the cent, never rounded behind the event log's back, and
a refusal gives its real reason (``orders.rules.amount_value_violation``, AF §4.3, §5)."""

from decimal import Decimal

import pytest

from orders import rules, services
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderEvent
from tests.factories import make_order

pytestmark = pytest.mark.django_db

CEILING = Decimal("451.50")  # doctor, V2, TVA 20 % (AF §5.3)


def refusal(**amounts) -> BusinessRuleError:
    with pytest.raises(BusinessRuleError) as caught:
        make_order(**amounts)
    assert not Order.objects.exists()
    return caught.value


@pytest.mark.parametrize("amount", ["12.345", "0.001", "0.004", "1E-9", "451.499"])
def test_an_amount_beyond_the_cent_is_refused_not_rounded(amount):
    error = refusal(principal_amount=Decimal(amount))

    assert error.codes == ["AMOUNT_NOT_TO_THE_CENT"]
    assert "au centime près" in error.message
    assert error.violations[0].field == "principal_amount"


@pytest.mark.parametrize("amount", ["0", "0.00", "-1", "-0.01"])
def test_a_zero_or_negative_amount_gives_the_real_reason_not_a_duplicate(amount):
    error = refusal(secondary_amount=Decimal(amount))

    assert error.codes == ["AMOUNT_NOT_POSITIVE"]
    assert "le total du bon de commande ne peut être nul" in error.message


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-Infinity"), "12"])
def test_not_a_number_is_refused_with_a_message_not_a_crash(amount):
    error = refusal(principal_amount=amount)

    assert error.codes == ["AMOUNT_INVALID"]
    assert "n'est pas un montant en euros" in error.message


@pytest.mark.parametrize(
    ("amount", "stored"),
    [("0.01", Decimal("0.01")), ("12.340", Decimal("12.34")), ("451.50", CEILING), ("100", Decimal("100.00"))],
)
def test_amounts_to_the_cent_up_to_the_ceiling_are_stored_as_given(amount, stored):
    order = make_order(principal_amount=Decimal(amount))

    order.refresh_from_db()
    assert order.principal_amount == stored
    assert Decimal(OrderEvent.objects.get(order=order, action="create").payload["principal_amount"]) == stored


def test_one_cent_above_the_ceiling_is_refused():
    assert refusal(principal_amount=CEILING + Decimal("0.01")).codes == ["AMOUNT_ABOVE_CEILING"]


@pytest.mark.postgres  # PostgreSQL rounds 0.001 to 0.00 in its numeric(12, 2) column; SQLite keeps 0.001
def test_a_database_error_other_than_a_duplicate_is_never_reported_as_a_duplicate(monkeypatch):
    """0.001 € used to pass the rules, become 0.00 in the column, break the positive-amount constraint and come back
    as "already has an order". Other constraint failures must surface as what they are."""
    monkeypatch.setattr(rules, "amount_value_violation", lambda amount, **kwargs: None)

    with pytest.raises(Exception) as caught:
        make_order(principal_amount=Decimal("0.001"))

    assert not isinstance(caught.value, BusinessRuleError)
    assert "order_principal_positive" in str(caught.value)


def test_a_real_duplicate_is_still_reported_as_one():
    order = make_order()

    with pytest.raises(BusinessRuleError) as caught:
        make_order(client=order.client, solution=order.solution)

    assert caught.value.codes == ["DUPLICATE_ORDER"]


def test_changing_the_terms_refuses_a_fraction_of_a_cent_and_stores_nothing():
    order = make_order()

    with pytest.raises(BusinessRuleError) as caught:
        services.order_update_terms(
            order_id=order.pk,
            prestation="principal_v2",
            vat_regime="vat_20",
            principal_amount=Decimal("12.345"),
            secondary_amount=Decimal("NaN"),
            acting_user=None,
        )

    assert caught.value.codes == ["AMOUNT_NOT_TO_THE_CENT", "AMOUNT_INVALID"]
    order.refresh_from_db()
    assert order.principal_amount == CEILING
    refused = OrderEvent.objects.get(order=order, action="update_terms")
    assert refused.accepted is False and refused.payload["secondary_amount"] == "NaN"


def test_the_rule_reads_cents_exactly_whatever_the_size():
    assert rules.amount_value_violation(Decimal("1E+30"), field="f", label="x") is None  # the ceiling refuses it
    assert rules.amount_value_violation(Decimal("12.3400000"), field="f", label="x") is None
    assert rules.amount_value_violation(True, field="f", label="x").code == "AMOUNT_INVALID"


@pytest.mark.parametrize(
    ("terms", "code"),
    [
        ({"prestation": "secondary"}, "PRESTATION_UNKNOWN"),  # has a ceiling, yet is never sold on its own
        ({"prestation": "principal\x00"}, "PRESTATION_UNKNOWN"),
        ({"vat_regime": "vat_99"}, "VAT_REGIME_UNKNOWN"),
    ],
)
def test_the_prestation_and_vat_regime_are_among_the_afs(terms, code):
    assert refusal(**terms).codes == [code]


def test_a_refused_terms_change_with_a_nul_byte_is_still_logged():
    order = make_order()

    with pytest.raises(BusinessRuleError) as caught:
        services.order_update_terms(
            order_id=order.pk,
            prestation="principal_v2\x00",
            vat_regime="vat_20",
            principal_amount=CEILING,
            secondary_amount=Decimal("100"),
            acting_user=None,
        )

    assert caught.value.codes == ["PRESTATION_UNKNOWN"]
    event = OrderEvent.objects.get(order=order, action="update_terms")
    assert event.accepted is False and event.payload["prestation"] == "principal_v2\\x00"
