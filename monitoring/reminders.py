"""The deadline engine (SPEC §10): a daily scan that applies the consequences the texts require, then writes every
reminder due today to the outbox — once per (deadline, offset, recipient), whatever happens.

What it reads: the stored deadlines (``orders.deadline_store``, written by ``rules.order_deadlines`` with every change),
first reconciled with the rules (any difference logged and fixed; only the orders whose data or rows changed since
they were written are computed again, ``orders.deadline_fingerprints``), then
only today's candidates (overdue, or within the first reminder offset) as plain values with the few fields of their
order, client and salesperson that a reminder shows — batch by batch (id ranges), so that memory does not grow with
the book. Its rows are written by ``COPY`` on PostgreSQL (``segur_portal.bulk_insert``).

Why it cannot send twice: one scan at a time (a PostgreSQL session lock: a second run waits, then finds the day done
in its ``JobRun`` row). Reminders are recorded in short transactions, one per batch, each holding the day's run row
and checking the keys again before writing; ``ReminderDispatch.key`` is unique as a last guard. A worker that dies
mid-scan leaves what it recorded, once; its retry (or the next run) records the rest. Client e-mails are recorded
with their subject only and rendered by the sender just before they leave (``outbox_render``); each staff digest is
written first as an unsendable e-mail that the batches' reminders point at, built in memory as they are recorded,
then released at the end with its subject and content, which the sender renders (a killed run's digests are rebuilt
from the database and finished by the next run). E-mails leave through the outbox (``outbox_send_due``).

Why one bad order cannot stop it: orders are read by batches under a savepoint (a batch that fails is read again
order by order), each order's writes run under their own transaction, and an order whose data breaks a rule is set
aside — logged, listed in the run's summary and reported to the admins — while the others are processed.
"""

import functools
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, connection, transaction
from django.db.models import F, FilteredRelation, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from monitoring.models import JobRun, OutboxEmail, ReminderDispatch
from monitoring.selectors import provider_deadlines
from orders import deadline_counts, deadline_store, rules, services
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderState, Programme, Solution, StoredDeadline
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from orders.selectors import OrderLine, among_ids, deadline_rows
from portal.access import access_links_batch, access_url
from portal.signing import REMINDER_DOCUMENT, invited_order_kinds, reminders_follow_sending
from segur_portal.bulk_insert import insert_rows, update_rows

logger = logging.getLogger(__name__)

SCAN_JOB = "deadlines_scan"
OVERDUE = "overdue"
GROUP_OF_ROLE = {"sales": SALES_GROUP, "deployment": DEPLOYMENT_GROUP, "finance": FINANCE_GROUP, "admin": ADMIN_GROUP}
MAX_ATTEMPTS = 8
SEND_BUDGET = timedelta(minutes=4)  # one sender run; beat starts one every 5 minutes
# What the client must sign (SPEC §10): the order form before Date 4, the pilot PV and the VA before Date 5.
CLIENT_SUBJECTS = {
    "DATE_4_SIGNATURE": "Votre bon de commande Ségur {number} : à signer avant le {due}",
    "PILOT_PV_SIGNATURE": "Commande Ségur {number} : procès-verbal d'installation pilote à signer",
    "VA_SIGNATURE": "Commande Ségur {number} : vérification d'aptitude à signer",
}
CLIENT_TEMPLATES = {
    "DATE_4_SIGNATURE": "emails/client_reminder",
    "PILOT_PV_SIGNATURE": "emails/client_signature_reminder",
    "VA_SIGNATURE": "emails/client_signature_reminder",
}
BATCH = 2000
CLIENT_REMINDER = "client_reminder"  # recorded by the scan with its subject only; rendered by the sender
KEY_LENGTH = 128  # ``unique_key``: readable start, "#", SHA-256 in hex (64)


def unique_key(full_key: str) -> str:
    """The stored form of a uniqueness key, whatever the data in it (a provider and software name can run to 500
    characters): its readable start, then the SHA-256 of the whole key — at most ``KEY_LENGTH`` characters, the same
    for the same key (idempotence), different for different keys (no truncation that would merge two recipients)."""
    digest = hashlib.sha256(full_key.encode()).hexdigest()
    return f"{full_key[: KEY_LENGTH - len(digest) - 1]}#{digest}"


def reminder_offsets() -> list[int]:
    return sorted(getattr(settings, "SEGUR_REMINDER_OFFSETS_DAYS", [30, 14, 7, 2, 1, 0]), reverse=True)


def reminder_offset(due_day: date, today: date, offsets: Iterable[int]) -> str | None:
    """Which reminder is due today: the nearest offset at or above the days left (so a missed day catches up),
    ``"overdue"`` once the deadline passed, None when it is further than the first offset."""
    return _offset_for((due_day - today).days, tuple(offsets))


@functools.lru_cache(maxsize=4096)
def _offset_for(days_left: int, offsets: tuple[int, ...]) -> str | None:
    """``reminder_offset`` by the days left (the scan asks the same few questions tens of thousands of times)."""
    if days_left < 0:
        return OVERDUE
    reached = [offset for offset in offsets if offset >= days_left]
    return str(min(reached)) if reached else None


@dataclass
class DueReminder:
    order: OrderLine | Order | None
    deadline: rules.Deadline
    offset: str
    subject: str = ""  # what a provider-level deadline concerns (the provider, a solution)

    def full_key(self, recipient: str) -> str:
        """What makes this reminder unique: deadline, order (or what it concerns), due day, offset, recipient."""
        return f"{self._key_start}:{recipient}"

    @functools.cached_property
    def _key_start(self) -> str:
        due = rules.paris_date(self.deadline.due_at).isoformat()
        about = self.order.pk if self.order else self.subject
        return f"{self.deadline.code}:{about}:{due}:{self.offset}"

    def key(self, recipient: str) -> str:
        return unique_key(self.full_key(recipient))

    @property
    def amount_at_stake(self) -> Decimal:
        if self.order is None:
            return Decimal("0")
        return self.order.principal_amount + self.order.secondary_amount


