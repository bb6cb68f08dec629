"""Health of the components the product depends on, as /healthz reports it."""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate

from monitoring.models import WorkerHeartbeat
from orders import deadline_counts, rules, services
from orders.models import Order, Programme, Solution, StoredDeadline
from orders.selectors import OrderLine
from segur_portal.celery import app as celery_app

logger = logging.getLogger(__name__)


def database_status() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says which
        logger.warning("healthz: database unreachable: %s", exc)
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)[:200]}
    return {"ok": True, "vendor": connection.vendor}


def broker_status(timeout_seconds: float = 2.0) -> dict[str, Any]:
    transport = celery_app.conf.broker_url.split("://", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_seconds)
    except Exception as exc:  # kombu raises transport-specific errors; all mean "down"
        logger.warning("healthz: broker unreachable: %s", exc)
        return {"ok": False, "transport": transport, "error": str(exc)[:200]}
    return {"ok": True, "transport": transport}


def last_worker_heartbeat() -> str | None:
    try:
        heartbeat = WorkerHeartbeat.objects.only("recorded_at").order_by("-recorded_at").first()
    except Exception:  # the database status already reports why
        return None
    return heartbeat.recorded_at.isoformat() if heartbeat else None


# --- Deadline calendar (SPEC §10) ------------------------------------------------------------------------------------


@dataclass
class CalendarDay:
    day: date
    items: list[dict[str, Any]] = field(default_factory=list)
    # Set when ``items`` holds only the first rows of the day (``deadline_calendar(rows_per_day=...)``): the day's
    # count, amount and groups per deadline, counted by the database.
    total: int | None = None
    total_amount: Decimal | None = None
    groups: dict[str, dict[str, Any]] | None = None

    @property
    def count(self) -> int:
        return self.total if self.total is not None else len(self.items)

    @property
    def amount(self) -> Decimal:
        if self.total_amount is not None:
            return self.total_amount
        return sum((item["amount"] for item in self.items), Decimal("0"))

    def by_deadline(self) -> list[dict[str, Any]]:
        """The day's items counted per kind of deadline, with the amounts at stake (the crunch days read at once)."""
        groups: dict[str, dict[str, Any]] = {}
        if self.groups is not None:
            groups = {code: dict(group) for code, group in self.groups.items()}
        else:
            for item in self.items:
                _count_in(groups, item)
        return sorted(groups.values(), key=lambda group: (-group["count"], group["code"]))

    def shown(self, limit: int) -> list[dict[str, Any]]:
        return self.items[:limit]

    def add(self, item: dict[str, Any]) -> None:
        """One more item (a provider deadline), counted in the day's totals when the database counted them."""
        self.items.append(item)
        if self.total is not None and self.groups is not None:
            self.total += 1
            self.total_amount = (self.total_amount or Decimal("0")) + item["amount"]
            _count_in(self.groups, item)


def _count_in(groups: dict[str, dict[str, Any]], item: dict[str, Any]) -> None:
    deadline = item["deadline"]
    group = groups.setdefault(
        deadline.code,
        {"code": deadline.code, "action": deadline.action, "actor": deadline.actor_label, "count": 0},
    )
    group["count"] += 1
    group["amount"] = group.get("amount", Decimal("0")) + item["amount"]


# What a calendar row reads of a stored deadline and of its order.
ITEM_FIELDS = (
    "order_id",
    "order__number",
    "order__client__name",
    "order__principal_amount",
    "order__secondary_amount",
    "code",
    "due_at",
    "actor",
    "action",
    "reference",
    "amount",
)


ITEM_COLUMNS = ("code", "due_at", "actor", "action", "reference", "amount")


