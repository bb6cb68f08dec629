"""Changing what the client is asked to sign (prestation, amounts of a draft) needs ``orders.change_order_terms``,
held by sales and administrators; deployment and finance may change an order, not its amounts."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from orders import services
from orders.exceptions import BusinessRuleError
from orders.models import OrderEvent
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from tests.factories import make_order, make_user

pytestmark = pytest.mark.django_db

NEW_TERMS = {
    "prestation": "principal_v2",
    "vat_regime": "vat_20",
    "principal_amount": Decimal("400.00"),
    "secondary_amount": Decimal("100.00"),
}


def update_terms(order, user):
    return services.order_update_terms(order_id=order.pk, acting_user=user, **NEW_TERMS)


def test_the_permission_exists_with_its_french_name():
    permission = Permission.objects.get(codename="change_order_terms", content_type__app_label="orders")

    assert permission.name == "Modifier les montants d'un bon de commande"


@pytest.mark.parametrize("group", [SALES_GROUP, ADMIN_GROUP])
def test_sales_and_administrators_change_a_drafts_amounts(group):
    order = make_order()

    update_terms(order, make_user("staff", group))

    order.refresh_from_db()
    assert (order.principal_amount, order.secondary_amount) == (Decimal("400.00"), Decimal("100.00"))


@pytest.mark.parametrize("group", [DEPLOYMENT_GROUP, FINANCE_GROUP])
def test_deployment_and_finance_are_refused_in_french_and_nothing_changes(group):
    order = make_order()
    user = make_user("staff", group)
    assert user.has_perm("orders.change_order")  # what the terms form used to check

    with pytest.raises(BusinessRuleError) as caught:
        update_terms(order, user)

    assert caught.value.codes == ["PERMISSION_DENIED"]
    assert "Votre rôle ne permet pas de modifier les montants d'un bon de commande" in caught.value.message
    order.refresh_from_db()
    assert order.principal_amount == Decimal("451.50")
    event = OrderEvent.objects.get(order=order, action="update_terms")
    assert (event.accepted, event.actor) == (False, user)


def test_the_permission_alone_is_enough_and_the_system_may_change_terms():
    order = make_order()
    user = make_user("individual")
    user.user_permissions.add(Permission.objects.get(codename="change_order_terms"))

    update_terms(order, user)
    services.order_update_terms(order_id=order.pk, acting_user=None, **{**NEW_TERMS, "secondary_amount": Decimal("90")})

    order.refresh_from_db()
    assert order.secondary_amount == Decimal("90.00")


@pytest.mark.parametrize(("group", "offered"), [(SALES_GROUP, True), (DEPLOYMENT_GROUP, False), (FINANCE_GROUP, False)])
def test_the_order_page_offers_the_amounts_form_only_to_those_who_may_use_it(client, group, offered):
    order = make_order()
    client.force_login(make_user("staff", group))
    terms_url = reverse("admin:orders_order_terms", args=[order.pk])

    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    form = client.get(terms_url)

    assert (terms_url in page.content.decode()) is offered
    assert form.status_code == (200 if offered else 403)
