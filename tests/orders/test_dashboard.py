"""The staff home page (issue 14): its figures equal those computed independently from the demo's orders, in a
bounded number of queries, and only a finance role sees the money blocks."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import dashboard
from orders.demo import seed_demo
from orders.models import Order, OrderState
from tests.factories import advance, make_order

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def demo():
    seed_demo()
    return {user.username: user for user in get_user_model().objects.all()}


def independent(orders):
    """The dashboard's figures recomputed in Python from every order, one by one (the test's own arithmetic)."""
    figures = {"states": {}, "received": {}, "expected": {}, "at_risk": {}}

    def add(block, key, amount):
        count, total = figures[block].get(key, (0, Decimal("0")))
        figures[block][key] = (count + 1, total + amount)

    for order in orders:
        add("states", order.state, order.principal_amount)
        if order.advance_amount is not None:
            add("received", "advance", order.advance_amount)
        if order.balance_amount is not None:
            add("received", "balance", order.balance_amount)
        if order.secondary_paid_amount is not None:
            add("received", "secondary", order.secondary_paid_amount)
        if order.state == "advance_requested":
            add("expected", "advance", order.principal_amount * order.programme.advance_rate)
        if order.state == "balance_requested":
            add("expected", "balance", order.principal_amount - (order.advance_amount or 0))
        if order.secondary_perf and order.secondary_paid_at is None:
            add("expected", "secondary_secured", order.secondary_amount * order.secondary_perf)
        if order.state in ("va_signed", "balance_requested", "balance_paid"):
            add("expected", "secondary_potential", order.secondary_amount)
        risk = {
            "draft": "drafts",
            "pre_order": "dossier",
            "firm": "advance",
            "advance_requested": "install",
            "advance_paid": "install",
            "lapsed": "lapsed",
        }.get(order.state)
        if risk:
            add("at_risk", risk, order.principal_amount)
        if order.state == "reimbursement_due":
            add("at_risk", "reimbursement", order.advance_amount)
    return figures


def as_pairs(rows):
    return [(row.count, row.amount) for row in rows]


def test_the_figures_equal_those_computed_order_by_order_on_the_demo(demo):
    orders = list(Order.objects.select_related("programme"))
    expected = independent(orders)
    context = dashboard.dashboard_context(demo["admin"])

    labels = dict(OrderState.choices)
    assert {row.label: (row.count, row.amount) for row in context["states"]} == {
        str(labels[state]): pair for state, pair in expected["states"].items()
    }
    assert (context["total"].count, context["total"].amount) == (len(orders), sum(o.principal_amount for o in orders))
    money = context["money"]
    zero = (0, Decimal("0"))
    assert as_pairs(money["received"]) == [
        expected["received"].get(key, zero) for key in ("advance", "balance", "secondary")
    ]
    keys = ("advance", "balance", "secondary_secured", "secondary_potential")
    assert as_pairs(money["expected"]) == [expected["expected"].get(key, zero) for key in keys]
    risks = ("drafts", "dossier", "advance", "install", "lapsed", "reimbursement")
    assert as_pairs(money["at_risk"]) == [expected["at_risk"].get(key, zero) for key in risks]
    assert sum(row.count for row in context["by_salesperson"]) == len(orders)
    assert sum(row.amount for row in context["by_client"]) == sum(o.principal_amount for o in orders)
    vat = {row.label: row.count for row in context["vat"]}
    assert vat == {
        "TVA 20 %": sum(o.vat_regime == "vat_20" for o in orders),
        "TVA 8,5 % (DOM)": sum(o.vat_regime == "vat_8_5" for o in orders),
    }


def test_every_number_links_to_the_list_that_shows_those_orders(demo, client):
    client.force_login(demo["admin"])
    context = dashboard.dashboard_context(demo["admin"])
    rows = context["states"] + context["by_client"] + context["by_salesperson"] + context["money"]["at_risk"]
    rows += context["money"]["expected"][:2] + context["money"]["expected"][3:] + context["vat"]

    for row in rows:
        response = client.get(row.url)
        assert response.status_code == 200, row.url
        assert response.context["cl"].result_count == row.count, (row.label, row.url)


def test_the_page_costs_a_bounded_number_of_queries_whatever_the_number_of_orders(demo, client):
    client.force_login(demo["admin"])
    with CaptureQueriesContext(connection) as before:
        assert client.get(reverse("admin:index")).status_code == 200
    for _ in range(20):
        advance(make_order(), "advance_paid")
    with CaptureQueriesContext(connection) as after:
        page = client.get(reverse("admin:index"))

    assert len(after) == len(before) <= 24  # 22 on the demo: session, user, programme, aggregates, calendar
    assert "Où en sont les commandes" in page.content.decode()


def test_without_a_finance_permission_no_money_block(demo, client):
    client.force_login(demo["m.bernard"])  # deployment

    page = client.get(reverse("admin:index")).content.decode()

    assert "Commandes par état" in page and "Prêt pour les demandes de solde" in page
    assert "Reçu de l'ASP" not in page and "À risque" not in page and "Par régime de TVA" not in page


def test_finance_sees_the_money(demo, client):
    client.force_login(demo["s.moreau"])

    page = client.get(reverse("admin:index")).content.decode()

    assert "Reçu de l'ASP" in page and "À risque" in page and "Par régime de TVA" in page


def test_a_salesperson_sees_his_own_figures_first(demo, client):
    salesperson = demo["c.durand"]
    client.force_login(salesperson)

    page = client.get(reverse("admin:index")).content.decode()
    context = dashboard.dashboard_context(salesperson)

    own = Order.objects.filter(salesperson=salesperson)
    assert context["own_total"].count == own.count() > 0
    assert page.index("Mes commandes") < page.index("Commandes par état")
    assert "Reçu de l'ASP" not in page  # sales has no finance permission
    for row in context["own_states"]:
        assert "commercial=moi" in row.url


def test_a_user_without_the_order_list_sees_the_plain_admin_home(client):
    user = get_user_model().objects.create_user("visiteur", password="x", is_staff=True)
    client.force_login(user)

    page = client.get(reverse("admin:index")).content.decode()

    assert "Où en sont les commandes" not in page


def test_the_pace_needed_counts_what_is_left_before_date_4_and_date_5(demo):
    context = dashboard.dashboard_context(demo["admin"])
    pace = context["pace"]

    assert pace.to_sign == Order.objects.filter(state="draft").count()
    assert (
        pace.to_install
        == Order.objects.filter(state__in=["pre_order", "firm", "advance_requested", "advance_paid"]).count()
    )
    if pace.weeks_to_date_4:
        assert pace.signed_needed == (Decimal(pace.to_sign) / pace.weeks_to_date_4).quantize(
            Decimal("0.1"), ROUND_HALF_UP
        )