@dataclass
class ScanSummary:
    run_date: str
    skipped: bool = False
    orders: int = 0
    lapsed: int = 0
    date_2_notices: int = 0
    date_5_declared: int = 0
    reminders: int = 0
    emails: int = 0
    refused: list[str] = field(default_factory=list)
    deadlines_fixed: int = 0  # orders whose stored deadlines differed from the rules (reconciled, logged)
    failed_orders: int = 0  # orders set aside: unreadable, or a rule failed on their data
    failures: list[str] = field(default_factory=list)  # why, in French, one line per order (or provider deadlines)
    set_aside: dict[str, tuple[int | None, str, str]] = field(default_factory=dict, repr=False)  # (order, label, line)

    def as_dict(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "set_aside"}

    def set_aside_one(self, about: str, order_pk: int | None, label: str, error: BaseException) -> None:
        """Note what the scan had to leave out (logged, counted, listed; the admins are told): once per scan."""
        if about in self.set_aside:
            return
        line = (
            f"Erreur sur {label} ({type(error).__name__} : {str(error)[:200]}) : le scan a traité tout le reste. "
            "Corrigez les dates en cause (souvent une année mal saisie, hors du calendrier du programme)."
        )
        logger.error("deadlines scan: %s set aside", label, exc_info=error)
        self.set_aside[about] = (order_pk, label, line)
        self.failures.append(line)
        self.failed_orders += int(order_pk is not None)

    def set_aside_order_ids(self) -> set[int]:
        return {order_pk for order_pk, _label, _line in self.set_aside.values() if order_pk is not None}

    def set_aside_order(self, order: Order, error: BaseException) -> None:
        self.set_aside_one(f"order:{order.pk}", order.pk, f"la commande {order.number}", error)


# What a row Python cannot hold raises when read (PostgreSQL stores year 0 and year 10 000, Python does not).
READ_ERRORS = (DatabaseError, OverflowError, ValueError)


def _order_label(order_pk: int) -> str:
    """The order's number for the admins (read alone: it cannot be what makes the row unreadable)."""
    number = Order.objects.filter(pk=order_pk).values_list("number", flat=True).first()
    return f"la commande {number or order_pk}"


def _full_orders(queryset: QuerySet[Order]) -> list[Any]:
    return list(queryset.order_by("pk"))


def orders_isolated(
    queryset: QuerySet[Order], summary: ScanSummary, read: Callable[[QuerySet[Order]], list[Any]] = _full_orders
) -> Iterator[Any]:
    """The orders of ``queryset`` by batches of ``BATCH`` (as ``read`` gives them: model instances by default, or
    light rows), each batch read under a savepoint. A batch that cannot be read is read again one order at a time,
    and the orders that still fail are set aside: one bad row never stops the scan for the others, and reading stays
    a few queries per batch, not per order."""
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        try:
            with transaction.atomic():
                wanted = set(batch)
                orders = [order for order in read(queryset.filter(among_ids("pk", batch))) if order.pk in wanted]
        except READ_ERRORS:
            orders = []
            for order_pk in batch:
                try:
                    with transaction.atomic():
                        orders += read(queryset.filter(pk=order_pk))  # empty if it left the queryset meanwhile
                except READ_ERRORS as error:
                    summary.set_aside_one(f"order:{order_pk}", order_pk, _order_label(order_pk), error)
        yield from orders


@contextmanager
def order_isolated(order: Order, summary: ScanSummary) -> Iterator[None]:
    """One order's consequences under a savepoint: if anything fails, only that order's work is undone and set
    aside (a refusal of the rules, ``BusinessRuleError``, is caught by the caller inside the block)."""
    try:
        with transaction.atomic():
            yield
    except Exception as error:  # whatever its data breaks, the other orders go on
        summary.set_aside_order(order, error)


def staff_by_role() -> dict[str, list[Any]]:
    """Active staff e-mail holders of each role, by id (one query: a person in two roles is one object in both)."""
    role_of = {group: role for role, group in GROUP_OF_ROLE.items()}
    users = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True, groups__name__in=list(role_of))
        .exclude(email="")
        .annotate(role_group=F("groups__name"))
        .order_by("pk")
    )
    staff: dict[str, list[Any]] = {role: [] for role in GROUP_OF_ROLE}
    seen: dict[int, Any] = {}
    for user in users:
        staff[role_of[user.role_group]].append(seen.setdefault(user.pk, user))
    return staff


def staff_recipients(
    order: Order | None, deadline: rules.Deadline, offset: str, staff: dict[str, list[Any]]
) -> set[Any]:
    """Who must act (SPEC §10); the salesperson follows his clients' actions; overdue escalates to finance/admin."""
    recipients: set[Any] = set()
    if deadline.actor in {"client", "sales"} and order and order.salesperson and order.salesperson.email:
        recipients.add(order.salesperson)
    elif deadline.actor in GROUP_OF_ROLE:
        recipients.update(staff[deadline.actor])
    if not recipients and deadline.actor in {"client", "sales"}:
        recipients.update(staff["sales"])
    if offset == OVERDUE:
        recipients.update(staff["finance"], staff["admin"])
    return recipients


# --- Automatic consequences (AF §4.3, §4.4, §VII), logged with actor "system" -------------------------------------


def _client_email(order: Order) -> str:
    return order.client.email


def client_email_context(order: Order, address: str) -> dict[str, Any]:
    """What every e-mail to a client shows: its order and its personal link to the client space."""
    return {
        "order": order,
        "portal_url": access_url(order.client, address, order_number=order.number),
        "portal_link_days": settings.PORTAL_LINK_MAX_AGE_DAYS,
    }


def _queue_client_notice(order: Order, kind: str, subject: str, template: str, context: dict[str, Any]) -> int:
    address = _client_email(order)
    if not address:
        return 0
    _, created = outbox_add(
        key=f"{kind}:{order.pk}",
        kind=kind,
        to=address,
        subject=subject,
        template=template,
        context={**client_email_context(order, address), **context},
    )
    return int(created)


