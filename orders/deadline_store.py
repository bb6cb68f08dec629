"""Stored deadlines (SPEC §10): every open deadline of every order, as ``rules.order_deadlines`` computes it, kept in
``StoredDeadline`` so that the order list, the calendar and the daily scan read an index instead of computing the
deadlines of the whole book.

There is no second copy of the rules here: a row is what ``rules.order_deadlines`` returns (not met), nothing else.
The rows are written in the same transaction as every change that moves a deadline:
- an order created, changed or moved by an action (``orders.services``: ``order_create``, ``order_update_terms``,
  ``perform``) — ``store_order``;
- a programme's dates or a solution's dossier date changed (a ``post_save`` signal below, and the command
  ``rebuild_deadlines``) — ``refresh_orders`` over its orders, in batches;
and the daily scan reconciles the whole store with the rules (``reconcile``): any difference is logged and fixed. On
PostgreSQL each order's rows are written with what they were computed from (``StoredDeadlineSource``), so that the
reconciliation computes the rules again only for the orders whose data or rows changed since
(``orders.deadline_fingerprints``).
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from orders import rules
from orders.deadline_fingerprints import changed_orders, rows_fingerprint, source_fingerprint
from orders.models import Order, Programme, Solution, StoredDeadline, StoredDeadlineSource
from orders.selectors import SETTLED_STATES, among_ids, deadline_rows, with_open_deadlines
from segur_portal.bulk_insert import insert_rows

logger = logging.getLogger(__name__)

BATCH = 2000
# What a stored row holds; two rows are the same deadline when these are equal.
ROW_FIELDS = ("code", "due_at", "actor", "action", "reference", "amount", "is_next")


def open_deadlines(order: Any, now: datetime | None = None) -> list[tuple[Any, ...]]:
    """What the store holds for one order (a model instance or a ``selectors.deadline_rows`` light row with its
    amounts), as tuples of ``ROW_FIELDS``: its deadlines not yet met (``rules.order_deadlines``), the first one
    marked as its next deadline (``rules.next_deadline``)."""
    deadlines = [d for d in rules.order_deadlines(order, now or timezone.now()) if d.status != rules.MET]
    amount = order.principal_amount + order.secondary_amount
    return [
        (d.code, d.due_at, d.actor, d.action[:255], d.reference[:64], amount, position == 0)
        for position, d in enumerate(deadlines)
    ]


def _rows(order_id: int, values: list[tuple[Any, ...]]) -> list[StoredDeadline]:
    return [StoredDeadline(order_id=order_id, **dict(zip(ROW_FIELDS, row, strict=True))) for row in values]


def rows_for(order: Any, now: datetime | None = None) -> list[StoredDeadline]:
    """The stored rows of one order (unsaved)."""
    return _rows(order.pk, open_deadlines(order, now))


def _has_open_deadlines(order: Order) -> bool:
    """The same test as ``selectors.with_open_deadlines``, on one order in memory (no query)."""
    open_portability = order.portability_requested_at is not None and order.portability_delivered_at is None
    return order.state not in SETTLED_STATES or open_portability


def _tracks_sources() -> bool:
    """Sources are written and compared on PostgreSQL; elsewhere the reconciliation computes every order."""
    return connection.vendor == "postgresql"


def store_order(order: Order) -> None:
    """Write the stored deadlines of one order just saved, with their source (one query on PostgreSQL; call inside
    the transaction of the change, the order loaded with its programme and solution)."""
    values = open_deadlines(order) if _has_open_deadlines(order) else []
    if not _tracks_sources():
        StoredDeadline.objects.filter(order_id=order.pk).delete()
        StoredDeadline.objects.bulk_create(_rows(order.pk, values))
        return
    # PostgreSQL: one statement, so that an action costs one query more, not two.
    table = StoredDeadline._meta.db_table
    sources = StoredDeadlineSource._meta.db_table
    source = (
        f"source AS (INSERT INTO {sources} (order_id, inputs, rows) VALUES (%s, %s, %s) "  # noqa: S608 (names from the models)
        "ON CONFLICT (order_id) DO UPDATE SET inputs = EXCLUDED.inputs, rows = EXCLUDED.rows)"
    )
    params: list[Any] = [order.pk, source_fingerprint(order), rows_fingerprint(values), order.pk]
    if values:
        columns = ", ".join(("order_id", *ROW_FIELDS))
        rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(values))
        sql = (
            f"WITH {source}, gone AS (DELETE FROM {table} WHERE order_id = %s) "  # noqa: S608 (names from the model, values as parameters)
            f"INSERT INTO {table} ({columns}) VALUES {rows}"
        )
        params += [field for row in values for field in (order.pk, *row)]
    else:
        sql = f"WITH {source} DELETE FROM {table} WHERE order_id = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _write_sources(sources: dict[int, str], rows: dict[int, list[tuple[Any, ...]]]) -> None:
    """Record what these orders' stored rows were computed from (``sources``: order -> ``source_fingerprint``)."""
    if _tracks_sources() and sources:
        StoredDeadlineSource.objects.bulk_create(
            [
                StoredDeadlineSource(order_id=order_id, inputs=inputs, rows=rows_fingerprint(rows[order_id]))
                for order_id, inputs in sources.items()
            ],
            update_conflicts=True,
            unique_fields=["order"],
            update_fields=["inputs", "rows"],
        )


