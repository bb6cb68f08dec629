"""The deadline engine (SPEC §10): a daily scan that applies the consequences the texts require, then writes every
reminder due today to the outbox — once per (deadline, offset, recipient), whatever happens.

Why it cannot send twice: the whole scan of a day is one transaction holding that day's ``JobRun`` row lock. A second
run (beat firing twice, a manual run, a retry) waits for the first and then finds the day done; a worker that dies
mid-scan rolls everything back, so its retry starts clean. ``ReminderDispatch.key`` is unique as a last guard.
E-mails leave through the outbox (``outbox_send_due``) only after that transaction commits.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from monitoring.models import JobRun, OutboxEmail, ReminderDispatch
from monitoring.selectors import provider_deadlines
from orders import rules, services
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderState
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from orders.selectors import with_open_deadlines
from portal.access import access_links_batch, access_url

logger = logging.getLogger(__name__)

SCAN_JOB = "deadlines_scan"
OVERDUE = "overdue"
GROUP_OF_ROLE = {"sales": SALES_GROUP, "deployment": DEPLOYMENT_GROUP, "finance": FINANCE_GROUP, "admin": ADMIN_GROUP}
MAX_ATTEMPTS = 8
# What the client must sign (SPEC §10): the order form before Date 4, the pilot PV and the VA before Date 5.
CLIENT_SUBJECTS = {
    "DATE_4_SIGNATURE": "Votre bon de commande Ségur {number} : à signer avant le {due}",
    "PILOT_PV_SIGNATURE": "Commande Ségur {number} : PV d'installation pilote à signer",
    "VA_SIGNATURE": "Commande Ségur {number} : Vérification d'Aptitude (VA) à signer",
}
CLIENT_TEMPLATES = {
    "DATE_4_SIGNATURE": "emails/client_reminder",
    "PILOT_PV_SIGNATURE": "emails/client_signature_reminder",
    "VA_SIGNATURE": "emails/client_signature_reminder",
}
BATCH = 2000


def reminder_offsets() -> list[int]:
    return sorted(getattr(settings, "SEGUR_REMINDER_OFFSETS_DAYS", [30, 14, 7, 2, 1, 0]), reverse=True)


def reminder_offset(due_day: date, today: date, offsets: Iterable[int]) -> str | None:
    """Which reminder is due today: the nearest offset at or above the days left (so a missed day catches up),
    ``"overdue"`` once the deadline passed, None when it is further than the first offset."""
    days_left = (due_day - today).days
    if days_left < 0:
        return OVERDUE
    reached = [offset for offset in offsets if offset >= days_left]
    return str(min(reached)) if reached else None


@dataclass
class DueReminder:
    order: Order | None
    deadline: rules.Deadline
    offset: str
    subject: str = ""  # what a provider-level deadline concerns (the provider, a solution)

    def key(self, recipient: str) -> str:
        due = rules.paris_date(self.deadline.due_at).isoformat()
        about = self.order.pk if self.order else self.subject
        return f"{self.deadline.code}:{about}:{due}:{self.offset}:{recipient}"[:200]

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

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def staff_by_role() -> dict[str, list[Any]]:
    """Active staff e-mail holders of each role (4 queries, whatever the number of orders)."""
    users = get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
    return {role: list(users.filter(groups__name=group).order_by("pk")) for role, group in GROUP_OF_ROLE.items()}


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
    pre_orders = Order.objects.filter(state=OrderState.PRE_ORDER).select_related("programme", "solution", "client")
    for order in pre_orders.iterator(chunk_size=BATCH):
        reason = rules.lapse_reason(order=order, programme=order.programme, solution=order.solution, now=now)
        if reason:
            order = services.perform(
                "lapse", order_id=order.pk, acting_user=None, params={"client_informed": True}, now=now
            )
            summary.lapsed += 1
            _queue_client_notice(
                order,
                "lapse_notice",
                f"Votre commande {order.number} est caduque",
                "emails/lapse_notice",
                {"reason": reason},
            )
            continue
        dossier_at = order.solution.complete_dossier_submitted_at
        if (
            now > order.programme.date_2
            and order.date_2_notice_sent_at is None
            and (dossier_at is None or dossier_at > order.programme.date_2)
        ):
            services.perform("notify_date_2", order_id=order.pk, acting_user=None, params={"at": now}, now=now)
            summary.date_2_notices += 1
            _queue_client_notice(
                order,
                "date_2_notice",
                f"Votre commande {order.number} : dossier de référencement",
                "emails/date_2_notice",
                {},
            )
    late = Order.objects.filter(
        state__in=[OrderState.ADVANCE_REQUESTED, OrderState.ADVANCE_PAID], programme__date_5__lt=now
    ).select_related("programme", "client")
    for order in late.iterator(chunk_size=BATCH):
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
            continue
        summary.date_5_declared += 1
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


# --- Reminders ----------------------------------------------------------------------------------------------------


def due_reminders(now: datetime, summary: ScanSummary) -> list[DueReminder]:
    today, offsets = rules.paris_date(now), reminder_offsets()
    due = []
    orders = (
        with_open_deadlines(Order.objects.all())
        .select_related("programme", "solution", "client", "salesperson")
        .order_by("pk")
    )
    for order in orders.iterator(chunk_size=BATCH):
        summary.orders += 1
        for deadline in rules.order_deadlines(order, now):
            if deadline.status == rules.MET:
                continue
            offset = (
                OVERDUE
                if deadline.status == rules.OVERDUE
                else reminder_offset(rules.paris_date(deadline.due_at), today, offsets)
            )
            if offset is not None:
                due.append(DueReminder(order, deadline, offset))
    for subject, deadline in provider_deadlines(now):
        if deadline.status == rules.MET:
            continue
        offset = (
            OVERDUE
            if deadline.status == rules.OVERDUE
            else reminder_offset(rules.paris_date(deadline.due_at), today, offsets)
        )
        if offset is not None:
            due.append(DueReminder(None, deadline, offset, subject=subject))
    return due


def existing_keys(keys: list[str]) -> set[str]:
    """Keys already dispatched, one query per batch of keys (bounded, not per order)."""
    found: set[str] = set()
    for start in range(0, len(keys), BATCH):
        found.update(ReminderDispatch.objects.filter(key__in=keys[start : start + BATCH]).values_list("key", flat=True))
    return found


def queue_reminders(due: list[DueReminder], now: datetime, summary: ScanSummary, staff: dict[str, list[Any]]) -> None:
    per_staff: dict[Any, list[DueReminder]] = defaultdict(list)
    per_client: list[tuple[str, DueReminder]] = []
    for reminder in due:
        for user in staff_recipients(reminder.order, reminder.deadline, reminder.offset, staff):
            per_staff[user].append(reminder)
        client_action = reminder.order is not None and reminder.deadline.code in CLIENT_TEMPLATES
        if client_action and reminder.offset != OVERDUE and _client_email(reminder.order):
            per_client.append((_client_email(reminder.order), reminder))
    candidate_keys = [r.key(f"user:{user.pk}") for user, items in per_staff.items() for r in items]
    candidate_keys += [reminder.key(email) for email, reminder in per_client]
    already = existing_keys(candidate_keys)
    today = rules.paris_date(now)
    for user, items in sorted(per_staff.items(), key=lambda pair: pair[0].pk):
        fresh = [item for item in items if item.key(f"user:{user.pk}") not in already]
        if not fresh:
            continue
        email, created = outbox_add(
            key=f"digest:{user.pk}:{today.isoformat()}",
            kind="staff_digest",
            to=user.email,
            subject=f"Échéances Ségur du {today:%d/%m/%Y} : {len(fresh)} action(s)",
            template="emails/staff_digest",
            context={"user": user, "groups": digest_groups(fresh), "today": today, "site_url": settings.SITE_URL},
        )
        summary.emails += int(created)
        dispatch(fresh, f"user:{user.pk}", email, summary)
    fresh_clients = [(address, reminder) for address, reminder in per_client if reminder.key(address) not in already]
    for start in range(0, len(fresh_clients), BATCH):
        # One e-mail per client, written in batches: the number of queries grows with batches, not with orders.
        batch = fresh_clients[start : start + BATCH]
        emails = OutboxEmail.objects.bulk_create(
            outbox_email(
                key=f"client:{reminder.key(address)}",
                kind="client_reminder",
                to=address,
                subject=CLIENT_SUBJECTS[reminder.deadline.code].format(
                    number=reminder.order.number, due=rules.format_deadline(reminder.deadline.due_at)[:10]
                ),
                template=CLIENT_TEMPLATES[reminder.deadline.code],
                context={**client_email_context(reminder.order, address), "deadline": reminder.deadline},
            )
            for address, reminder in batch
        )
        summary.emails += len(emails)
        ReminderDispatch.objects.bulk_create(
            dispatch_row(reminder, address, email) for (address, reminder), email in zip(batch, emails, strict=True)
        )
        summary.reminders += len(batch)


def dispatch_row(item: DueReminder, recipient: str, email: OutboxEmail) -> ReminderDispatch:
    return ReminderDispatch(
        key=item.key(recipient),
        order=item.order,
        deadline_code=item.deadline.code,
        due_at=item.deadline.due_at,
        offset=item.offset,
        recipient=recipient,
        email=email,
    )


def dispatch(items: list[DueReminder], recipient: str, email: OutboxEmail, summary: ScanSummary) -> None:
    ReminderDispatch.objects.bulk_create((dispatch_row(item, recipient, email) for item in items), batch_size=BATCH)
    summary.reminders += len(items)


def digest_groups(items: list[DueReminder]) -> list[dict[str, Any]]:
    """Items grouped by deadline (overdue first, then by due date), with the amounts at stake."""
    groups: dict[tuple[str, datetime], list[DueReminder]] = defaultdict(list)
    for item in items:
        groups[(item.deadline.code, item.deadline.due_at)].append(item)
    result = []
    for (code, due_at), members in sorted(groups.items(), key=lambda pair: (pair[1][0].offset != OVERDUE, pair[0][1])):
        result.append(
            {
                "code": code,
                "due_at": due_at,
                "action": members[0].deadline.action,
                "reference": members[0].deadline.reference,
                "overdue": members[0].offset == OVERDUE,
                "amount": sum((member.amount_at_stake for member in members), Decimal("0")),
                "orders": [
                    {
                        "number": member.order.number,
                        "client": member.order.client.name,
                        "amount": member.amount_at_stake,
                        "url": settings.SITE_URL + reverse("admin:orders_order_change", args=[member.order.pk]),
                    }
                    if member.order is not None
                    else {
                        "number": "Fournisseur",
                        "client": member.subject,
                        "amount": Decimal("0"),
                        "url": settings.SITE_URL + reverse("deadline_calendar"),
                    }
                    for member in members
                ],
            }
        )
    return result


# --- The daily job ------------------------------------------------------------------------------------------------


def deadlines_scan(*, now: datetime | None = None) -> ScanSummary:
    """Run the day's scan once: consequences, then reminders. A second call the same day does nothing."""
    now = now or timezone.now()
    today = rules.paris_date(now)
    summary = ScanSummary(run_date=today.isoformat())
    with transaction.atomic():
        JobRun.objects.get_or_create(job=SCAN_JOB, run_date=today)
        run = JobRun.objects.select_for_update().get(job=SCAN_JOB, run_date=today)
        if run.status == JobRun.DONE:
            summary.skipped = True
            return summary
        staff = staff_by_role()
        apply_consequences(now, summary, staff)
        with access_links_batch():  # the personal links of the client e-mails are written together
            queue_reminders(due_reminders(now, summary), now, summary, staff)
        run.status, run.finished_at, run.summary = JobRun.DONE, timezone.now(), summary.as_dict()
        run.save(update_fields=["status", "finished_at", "summary"])
        transaction.on_commit(outbox_send_soon)
    logger.info("deadlines scan %s: %s", today, summary.as_dict())
    return summary


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


