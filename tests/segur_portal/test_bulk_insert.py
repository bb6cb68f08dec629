"""``segur_portal.bulk_insert``: COPY on PostgreSQL writes exactly what ``bulk_create`` writes (issue 13)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from monitoring.models import OutboxEmail
from orders import services
from orders.models import Order, OrderEvent
from segur_portal.bulk_insert import insert_instances, insert_rows, reserve_ids, update_rows
from tests.factories import make_doctor, make_solution

COMPARED = ("action", "from_state", "to_state", "accepted", "message", "payload", "actor_label", "order_id")


def draft(solution, client, number: str) -> Order:
    return Order(
        number=number,
        programme=solution.programme,
        client=client,
        solution=solution,
        prestation="principal_v2",
        vat_regime="vat_20",
        principal_amount=Decimal("451.50"),
        secondary_amount=Decimal("125.00"),
        issued_at=solution.referenced_at,
    )


@pytest.mark.django_db
def test_instances_are_written_as_bulk_create_writes_them_defaults_json_and_auto_now_add_included():
    solution = make_solution()
    by_copy, by_orm = draft(solution, make_doctor(), "BC-COPY-1"), draft(solution, make_doctor(), "BC-ORM-1")
    if connection.vendor == "postgresql":
        by_copy.pk = reserve_ids(Order, 1)[0]
    insert_instances(Order, [by_copy])
    Order.objects.bulk_create([by_orm])

    copied, created = Order.objects.get(number="BC-COPY-1"), Order.objects.get(number="BC-ORM-1")
    fields = [f.attname for f in Order._meta.concrete_fields if f.attname not in {"id", "number", "client_id"}]
    differing = {
        name: (getattr(copied, name), getattr(created, name))
        for name in fields
        if name not in {"created_at", "updated_at"} and getattr(copied, name) != getattr(created, name)
    }
    assert differing == {}
    assert copied.created_at is not None and copied.deployment_checklist == {}

    events = []
    for order in (copied, created):
        event = services.event_build(
            order=order,
            acting_user=None,
            action="create",
            from_state="",
            to_state="draft",
            payload={"principal_amount": Decimal("451.50"), "mot": "échéance"},
        )
        events.append(event)
    insert_instances(OrderEvent, events[:1])
    OrderEvent.objects.bulk_create(events[1:])
    first, second = (OrderEvent.objects.filter(order=order).values(*COMPARED).get() for order in (copied, created))
    assert {**first, "order_id": None} == {**second, "order_id": None}
    assert first["payload"] == {"principal_amount": "451.50", "mot": "échéance"}
    assert OrderEvent.objects.filter(order=copied).values_list("created_at", flat=True).get() is not None


@pytest.mark.django_db
def test_rows_come_back_with_their_ids_in_order():
    rows = [(f"k{n}", "test", f"n{n}@example.org", f"Objet {n}", "", "", "pending", 0, "") for n in range(3)]
    columns = ("key", "kind", "to", "subject", "body_text", "body_html", "status", "attempts", "last_error")
    now = timezone.now()
    ids = insert_rows(OutboxEmail, (*columns, "created_at"), [(*row, now) for row in rows], with_ids=True)

    assert [OutboxEmail.objects.get(pk=pk).key for pk in ids] == ["k0", "k1", "k2"]


@pytest.mark.django_db
def test_rows_are_updated_each_with_its_own_values_in_one_statement_json_and_null_included():
    from django.test.utils import CaptureQueriesContext

    later = timezone.now()
    emails = [
        OutboxEmail.objects.create(key=f"k{n}", kind="test", to=f"n{n}@example.org", subject="s", next_attempt_at=later)
        for n in range(3)
    ]
    untouched = emails.pop()
    content = {"groups": [{"amount": "451.50", "action": "Faire signer l'été « ici »"}], "n": None}

    with CaptureQueriesContext(connection) as queries:
        updated = update_rows(
            OutboxEmail,
            ("subject", "render_context", "next_attempt_at"),
            [(emails[0].pk, "Objet 0", content, None), (emails[1].pk, "Objet 1", None, later)],
        )

    assert updated == 2
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    first, second, third = (OutboxEmail.objects.get(pk=email.pk) for email in (*emails, untouched))
    assert (first.subject, first.render_context, first.next_attempt_at) == ("Objet 0", content, None)
    assert (second.subject, second.render_context, second.next_attempt_at) == ("Objet 1", None, later)
    assert (third.subject, third.render_context, third.next_attempt_at) == ("s", None, later)
    assert update_rows(OutboxEmail, ("subject",), []) == 0
