"""The stored deadlines (``orders.deadline_store``) are exactly ``rules.order_deadlines`` (SPEC §10) — not met, the
earliest marked as the next — for every order of the demo in every state, after every kind of action, after a change
of the amounts, and after a programme's or a solution's dates change; the daily reconciliation fixes any drift."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import deadline_fingerprints, deadline_store, rules, services
from orders.demo import seed_demo
from orders.models import Order, Programme, Solution, StoredDeadline, StoredDeadlineSource
from tests.factories import advance, make_order, paris

pytestmark = pytest.mark.django_db
NOW = paris(2026, 11, 23, 10)


def expected(order: Order) -> list[tuple]:
    """What the rules say, computed here from ``rules.order_deadlines`` on the full order (not from the store)."""
    open_deadlines = [d for d in rules.order_deadlines(order, NOW) if d.status != rules.MET]
    amount = order.principal_amount + order.secondary_amount
    return sorted(
        (d.code, d.due_at, d.actor, d.action, d.reference, amount, index == 0) for index, d in enumerate(open_deadlines)
    )


def stored(order_id: int) -> list[tuple]:
    rows = StoredDeadline.objects.filter(order_id=order_id)
    return sorted((r.code, r.due_at, r.actor, r.action, r.reference, r.amount, r.is_next) for r in rows)


def assert_store_matches_rules() -> int:
    orders = Order.objects.select_related("programme", "solution").order_by("pk")
    for order in orders:
        assert stored(order.pk) == expected(order), (order.number, order.state)
    return len({order.state for order in orders})


@pytest.fixture
def demo(monkeypatch):
    """The demo, built through the services, checking the store after every action it runs."""
    checked: set[str] = set()
    perform = services.perform

    def perform_and_check(action_name, **kwargs):  # type: ignore[no-untyped-def]
        order = perform(action_name, **kwargs)
        fresh = Order.objects.select_related("programme", "solution").get(pk=order.pk)
        assert stored(order.pk) == expected(fresh), (action_name, order.state)
        checked.add(action_name)
        return order

    monkeypatch.setattr(services, "perform", perform_and_check)
    with time_machine.travel(NOW, tick=False):
        seed_demo(now=NOW)
        terminated = advance(make_order(issued_at=paris(2026, 9, 1, 9)), "va_signed", now=NOW)
        params = {"terminated_at": NOW, "reason": "Départ"}
        perform_and_check("record_termination", order_id=terminated.pk, acting_user=None, params=params)
        perform_and_check("request_portability", order_id=terminated.pk, acting_user=None, params={"at": NOW})
    monkeypatch.setattr(services, "perform", perform)
    return checked


def test_stored_deadlines_equal_the_rules_for_every_demo_order_in_every_state(demo):
    states = assert_store_matches_rules()

    assert states >= 15
    # Every kind of action the demo runs was checked right after it ran (sign, firm, lapse, ASP, VA, balance, ...).
    assert {"sign", "file_advance", "record_installation", "sign_va", "file_balance", "lapse", "cancel"} <= demo
    assert len(demo) >= 15
    assert StoredDeadline.objects.filter(is_next=True).count() == len(
        {row.order_id for row in StoredDeadline.objects.all()}
    )


def test_a_programme_date_change_moves_the_stored_deadlines(demo):
    programme = Programme.objects.get(code="MDV-LGC-Va2")
    with CaptureQueriesContext(connection) as queries:
        programme.save()  # nothing the deadlines read changed: nothing rewritten
    assert not [q for q in queries if "orders_storeddeadline" in q["sql"]]
    programme.date_4 += timedelta(days=10)
    programme.date_5 -= timedelta(days=3)
    programme.save()  # the admin's save: its orders' deadlines are rewritten in the same transaction

    assert_store_matches_rules()

    # Changed behind the admin's back (SQL): the command rewrites them.
    Programme.objects.filter(pk=programme.pk).update(date_6=programme.date_6 + timedelta(days=30))
    call_command("rebuild_deadlines", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert_store_matches_rules()


def test_a_solution_dossier_date_change_moves_the_stored_deadlines(demo):
    for solution in Solution.objects.all():
        solution.complete_dossier_submitted_at = None
        solution.save()

    assert_store_matches_rules()


def test_a_change_of_amounts_changes_the_amount_at_stake():
    order = make_order()
    services.order_update_terms(
        order_id=order.pk,
        prestation=order.prestation,
        vat_regime=order.vat_regime,
        principal_amount=Decimal("100.00"),
        secondary_amount=Decimal("50.00"),
        acting_user=None,
    )

    assert set(StoredDeadline.objects.filter(order=order).values_list("amount", flat=True)) == {Decimal("150.00")}


def test_the_reconciliation_finds_and_fixes_any_difference(caplog):
    drifted, right, gone = make_order(), make_order(), make_order()
    StoredDeadline.objects.filter(order=drifted).update(due_at=paris(2030, 1, 1))
    Order.objects.filter(pk=gone.pk).update(state="cancelled")  # behind the services' back: its deadline must go

    result = deadline_store.reconcile()

    assert sorted(result.fixed) == sorted([drifted.pk, gone.pk])
    assert "2 orders differed" in caplog.text
    for order in Order.objects.select_related("programme", "solution"):
        assert stored(order.pk) == expected(order)
    assert right.pk not in result.fixed
    assert deadline_store.reconcile().fixed == []


@pytest.mark.postgres
def test_postgresql_fingerprints_what_python_fingerprints_for_every_demo_order(demo):
    """The daily reconciliation compares fingerprints computed by PostgreSQL with the ones Python recorded with the
    rows: equal for every demo order (accents, every state, settled orders too), for the stored rows and for the
    data the rules read, so that after the demo's actions no order is computed again."""
    ids = list(Order.objects.order_by("pk").values_list("pk", flat=True))
    rules_rows, sources = deadline_store._computed(ids, lock=False)
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(StoredDeadline._meta.db_table)
        cursor.execute(deadline_fingerprints.STORED_FINGERPRINTS.format(table=table), [ids[0], ids[-1]])
        per_order = dict(cursor.fetchall())
    assert {pk: per_order.get(pk, "") for pk in ids} == {
        pk: deadline_fingerprints.rows_fingerprint(rules_rows[pk]) for pk in ids
    }
    recorded = dict(StoredDeadlineSource.objects.values_list("order_id", "inputs"))
    assert recorded == sources and len(recorded) == len(ids)
    assert deadline_fingerprints.changed_orders(ids[0], ids[-1]) == []


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("change", "moves_a_deadline"),
    [
        ({"state": "cancelled"}, True),  # its deadline goes
        ({"signed_at": paris(2026, 10, 31, 9)}, False),  # a draft's deadlines do not read these: rows unchanged
        ({"is_pilot": True}, False),
        ({"va_signed_at": paris(2027, 1, 5, 9)}, False),
        ({"principal_amount": Decimal("451.51")}, True),  # the amount at stake
        ({"secondary_amount": Decimal("100.00")}, True),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_the_reconciliation_sees_a_change_of_what_the_rules_read_behind_the_services_back(change, moves_a_deadline):
    drifted, right = make_order(issued_at=paris(2026, 10, 30)), make_order(issued_at=paris(2026, 10, 30))
    Order.objects.filter(pk=drifted.pk).update(**change)  # an SQL fix, a bulk update: no service, no store

    assert deadline_fingerprints.changed_orders(drifted.pk, right.pk) == [drifted.pk]
    result = deadline_store.reconcile()
    fresh = Order.objects.select_related("programme", "solution").get(pk=drifted.pk)
    assert stored(drifted.pk) == expected(fresh)
    assert result.fixed == ([drifted.pk] if moves_a_deadline else [])
    assert deadline_fingerprints.changed_orders(drifted.pk, right.pk) == []  # its source recorded again


@pytest.mark.postgres
def test_the_reconciliation_sees_programme_and_solution_dates_changed_without_their_signals():
    order = make_order(issued_at=paris(2026, 10, 30))
    Programme.objects.filter(pk=order.programme_id).update(date_4=order.programme.date_4 + timedelta(days=7))
    Solution.objects.filter(pk=order.solution_id).update(complete_dossier_submitted_at=paris(2026, 11, 2, 9))

    assert deadline_store.reconcile().fixed == [order.pk]
    fresh = Order.objects.select_related("programme", "solution").get(pk=order.pk)
    assert stored(order.pk) == expected(fresh)


@pytest.mark.postgres
def test_orders_without_a_source_or_after_new_rules_are_computed_again_once(monkeypatch):
    """An order stored before the sources existed has none: it is computed again and gets one. A new version of the
    rules makes every order computed again, once."""
    first, second = make_order(), make_order()
    StoredDeadlineSource.objects.filter(order=first).delete()
    assert deadline_fingerprints.changed_orders(first.pk, second.pk) == [first.pk]
    assert deadline_store.reconcile().fixed == []  # its rows were right
    assert StoredDeadlineSource.objects.filter(order=first).exists()

    monkeypatch.setattr(deadline_fingerprints, "RULES_VERSION", "next-version")
    assert deadline_fingerprints.changed_orders(first.pk, second.pk) == [first.pk, second.pk]
    deadline_store.reconcile()
    assert deadline_fingerprints.changed_orders(first.pk, second.pk) == []


@pytest.mark.postgres
def test_the_daily_reconciliation_reads_no_order_when_nothing_changed(monkeypatch):
    orders = [make_order() for _ in range(3)]
    computed = []
    monkeypatch.setattr(deadline_store, "_computed", lambda ids, lock: computed.append(ids))

    with CaptureQueriesContext(connection) as queries:
        result = deadline_store.reconcile()

    assert (result.orders, result.fixed, computed) == (len(orders), [], [])
    assert len(queries) == 2  # the batch's ids, then its fingerprints compared in PostgreSQL


@pytest.mark.postgres
@pytest.mark.parametrize(
    "change",
    [
        {"due_at": paris(2026, 12, 16, 12) + timedelta(microseconds=1)},
        {"amount": Decimal("576.51")},
        {"reference": "AF §4.2"},
        {"action": "Faire signer le bon de commande par le client."},
        {"actor": "sales"},
        {"is_next": False},
    ],
    ids=lambda change: next(iter(change)),
)
def test_the_reconciliation_sees_a_change_of_any_stored_field(change):
    drifted, right = make_order(issued_at=paris(2026, 10, 30)), make_order(issued_at=paris(2026, 10, 30))
    StoredDeadline.objects.filter(order=drifted, is_next=True).update(**change)

    assert deadline_store.reconcile().fixed == [drifted.pk]
    assert stored(drifted.pk) == stored(right.pk) != []


def test_an_action_writes_the_store_in_a_bounded_number_of_queries():
    order = make_order()
    with CaptureQueriesContext(connection) as queries:
        advance(order, "firm", now=NOW)
    writes = [q["sql"] for q in queries if "orders_storeddeadline" in q["sql"]]
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2)  # delete and insert; no read
