"""Bulk actions on the order list: a confirmation page, each order through the services, a bulk run record kept as a
result page; the batch page of a salesperson (issue 10)."""

import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders import bulk, services
from orders.exceptions import BusinessRuleError
from orders.models import BulkRun, BulkRunItem, DocumentBatch, Order, OrderEvent
from orders.roles import DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from tests.factories import advance, make_doctor, make_order, make_solution, make_user, paris

TODAY = paris(2026, 11, 23, 10)
LIST_URL = reverse("admin:orders_order_changelist")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


@pytest.fixture
def finance(client):
    client.force_login(make_user("compta", FINANCE_GROUP))
    return client


def firm_orders(count: int, solution=None) -> list[Order]:
    solution = solution or make_solution()
    return [
        advance(make_order(solution=solution, client=make_doctor(name=f"Dr Ferme {i}")), "firm") for i in range(count)
    ]


def text(response) -> str:
    return html.unescape(response.content.decode())


def snapshot(orders: list[Order]) -> list[tuple]:
    return list(
        Order.objects.filter(pk__in=[o.pk for o in orders]).order_by("pk").values_list("state", "advance_requested_at")
    )


# --- The service ------------------------------------------------------------------------------------------------


def test_a_run_where_every_order_is_done_is_recorded_with_its_items():
    orders = firm_orders(3)
    user = make_user("compta", FINANCE_GROUP)
    received_at = paris(2026, 11, 20, 14)

    run = bulk.bulk_run_perform(
        action_name="file_advance",
        order_ids=[o.pk for o in orders],
        params={"received_at": received_at, "asp_reference": "ASP-LOT-1"},
        acting_user=user,
    )

    run.refresh_from_db()
    assert (run.action, run.label, run.done_count, run.refused_count) == (
        "file_advance",
        "Déposer la demande d'avance",
        3,
        0,
    )
    assert run.acting_user == user and run.actor_label == "compta"
    assert run.params == {"received_at": "2026-11-20T14:00:00+01:00", "asp_reference": "ASP-LOT-1"}
    items = list(run.items.order_by("number"))
    assert [(i.number, i.client_name, i.outcome, i.state, i.reason) for i in items] == [
        (o.number, o.client.name, "done", "advance_requested", "") for o in sorted(orders, key=lambda o: o.number)
    ]
    assert {o.advance_requested_at for o in Order.objects.filter(pk__in=[o.pk for o in orders])} == {received_at}


def test_refused_orders_are_recorded_with_their_french_reason_and_do_not_stop_the_others():
    solution = make_solution()
    good = firm_orders(2, solution)
    drafts = [make_order(solution=solution) for _ in range(2)]

    run = bulk.bulk_run_perform(
        action_name="file_advance",
        order_ids=[o.pk for o in drafts + good],
        params={"received_at": TODAY},
        acting_user=make_user("compta", FINANCE_GROUP),
    )

    assert (run.done_count, run.refused_count) == (2, 2)
    refused = run.items.filter(outcome=BulkRunItem.REFUSED)
    assert {item.order_id for item in refused} == {o.pk for o in drafts}
    assert all("impossible depuis l'état « Brouillon »" in item.reason for item in refused)
    assert {item.state for item in refused} == {"draft"}
    assert set(Order.objects.filter(pk__in=[o.pk for o in good]).values_list("state", flat=True)) == {
        "advance_requested"
    }
    # Each refusal is also in the order's own event log, as for a single action.
    assert OrderEvent.objects.filter(order__in=drafts, action="file_advance", accepted=False).count() == 2