def _computed(order_ids: list[int], *, lock: bool) -> tuple[dict[int, list[tuple[Any, ...]]], dict[int, str]]:
    """The rows ``rules.order_deadlines`` gives for these sorted orders now, and what they are computed from (their
    ``source_fingerprint``, on PostgreSQL), from light rows in one query; ``lock`` takes the orders' row locks first,
    so that no action moves them between this read and the write."""
    if lock:
        locked = Order.objects.filter(pk__in=order_ids).select_for_update(of=("self",)).order_by("pk")
        list(locked.values_list("pk", flat=True))
    expected: dict[int, list[tuple[Any, ...]]] = {order_id: [] for order_id in order_ids}
    sources: dict[int, str] = {}
    batch = Order.objects.filter(among_ids("pk", order_ids))
    if not _tracks_sources():  # no source to record: the settled orders need not be read
        batch = with_open_deadlines(batch)
    now = timezone.now()
    for row in deadline_rows(batch, "principal_amount", "secondary_amount", stream=False):
        if row.pk in expected:
            if _has_open_deadlines(row):
                expected[row.pk] = open_deadlines(row, now)
            if _tracks_sources():
                sources[row.pk] = source_fingerprint(row)
    return expected, sources


def refresh_orders(order_ids: Iterable[int]) -> int:
    """Rewrite the stored deadlines of these orders, by batches of ``BATCH`` (each in its own transaction when
    called outside one). Returns the number of rows written."""
    ids = sorted(set(order_ids))
    written = 0
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        with transaction.atomic():
            expected, sources = _computed(batch, lock=True)
            StoredDeadline.objects.filter(order_id__in=batch).delete()
            rows = [row for order_id, values in expected.items() for row in _rows(order_id, values)]
            written += len(StoredDeadline.objects.bulk_create(rows))
            _write_sources(sources, expected)
    return written


def store_new_orders(order_ids: Iterable[int]) -> int:
    """Write the stored deadlines of orders just inserted in bulk, in the transaction that inserted them (nothing to
    delete nor lock: nobody else sees them yet), by batches of ``BATCH``. Returns the number of rows written."""
    ids = sorted(set(order_ids))
    columns = ("order_id", *ROW_FIELDS)
    written = 0
    for start in range(0, len(ids), BATCH):
        expected, sources = _computed(ids[start : start + BATCH], lock=False)
        rows = [(order_id, *row) for order_id, values in expected.items() for row in values]
        insert_rows(StoredDeadline, columns, rows)
        if _tracks_sources():
            insert_rows(
                StoredDeadlineSource,
                ("order_id", "inputs", "rows"),
                [(order_id, inputs, rows_fingerprint(expected[order_id])) for order_id, inputs in sources.items()],
            )
        written += len(rows)
    return written


