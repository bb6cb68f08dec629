"""Reads for lists, dashboards and deadlines: querysets whose number of queries does not grow with the rows."""

import operator
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import reduce

from django.db.models import Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from orders import rules
from orders.models import Order, OrderState, Programme, Solution

S = OrderState

# Orders whose deadlines are all behind them (nothing left to do for the programme).
SETTLED_STATES = [S.LAPSED, S.REIMBURSED, S.CLOSED, S.CANCELLED]

# Key → (label, days ahead); ``None`` days: the next deadline is already overdue.
DEADLINE_WINDOWS: dict[str, tuple[Promise, int | None]] = {
    "overdue": (_("En retard"), None),
    "7": (_("Sous 7 jours"), 7),
    "30": (_("Sous 30 jours"), 30),
    "90": (_("Sous 90 jours"), 90),
}

# The states in which each deadline of ``rules.order_deadlines`` exists (same sets, same order).
_DATE_5_STATES = [S.ADVANCE_REQUESTED, S.ADVANCE_PAID, S.INSTALLED, S.PILOT_PV_SIGNED, S.VA_SIGNED]
_REALISED_BEFORE_BALANCE = [S.INSTALLED, S.PILOT_PV_SIGNED, S.VA_SIGNED]
_SECONDARY_STATES = [S.VA_SIGNED, S.BALANCE_REQUESTED, S.BALANCE_PAID]
_ANS_CHECK_STATES = [S.SECONDARY_REQUESTED, S.SECONDARY_PAID]
_NOTHING = Q(pk__in=[])
_EARLIEST_DAY = date(1900, 1, 1)


def order_list_queryset() -> QuerySet[Order]:
    """Orders with everything a list row or the order page shows, in one query whatever the number of rows."""
    return Order.objects.select_related("client", "programme", "solution__provider", "salesperson")


def orders_in_deadline_window(queryset: QuerySet[Order], window: str, now: datetime) -> QuerySet[Order]:
    """The orders of ``queryset`` whose next deadline (``rules.next_deadline``) falls in ``window``.

    ``"overdue"``: the next deadline is past; ``"7"``, ``"30"``, ``"90"``: it is still ahead and due within that many
    days. Filtered in SQL (two small reads of the programmes and solutions, then one ``WHERE``), so the admin's filter
    costs the same for 100 or 100 000 orders; ``tests/orders/test_selectors.py`` proves it agrees with the rules.
    """
    _label, days = DEADLINE_WINDOWS[window]
    overdue = unmet_deadline_due_before(now, strict=True)
    if days is None:
        return queryset.filter(overdue)
    return queryset.filter(unmet_deadline_due_before(now + timedelta(days=days), strict=False)).exclude(overdue)


def unmet_deadline_due_before(moment: datetime, *, strict: bool) -> Q:
    """Orders with at least one deadline not yet met due before ``moment`` (or at it, when not ``strict``).

    The earliest unmet deadline is before ``moment`` exactly when some unmet deadline is, so no minimum is needed.
    Each deadline of ``rules.order_deadlines`` becomes one condition; the programme's parameters (its dates, the 120
    days, the months) are constants of each programme's branch, and a deadline counted from an order's own date
    (signature, VA, termination…) becomes a plain comparison of that date with a bound computed here in Python.
    """
    dossiers = list(
        Solution.objects.filter(complete_dossier_submitted_at__isnull=False).values_list(
            "pk", "complete_dossier_submitted_at"
        )
    )
    branches = [
        Q(programme_id=programme.pk) & _programme_deadlines(programme, dossiers, moment, strict)
        for programme in Programme.objects.all()
    ]
    return _any(branches)