@pytest.mark.parametrize(
    "error",
    [BusinessRuleError.single("UNEXPECTED", "Refus inattendu levé en cours de route.", "AF §VI"), RuntimeError("bug")],
    ids=["business-rule", "bug"],
)
def test_one_orders_unexpected_error_does_not_stop_the_rest(monkeypatch, error):
    orders = firm_orders(3)
    failing = orders[1].pk
    real_perform = services.perform

    def perform(action_name, *, order_id, **kwargs):
        if order_id == failing:
            raise error
        return real_perform(action_name, order_id=order_id, **kwargs)

    monkeypatch.setattr(services, "perform", perform)

    run = bulk.bulk_run_perform(
        action_name="file_advance", order_ids=[o.pk for o in orders], params={"received_at": TODAY}, acting_user=None
    )

    assert (run.done_count, run.refused_count) == (2, 1)
    item = run.items.get(outcome=BulkRunItem.REFUSED)
    assert item.order_id == failing and item.state == "firm"
    expected = error.message if isinstance(error, BusinessRuleError) else bulk.UNEXPECTED_ERROR
    assert item.reason == expected
    assert Order.objects.get(pk=failing).state == "firm"


def test_the_run_costs_a_constant_number_of_queries_per_order():
    solution = make_solution()
    few, many = firm_orders(2, solution), firm_orders(6, solution)

    def queries(orders):
        with CaptureQueriesContext(connection) as captured:
            bulk.bulk_run_perform(
                action_name="file_advance",
                order_ids=[o.pk for o in orders],
                params={"received_at": TODAY},
                acting_user=None,
            )
        return len(captured)

    per_order = (queries(many) - queries(few)) / 4
    # Lock, save, event, stored deadlines: the single action's cost (5 today), nothing more per order. SQLite writes
    # the stored deadlines in two statements (delete, insert), PostgreSQL in one.
    assert per_order <= (6 if connection.vendor == "postgresql" else 7), per_order


# --- The admin: confirmation, run, result page ------------------------------------------------------------------


def post_action(client, orders, url=LIST_URL, **extra):
    data = {"action": "bulk_file_advance", "_selected_action": [o.pk for o in orders], **extra}
    return client.post(url, data)


def test_the_action_shows_a_confirmation_and_changes_nothing(finance):
    solution = make_solution()
    good = firm_orders(2, solution)
    draft = make_order(solution=solution)
    before = snapshot([*good, draft])
    events = OrderEvent.objects.count()

    response = post_action(finance, [*good, draft], index=0)

    assert response.status_code == 200
    page = text(response)
    assert "2 demandes d'avance seront enregistrées comme reçues par l'ASP le 23/11/2026 à 10:00." in page
    assert "1 commande sera refusée" in page
    for order in [*good, draft]:
        assert f'href="{reverse("admin:orders_order_change", args=[order.pk])}"' in page
        assert order.client.name in page
    assert "impossible depuis l'état « Brouillon »" in page
    assert 'name="confirm" value="yes"' in page
    assert snapshot([*good, draft]) == before and OrderEvent.objects.count() == events
    assert not BulkRun.objects.exists()


def test_confirming_runs_with_the_typed_date_and_the_result_page_persists(finance):
    solution = make_solution()
    good = firm_orders(2, solution)
    draft = make_order(solution=solution)

    response = post_action(
        finance,
        [*good, draft],
        confirm="yes",
        received_at_0="20/11/2026",
        received_at_1="14:00",
        asp_reference="ASP-LOT-9",
    )

    run = BulkRun.objects.get()
    url = reverse("admin:orders_bulkrun_change", args=[run.pk])
    assert response.status_code == 302 and response["Location"] == url
    assert {o.advance_requested_at for o in Order.objects.filter(pk__in=[o.pk for o in good])} == {
        paris(2026, 11, 20, 14)
    }
    assert set(Order.objects.filter(pk__in=[o.pk for o in good]).values_list("advance_asp_reference", flat=True)) == {
        "ASP-LOT-9"
    }
    page = text(finance.get(url))  # a new request: the report does not live in a flash message
    assert "3 traitées : 2 faites, 1 refusée — " in page and "voir le compte rendu" in page
    assert "3 commandes traitées : 2 faites, 1 refusée." in page
    assert "Reçue par l'ASP le 20/11/2026 à 14:00" in page and "Référence ASP : ASP-LOT-9" in page
    assert page.index(draft.number) < min(page.index(o.number) for o in good)  # refused first
    assert "impossible depuis l'état « Brouillon »" in page and draft.client.name in page
    assert f'href="{reverse("admin:orders_order_change", args=[draft.pk])}"' in page
    again = text(finance.get(url))
    assert draft.number in again and "voir le compte rendu" not in again  # the page persists, the message does not
    refused_only = text(finance.get(url, {"resultat": "refused"}))
    assert draft.number in refused_only and good[0].number not in refused_only


