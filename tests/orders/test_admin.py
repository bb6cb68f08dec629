"""The staff admin: list cost, search, filters, the order page's actions, bulk actions (all through services)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import Client
from orders.models import Order, OrderEvent
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from tests.factories import advance, lgc_programme, make_order, make_solution, make_user, paris, valid_rpps

TODAY = paris(2026, 11, 23, 10)
LIST_URL = reverse("admin:orders_order_changelist")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def admin_client(client):
    client.force_login(make_user("chef", ADMIN_GROUP))
    return client


def bulk_orders(count: int, solution, first: int = 0) -> None:
    """Many orders, fast: this test is about the list's cost, not about the rules."""
    clients = Client.objects.bulk_create(
        Client(kind="doctor", name=f"Dr Bulk {index}", rpps=valid_rpps(500_000 + index))
        for index in range(first, first + count)
    )
    Order.objects.bulk_create(
        Order(
            number=f"BC-BULK-{first + index:06d}",
            programme=solution.programme,
            client=client,
            solution=solution,
            prestation="principal_v2",
            vat_regime="vat_20",
            principal_amount=Decimal("451.50"),
            secondary_amount=Decimal("125.00"),
            issued_at=TODAY,
        )
        for index, client in enumerate(clients)
    )


def list_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST_URL, params)
    assert response.status_code == 200
    return len(queries)


def test_order_list_makes_the_same_number_of_queries_for_10_and_1000_orders(admin_client):
    solution = make_solution()
    bulk_orders(10, solution)
    with_10 = list_queries(admin_client)
    bulk_orders(990, solution, first=10)

    with_1000 = list_queries(admin_client)

    assert with_1000 == with_10
    assert Order.objects.count() == 1000


def test_order_list_shows_state_amounts_and_next_deadline(admin_client):
    order = advance(make_order(), "firm")

    response = admin_client.get(LIST_URL)

    content = response.content.decode()
    assert order.number in content
    assert "Commande ferme" in content
    assert "451,50\u00a0€" in content
    assert "16/12/2026" in content  # Date 4: advance request


def test_search_by_rpps_and_by_order_number(admin_client):
    first, second = make_order(), make_order()

    by_rpps = admin_client.get(LIST_URL, {"q": first.client.rpps}).content.decode()
    by_number = admin_client.get(LIST_URL, {"q": second.number}).content.decode()

    assert first.number in by_rpps and second.number not in by_rpps
    assert second.number in by_number and first.number not in by_number


def test_filters_by_state_and_next_deadline_window(admin_client):
    draft = make_order()
    firm = advance(make_order(), "firm")
    balance_requested = advance(make_order(), "balance_requested")

    by_state = admin_client.get(LIST_URL, {"state__exact": "firm"}).content.decode()
    within_30_days = admin_client.get(LIST_URL, {"echeance": "30"}).content.decode()

    assert firm.number in by_state and draft.number not in by_state
    # Date 4 (16/12/2026) is 23 days away: draft (signature) and firm (advance) orders; the balance request has none.
    assert draft.number in within_30_days and firm.number in within_30_days
    assert balance_requested.number not in within_30_days


def test_order_page_shows_allowed_and_blocked_actions_with_reasons(client):
    client.force_login(make_user("vendeur", SALES_GROUP))
    order = advance(make_order(), "firm")

    content = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert "Annuler" in content
    assert reverse("admin:orders_order_action", args=[order.pk, "cancel"]) in content
    assert "Déposer la demande d&#x27;avance" in content
    assert "Réservé à : Finance" in content  # reserved actions are summarised, not one refusal each (issue #10)
    assert "Échéances" in content and "Liste de déploiement" in content


