"""Monitoring pushes from installed software and the PERF summary (AF §3.3, §4.5).

``push_months`` is the single adapter between the API and the monitoring service (``record_months``, revisions).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router

from api.auth import require_monitoring_access
from api.orders import ERRORS, order_or_404
from api.schemas import MonthIn, MonthOut, MonthsIn, PerfOut, PerfWindowOut, PushOut, RefusalOut
from monitoring import services as monitoring_services
from monitoring.models import MonitoringMonth, RevisionSource
from orders import rules, services
from orders.exceptions import raise_if
from orders.models import Order

PUSH_DOC = (
    "Un ou plusieurs mois (Dt, Dm, T, Tq, Ts) avec la validation de l'import, tous enregistrés ou aucun. Les mêmes "
    "chiffres renvoyés ne changent rien (`unchanged`) ; des chiffres différents pour un mois déjà reçu sont une "
    "correction (`revised`), gardée comme nouvelle révision avec son motif (`reason`, obligatoire dans ce cas)."
)
router = Router(tags=["Monitoring"])


@dataclass
class PushResult:
    created: list[date] = field(default_factory=list)
    unchanged: list[date] = field(default_factory=list)
    revised: list[date] = field(default_factory=list)


def push_months(*, order: Order, months: list[MonthIn], reason: str = "", user: Any = None) -> PushResult:
    """Record the pushed months all together or not at all, through ``monitoring.services.record_months`` (the one
    validation of manual entry, imports and the API, AF §4.5), as revisions whose source is the API. A month pushed
    again with the same figures changes nothing; with other figures it becomes a new revision (a correction, which
    needs a ``reason``); history is never overwritten."""
    reports = [monitoring_services.MonthReport(m.month, m.dt, m.dm, m.t, m.tq, m.ts) for m in months]
    recorded = monitoring_services.record_months(
        order, reports, source=RevisionSource.API, user=user, reason=reason, all_or_nothing=True
    )
    raise_if([violation for _report, problems in recorded.rejected for violation in problems])
    revised = set(recorded.corrected)
    return PushResult(
        created=[month.month for month in recorded.saved if month.month not in revised],
        unchanged=list(recorded.unchanged),
        revised=sorted(revised),
    )


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
    user = require_monitoring_access(request, order, "monitoring.add_monitoringmonth")
    result = push_months(order=order, months=payload.months, reason=payload.reason, user=user)
    return PushOut(created=result.created, unchanged=result.unchanged, revised=result.revised)