def test_a_bad_typed_date_shows_the_confirmation_again_and_stores_nothing(finance):
    orders = firm_orders(2)
    before = snapshot(orders)

    response = post_action(finance, orders, confirm="yes", received_at_0="31/02/2026", received_at_1="14:00")

    assert response.status_code == 200
    assert "errorlist" in text(response)
    assert snapshot(orders) == before and not BulkRun.objects.exists()


def test_a_date_outside_the_programme_calendar_is_refused_by_the_service(finance):
    orders = firm_orders(1)

    response = post_action(finance, orders, preview="1", received_at_0="01/01/2040", received_at_1="14:00")

    assert response.status_code == 200
    assert "Sera refusée" in text(response)
    assert not BulkRun.objects.exists() and snapshot(orders)[0][0] == "firm"


def test_cancel_returns_to_the_list_with_its_filters_and_changes_nothing(finance):
    orders = firm_orders(2)
    before = snapshot(orders)
    filtered = f"{LIST_URL}?state__exact=firm"

    page = post_action(finance, orders, url=filtered, index=0).content.decode()

    cancel = filtered.replace("&", "&amp;")
    assert f'<a class="button cancel-link" href="{cancel}">' in page
    assert f'<form method="post" action="{cancel}"' in page
    assert finance.get(filtered).status_code == 200
    assert snapshot(orders) == before and not BulkRun.objects.exists()


# --- Roles -------------------------------------------------------------------------------------------------------


def test_deployment_is_not_offered_the_advance_action_and_cannot_post_it(client):
    orders = firm_orders(2)
    client.force_login(make_user("deploiement", DEPLOYMENT_GROUP))

    listing = text(client.get(LIST_URL))
    response = post_action(client, orders, confirm="yes", received_at_0="20/11/2026", received_at_1="14:00")

    assert 'value="bulk_file_advance"' not in listing
    assert response.status_code in (200, 302)
    assert snapshot(orders)[0][0] == "firm" and not BulkRun.objects.exists()


def test_finance_is_offered_the_advance_action_and_every_order_reader_reads_the_runs(finance, client):
    orders = firm_orders(1)
    assert 'value="bulk_file_advance"' in text(finance.get(LIST_URL))
    post_action(finance, orders, confirm="yes", received_at_0="20/11/2026", received_at_1="14:00")
    run = BulkRun.objects.get()

    for username, group in [("vendeur", SALES_GROUP), ("deploiement", DEPLOYMENT_GROUP)]:
        client.force_login(make_user(username, group))
        assert client.get(reverse("admin:orders_bulkrun_changelist")).status_code == 200
        assert orders[0].number in text(client.get(reverse("admin:orders_bulkrun_change", args=[run.pk])))
    client.force_login(make_user("sans-role"))
    assert client.get(reverse("admin:orders_bulkrun_change", args=[run.pk])).status_code == 403


def test_the_salesperson_who_launched_a_batch_sees_its_page(client, django_capture_on_commit_callbacks):
    salesperson = make_user("vendeur", SALES_GROUP)
    client.force_login(salesperson)
    orders = [make_order(salesperson=salesperson) for _ in range(2)]  # his list shows his own orders by default

    with django_capture_on_commit_callbacks():
        response = client.post(
            LIST_URL, {"action": "bulk_generate_order_forms", "_selected_action": [o.pk for o in orders]}, follow=True
        )

    batch = DocumentBatch.objects.get()
    assert "Lot de 2 bons de commande lancé" in text(response)
    page = client.get(reverse("admin:orders_documentbatch_change", args=[batch.pk]))
    assert page.status_code == 200 and "0/2" in page.content.decode()
    assert client.get(reverse("admin:orders_documentbatch_changelist")).status_code == 200