def apply_consequences(now: datetime, summary: ScanSummary, staff: dict[str, list[Any]]) -> None:
    """Lapse pre-orders past their 120 days, inform pre-order clients at Date 2, declare orders unrealised at
    Date 5 (AF §4.3, §4.4): each order on its own, so one that fails is set aside and the others still are."""
    # Read as light rows (what the lapse rule reads), each programme and solution once: a pre-order is loaded in full
    # only by the action it gets.
    programmes, solutions = Programme.objects.in_bulk(), Solution.objects.in_bulk()
    pre_orders = Order.objects.filter(state=OrderState.PRE_ORDER)
    for order in orders_isolated(pre_orders, summary, read=_light_orders):
        order.programme, order.solution = programmes[order.programme_id], solutions[order.solution_id]
        try:  # decided without a query, so a savepoint only where there is something to write
            reason = rules.lapse_reason(order=order, programme=order.programme, solution=order.solution, now=now)
            dossier_at = order.solution.complete_dossier_submitted_at
            notify_date_2 = (
                now > order.programme.date_2
                and order.date_2_notice_sent_at is None
                and (dossier_at is None or dossier_at > order.programme.date_2)
            )
        except Exception as error:  # pure computation on this order's data: nothing to roll back
            summary.set_aside_order(order, error)
            continue
        if reason or notify_date_2:
            with order_isolated(order, summary):
                _pre_order_consequences(order, reason, now, summary)
    late = Order.objects.filter(
        state__in=[OrderState.ADVANCE_REQUESTED, OrderState.ADVANCE_PAID], programme__date_5__lt=now
    ).select_related("programme", "client")
    for order in orders_isolated(late, summary):
        with order_isolated(order, summary):
            _date_5_consequences(order, now, summary, staff)


def _light_orders(queryset: QuerySet[Order]) -> list[Any]:
    return list(deadline_rows(queryset.order_by("pk"), "number", stream=False))


def _pre_order_consequences(order: Order, reason: str | None, now: datetime, summary: ScanSummary) -> None:
    """Lapse the pre-order (``reason``), else inform its client that no complete dossier came by Date 2."""
    try:
        if reason:
            order = services.perform(
                "lapse", order_id=order.pk, acting_user=None, params={"client_informed": True}, now=now
            )
            _queue_client_notice(
                order,
                "lapse_notice",
                f"Votre commande {order.number} est caduque",
                "emails/lapse_notice",
                {"reason": reason},
            )
            summary.lapsed += 1
        else:
            services.perform("notify_date_2", order_id=order.pk, acting_user=None, params={"at": now}, now=now)
            _queue_client_notice(
                order,
                "date_2_notice",
                f"Votre commande {order.number} : dossier de référencement",
                "emails/date_2_notice",
                {},
            )
            summary.date_2_notices += 1
    except BusinessRuleError as error:  # kept in the log with its refused event, as any refusal
        summary.refused.append(f"{order.number}: {error.message}")


def _date_5_consequences(order: Order, now: datetime, summary: ScanSummary, staff: dict[str, list[Any]]) -> None:
    try:
        order = services.perform(
            "declare_not_completed",
            order_id=order.pk,
            acting_user=None,
            params={
                "notified_at": now,
                "reason": "Date 5 dépassée sans réalisation de la Prestation principale (AF §4.4).",
            },
            now=now,
        )
    except BusinessRuleError as error:
        summary.refused.append(f"{order.number}: {error.message}")
        return
    _queue_client_notice(
        order,
        "date_5_notice",
        f"Votre commande {order.number} : prestation non réalisée",
        "emails/date_5_notice",
        {},
    )
    for user in staff["finance"]:
        outbox_add(
            key=f"asp_notice_draft:{order.pk}:{user.pk}",
            kind="asp_notice_draft",
            to=user.email,
            subject=f"À transmettre à l'ASP : non-réalisation de la commande {order.number}",
            template="emails/asp_notice_draft",
            context={"order": order},
        )
    summary.date_5_declared += 1


# --- Reminders ----------------------------------------------------------------------------------------------------

DIGEST_ORDERS_PER_GROUP = 200  # orders listed under one deadline in a staff digest; the others are counted
UNSENDABLE = datetime(2999, 1, 1, tzinfo=UTC)  # a staff digest being written: the sender leaves it alone until then


def _candidates_before(today: date, offsets: list[int]) -> datetime:
    """A deadline due before this moment may have a reminder today: overdue, or within the first offset."""
    return datetime.combine(today + timedelta(days=max(offsets, default=0) + 1), dt_time(0), tzinfo=rules.PARIS)


CANDIDATE_FIELDS = (
    "order_id",
    "code",
    "due_at",
    "actor",
    "action",
    "reference",
    "candidate__number",
    "candidate__client__name",
    "candidate__client__email",
    "candidate__salesperson_id",
    "candidate__principal_amount",
    "candidate__secondary_amount",
)


def _candidate_rows(candidates: QuerySet[StoredDeadline], ids: list[int], summary: ScanSummary) -> list[tuple]:
    """Today's stored deadlines of the orders ``ids`` with what their reminders show of the order, client and
    salesperson, in one query under a savepoint; if the batch cannot be read, order by order (an order that still
    fails is set aside)."""
    first, last = ids[0], ids[-1]  # every candidate order between the two is in ``ids`` (a keyset page)
    try:
        with transaction.atomic():
            # The range is also put on the orders' side of the join, so that PostgreSQL reads the batch's orders
            # through their primary key instead of hashing every order of the book for each batch.
            in_batch = Q(order__pk__gte=first, order__pk__lte=last)
            batch = (
                candidates.annotate(candidate=FilteredRelation("order", condition=in_batch))
                .filter(order_id__gte=first, order_id__lte=last)
                .order_by("order_id", "due_at", "pk")
            )
            return list(batch.values_list(*CANDIDATE_FIELDS))
    except READ_ERRORS:
        rows: list[tuple] = []
        for order_pk in ids:
            try:
                with transaction.atomic():
                    one = (
                        candidates.annotate(candidate=FilteredRelation("order"))
                        .filter(order_id=order_pk)
                        .order_by("due_at", "pk")
                    )
                    rows += one.values_list(*CANDIDATE_FIELDS)
            except READ_ERRORS as error:
                summary.set_aside_one(f"order:{order_pk}", order_pk, _order_label(order_pk), error)
        return rows