def _calendar_item(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A calendar row from a stored deadline (``orders.deadline_store``): its order as a light row, its deadline as
    ``rules.Deadline`` (open: overdue once its due time passed)."""
    order = OrderLine.from_values(values)
    due_at = values["due_at"]
    status = rules.OVERDUE if now > due_at else rules.UPCOMING
    deadline = rules.Deadline(
        values["code"], due_at, values["actor"], values["action"], values["reference"], status, None
    )
    return {"order": order, "deadline": deadline, "amount": values["amount"]}


def deadline_calendar(
    *,
    now: datetime,
    days: int = 90,
    code: str = "",
    salesperson_id: int | None = None,
    state: str = "",
    rows_per_day: int | None = None,
) -> tuple[CalendarDay, list[CalendarDay]]:
    """Open deadlines of the next ``days`` days by day, and the overdue ones apart, read from the stored deadlines
    (``orders.deadline_store``: what ``rules.order_deadlines`` gives, through the index on their due date), with the
    provider's and solutions' deadlines.

    ``rows_per_day``: each day (and the overdue) holds only its first rows, by due time; its count, amount and groups
    per deadline are counted by the database. The cost then no longer grows with the number of orders.
    """
    horizon = now + timedelta(days=days)
    stored = StoredDeadline.objects.filter(due_at__lte=horizon)
    if code:
        stored = stored.filter(code=code)
    if salesperson_id:
        stored = stored.filter(order__salesperson_id=salesperson_id)
    if state:
        stored = stored.filter(order__state=state)
    overdue = CalendarDay(rules.paris_date(now))
    by_day: dict[date, CalendarDay] = {}
    if rows_per_day is None:
        for values in stored.order_by("due_at", "order_id").values(*ITEM_FIELDS).iterator(chunk_size=2000):
            item = _calendar_item(values, now)
            if item["deadline"].status == rules.OVERDUE:
                overdue.items.append(item)
            else:
                day = rules.paris_date(item["deadline"].due_at)
                by_day.setdefault(day, CalendarDay(day)).items.append(item)
    else:
        filters = {"code": code, "salesperson_id": salesperson_id, "state": state}
        _counted_days(stored, now, days, rows_per_day, filters, overdue, by_day)
    if not salesperson_id and not state:
        for label, deadline in provider_deadlines(now):
            if deadline.status == rules.MET or (code and deadline.code != code) or deadline.due_at > horizon:
                continue
            item = {"order": None, "label": label, "deadline": deadline, "amount": Decimal("0")}
            if deadline.status == rules.OVERDUE:
                overdue.add(item)
            else:
                day = rules.paris_date(deadline.due_at)
                if day not in by_day:
                    by_day[day] = (
                        CalendarDay(day, total=0, total_amount=Decimal("0"), groups={})
                        if rows_per_day
                        else CalendarDay(day)
                    )
                by_day[day].add(item)
    overdue.items.sort(key=lambda item: item["deadline"].due_at)
    return overdue, [by_day[day] for day in sorted(by_day)]


def _counted_days(
    stored: QuerySet[StoredDeadline],
    now: datetime,
    days: int,
    rows_per_day: int,
    filters: dict[str, Any],
    overdue: CalendarDay,
    by_day: dict[date, CalendarDay],
) -> None:
    """Fill ``overdue`` and ``by_day`` with their first ``rows_per_day`` rows and the database's counts (four
    queries, whatever the number of orders)."""
    late = stored.filter(due_at__lt=now)
    horizon = now + timedelta(days=days)
    overdue.total, overdue.total_amount, overdue.groups = 0, Decimal("0"), {}
    if deadline_counts.available() and not filters["salesperson_id"] and not filters["state"]:
        late_groups, coming_groups = _groups_from_day_counts(stored, now, horizon, filters["code"])
    else:  # filtered by the orders' salesperson or state (or no counts table): counted here
        late_groups, coming_groups = _groups(stored, now)
    for row in late_groups:
        _add_group(overdue, row)
    for row in coming_groups:
        day = by_day.setdefault(row["day"], CalendarDay(row["day"], total=0, total_amount=Decimal("0"), groups={}))
        _add_group(day, row)
    for values in late.order_by("due_at", "order_id").values(*ITEM_FIELDS)[:rows_per_day]:
        overdue.items.append(_calendar_item(values, now))
    for values in _first_rows_per_day(now, horizon, sorted(by_day), rows_per_day, filters):
        item = _calendar_item(values, now)
        by_day[rules.paris_date(item["deadline"].due_at)].items.append(item)


GROUP_TOTALS = {"count": Count("id"), "total": Sum("amount"), "label": Max("action"), "who": Max("actor")}


def _groups(stored: QuerySet[StoredDeadline], now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The overdue deadlines of ``stored`` per code, and the coming ones per Paris day and code, counted here."""
    late = stored.filter(due_at__lt=now).order_by().values("code").annotate(**GROUP_TOTALS)
    day_of = TruncDate("due_at", tzinfo=rules.PARIS)
    coming = stored.filter(due_at__gte=now).annotate(day=day_of).order_by().values("day", "code")
    return list(late), list(coming.annotate(**GROUP_TOTALS))