def outbox_email(*, key: str, kind: str, to: str, subject: str, template: str, context: dict[str, Any]) -> OutboxEmail:
    """An unsaved outbox e-mail rendered from ``templates/<template>.{txt,html}``."""
    context = {**context, "site_url": settings.SITE_URL}
    return OutboxEmail(
        key=key[:200],
        kind=kind,
        to=to,
        subject=subject[:255],
        body_text=render_to_string(f"{template}.txt", context),
        body_html=render_to_string(f"{template}.html", context),
    )


def outbox_send_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """Send pending e-mails and retry failed ones with exponential backoff; each e-mail in its own transaction.

    ``skip_locked`` lets two senders share the work without sending the same e-mail twice.
    """
    now = now or timezone.now()
    counts = {"sent": 0, "failed": 0}
    for _ in range(limit):
        with transaction.atomic():
            email = (
                OutboxEmail.objects.select_for_update(skip_locked=True)
                .filter(status__in=[OutboxEmail.PENDING, OutboxEmail.FAILED], attempts__lt=MAX_ATTEMPTS)
                .exclude(next_attempt_at__gt=now)
                .order_by("created_at", "pk")
                .first()
            )
            if email is None:
                break
            message = EmailMultiAlternatives(email.subject, email.body_text, settings.DEFAULT_FROM_EMAIL, [email.to])
            if email.body_html:
                message.attach_alternative(email.body_html, "text/html")
            email.attempts += 1
            try:
                message.send()
            except Exception as exc:  # SMTP, DNS, timeouts: all mean "retry later"
                email.status, email.last_error = OutboxEmail.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
                email.next_attempt_at = now + timedelta(minutes=2**email.attempts)
                counts["failed"] += 1
            else:
                email.status, email.sent_at, email.last_error = OutboxEmail.SENT, timezone.now(), ""
                counts["sent"] += 1
            email.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "sent_at"])
    return counts