def due_reminder_batches(now: datetime, summary: ScanSummary) -> Iterator[list[DueReminder]]:
    """Today's reminders, by batches of at most ``BATCH`` orders: only today's candidates are read, from the stored
    deadlines (``orders.deadline_store``, the index on their due date), as plain values with the few fields of their
    order, client and salesperson that a reminder shows (one query per batch; a batch that cannot be read is read
    order by order, and an order that still fails is set aside). Orders set aside earlier in the scan (their
    deadlines could not be computed) are skipped. The provider's and solutions' deadlines come last, computed (a few
    queries)."""
    today, offsets = rules.paris_date(now), tuple(reminder_offsets())
    candidates = StoredDeadline.objects.filter(due_at__lt=_candidates_before(today, list(offsets)))
    users: dict[int, Any] = {}  # salespeople, read once for the whole scan
    last = 0
    while True:
        ids = list(
            candidates.filter(order_id__gt=last)
            .order_by("order_id")
            .values_list("order_id", flat=True)
            .distinct()[:BATCH]
        )
        if not ids:
            break
        last = ids[-1]
        set_aside, wanted = summary.set_aside_order_ids(), set(ids)
        rows = [row for row in _candidate_rows(candidates, ids, summary) if row[0] in wanted]
        missing = {row[9] for row in rows if row[9] is not None} - users.keys()
        users.update(get_user_model().objects.in_bulk(missing) if missing else {})
        orders: dict[int, OrderLine] = {}
        due = []
        for order_id, code, due_at, actor, action, reference, number, name, email, seller, principal, secondary in rows:
            if order_id in set_aside:
                continue
            if order_id not in orders:
                client = SimpleNamespace(name=name, email=email)
                orders[order_id] = OrderLine(order_id, number, client, principal, secondary, users.get(seller))
            status = rules.OVERDUE if now > due_at else rules.UPCOMING  # open: overdue once its due time passed
            deadline = rules.Deadline(code, due_at, actor, action, reference, status)
            if (offset := _offset_due(deadline, today, offsets)) is not None:
                due.append(DueReminder(orders[order_id], deadline, offset))
        summary.orders += len(orders)
        yield due
        if len(ids) < BATCH:  # a short page is the last one
            break
    try:
        with transaction.atomic():
            provider_items = provider_deadlines(now)
        yield [
            DueReminder(None, deadline, offset, subject=subject)
            for subject, deadline in provider_items
            if (offset := _offset_due(deadline, today, offsets)) is not None
        ]
    except Exception as error:  # a solution or provider row with unreadable dates
        summary.set_aside_one("provider", None, "les échéances du fournisseur et des solutions", error)


def due_reminders(now: datetime, summary: ScanSummary) -> list[DueReminder]:
    """Every reminder due today, at once (the scan itself takes them batch by batch)."""
    return [reminder for batch in due_reminder_batches(now, summary) for reminder in batch]


def _offset_due(deadline: rules.Deadline, today: date, offsets: tuple[int, ...]) -> str | None:
    if deadline.status == rules.MET:
        return None
    if deadline.status == rules.OVERDUE:
        return OVERDUE
    return _offset_for((rules.paris_date(deadline.due_at) - today).days, offsets)


KEY_SEPARATOR = chr(31)  # the ASCII unit separator: in no e-mail address, code or date


def existing_keys(keys: list[str]) -> set[str]:
    """Keys already dispatched: one query (PostgreSQL: the keys as one array parameter, not one per key), else one
    per batch of keys (bounded, not per order)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(ReminderDispatch._meta.db_table)
        if any(KEY_SEPARATOR in key for key in keys):  # never in practice: a name holding the separator
            where, params = "key = ANY(%s)", [keys]
        else:  # one text joined by a separator: a third of the cost of sending a list as an array
            where, params = "key = ANY(string_to_array(%s, chr(31)))", [KEY_SEPARATOR.join(keys)]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT key FROM {table} WHERE {where}", params)  # noqa: S608 (name from the model)
            return {row[0] for row in cursor.fetchall()}
    found: set[str] = set()
    for start in range(0, len(keys), BATCH):
        found.update(ReminderDispatch.objects.filter(key__in=keys[start : start + BATCH]).values_list("key", flat=True))
    return found


def _lock_run(today: date) -> None:
    """Inside a transaction: the day's run row locked, so that two scans never record the same batch together."""
    list(JobRun.objects.select_for_update().filter(job=SCAN_JOB, run_date=today).values_list("pk", flat=True))


def queue_reminders(
    due: list[DueReminder], now: datetime, summary: ScanSummary, staff: dict[str, list[Any]], digests: "DigestBook"
) -> None:
    """Record one batch of reminders (the client e-mails unrendered: the sender renders them); in one short
    transaction holding the day's run row, the keys are checked again and what is still new is written (client
    e-mails and their dispatch rows, staff dispatch rows attached to each person's digest of the day)."""
    per_staff: dict[Any, list[DueReminder]] = defaultdict(list)
    per_client: list[tuple[str, DueReminder]] = []
    # A client is reminded to sign only a document staff sent it for signature (issue #12).
    gated = reminders_follow_sending()
    asked = [r.order.pk for r in due if r.order is not None and r.deadline.code in CLIENT_TEMPLATES]
    invited = invited_order_kinds(asked) if gated else set()
    for reminder in due:
        for user in staff_recipients(reminder.order, reminder.deadline, reminder.offset, staff):
            per_staff[user].append(reminder)
        client_action = (
            reminder.order is not None
            and reminder.deadline.code in CLIENT_TEMPLATES
            and (not gated or (reminder.order.pk, REMINDER_DOCUMENT[reminder.deadline.code]) in invited)
        )
        if client_action and reminder.offset != OVERDUE and _client_email(reminder.order):
            per_client.append((_client_email(reminder.order), reminder))
    staff_items = [
        (f"user:{user.pk}", reminder, user)
        for user, items in sorted(per_staff.items(), key=lambda pair: pair[0].pk)
        for reminder in items
    ]
    keyed_staff = [(recipient, reminder, user, reminder.key(recipient)) for recipient, reminder, user in staff_items]
    keyed_clients = [(address, reminder, reminder.key(address)) for address, reminder in per_client]
    for reminder in due:
        digests.texts.setdefault(reminder.deadline.code, (reminder.deadline.action, reminder.deadline.reference))
    created_at = timezone.now()
    with transaction.atomic():
        _lock_run(rules.paris_date(now))
        # Under the lock, once: another scan may have recorded some of them.
        already = existing_keys([key for *_, key in keyed_staff] + [key for *_, key in keyed_clients])
        new_clients = [item for item in keyed_clients if item[2] not in already]
        # Client reminders are recorded unrendered (subject only): the sender renders the body and issues the
        # personal link just before sending (``outbox_render``), so the scan's cost is its rows, not its templates.
        email_ids = insert_rows(
            OutboxEmail,
            EMAIL_COLUMNS,
            (client_reminder_row(address, reminder, created_at) for address, reminder, _key in new_clients),
            with_ids=True,
        )
        rows = [
            dispatch_values(reminder, address, key, email_id, created_at)
            for (address, reminder, key), email_id in zip(new_clients, email_ids, strict=True)
        ]
        fresh_staff = [
            (recipient, reminder, user, key) for recipient, reminder, user, key in keyed_staff if key not in already
        ]
        digest_of = digests.open(user for _recipient, _reminder, user, _key in fresh_staff)
        rows += [
            dispatch_values(reminder, recipient, key, digest_of[user.pk], created_at)
            for recipient, reminder, user, key in fresh_staff
        ]
        insert_rows(ReminderDispatch, DISPATCH_COLUMNS, rows)
        summary.emails += len(email_ids)
        summary.reminders += len(rows)
    for _recipient, reminder, user, _key in fresh_staff:
        digests.record(user, reminder)