def _programme_deadlines(
    programme: Programme, dossiers: list[tuple[int, datetime]], moment: datetime, strict: bool
) -> Q:
    def due(at: datetime) -> bool:
        return at < moment if strict else at <= moment

    last_day = _last_due_day(moment, strict)

    def fact_on_or_before(field: str, due_day: Callable[[date], date]) -> Q:
        """``field``'s Paris day d is such that the deadline due at noon on ``due_day(d)`` is before ``moment``."""
        return _on_or_before_day(field, _latest_fact_day(due_day, last_day))

    window_days = timedelta(days=programme.pre_order_window_days)

    def pre_order_deadline_day(signed_on: date) -> date:
        return signed_on + window_days

    conditions = []
    if due(programme.date_4):
        conditions.append(Q(state=S.DRAFT))  # DATE_4_SIGNATURE
        conditions.append(Q(state__in=[S.PRE_ORDER, S.FIRM]))  # DATE_4_ADVANCE
    # PRE_ORDER_120_DAYS, unless met: by the client's information, or by a complete dossier filed by that deadline
    # (a dossier filed after noon on day D is late for the orders whose deadline day is D or earlier).
    no_dossier_in_time = _any(
        [Q(solution__complete_dossier_submitted_at__isnull=True)]
        + [
            Q(solution_id=solution_id)
            & _on_or_before_day(
                "signed_at", _latest_fact_day(pre_order_deadline_day, _last_due_day(dossier_at, strict=True))
            )
            for solution_id, dossier_at in dossiers
        ]
    )
    conditions.append(
        Q(state=S.PRE_ORDER, signed_at__isnull=False, pre_order_expiry_notified_at__isnull=True)
        & fact_on_or_before("signed_at", pre_order_deadline_day)
        & no_dossier_in_time
    )
    if due(programme.date_2):  # DATE_2_NOTICE
        conditions.append(
            Q(state=S.PRE_ORDER, signed_at__isnull=False, date_2_notice_sent_at__isnull=True)
            & (
                Q(solution__complete_dossier_submitted_at__isnull=True)
                | Q(solution__complete_dossier_submitted_at__gt=programme.date_2)
            )
        )
    if due(programme.date_5):
        conditions.append(  # DATE_5_REALISATION
            Q(state__in=_DATE_5_STATES) & (Q(installed_at__isnull=True) | Q(installed_at__gt=programme.date_5))
        )
        conditions.append(  # DATE_5_ATTESTATION
            Q(state__in=_REALISED_BEFORE_BALANCE, completion_attested_at__isnull=True)
        )
    if due(programme.date_6):  # DATE_6_BALANCE
        conditions.append(Q(state__in=_REALISED_BEFORE_BALANCE))
    for months in (programme.secondary_observation_months, programme.secondary_request_months):
        conditions.append(  # SECONDARY_OBSERVATION, SECONDARY_REQUEST
            Q(state__in=_SECONDARY_STATES, va_signed_at__isnull=False)
            & fact_on_or_before("va_signed_at", _secondary_deadline_day(months))
        )
    conditions.append(  # TERMINATION_NOTICE
        Q(state=S.TERMINATED, terminated_at__isnull=False, termination_notified_at__isnull=True)
        & fact_on_or_before("terminated_at", _months_after(programme.termination_notice_months))
    )
    portability_days = timedelta(days=programme.portability_days)
    conditions.append(  # PORTABILITY, in any state
        Q(portability_requested_at__isnull=False, portability_delivered_at__isnull=True)
        & fact_on_or_before("portability_requested_at", lambda requested_on: requested_on + portability_days)
    )
    conditions.append(  # ANS_CHECK_WINDOW
        Q(state__in=_ANS_CHECK_STATES, journal_received_at__isnull=False)
        & fact_on_or_before("journal_received_at", _ans_check_deadline_day(programme.ans_check_months))
    )
    return _any(conditions)


def _on_or_before_day(field: str, day: date) -> Q:
    """``field`` (an instant) falls on ``day`` or earlier, in Paris time."""
    return Q(**{f"{field}__lt": _start_of_day(day + timedelta(days=1))})


def _any(conditions: list[Q]) -> Q:
    return reduce(operator.or_, conditions) if conditions else _NOTHING


def _start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=rules.PARIS)


def _last_due_day(moment: datetime, strict: bool) -> date:
    """The latest day whose noon deadline (AF §II: every date is 12:00 Paris) is before ``moment`` (or at it)."""
    day = rules.paris_date(moment)
    noon = rules.noon_paris(day)
    return day if (noon < moment if strict else noon <= moment) else day - timedelta(days=1)


def _latest_fact_day(due_day: Callable[[date], date], last_day: date) -> date:
    """The latest day d with ``due_day(d) <= last_day``; ``due_day`` never decreases and never precedes d."""
    low, high = _EARLIEST_DAY.toordinal(), last_day.toordinal()
    if due_day(date.fromordinal(low)) > last_day:
        return date.fromordinal(low - 1)
    while low < high:
        middle = (low + high + 1) // 2
        if due_day(date.fromordinal(middle)) <= last_day:
            low = middle
        else:
            high = middle - 1
    return date.fromordinal(low)


def _secondary_deadline_day(months: int) -> Callable[[date], date]:
    """AF §4.5: counted from the secondary start, the 1st day of the month after the VA signature."""
    return lambda va_signed_on: rules.add_months(rules.first_day_of_next_month(rules.noon_paris(va_signed_on)), months)


def _months_after(months: int) -> Callable[[date], date]:
    return lambda day: rules.add_months(day, months)


def _ans_check_deadline_day(months: int) -> Callable[[date], date]:
    """AF §4.5: the ANS has ``months`` from the end of the month it received the journal."""
    return lambda received_on: rules.add_months(rules.end_of_month(received_on), months)