def _order_id_batches(queryset: QuerySet[Order]) -> Iterator[list[int]]:
    """The ids of ``queryset`` by batches of ``BATCH``, read by keyset pages (memory bounded by a batch); a short
    page is the last one."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if batch:
            yield batch
        if len(batch) < BATCH:
            return
        last = batch[-1]


def rebuild(queryset: QuerySet[Order] | None = None) -> int:
    """Rewrite the stored deadlines of every order (of ``queryset``): after a programme's dates changed, or to fill
    the store of orders inserted in bulk."""
    written = 0
    for batch in _order_id_batches(queryset if queryset is not None else Order.objects.all()):
        written += refresh_orders(batch)
    return written


@dataclass
class Reconciliation:
    orders: int = 0
    fixed: list[int] = field(default_factory=list)  # orders whose stored deadlines differed from the rules
    failed: list[int] = field(default_factory=list)  # orders whose deadlines could not be computed (``on_error``)

    def as_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "fixed": len(self.fixed), "fixed_orders": self.fixed[:20]}


def _differing(batch: list[int], *, lock: bool) -> tuple[list[int], dict[int, list[tuple[Any, ...]]], dict[int, str]]:
    """The orders of ``batch`` whose stored rows differ from the rules (compared row by row, as tuples), the expected
    rows and their sources."""
    expected, sources = _computed(batch, lock=lock)
    stored: dict[int, list[tuple[Any, ...]]] = {order_id: [] for order_id in batch}
    rows = StoredDeadline.objects.filter(among_ids("order_id", batch)).values_list("order_id", *ROW_FIELDS)
    for order_id, *values in rows:
        if order_id in stored:
            stored[order_id].append(tuple(values))
    wrong = [order_id for order_id in batch if sorted(stored[order_id]) != sorted(expected[order_id])]
    return wrong, expected, sources


def _reconcile_batch(batch: list[int]) -> list[int]:
    """Fix the stored deadlines of ``batch`` that differ from the rules; the ones fixed. On PostgreSQL only the orders
    whose data or rows changed since their rows were written are computed (``changed_orders``: usually none), under
    their row locks, and their source is recorded again. Elsewhere every order is compared first without a lock (the
    usual case: nothing differs, nothing is locked), then the differing ones again under their locks (an action may
    have just rewritten them)."""
    if _tracks_sources():
        checked = changed_orders(batch[0], batch[-1])  # every order between the two is in ``batch`` (a keyset page)
    else:
        checked, _expected_rows, _sources = _differing(batch, lock=False)
    if not checked:
        return []
    with transaction.atomic():
        wrong, expected, sources = _differing(checked, lock=True)
        if wrong:
            StoredDeadline.objects.filter(order_id__in=wrong).delete()
            StoredDeadline.objects.bulk_create(
                [row for order_id in wrong for row in _rows(order_id, expected[order_id])]
            )
        _write_sources(sources, expected)
    return wrong


def reconcile(on_error: Callable[[int, BaseException], None] | None = None) -> Reconciliation:
    """Compare the stored deadlines of every order with ``rules.order_deadlines`` and fix any difference (logged):
    by batches of orders, each in a short transaction with the batch's orders locked. Memory bounded by a batch.

    With ``on_error``, a batch that fails is done again order by order, and an order whose deadlines cannot be
    computed (unreadable data, a rule failing on it) is handed to ``on_error`` and left as it is; the others go on.
    """
    result = Reconciliation()
    for batch in _order_id_batches(Order.objects.all()):
        try:
            wrong = _reconcile_batch(batch)
        except Exception:
            if on_error is None:
                raise
            wrong = []
            for order_id in batch:
                try:
                    wrong += _reconcile_batch([order_id])
                except Exception as error:  # whatever its data breaks, the other orders go on
                    on_error(order_id, error)
                    result.failed.append(order_id)
        result.orders += len(batch)
        result.fixed += wrong
    if result.fixed:
        logger.warning(
            "stored deadlines: %s orders differed from the rules and were fixed (first: %s)",
            len(result.fixed),
            result.fixed[:20],
        )
    return result


# --- A programme's dates or a solution's dossier moved: its orders' deadlines move with them ---------------------


def _deadline_values(instance: Any, fields: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(getattr(instance, name) for name in fields)


def _moved(instance: Any, fields: tuple[str, ...]) -> bool:
    """Whether a save changed what the deadlines read (when unknown: yes)."""
    before = getattr(instance, "_deadline_values_before", None)
    return before is None or before != _deadline_values(instance, fields)


def _remember(instance: Any, fields: tuple[str, ...]) -> None:
    if instance.pk:
        instance._deadline_values_before = type(instance).objects.filter(pk=instance.pk).values_list(*fields).first()


@receiver(pre_save, sender=Programme, dispatch_uid="deadline_store_programme_before")
def _programme_saving(sender: Any, instance: Programme, **kwargs: Any) -> None:
    _remember(instance, rules.DEADLINE_PROGRAMME_FIELDS)


@receiver(post_save, sender=Programme, dispatch_uid="deadline_store_programme")
def _programme_saved(sender: Any, instance: Programme, created: bool, **kwargs: Any) -> None:
    """A programme's dates moved: its orders' deadlines are rewritten in the same transaction (a few seconds per
    100 000 orders; only when a date or duration the deadlines read changed)."""
    if not created and _moved(instance, rules.DEADLINE_PROGRAMME_FIELDS):
        rebuild(Order.objects.filter(programme_id=instance.pk))


@receiver(pre_save, sender=Solution, dispatch_uid="deadline_store_solution_before")
def _solution_saving(sender: Any, instance: Solution, **kwargs: Any) -> None:
    _remember(instance, rules.DEADLINE_SOLUTION_FIELDS)


@receiver(post_save, sender=Solution, dispatch_uid="deadline_store_solution")
def _solution_saved(sender: Any, instance: Solution, created: bool, **kwargs: Any) -> None:
    if not created and _moved(instance, rules.DEADLINE_SOLUTION_FIELDS):
        rebuild(Order.objects.filter(solution_id=instance.pk))