EMAIL_COLUMNS = (
    "key",
    "kind",
    "to",
    "subject",
    "body_text",
    "body_html",
    "status",
    "attempts",
    "last_error",
    "created_at",
)
DISPATCH_COLUMNS = ("key", "order_id", "deadline_code", "due_at", "offset", "recipient", "email_id", "created_at")


def client_reminder_row(address: str, reminder: DueReminder, created_at: datetime) -> tuple[Any, ...]:
    """The outbox row of a client reminder, recorded with its subject only (``EMAIL_COLUMNS``)."""
    subject = CLIENT_SUBJECTS[reminder.deadline.code].format(
        number=reminder.order.number, due=rules.format_deadline(reminder.deadline.due_at)[:10]
    )
    key = unique_key(f"client:{reminder.full_key(address)}")
    return (key, CLIENT_REMINDER, address, subject[:255], "", "", OutboxEmail.PENDING, 0, "", created_at)


def dispatch_values(
    item: DueReminder, recipient: str, key: str, email_id: int, created_at: datetime
) -> tuple[Any, ...]:
    """The dispatch row of one reminder to one recipient (``DISPATCH_COLUMNS``)."""
    order_id = item.order.pk if item.order is not None else None
    return (key, order_id, item.deadline.code, item.deadline.due_at, item.offset, recipient, email_id, created_at)


STAFF_DIGEST = "staff_digest"  # recorded by the scan with its subject and content (JSON); rendered by the sender
UNRENDERED_KINDS = (CLIENT_REMINDER, STAFF_DIGEST)