def test_the_asp_package_refusal_message_uses_french_plurals(finance):
    draft = make_order()

    finance.post(LIST_URL, {"action": "bulk_package_advance", "_selected_action": [draft.pk]})
    page = text(finance.get(LIST_URL))

    assert "1 dossier incomplet n'est pas dans le ZIP" in page and "(s)" not in page.split("messagelist")[-1][:400]


def test_the_list_of_runs_reads_in_french_and_filters_runs_with_refusals(finance):
    solution = make_solution()
    clean = bulk.bulk_run_perform(
        action_name="file_advance",
        order_ids=[o.pk for o in firm_orders(1, solution)],
        params={"received_at": paris(2026, 11, 20, 14)},
        acting_user=None,
    )
    with_refusal = bulk.bulk_run_perform(
        action_name="file_advance",
        order_ids=[make_order(solution=solution).pk],
        params={"received_at": paris(2026, 11, 21, 9, 30)},
        acting_user=None,
    )
    url = reverse("admin:orders_bulkrun_changelist")

    page = text(finance.get(url))
    refused_only = text(finance.get(url, {"refus": "oui"}))

    assert "Reçue par l'ASP le 20/11/2026 à 14:00" in page and "23/11/2026 à 10:00" in page
    assert "file_advance" not in page
    change = reverse("admin:orders_bulkrun_change", args=[with_refusal.pk])
    assert change in refused_only and reverse("admin:orders_bulkrun_change", args=[clean.pk]) not in refused_only


def test_the_confirmation_page_costs_a_small_constant_number_of_queries_per_order(finance):
    solution = make_solution()
    few, many = firm_orders(2, solution), firm_orders(12, solution)

    def queries(orders):
        with CaptureQueriesContext(connection) as captured:
            assert post_action(finance, orders, index=0).status_code == 200
        return len(captured)

    per_order = (queries(many) - queries(few)) / 10
    assert per_order <= 1, per_order  # every order comes with its programme, solution and client (0 today)


def test_the_batch_page_links_only_to_pages_its_reader_may_open(client):
    from orders.documents import batch_request, batch_run

    salesperson = make_user("vendeur", SALES_GROUP)
    bad = make_order(client=make_doctor(address="", city=""))
    batch = batch_request(order_ids=[make_order().pk, bad.pk], kind="order_form", acting_user=salesperson)
    batch_run(batch_id=batch.pk)
    client.force_login(salesperson)

    page = text(client.get(reverse("admin:orders_documentbatch_change", args=[batch.pk])))

    assert f'<a href="{reverse("admin:orders_order_change", args=[bad.pk])}">{bad.number}</a>' in page
    assert reverse("admin:auth_user_change", args=[salesperson.pk]) not in page and "vendeur" in page


def test_finance_records_advance_payments_in_bulk_with_the_typed_date(finance):
    solution = make_solution()
    requested = [advance(make_order(solution=solution), "advance_requested") for _ in range(2)]
    firm = firm_orders(1, solution)
    data = {"action": "bulk_record_advance_paid", "_selected_action": [o.pk for o in [*requested, *firm]]}

    too_early = text(finance.post(LIST_URL, {**data, "preview": "1", "paid_at_0": "01/09/2026", "paid_at_1": "09:00"}))
    response = finance.post(LIST_URL, {**data, "confirm": "yes", "paid_at_0": "20/11/2026", "paid_at_1": "16:45"})

    assert "La date de versement doit suivre la réception de la demande" in too_early
    assert "Aucune des commandes choisies ne peut être traitée maintenant" in too_early
    assert 'name="confirm"' not in too_early  # nothing to confirm
    run = BulkRun.objects.get()
    assert response["Location"] == reverse("admin:orders_bulkrun_change", args=[run.pk])
    assert (run.action, run.done_count, run.refused_count) == ("record_advance_paid", 2, 1)
    assert {o.advance_paid_at for o in Order.objects.filter(pk__in=[o.pk for o in requested])} == {
        paris(2026, 11, 20, 16, 45)
    }
