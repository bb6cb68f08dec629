"""Write-once records (order events, invoices, documents, client-space events) cannot be edited nor deleted: not one
instance, not a queryset, not raw SQL on PostgreSQL — each refusal in the model's French message."""

import importlib
import re

import pytest
import time_machine
from django.apps import apps
from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction

from clients import services as client_services
from clients.models import ClientChange
from orders import documents, invoices
from orders.models import Document, Invoice, OrderEvent
from portal.evidence import evidence_append
from portal.models import PortalEvent, SignatureEvidence
from portal.services import event_record
from segur_portal.records import WRITE_ONCE_SQLSTATE, WriteOnceQuerySet, WriteOnceRecord
from tests.factories import advance, make_order, paris

TODAY = paris(2026, 11, 23, 10)
WRITE_ONCE_MODELS = [Invoice, Document, OrderEvent, PortalEvent, ClientChange, SignatureEvidence]
DATED_FIELD = {
    Invoice: "issued_at",
    Document: "created_at",
    OrderEvent: "created_at",
    PortalEvent: "created_at",
    ClientChange: "created_at",
    SignatureEvidence: "signed_at",
}


def one_of_each() -> dict[type, object]:
    """One saved row of every write-once model, made through the real services."""
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "va_signed")
        invoice = invoices.invoice_issue(order_id=order.pk, kind="principal", acting_user=None, now=TODAY)
    document = documents.document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    portal_event = event_record("login", client=order.client, email="client@example.org")
    client_services.client_update(client=order.client, email="nouveau@example.org", acting_user=None)
    evidence = evidence_append(
        order=order,
        document=document,
        signed_document=document,
        client=order.client,
        signatory_name="X",
        signatory_capacity="Médecin",
        email="client@example.org",
        code_sent_at=TODAY,
        code_verified_at=TODAY,
        consent_text="J'accepte.",
        document_sha256=document.sha256,
        signed_sha256=document.sha256,
        signed_at=TODAY,
    )
    return {
        SignatureEvidence: evidence,
        ClientChange: ClientChange.objects.get(client=order.client, field="email"),
        Invoice: invoice,
        Document: document,
        OrderEvent: OrderEvent.objects.filter(order=order).first(),
        PortalEvent: portal_event,
    }


def test_every_write_once_model_is_listed_here_and_uses_the_write_once_queryset():
    mixing = {model for model in apps.get_models() if issubclass(model, WriteOnceRecord)}

    assert mixing == set(WRITE_ONCE_MODELS)  # a new write-once model needs its trigger in a migration too
    for model in mixing:
        assert isinstance(model._default_manager.all(), WriteOnceQuerySet), model


@pytest.mark.django_db
@pytest.mark.parametrize("model", WRITE_ONCE_MODELS, ids=lambda model: model.__name__)
def test_a_queryset_update_or_delete_is_refused_with_the_models_message(model):
    row = one_of_each()[model]
    before = model.objects.filter(pk=row.pk).values().get()

    field = DATED_FIELD[model]
    setattr(row, field, paris(2020, 1, 1))

    with pytest.raises(ValueError, match=re.escape(model.edit_refusal)):
        model.objects.filter(pk=row.pk).update(**{field: paris(2020, 1, 1)})
    with pytest.raises(ValueError, match=re.escape(model.edit_refusal)):
        model.objects.bulk_update([row], fields=[field])
    with pytest.raises(ValueError, match=re.escape(model.delete_refusal)):
        model.objects.filter(pk=row.pk).delete()
    with pytest.raises(ValueError, match=re.escape(model.delete_refusal)):
        model.objects.all().delete()

    assert model.objects.filter(pk=row.pk).values().get() == before


@pytest.mark.django_db
def test_related_managers_refuse_too():
    invoice = one_of_each()[Invoice]

    with pytest.raises(ValueError, match=re.escape(Document.edit_refusal)):
        invoice.documents.clear()  # a nullable foreign key: ``clear()`` is an UPDATE setting it to NULL
    with pytest.raises(ValueError, match=re.escape(OrderEvent.delete_refusal)):
        invoice.order.events.all().delete()


@pytest.mark.django_db
def test_creating_and_reading_are_untouched():
    rows = one_of_each()

    assert all(type(row).objects.filter(pk=row.pk).exists() for row in rows.values())


def _raw(sql: str, params: list[object]) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("model", WRITE_ONCE_MODELS, ids=lambda model: model.__name__)
def test_raw_sql_cannot_edit_nor_delete_a_row_on_postgresql(model):
    row = one_of_each()[model]
    table = connection.ops.quote_name(model._meta.db_table)
    before = model.objects.filter(pk=row.pk).values().get()

    with pytest.raises(DatabaseError, match=re.escape(model.edit_refusal)) as edit:
        _raw(f"UPDATE {table} SET id = id WHERE id = %s", [row.pk])  # noqa: S608 (table from the model)
    with pytest.raises(DatabaseError, match=re.escape(model.delete_refusal)) as deletion:
        _raw(f"DELETE FROM {table} WHERE id = %s", [row.pk])  # noqa: S608
    with pytest.raises(DatabaseError, match=re.escape(model.delete_refusal)):
        _raw(f"DELETE FROM {table}", [])  # noqa: S608

    assert edit.value.__cause__.sqlstate == deletion.value.__cause__.sqlstate == WRITE_ONCE_SQLSTATE
    assert model.objects.filter(pk=row.pk).values().get() == before


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_trigger_messages_are_the_models_messages():
    """The migration copies the messages (it is frozen): they must stay the ones the models speak."""
    migration = importlib.import_module("orders.migrations.0014_write_once_triggers")
    evidence = importlib.import_module("portal.migrations.0005_signing_evidence_write_once")

    assert migration.SQLSTATE == WRITE_ONCE_SQLSTATE
    assert {model._meta.db_table: (model.edit_refusal, model.delete_refusal) for model in WRITE_ONCE_MODELS} == {
        **migration.TABLES,
        evidence.TABLE: (evidence.EDIT_REFUSAL, evidence.DELETE_REFUSAL),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("programme_data")
def test_a_transactional_test_database_is_still_emptied_between_tests():
    """pytest-django empties the database of a transactional test with TRUNCATE, which the row triggers allow."""
    importlib.import_module("orders.migrations.0005_invoices").create_series(apps, None)
    one_of_each()

    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables))

    assert not any(model.objects.exists() for model in WRITE_ONCE_MODELS)