def _groups_from_day_counts(
    stored: QuerySet[StoredDeadline], now: datetime, horizon: datetime, code: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What ``_groups`` gives, read from the counts per day (``orders.deadline_counts``: a few rows per day, whatever
    the number of orders) for the whole days, and counted here only for the two days cut by a time: today (by now)
    and the horizon's day."""
    today, last_day = rules.paris_date(now), rules.paris_date(horizon)

    def starts(day: date) -> datetime:
        return datetime.combine(day, dt_time(0), tzinfo=rules.PARIS)

    cut_days = Q(due_at__gte=starts(today), due_at__lt=starts(today + timedelta(days=1)))
    cut_days |= Q(due_at__gte=starts(last_day))
    late_cut, coming = _groups(stored.filter(cut_days), now)
    late_by_code: dict[str, dict[str, Any]] = {}
    for row in late_cut + deadline_counts.day_groups(None, today - timedelta(days=1), code):
        group = late_by_code.setdefault(row["code"], {"code": row["code"], "count": 0, "total": Decimal("0")})
        group["count"] += row["count"]
        group["total"] += row["total"] or Decimal("0")
        group["label"] = max(group.get("label", ""), row["label"] or "")
        group["who"] = max(group.get("who", ""), row["who"] or "")
    whole_days = deadline_counts.day_groups(today + timedelta(days=1), last_day - timedelta(days=1), code)
    return list(late_by_code.values()), coming + whole_days


def _first_rows_per_day(
    now: datetime, horizon: datetime, days: list[date], rows_per_day: int, filters: dict[str, Any]
) -> list[dict[str, Any]]:
    """The first ``rows_per_day`` deadlines of each day that has some, by due time then order, with their order's
    number, client and amounts: one ``LIMIT`` per day (a lateral join over the days, one query) read through the
    index ``(due_at, order)``, so its cost is the rows shown, not the deadlines of the 90 days."""
    if not days or rows_per_day <= 0:
        return []
    last = horizon + timedelta(microseconds=1)  # the horizon is included
    bounds = [
        (
            max(now, datetime.combine(day, dt_time(0), tzinfo=rules.PARIS)),
            min(
                last,
                datetime.combine(day + timedelta(days=1), dt_time(0), tzinfo=rules.PARIS),
            ),
        )
        for day in days
    ]
    if connection.vendor != "postgresql":  # the embedded SQLite: one query per day (no lateral join there)
        rows = StoredDeadline.objects.all()
        if filters["code"]:
            rows = rows.filter(code=filters["code"])
        if filters["salesperson_id"]:
            rows = rows.filter(order__salesperson_id=filters["salesperson_id"])
        if filters["state"]:
            rows = rows.filter(order__state=filters["state"])
        ordered = rows.order_by("due_at", "order_id").values(*ITEM_FIELDS)
        return [values for lo, hi in bounds for values in ordered.filter(due_at__gte=lo, due_at__lt=hi)[:rows_per_day]]
    stored, orders = StoredDeadline._meta.db_table, Order._meta.db_table
    clients = Order._meta.get_field("client").related_model._meta.db_table
    where, params = ["stored.due_at >= day.starts", "stored.due_at < day.ends"], []
    if filters["code"]:
        where.append("stored.code = %s")
        params.append(filters["code"])
    if filters["salesperson_id"]:
        where.append(f"EXISTS (SELECT 1 FROM {orders} o WHERE o.id = stored.order_id AND o.salesperson_id = %s)")  # noqa: S608
        params.append(filters["salesperson_id"])
    if filters["state"]:
        where.append(f"EXISTS (SELECT 1 FROM {orders} o WHERE o.id = stored.order_id AND o.state = %s)")  # noqa: S608
        params.append(filters["state"])
    query = (
        "SELECT first.order_id, o.number, c.name, o.principal_amount, o.secondary_amount, first.code, first.due_at, "  # noqa: S608 (names from the models, values as parameters)
        "first.actor, first.action, first.reference, first.amount "
        "FROM unnest(%s::timestamptz[], %s::timestamptz[]) AS day(starts, ends) "
        f"CROSS JOIN LATERAL (SELECT * FROM {stored} AS stored WHERE {' AND '.join(where)} "
        "ORDER BY stored.due_at, stored.order_id LIMIT %s) AS first "
        f"JOIN {orders} o ON o.id = first.order_id JOIN {clients} c ON c.id = o.client_id "
        "ORDER BY first.due_at, first.order_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [[lo for lo, _hi in bounds], [hi for _lo, hi in bounds], *params, rows_per_day])
        return [dict(zip(ITEM_FIELDS, row, strict=True)) for row in cursor.fetchall()]


def _add_group(day: CalendarDay, row: dict[str, Any]) -> None:
    assert day.groups is not None and day.total is not None and day.total_amount is not None
    actor = rules.ACTOR_LABELS.get(row["who"], row["who"])
    day.groups[row["code"]] = {
        "code": row["code"],
        "action": row["label"],
        "actor": actor,
        "count": row["count"],
        "amount": row["total"] or Decimal("0"),
    }
    day.total += row["count"]
    day.total_amount += row["total"] or Decimal("0")


def provider_deadlines(now: datetime) -> list[tuple[str, rules.Deadline]]:
    """Deadlines of the provider and its solutions (SPEC §5, §10), each with what it concerns (a few queries)."""
    last_vas: dict[tuple[int, int], datetime] = {}
    for programme_id in Programme.objects.values_list("pk", flat=True):  # a few programmes; one query each
        last_va = Subquery(
            Order.objects.filter(solution_id=OuterRef("pk"), programme_id=programme_id, va_signed_at__isnull=False)
            .order_by("-va_signed_at")
            .values("va_signed_at")[:1]
        )  # through the index (solution, programme, va_signed_at): one probe per solution, whatever the orders
        for provider_id, last_va_at in Solution.objects.annotate(last_va_at=last_va).values_list(
            "provider_id", "last_va_at"
        ):
            key = (programme_id, provider_id)
            if last_va_at is not None and (key not in last_vas or last_va_at > last_vas[key]):
                last_vas[key] = last_va_at
    result: list[tuple[str, rules.Deadline]] = []
    solutions = list(Solution.objects.select_related("programme", "provider").order_by("pk"))
    for solution in solutions:
        for deadline in rules.solution_deadlines(programme=solution.programme, solution=solution, now=now):
            result.append((f"{solution.provider.name} — {solution}", deadline))
    seen: set[tuple[int, int]] = set()
    for solution in solutions:
        key = (solution.programme_id, solution.provider_id)
        if key in seen:
            continue
        seen.add(key)
        for deadline in rules.provider_deadlines(
            programme=solution.programme, provider=solution.provider, last_va_at=last_vas.get(key), now=now
        ):
            result.append((solution.provider.name, deadline))
    return result


# The order action that meets each order deadline: a listed deadline is "blocked" when the system would refuse that
# action today (``orders.services.action_violations``). Deadlines with no action of the order (ANS checks, the
# observation window, the 120-day dossier of the provider) are never marked.
DEADLINE_ACTIONS: dict[str, str] = {
    "DATE_4_SIGNATURE": "sign",
    "DATE_4_ADVANCE": "file_advance",
    "DATE_2_NOTICE": "notify_date_2",
    "DATE_5_REALISATION": "record_installation",
    "DATE_5_ATTESTATION": "attest_completion",
    "PILOT_PV_SIGNATURE": "sign_pilot_pv",
    "VA_SIGNATURE": "sign_va",
    "DATE_6_BALANCE": "file_balance",
    "SECONDARY_REQUEST": "file_secondary",
    "TERMINATION_NOTICE": "notify_termination",
    "PORTABILITY": "deliver_portability",
}
# What the person types when acting (a reason, the ASP's message, how the client signed) never blocks a preview,
# as on the order page (``services.available_actions``).
TYPED_FIELDS = {"reason", "asp_message", "signature_method"}


def mark_blocked(items: list[dict[str, Any]], now: datetime) -> None:
    """Set ``item["blocked"]`` to the first reason the system would refuse the deadline's action today ("" if none).

    For the rows shown only: their orders are loaded at once with what the rules read (two queries), whatever the
    number of rows; the role of the reader is not asked (the calendar says what the rules allow, not who may act).
    The invoice, pilot and monitoring checks of later deadlines still read one row per order: their days are rarely
    crowded (Date 4 is).
    """
    wanted = {item["order"].pk for item in items if item.get("order") and item["deadline"].code in DEADLINE_ACTIONS}
    orders = (
        Order.objects.select_related("client", "programme", "solution__provider")
        .prefetch_related("programme__ceilings")  # the signature checks the price tables
        .in_bulk(wanted)
    )
    for item in items:
        item["blocked"] = ""
        action_name = DEADLINE_ACTIONS.get(item["deadline"].code)
        order = orders.get(item["order"].pk) if item.get("order") and action_name else None
        if order is None:
            continue
        action = services.ACTIONS[action_name]
        violations = services.action_violations(order, action, {}, None, now)
        blocking = [violation for violation in violations if violation.field not in TYPED_FIELDS]
        if blocking:
            item["blocked"] = blocking[0].message
