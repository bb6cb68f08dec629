"""Reads for lists, dashboards and deadlines: querysets whose number of queries does not grow with the rows."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.db.models import CharField, Count, DateTimeField, OuterRef, Q, QuerySet, Subquery, Sum, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce

from orders import rules
from orders.models import Document, Order, OrderEvent, OrderState, Programme, Solution, StoredDeadline

# Orders whose programme deadlines are all behind them; a portability request still open keeps one (AF §4.4).
SETTLED_STATES = [OrderState.LAPSED, OrderState.REIMBURSED, OrderState.CLOSED, OrderState.CANCELLED]


def with_open_deadlines(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """Orders that may still have a deadline (the one place that decides which orders the scans skip)."""
    open_portability = Q(portability_requested_at__isnull=False, portability_delivered_at__isnull=True)
    return queryset.exclude(Q(state__in=SETTLED_STATES) & ~open_portability)


@dataclass(eq=False)
class OrderLine:
    """What a reminder, a staff digest line or a calendar row shows of an order, read as plain values with the rows
    that name it (no model instance per order)."""

    pk: int
    number: str
    client: SimpleNamespace  # name (and email, where a reminder goes to the client)
    principal_amount: Decimal
    secondary_amount: Decimal
    salesperson: Any = None  # the user, where the reminder goes to the salesperson

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "OrderLine":
        """From a row read with ``order_id`` and ``order__number``, ``order__client__name``, ``order__…_amount``."""
        return cls(
            values["order_id"],
            values["order__number"],
            SimpleNamespace(name=values["order__client__name"]),
            values["order__principal_amount"],
            values["order__secondary_amount"],
        )


def among_ids(field: str, ids: list[int]) -> Q:
    """A filter on ``field`` for a batch of sorted ids, cheap to send: a range when the ids are close together (the
    caller then skips the rows of the range that are not in the batch), else an ``IN`` list. A 2 000-item ``IN`` list
    costs about 30 ms to build and send; a range costs nothing, so reading a book by batches stays near its floor."""
    if not ids:
        return Q(pk__in=[])
    if ids[-1] - ids[0] < 2 * len(ids):
        return Q(**{f"{field}__gte": ids[0], f"{field}__lte": ids[-1]})
    return Q(**{f"{field}__in": ids})


DEADLINE_WINDOWS: dict[str, tuple[str, int | None]] = {
    "overdue": ("En retard", None),
    "7": ("Sous 7 jours", 7),
    "30": ("Sous 30 jours", 30),
    "90": ("Sous 90 jours", 90),
}


def order_list_queryset() -> QuerySet[Order]:
    """Orders with everything a list row shows (client, programme, solution, salesperson) in one query."""
    return Order.objects.select_related("client", "programme", "solution", "salesperson")


def deadline_rows(queryset: QuerySet[Order], *extra_fields: str, stream: bool = True) -> Iterator[SimpleNamespace]:
    """The orders of ``queryset`` as light rows holding what ``rules.order_deadlines`` reads, plus ``pk`` and
    ``extra_fields`` (``client__name`` becomes ``row.client.name``): one query of plain values (streamed by a
    server-side cursor unless ``stream`` is off, for a bounded batch), each programme and solution loaded once. About
    seven times cheaper than model instances for every order."""
    programmes = {programme.pk: programme for programme in Programme.objects.only(*rules.DEADLINE_PROGRAMME_FIELDS)}
    solutions = {solution.pk: solution for solution in Solution.objects.only(*rules.DEADLINE_SOLUTION_FIELDS)}
    plain = (
        "pk",
        "programme_id",
        "solution_id",
        *rules.DEADLINE_ORDER_FIELDS,
        *(f for f in extra_fields if "__" not in f),
    )
    related = [name for name in extra_fields if "__" in name]  # read after the plain fields, grouped by relation
    relations: dict[str, list[str]] = {}
    for name in related:
        relation, field = name.split("__", 1)
        relations.setdefault(relation, []).append(field)
    rows = queryset.values_list(*plain, *related)
    width = len(plain)
    for values in rows.iterator(chunk_size=2000) if stream else rows:
        row = SimpleNamespace(**dict(zip(plain, values)))  # noqa: B905 (the related values follow)
        position = width
        for relation, fields in relations.items():
            setattr(row, relation, SimpleNamespace(**dict(zip(fields, values[position : position + len(fields)]))))  # noqa: B905
            position += len(fields)
        row.programme, row.solution = programmes[row.programme_id], solutions[row.solution_id]
        yield row


def with_next_deadline_in_window(queryset: QuerySet[Order], window: str, now: datetime) -> QuerySet[Order]:
    """The orders of ``queryset`` whose next deadline (``rules.next_deadline``) falls in ``window``: read from the
    stored deadlines (``orders.deadline_store``, written by ``rules.order_deadlines`` itself) through the partial index
    of the next deadlines, so that the filter costs the same whatever the number of orders."""
    _label, days = DEADLINE_WINDOWS[window]
    if days is None:
        next_deadlines = StoredDeadline.objects.filter(is_next=True, due_at__lt=now)
    else:
        next_deadlines = StoredDeadline.objects.filter(
            is_next=True, due_at__gte=now, due_at__lte=now + timedelta(days=days)
        )
    return queryset.filter(pk__in=next_deadlines.values("order_id"))


def client_orders(client_id: int) -> QuerySet[Order]:
    """A client's own orders with what its status pages show (programme, solution, provider, salesperson)."""
    return (
        Order.objects.filter(client_id=client_id)
        .select_related("programme", "solution__provider", "salesperson")
        .order_by("-issued_at", "-pk")
    )


