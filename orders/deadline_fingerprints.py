"""Fingerprints that let the daily reconciliation skip the orders whose stored deadlines cannot have drifted (issue 13).

The store (``orders.deadline_store``) writes, with an order's deadline rows, a ``StoredDeadlineSource``: an MD5 of the
fields the rules read (the order's, its programme's and solution's, and the version of the rules) and an MD5 of the
rows written. Each day PostgreSQL computes both again from the data (``changed_orders``, one query per batch of
orders, no row sent to Python) and names the orders whose data or rows differ — changed behind the services' back (an
SQL fix, a bulk update), a programme date changed by a queryset update, rules deployed since, rows lost or edited, or
no source yet. Only those are computed again by the rules and compared row by row.

The same text is hashed on both sides: each value as text (a time as microseconds since 1970, a decimal with two
places, a boolean as ``true``/``false``, nothing for NULL), joined by "|". The tests check that PostgreSQL and Python
agree for every demo order, and that a change of any field the rules read is seen.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Field

from orders import rules
from orders.models import Order, Programme, Solution, StoredDeadline, StoredDeadlineSource

EPOCH, MICROSECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)

# The version of the rules: the stored rows of every order are computed again the day after rules.py or the store's
# code changed (the first scan after a deployment that touches them does the whole book, as ``rebuild`` would).
RULES_VERSION = hashlib.md5(  # noqa: S324 (a fingerprint, not a secret)
    b"".join(Path(__file__).with_name(name).read_bytes() for name in ("rules.py", "deadline_store.py"))
).hexdigest()[:12]

SOURCE_ORDER_FIELDS = (*rules.DEADLINE_ORDER_FIELDS, "principal_amount", "secondary_amount")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return str((value - EPOCH) // MICROSECOND)
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def source_fingerprint(order: Any) -> str:
    """What the rules read of ``order`` (a model instance or a ``selectors.deadline_rows`` light row with its amounts,
    its programme and solution), hashed as ``SOURCE_SQL`` hashes it."""
    values = [getattr(order, name) for name in SOURCE_ORDER_FIELDS]
    values += [getattr(order.programme, name) for name in rules.DEADLINE_PROGRAMME_FIELDS]
    values += [getattr(order.solution, name) for name in rules.DEADLINE_SOLUTION_FIELDS]
    return _md5("|".join([*map(_text, values), RULES_VERSION]))


# The stored rows of an order, each written as its fields joined by "|", sorted by code and due time, joined by new
# lines, hashed (``rows_fingerprint`` computes the same in Python).
ROW_LINE = (
    "concat_ws('|', code, (extract(epoch FROM due_at) * 1000000)::bigint, actor, action, reference, amount::text, "
    "is_next::text)"
)
STORED_FINGERPRINTS = (
    "SELECT order_id, md5(string_agg(" + ROW_LINE + ", E'\\n' "  # noqa: S608 (no value: the table name is the model's)
    'ORDER BY code COLLATE "C", due_at)) AS rows FROM {table} WHERE order_id BETWEEN %s AND %s GROUP BY order_id'
)


def rows_fingerprint(values: list[tuple[Any, ...]]) -> str:
    """What ``STORED_FINGERPRINTS`` gives for one order's rows (``deadline_store.ROW_FIELDS`` tuples); empty when
    there are none."""
    lines = [
        f"{code}|{(due_at - EPOCH) // MICROSECOND}|{actor}|{action}|{reference}|{amount:.2f}|"
        + ("true" if is_next else "false")
        for code, due_at, actor, action, reference, amount, is_next in sorted(values, key=lambda row: row[:2])
    ]
    return _md5("\n".join(lines)) if lines else ""


def _column_text(alias: str, field: Field) -> str:
    column = f"{alias}.{connection.ops.quote_name(field.column)}"
    if isinstance(field, DateTimeField):
        return f"coalesce(((extract(epoch FROM {column}) * 1000000)::bigint)::text, '')"
    return f"coalesce({column}::text, '')"


def _source_sql() -> str:
    """The ``source_fingerprint`` of the order ``o`` (programme ``p``, solution ``s``), the version as parameter."""
    texts = [_column_text("o", Order._meta.get_field(name)) for name in SOURCE_ORDER_FIELDS]
    texts += [_column_text("p", Programme._meta.get_field(name)) for name in rules.DEADLINE_PROGRAMME_FIELDS]
    texts += [_column_text("s", Solution._meta.get_field(name)) for name in rules.DEADLINE_SOLUTION_FIELDS]
    return f"md5(concat_ws('|', {', '.join(texts)}, %s))"


def changed_orders(first: int, last: int) -> list[int]:
    """The orders with an id from ``first`` to ``last`` whose stored deadlines may differ from the rules: no source,
    or their data or their stored rows no longer have the fingerprints recorded with the rows (PostgreSQL, one
    query)."""
    table = connection.ops.quote_name
    sql = (
        f"SELECT o.id FROM {table(Order._meta.db_table)} o "  # noqa: S608 (names from the models, values as parameters)
        f"JOIN {table(Programme._meta.db_table)} p ON p.id = o.programme_id "
        f"JOIN {table(Solution._meta.db_table)} s ON s.id = o.solution_id "
        # The range on the sources' side too, so that PostgreSQL reads the batch's sources by their key instead of
        # hashing every source of the book for each batch.
        f"LEFT JOIN {table(StoredDeadlineSource._meta.db_table)} src "
        "ON src.order_id = o.id AND src.order_id BETWEEN %s AND %s "
        f"LEFT JOIN ({STORED_FINGERPRINTS.format(table=table(StoredDeadline._meta.db_table))}) d "
        "ON d.order_id = o.id "
        "WHERE o.id BETWEEN %s AND %s AND (src.order_id IS NULL "
        f"OR src.inputs <> {_source_sql()} OR src.rows <> coalesce(d.rows, '')) ORDER BY o.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [first, last, first, last, first, last, RULES_VERSION])
        return [row[0] for row in cursor.fetchall()]