def test_posting_an_action_moves_the_state_and_logs_it(client):
    finance = make_user("compta", FINANCE_GROUP)
    client.force_login(finance)
    order = advance(make_order(), "firm")
    url = reverse("admin:orders_order_action", args=[order.pk, "file_advance"])

    response = client.post(url, {"received_at_0": "23/11/2026", "received_at_1": "09:30", "asp_reference": "ASP-77"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == "advance_requested"
    assert order.advance_asp_reference == "ASP-77"
    assert order.advance_requested_at == paris(2026, 11, 23, 9, 30)
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.action, event.actor, event.accepted) == ("file_advance", finance, True)


def test_an_action_refused_by_a_rule_shows_the_rule_and_changes_nothing(client):
    client.force_login(make_user("compta", FINANCE_GROUP))
    order = advance(make_order(), "firm")
    url = reverse("admin:orders_order_action", args=[order.pk, "file_advance"])

    response = client.post(url, {"received_at_0": "17/12/2026", "received_at_1": "09:00"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "Date 4 dépassée" in content
    order.refresh_from_db()
    assert order.state == "firm"


def test_a_sales_user_cannot_file_an_advance_even_by_posting(client):
    client.force_login(make_user("vendeur", SALES_GROUP))
    order = advance(make_order(), "firm")
    url = reverse("admin:orders_order_action", args=[order.pk, "file_advance"])

    response = client.post(url, {"received_at_0": "23/11/2026", "received_at_1": "09:00"})

    assert "Votre rôle ne permet pas" in response.content.decode()
    order.refresh_from_db()
    assert order.state == "firm"


def test_bulk_advance_requests_report_per_order(admin_client):
    solution = make_solution()
    good = [advance(make_order(solution=solution), "firm") for _ in range(3)]
    drafts = [make_order(solution=solution) for _ in range(2)]

    response = admin_client.post(
        LIST_URL,
        {
            "action": "bulk_file_advance",
            "_selected_action": [order.pk for order in good + drafts],
            "confirm": "yes",
            "received_at_0": "23/11/2026",
            "received_at_1": "09:00",
        },
        follow=True,
    )

    content = response.content.decode()
    assert "5 traitées : 3 faites, 2 refusées" in content
    for order in drafts:
        assert order.number in content
    assert set(Order.objects.filter(pk__in=[o.pk for o in good]).values_list("state", flat=True)) == {
        "advance_requested"
    }
    assert set(Order.objects.filter(pk__in=[o.pk for o in drafts]).values_list("state", flat=True)) == {"draft"}


def test_a_draft_order_terms_can_be_edited_and_a_signed_one_cannot(admin_client):
    draft = make_order()
    signed = advance(make_order(), "firm")
    values = {
        "prestation": "principal_v2",
        "vat_regime": "vat_20",
        "principal_amount": "400",
        "secondary_amount": "100",
    }

    ok = admin_client.post(reverse("admin:orders_order_terms", args=[draft.pk]), values)
    refused = admin_client.post(reverse("admin:orders_order_terms", args=[signed.pk]), values)

    assert ok.status_code == 302
    draft.refresh_from_db()
    assert draft.principal_amount == Decimal("400.00")
    assert "Un bon de commande signé ne se modifie plus" in refused.content.decode()
    signed.refresh_from_db()
    assert signed.principal_amount == Decimal("451.50")


def test_creating_an_order_in_the_admin_goes_through_the_rules(admin_client):
    solution = make_solution()
    first = make_order(solution=solution)
    url = reverse("admin:orders_order_add")
    base = {
        "programme": lgc_programme().pk,
        "solution": solution.pk,
        "prestation": "principal_v2",
        "issued_at_0": "20/11/2026",
        "issued_at_1": "10:00",
    }

    duplicate = admin_client.post(url, {**base, "client": first.client.pk})
    above = admin_client.post(url, {**base, "client": make_order().client.pk, "principal_amount": "999"})

    assert "une seule commande par client" in duplicate.content.decode()
    assert "dépasse le prix plafond" in above.content.decode()
    assert Order.objects.count() == 2


def test_deployment_ticks_the_checklist_then_records_the_installation(client):
    client.force_login(make_user("tech", DEPLOYMENT_GROUP))
    order = advance(make_order(), "advance_paid")
    from orders.rules import checklist_items_for

    items = {f"item_{code}": "on" for code, _label in checklist_items_for(order.client)}
    client.post(reverse("admin:orders_order_checklist", args=[order.pk]), items)
    response = client.post(
        reverse("admin:orders_order_action", args=[order.pk, "record_installation"]),
        {"installed_at_0": "23/11/2026", "installed_at_1": "09:00"},
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == "installed"


def test_a_staff_user_takes_an_order_from_draft_to_balance_paid_in_the_admin_alone(admin_client):
    from orders.rules import checklist_items_for

    order = make_order()

    def act(name, **fields):
        response = admin_client.post(reverse("admin:orders_order_action", args=[order.pk, name]), fields)
        assert response.status_code == 302, response.content.decode()[-2000:]

    act("sign", signed_at_0="02/11/2026", signed_at_1="10:00", signature_method="eidas_simple", signatory_name="Dr M")
    act("file_advance", received_at_0="03/11/2026", received_at_1="10:00", asp_reference="ASP-1")
    act("record_advance_paid", paid_at_0="10/11/2026", paid_at_1="10:00")
    admin_client.post(
        reverse("admin:orders_order_checklist", args=[order.pk]),
        {f"item_{code}": "on" for code, _label in checklist_items_for(order.client)},
    )
    act("record_installation", installed_at_0="12/11/2026", installed_at_1="10:00")
    act("sign_va", signed_at_0="13/11/2026", signed_at_1="10:00")
    issued = admin_client.post(reverse("admin:orders_order_invoice", args=[order.pk, "principal"]), follow=True)
    assert "Facture FP-" in issued.content.decode()
    act("file_balance", received_at_0="16/11/2026", received_at_1="10:00", asp_reference="ASP-2")
    act("record_balance_paid", paid_at_0="20/11/2026", paid_at_1="10:00")

    order.refresh_from_db()
    assert order.state == "balance_paid"
    assert order.advance_amount + order.balance_amount == order.principal_amount
    assert OrderEvent.objects.filter(order=order, accepted=True).count() == 10  # create, checklist, invoice, 7 steps


def test_the_solution_admin_refuses_an_obsolete_declaration_breaking_af_4_3(admin_client):
    from orders.models import SolutionVersion

    solution = make_solution()
    url = reverse("admin:orders_solution_change", args=[solution.pk])
    form = {
        "provider": solution.provider.pk,
        "programme": solution.programme.pk,
        "name": solution.name,
        "version": solution.version,
        "versions-TOTAL_FORMS": "1",
        "versions-INITIAL_FORMS": "0",
        "versions-0-label": "9",
        "versions-0-released_on": "2020-01-01",
        "versions-0-declared_obsolete": "on",
    }

    response = admin_client.post(url, form)

    assert response.status_code == 200
    assert "Renseignez la Date 0" in response.content.decode()
    assert not SolutionVersion.objects.exists()