def client_documents(order: Order) -> list[Document]:
    """The documents a client sees for its order: the latest version of each kind (of each invoice), in one query."""
    latest: dict[tuple[str, int | None], Document] = {}
    rows = Document.objects.filter(order=order).select_related("invoice").order_by("kind", "invoice_id", "-version")
    for document in rows:
        latest.setdefault((document.kind, document.invoice_id), document)
    return sorted(latest.values(), key=lambda document: (document.created_at, document.pk))


def order_list_totals(queryset: QuerySet[Order]) -> dict[str, Any]:
    """Count, principal, advance paid and balance paid of the orders of a (filtered) list, in one aggregate query."""
    return queryset.order_by().aggregate(
        count=Count("pk"),
        principal=Coalesce(Sum("principal_amount"), Decimal("0")),
        advance=Coalesce(Sum("advance_amount"), Decimal("0")),
        balance=Coalesce(Sum("balance_amount"), Decimal("0")),
    )


def client_order_rows(client_id: int) -> QuerySet[Order]:
    """A client's orders for its staff page (number, state, amount, next deadline): one query, newest first."""
    return order_list_queryset().filter(client_id=client_id).order_by("-created_at", "-pk")


# --- ASP returns (AF §6.2, §6.4) -------------------------------------------------------------------------------------

ASP_REQUEST_ACTIONS = ("file_advance", "return_advance", "file_balance", "return_balance")
ASP_RETURN_ACTIONS = ("return_advance", "return_balance")


@dataclass(frozen=True)
class AspReturn:
    """A request the ASP sent back (to complete, or rejected) and not filed again since."""

    action: str
    kind: str
    message: str
    at: datetime

    @property
    def kind_label(self) -> str:
        return {"to_complete": "à compléter", "rejected": "rejetée"}.get(self.kind, self.kind)

    @property
    def request_label(self) -> str:
        return "demande d'avance" if self.action == "return_advance" else "demande de solde"


def with_asp_return(queryset: QuerySet[Order]) -> QuerySet[Order]:
    """``queryset`` annotated with its last accepted ASP request event (filed or returned): its action, the return's
    kind and message, and its date — four subqueries in the same query, whatever the number of orders. The order's
    ASP return is open while that last event is a return: filing the request again closes it."""
    latest = (
        OrderEvent.objects.filter(order=OuterRef("pk"), accepted=True, action__in=ASP_REQUEST_ACTIONS)
        .order_by("-created_at", "-pk")
        .annotate(
            return_kind=KeyTextTransform("return_kind", "payload"),
            asp_message=KeyTextTransform("asp_message", "payload"),
        )
    )
    return queryset.annotate(
        asp_last_action=Subquery(latest.values("action")[:1], output_field=CharField()),
        asp_last_return_kind=Subquery(latest.values("return_kind")[:1], output_field=CharField()),
        asp_last_message=Subquery(latest.values("asp_message")[:1], output_field=TextField()),
        asp_last_at=Subquery(latest.values("created_at")[:1], output_field=DateTimeField()),
    )


def returned_by_asp(queryset: QuerySet[Order], kind: str | None = None) -> QuerySet[Order]:
    """Orders of ``with_asp_return(queryset)`` with an open ASP return (of ``kind``: "to_complete" or "rejected")."""
    returned = queryset.filter(asp_last_action__in=ASP_RETURN_ACTIONS)
    return returned.filter(asp_last_return_kind=kind) if kind else returned


def open_asp_return(order: Order) -> AspReturn | None:
    """The open ASP return of an order read from ``with_asp_return`` (no query), or None."""
    action = getattr(order, "asp_last_action", None)
    if action not in ASP_RETURN_ACTIONS:
        return None
    return AspReturn(action, order.asp_last_return_kind or "", order.asp_last_message or "", order.asp_last_at)
