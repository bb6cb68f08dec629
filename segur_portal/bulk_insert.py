"""Inserting (and updating) many rows at the cost of the database, not of the ORM (issue 13).

``bulk_create`` prepares every field of every instance in Python and sends one parameter per value (about 60 µs a
row for the scan's outbox rows). On PostgreSQL, ``insert_rows`` streams plain tuples through ``COPY``, their ids
taken beforehand from the table's sequence in one query when the caller needs them (the rows that point at them are
then written in the same pass). Elsewhere (the embedded SQLite of a first run) it falls back to ``bulk_create``, with
the same result. ``update_rows`` sets different values on many rows in one statement (``bulk_update`` builds a
``CASE`` per field and row in Python).
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models
from django.db.models import Model


def reserve_ids(model: type[Model], count: int) -> list[int]:
    """``count`` ids from the table's sequence, in one query (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return [row[0] for row in cursor.fetchall()]


def insert_rows(
    model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]], *, with_ids: bool = False
) -> list[int]:
    """Insert ``rows`` (tuples of values for ``columns``, the model's attribute names such as ``order_id``): one
    ``COPY`` on PostgreSQL, else ``bulk_create``. The values are written as given (no field default, no
    ``auto_now_add``): every column without a database default must be in ``columns``. Returns the new rows' ids, in
    order, when ``with_ids``."""
    rows = list(rows)
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        return [made.pk for made in model._default_manager.bulk_create(objects, batch_size=2000)]
    ids = reserve_ids(model, len(rows)) if with_ids and rows else []
    if with_ids:
        columns, rows = ("id", *columns), [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
    names = {field.attname: field.column for field in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(names[column]) for column in columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
    return ids


# Fields whose Python value PostgreSQL's COPY takes as it is (the others go through ``get_db_prep_save``).
PLAIN_FIELDS = (
    models.AutoField,
    models.BigAutoField,
    models.BooleanField,
    models.CharField,
    models.DateField,  # and DateTimeField
    models.DecimalField,
    models.ForeignKey,
    models.IntegerField,  # and its small, big and positive kinds
    models.TextField,
)


def insert_instances(model: type[Model], objects: list[Model]) -> None:
    """``bulk_create`` of unsaved instances, by ``COPY`` on PostgreSQL: each field's value as ``pre_save`` gives it
    (``auto_now_add``, defaults already set by the constructor), prepared by the field unless PostgreSQL takes it as
    it is (``PLAIN_FIELDS``). The instances' ids must all be set (taken with ``reserve_ids``) or all left to the
    sequence (they then stay unset). Elsewhere, ``bulk_create``."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objects, batch_size=2000)
        return
    with_ids = objects[0].pk is not None
    fields = [field for field in model._meta.concrete_fields if with_ids or not field.primary_key]
    prepare = [None if isinstance(field, PLAIN_FIELDS) else field.get_db_prep_save for field in fields]
    rows = (
        tuple(
            value if prep is None else prep(value, connection)
            for field, prep in zip(fields, prepare, strict=True)
            for value in (field.pre_save(instance, True),)
        )
        for instance in objects
    )
    insert_rows(model, [field.attname for field in fields], rows)
    for instance in objects:
        instance._state.adding, instance._state.db = False, connection.alias


def update_rows(model: type[Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """Set ``columns`` (attribute names) of each row whose id is the first value of a tuple of ``rows`` to the other
    values: one ``UPDATE … FROM (VALUES …)`` on PostgreSQL (each value prepared by its field and cast to its column's
    type), else one update per row. Returns the number of rows updated."""
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        return sum(
            model._default_manager.filter(pk=row[0]).update(**dict(zip(columns, row[1:], strict=True))) for row in rows
        )
    fields = [model._meta.pk, *(model._meta.get_field(column) for column in columns)]
    casts = [f"%s::{field.db_type(connection)}" for field in fields]
    quote, table = connection.ops.quote_name, connection.ops.quote_name(model._meta.db_table)
    names = ["id", *(f"v{position}" for position in range(len(columns)))]
    assignments = ", ".join(
        f"{quote(field.column)} = v.{name}" for field, name in zip(fields[1:], names[1:], strict=True)
    )
    values = ", ".join(f"({', '.join(casts)})" for _row in rows)
    sql = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v ({', '.join(names)}) "  # noqa: S608 (names from the model, values as parameters)
        f"WHERE {table}.{quote(model._meta.pk.column)} = v.id"
    )
    params = [
        field.get_db_prep_save(value, connection) for row in rows for field, value in zip(fields, row, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
