"""Monitoring pushes from installed software and the PERF summary (AF §3.3, §4.5).

``push_months`` is the single adapter between the API and the monitoring service: when ``monitoring.services`` gains
its revisions and single validation function, only this function changes.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.http import HttpRequest
from ninja import Router

from api.auth import require_monitoring_access
from api.orders import ERRORS, order_or_404
from api.schemas import MonthIn, MonthOut, MonthsIn, PerfOut, PerfWindowOut, PushOut, RefusalOut
from monitoring import services as monitoring_services
from monitoring.models import MonitoringMonth
from orders import rules, services
from orders.exceptions import RuleViolation, raise_if
from orders.models import Order

PUSH_DOC = (
    "Un ou plusieurs mois (Dt, Dm, T, Tq, Ts) avec la validation de l'import, tous enregistrés ou aucun. Les mêmes "
    "chiffres renvoyés ne changent rien (`unchanged`)."
)
router = Router(tags=["Monitoring"])


@dataclass
class PushResult:
    created: list[date] = field(default_factory=list)
    unchanged: list[date] = field(default_factory=list)
    revised: list[date] = field(default_factory=list)


def _figures(month: MonitoringMonth) -> tuple[int, int, int, int, int]:
    return (
        month.documents_expected,
        month.documents_sent,
        month.patients_seen,
        month.patients_qualified,
        month.patients_transitional,
    )


def push_months(*, order: Order, months: list[MonthIn]) -> PushResult:
    """Record the pushed months all together or not at all, through ``monitoring_record_months`` (its validation,
    the same as the import's). A month pushed again with the same figures changes nothing; with other figures it is
    refused by the current service (a recorded month is never overwritten) until revisions exist."""
    result = PushResult()
    existing = {month.month: _figures(month) for month in MonitoringMonth.objects.filter(order=order)}
    reports = []
    for month in months:
        figures = (month.dt, month.dm, month.t, month.tq, month.ts)
        if existing.get(month.month) == figures:
            result.unchanged.append(month.month)
        else:
            reports.append(monitoring_services.MonthReport(month.month, *figures))
    with transaction.atomic():
        recorded = monitoring_services.monitoring_record_months(order=order, reports=reports)
        violations: list[RuleViolation] = [v for _report, problems in recorded.rejected for v in problems]
        if violations:
            transaction.set_rollback(True)
    raise_if(violations)
    result.created = [month.month for month in recorded.saved]
    return result


def perf_summary(order: Order) -> PerfOut:
    """The figures pushed so far and the best continuous window (``services.perf_window_for``, AF §4.5)."""
    window = services.perf_window_for(order)
    perf = window.perf if window else Decimal("0")
    months = [
        MonthOut(
            month=m.month,
            dt=m.documents_expected,
            dm=m.documents_sent,
            t=m.patients_seen,
            tq=m.patients_qualified,
            ts=m.patients_transitional,
        )
        for m in MonitoringMonth.objects.filter(order=order).order_by("month")
    ]
    return PerfOut(
        order=order.number,
        secondary_start=rules.secondary_start(order),
        months=months,
        best_window=PerfWindowOut(**vars(window)) if window else None,
        perf=perf,
        secondary_payable=rules.secondary_payable(order.secondary_amount, perf),
    )


@router.get("/orders/{number}/monitoring", response={200: PerfOut, **ERRORS}, summary="Synthèse PERF d'une commande")
def monitoring_read(request: HttpRequest, number: str) -> PerfOut:
    order = order_or_404(number)
    require_monitoring_access(request, order, "monitoring.view_monitoringmonth")
    return perf_summary(order)


@router.post(
    "/orders/{number}/monitoring/months",
    response={200: PushOut, 409: RefusalOut, **ERRORS},
    summary="Transmettre un ou plusieurs mois de monitoring",
    description=PUSH_DOC,
)
def monitoring_push(request: HttpRequest, number: str, payload: MonthsIn) -> PushOut:
    order = order_or_404(number)
    require_monitoring_access(request, order, "monitoring.add_monitoringmonth")
    result = push_months(order=order, months=payload.months)
    return PushOut(created=result.created, unchanged=result.unchanged, revised=result.revised)