class DigestGroups:
    """The groups of a staff digest, built one reminder at a time: every reminder counted in its group's amount,
    at most ``DIGEST_ORDERS_PER_GROUP`` orders listed (the rest counted), so its size does not grow with the book.
    ``content`` gives them as plain JSON values, which the sender renders (``staff_digest_context``)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, datetime], dict[str, Any]] = {}
        self.count = 0

    def add(self, item: DueReminder) -> None:
        self.count += 1
        group = self._groups.get((item.deadline.code, item.deadline.due_at))
        if group is None:
            group = self._groups[(item.deadline.code, item.deadline.due_at)] = {
                "code": item.deadline.code,
                "due_at": item.deadline.due_at,
                "action": item.deadline.action,
                "reference": item.deadline.reference,
                "overdue": item.offset == OVERDUE,
                "amount": Decimal("0"),
                "orders": [],
                "more": 0,
            }
        amount = item.amount_at_stake
        group["amount"] += amount
        if len(group["orders"]) >= DIGEST_ORDERS_PER_GROUP:
            group["more"] += 1
        elif item.order is not None:  # number, client, amount at stake, order id (its admin page)
            group["orders"].append([item.order.number, item.order.client.name, str(amount), item.order.pk])
        else:  # a provider or solution deadline: what it concerns, on the calendar
            group["orders"].append(["Fournisseur", item.subject, "0", None])

    def content(self) -> list[dict[str, Any]]:
        """The groups, overdue first then by due date, as JSON values (ISO due times, amounts as text)."""
        ordered = sorted(self._groups.values(), key=lambda group: (not group["overdue"], group["due_at"]))
        return [{**group, "due_at": group["due_at"].isoformat(), "amount": str(group["amount"])} for group in ordered]


ORDER_PK_PLACEHOLDER = "987654321987"  # reversed once per digest, then replaced by each order's id


def staff_digest_context(content: dict[str, Any]) -> dict[str, Any]:
    """The template context of a staff digest from the content the scan recorded (``DigestBook.finish``): due
    times and amounts read back, each order with the link to its admin page."""
    # An order's admin page: ``reverse`` once, not once per order listed (it costs about 1 ms a call).
    order_url = settings.SITE_URL + reverse("admin:orders_order_change", args=[int(ORDER_PK_PLACEHOLDER)])
    calendar_url = settings.SITE_URL + reverse("deadline_calendar")
    groups = [
        {
            **group,
            "due_at": datetime.fromisoformat(group["due_at"]),
            "amount": Decimal(group["amount"]),
            "orders": [
                {
                    "number": number,
                    "client": client,
                    "amount": Decimal(amount),
                    "url": order_url.replace(ORDER_PK_PLACEHOLDER, str(order_pk), 1) if order_pk else calendar_url,
                }
                for number, client, amount, order_pk in group["orders"]
            ],
        }
        for group in content["groups"]
    ]
    return {"user": SimpleNamespace(**content["user"]), "today": date.fromisoformat(content["today"]), "groups": groups}


def staff_digest_bodies(email: OutboxEmail) -> tuple[str, str]:
    """The text and HTML of a staff digest recorded unrendered, from its recorded content."""
    if not email.render_context:
        raise ValueError(f"staff digest {email.pk} without its content")
    return email_bodies("emails/staff_digest", staff_digest_context(email.render_context))


DIGEST_ROW_FIELDS = (
    "key",
    "deadline_code",
    "due_at",
    "offset",
    "recipient",
    "order_id",
    "order__number",
    "order__client__name",
    "order__principal_amount",
    "order__secondary_amount",
)


class DigestBook:
    """The staff digests of a day: one e-mail per person, first written unsendable (``UNSENDABLE``) so that the
    reminders recorded batch by batch point at it, then released with its subject and content (``finish``); the
    sender renders it. A digest this run opened is built in memory as its reminders are recorded (bounded:
    ``DigestGroups``); one that a scan killed on the way left unsendable is picked up by the next run and rebuilt
    from the reminders recorded for it."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.emails: dict[int, OutboxEmail] = {}  # user -> the digest this run writes to
        self.built: dict[int, tuple[Any, DigestGroups]] = {}  # digest opened by this run -> (user, its groups)
        self.texts: dict[str, tuple[str, str]] = {}  # deadline code -> (action, reference)
        self.providers: dict[str, DueReminder] = {}  # dispatch key -> the provider reminder it records

    def _key(self, user_pk: int, attempt: int) -> str:
        """The digest's key before ``unique_key`` (short: stored whole before its ``#``)."""
        return f"digest:{user_pk}:{self.today.isoformat()}" + (f":{attempt}" if attempt > 1 else "")

    def open(self, users: Iterable[Any]) -> dict[int, int]:
        """Each user's digest of the day (user id -> e-mail id), opened for those who have none yet in this run, in
        two queries whatever their number (three when a run is resumed): a digest of theirs still unsendable (left by
        a killed run) is taken up; else a new one is written, after any already released today (key ``…:2``, and so
        on)."""
        users = list(users)
        wanted = {user.pk: user for user in users if user.pk not in self.emails}
        if wanted:
            taken: dict[int, int] = {}  # user -> the last attempt used today
            first_keys = [unique_key(self._key(pk, 1)) for pk in wanted]
            later = Q()  # the next digests of those whose first one of the day was released (a resumed run: rare)
            for email in OutboxEmail.objects.filter(key__in=first_keys).only("pk", "key", "next_attempt_at"):
                pk = int(email.key.split(":", 2)[1])
                taken[pk] = 1
                if email.next_attempt_at == UNSENDABLE:  # rebuilt from the database by ``finish``
                    self.emails[pk] = email
                else:  # ``unique_key`` keeps these short keys whole before its "#"
                    later |= Q(key__startswith=f"{self._key(pk, 1)}:")
            for email in OutboxEmail.objects.filter(later).only("pk", "key", "next_attempt_at") if later else []:
                pk, attempt = (int(part) for part in email.key.split("#", 1)[0].split(":")[1::2])
                taken[pk] = max(taken[pk], attempt)
                if email.next_attempt_at == UNSENDABLE:
                    self.emails[pk] = email
            opening = [pk for pk in wanted if pk not in self.emails]
            new = [
                OutboxEmail(
                    key=unique_key(self._key(pk, taken.get(pk, 0) + 1)),
                    kind=STAFF_DIGEST,
                    to=wanted[pk].email,
                    next_attempt_at=UNSENDABLE,
                )
                for pk in opening
            ]
            for pk, email in zip(opening, OutboxEmail.objects.bulk_create(new), strict=True):
                self.emails[pk] = email
                self.built[email.pk] = (wanted[pk], DigestGroups())
        return {user.pk: self.emails[user.pk].pk for user in users}

    def record(self, user: Any, reminder: DueReminder) -> None:
        """A reminder just recorded for ``user`` (after its transaction wrote it)."""
        if (built := self.built.get(self.emails[user.pk].pk)) is not None:
            built[1].add(reminder)

    def _rebuilt(self, email_id: int, users: dict[int, Any]) -> tuple[Any, DigestGroups]:
        """A digest's user and groups from the reminders recorded for it (plain rows, streamed)."""
        builder, user = DigestGroups(), None
        rows = (
            ReminderDispatch.objects.filter(email_id=email_id)
            .order_by("due_at", "deadline_code", "order_id", "pk")
            .values_list(*DIGEST_ROW_FIELDS)
        )
        for values in rows.iterator(chunk_size=BATCH):
            row = dict(zip(DIGEST_ROW_FIELDS, values, strict=True))
            user = user or users.get(int(row["recipient"].split(":", 1)[1]))
            builder.add(self._reminder(row))
        return user, builder

    def finish(self, summary: ScanSummary) -> None:
        """Release every unsendable digest with its subject and content, in one statement (the sender renders its
        text and HTML); a digest with no reminder (its batch rolled back) is removed."""
        pending = OutboxEmail.objects.filter(kind=STAFF_DIGEST, next_attempt_at=UNSENDABLE).order_by("pk")
        users: dict[int, Any] | None = None
        released = []
        for email_id in pending.values_list("pk", flat=True):
            built = self.built.get(email_id)
            if built is None:  # left by a killed run
                users = users or {user.pk: user for user in get_user_model().objects.filter(is_staff=True)}
                built = self._rebuilt(email_id, users)
            user, builder = built
            if user is None or builder.count == 0:
                OutboxEmail.objects.filter(pk=email_id, reminders__isnull=True).delete()
                continue
            subject = f"Échéances Ségur du {self.today:%d/%m/%Y} : " + ngettext(
                "%(count)s action", "%(count)s actions", builder.count
            ) % {"count": builder.count}
            content = {
                "user": {"first_name": user.first_name, "username": user.get_username()},
                "today": self.today.isoformat(),
                "groups": builder.content(),
            }
            released.append((email_id, subject, content, "", "", None))
        summary.emails += update_rows(
            OutboxEmail, ("subject", "render_context", "body_text", "body_html", "next_attempt_at"), released
        )

    def _reminder(self, row: dict[str, Any]) -> DueReminder:
        """The reminder a dispatch row records, with the texts of its deadline and its order as a light row."""
        if row["order_id"] is None:
            known = self.providers.get(row["key"])
            if known is not None:
                return known
        code = row["deadline_code"]
        action, reference = self.texts.get(code) or self._texts(code)
        deadline = rules.Deadline(code, row["due_at"], "admin", action, reference, rules.UPCOMING)
        order = OrderLine.from_values(row) if row["order_id"] is not None else None
        return DueReminder(order, deadline, row["offset"], subject="Fournisseur")

    def _texts(self, code: str) -> tuple[str, str]:
        """A deadline's texts when this run did not see it (a digest left by a killed run)."""
        found = StoredDeadline.objects.filter(code=code).values_list("action", "reference").first()
        self.texts[code] = found or (code, "")
        return self.texts[code]


# --- The daily job ------------------------------------------------------------------------------------------------


@contextmanager
def scan_lock() -> Iterator[None]:
    """One scan at a time (PostgreSQL session lock, released when the run ends or its connection dies): a second run
    waits, then finds the day done. Its batches also lock the day's run row, and ``ReminderDispatch.key`` is unique."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [SCAN_JOB])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [SCAN_JOB])
        except DatabaseError:  # the session is unusable: closing it releases the lock
            if not connection.in_atomic_block:
                connection.close()


def deadlines_scan(*, now: datetime | None = None) -> ScanSummary:
    """Run the day's scan once: the stored deadlines reconciled with the rules, the consequences, then the reminders
    batch by batch, the staff digests last. A second call the same day does nothing; a run killed on the way is
    resumed by the next one (what it recorded stays recorded, once)."""
    now = now or timezone.now()
    today = rules.paris_date(now)
    summary = ScanSummary(run_date=today.isoformat())
    with scan_lock():
        with transaction.atomic():  # the day's run row, written once (unique per job and day), then locked
            JobRun.objects.bulk_create([JobRun(job=SCAN_JOB, run_date=today)], ignore_conflicts=True)
            run = JobRun.objects.select_for_update().only("pk", "status").get(job=SCAN_JOB, run_date=today)
            if run.status == JobRun.DONE:
                summary.skipped = True
                return summary
        staff = staff_by_role()
        store = deadline_store.reconcile(
            on_error=lambda order_pk, error: summary.set_aside_one(
                f"order:{order_pk}", order_pk, _order_label(order_pk), error
            )
        )
        summary.deadlines_fixed = len(store.fixed)
        apply_consequences(now, summary, staff)
        digests = DigestBook(today)
        for due in due_reminder_batches(now, summary):
            for reminder in due:
                if reminder.order is None:
                    digests.providers.update(
                        {
                            reminder.key(f"user:{user.pk}"): reminder
                            for user in staff_recipients(None, reminder.deadline, reminder.offset, staff)
                        }
                    )
            queue_reminders(due, now, summary, staff, digests)
        digests.finish(summary)
        deadline_counts.compact()  # the day's changes to the calendar's counts folded, one row per day and code
        with transaction.atomic():
            notify_set_aside(summary, today, staff)
            JobRun.objects.filter(pk=run.pk).update(
                status=JobRun.DONE, finished_at=timezone.now(), summary=summary.as_dict()
            )
            transaction.on_commit(outbox_send_soon)
    logger.info("deadlines scan %s: %s", today, summary.as_dict())
    return summary


def notify_set_aside(summary: ScanSummary, today: date, staff: dict[str, list[Any]]) -> None:
    """Tell each admin what the scan left out: one e-mail per day and per order (or for the provider deadlines)."""
    for about, (order_pk, label, line) in summary.set_aside.items():
        url = reverse("admin:orders_order_change", args=[order_pk]) if order_pk else reverse("deadline_calendar")
        for user in staff["admin"]:
            _email, created = outbox_add(
                key=f"scan_set_aside:{today.isoformat()}:{about}:{user.pk}",
                kind="scan_set_aside",
                to=user.email,
                subject=f"Scan des échéances du {today:%d/%m/%Y} : erreur sur {label}",
                template="emails/scan_set_aside",
                context={"line": line, "today": today, "url": settings.SITE_URL + url},
            )
            summary.emails += int(created)


def outbox_send_soon() -> None:
    """Ask a worker to send the outbox now (the periodic sender catches up if the broker is down)."""
    from monitoring.tasks import send_outbox

    try:
        send_outbox.delay()
    except Exception:  # the broker is down: the periodic sender will pick the outbox up later
        logger.warning("outbox: could not queue the sender; the periodic run will send", exc_info=True)


# --- Outbox -------------------------------------------------------------------------------------------------------


def outbox_add(
    *, key: str, kind: str, to: str, subject: str, template: str, context: dict[str, Any]
) -> tuple[OutboxEmail, bool]:
    """Write an e-mail to the outbox once per key (French text and HTML from ``templates/<template>.{txt,html}``)."""
    email = outbox_email(key=key, kind=kind, to=to, subject=subject, template=template, context=context)
    return OutboxEmail.objects.get_or_create(
        key=email.key,
        defaults={field: getattr(email, field) for field in ("kind", "to", "subject", "body_text", "body_html")},
    )


def email_bodies(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """The French text and HTML of an e-mail from ``templates/<template>.{txt,html}``."""
    context = {**context, "site_url": settings.SITE_URL}
    with translation.override("fr"):  # French whatever the language of the staff page that caused it
        return render_to_string(f"{template}.txt", context), render_to_string(f"{template}.html", context)


def outbox_email(*, key: str, kind: str, to: str, subject: str, template: str, context: dict[str, Any]) -> OutboxEmail:
    """An unsaved outbox e-mail rendered from ``templates/<template>.{txt,html}``; ``key`` is stored as
    ``unique_key(key)``."""
    body_text, body_html = email_bodies(template, context)
    return OutboxEmail(
        key=unique_key(key), kind=kind, to=to, subject=subject[:255], body_text=body_text, body_html=body_html
    )


def outbox_unrendered(email: OutboxEmail) -> bool:
    """An e-mail the scan recorded without its body (a client reminder, a released staff digest): the sender renders
    it (``outbox_bodies``)."""
    return email.kind in UNRENDERED_KINDS and not email.body_text and email.next_attempt_at != UNSENDABLE


def outbox_bodies(email: OutboxEmail, *, preview: bool = False) -> tuple[str, str]:
    """The text and HTML of an e-mail recorded unrendered (``preview``: see ``client_reminder_bodies``)."""
    if email.kind == STAFF_DIGEST:
        return staff_digest_bodies(email)
    return client_reminder_bodies(email, preview=preview)


def client_reminder_bodies(email: OutboxEmail, *, preview: bool = False) -> tuple[str, str]:
    """The text and HTML of a client reminder recorded unrendered (SPEC §10), from its dispatch row: its order as it
    is now, its deadline (due day of the reminder, texts of ``rules.order_deadlines``) and a new personal link to the
    client space — or, with ``preview`` (the outbox page), a placeholder instead of the link (none is issued)."""
    row = (
        ReminderDispatch.objects.filter(email_id=email.pk, order__isnull=False)
        .select_related("order__client", "order__salesperson", "order__programme", "order__solution")
        .order_by("pk")
        .first()
    )
    if row is None or row.order is None:
        raise ValueError(f"client reminder {email.pk} without its dispatch row")
    order = row.order
    deadlines = {deadline.code: deadline for deadline in rules.order_deadlines(order, timezone.now())}
    known = deadlines.get(row.deadline_code)
    action, reference = (known.action, known.reference) if known else (row.deadline_code, "")
    deadline = rules.Deadline(row.deadline_code, row.due_at, "client", action, reference, rules.UPCOMING)
    if preview:
        portal_url = settings.SITE_URL + reverse("portal:access", args=["apercu"])  # masked on the outbox page
        context = {"order": order, "portal_url": portal_url, "portal_link_days": settings.PORTAL_LINK_MAX_AGE_DAYS}
    else:
        context = client_email_context(order, email.to)
    return email_bodies(CLIENT_TEMPLATES[row.deadline_code], {**context, "deadline": deadline})


def outbox_render(email: OutboxEmail) -> None:
    """Render (and store) the body of an e-mail the scan recorded unrendered; the others are left as they are."""
    if not outbox_unrendered(email):
        return
    email.body_text, email.body_html = outbox_bodies(email)
    OutboxEmail.objects.filter(pk=email.pk, body_text="").update(body_text=email.body_text, body_html=email.body_html)


def outbox_render_pending(*, batch: int = 500) -> int:
    """Render every unsent e-mail still unrendered (client reminders, staff digests: the sender does it one by one
    before sending; the bodies can also be prepared ahead, by batches, outside the scan's transactions). Returns how
    many."""
    done = 0
    while True:
        emails = list(
            OutboxEmail.objects.filter(kind__in=UNRENDERED_KINDS, body_text="")
            .exclude(status=OutboxEmail.SENT)
            .exclude(next_attempt_at=UNSENDABLE)
            .order_by("pk")[:batch]
        )
        if not emails:
            return done
        with access_links_batch():  # the personal links of the batch are written together
            for email in emails:
                outbox_render(email)
        done += len(emails)


def claim_timeout() -> timedelta:
    """How old a claim must be to be taken over: longer than the sender task may live (Celery kills it at its hard
    time limit), so a claim that old belongs to a dead worker and never to one still talking to the server."""
    return timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + timedelta(minutes=1)


def outbox_send_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send pending e-mails and retry failed ones with exponential backoff, at most once each.

    Each e-mail is claimed in a short transaction (row lock, ``skip_locked``: two senders share the work), then sent
    with no transaction open and no lock held — the SMTP connection times out after ``EMAIL_TIMEOUT`` — and its
    outcome recorded only if the claim is still ours. A run stops claiming after ``SEND_BUDGET`` (the periodic
    sender goes on), so a mail server that never answers cannot hold a worker.
    """
    now = now or timezone.now()
    counts = {"sent": 0, "failed": 0}
    budget_ends = time.monotonic() + SEND_BUDGET.total_seconds()
    for _ in range(limit):
        if time.monotonic() > budget_ends:
            break
        email = outbox_claim(now)
        if email is None:
            break
        error = outbox_prepare(email) or outbox_deliver(email)
        outbox_record(email, error, now)
        counts["failed" if error else "sent"] += 1
    return counts


def outbox_claim(now: datetime) -> OutboxEmail | None:
    """Take the next e-mail due (or one whose claim went stale): mark it ``SENDING`` and commit."""
    due = Q(status__in=[OutboxEmail.PENDING, OutboxEmail.FAILED]) & ~Q(next_attempt_at__gt=now)
    stale = Q(status=OutboxEmail.SENDING, claimed_at__lt=now - claim_timeout())
    with transaction.atomic():
        email = (
            OutboxEmail.objects.select_for_update(skip_locked=True)
            .filter(due | stale, attempts__lt=MAX_ATTEMPTS)
            .order_by("created_at", "pk")
            .first()
        )
        if email is None:
            return None
        email.status, email.claimed_at, email.attempts = OutboxEmail.SENDING, now, email.attempts + 1
        email.save(update_fields=["status", "claimed_at", "attempts"])
    return email


def outbox_prepare(email: OutboxEmail) -> str:
    """Render a client reminder recorded unrendered, just before it leaves; the error as text (retried later)."""
    try:
        outbox_render(email)
    except Exception as exc:  # its order is unreadable now: retried with backoff, visible in the outbox
        logger.warning("outbox: could not render e-mail %s", email.pk, exc_info=True)
        return f"{type(exc).__name__}: {exc}"[:2000] or type(exc).__name__
    return ""


def outbox_deliver(email: OutboxEmail) -> str:
    """Hand the e-mail to the mail server; the error as text, empty when it was accepted."""
    message = EmailMultiAlternatives(email.subject, email.body_text, settings.DEFAULT_FROM_EMAIL, [email.to])
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:  # SMTP, DNS, timeouts: all mean "retry later"
        return f"{type(exc).__name__}: {exc}"[:2000] or type(exc).__name__
    return ""


def outbox_record(email: OutboxEmail, error: str, now: datetime) -> None:
    """Record the outcome of our claim (if another sender took a stale claim over meanwhile, its outcome stands)."""
    if error:
        outcome = {
            "status": OutboxEmail.FAILED,
            "last_error": error,
            "next_attempt_at": now + timedelta(minutes=2**email.attempts),
        }
    else:
        outcome = {"status": OutboxEmail.SENT, "sent_at": timezone.now(), "last_error": ""}
    recorded = OutboxEmail.objects.filter(pk=email.pk, status=OutboxEmail.SENDING, claimed_at=email.claimed_at).update(
        claimed_at=None, **outcome
    )
    if not recorded:
        logger.warning("outbox: e-mail %s was taken over by another sender while this one sent it", email.pk)
