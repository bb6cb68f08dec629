from dataclasses import dataclass, field
from datetime import date

from django.db import transaction

from monitoring.models import MonitoringMonth, WorkerHeartbeat
from orders import rules
from orders.exceptions import RuleViolation
from orders.models import Order


def heartbeat_record(*, source: str, hostname: str) -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(source=source[:64], hostname=hostname[:255])


# --- Monitoring journal of the secondary prestation (AF §3.3, SPEC §9) ------------------------------------------------


@dataclass(frozen=True)
class MonthReport:
    month: date
    documents_expected: int  # Dt
    documents_sent: int  # Dm
    patients_seen: int  # T
    patients_qualified: int  # Tq
    patients_transitional: int  # Ts


@dataclass
class JournalResult:
    saved: list[MonitoringMonth] = field(default_factory=list)
    rejected: list[tuple[MonthReport, list[RuleViolation]]] = field(default_factory=list)


# One structure's LGC produces at most some thousands of documents a month: far above that, the figure is a typing or
# file error (and past 2^31 the database could not store it).
MONTH_FIGURE_MAX = 10_000_000
MONTH_FIGURE_MAX_LABEL = "10 000 000"


def month_report_violations(report: MonthReport) -> list[RuleViolation]:
    """Sanity of one month's figures (AF §3.3): whole numbers, all ≥ 0, Dm ≤ Dt, Tq ≤ T, Ts ≤ Tq."""
    label = f"{report.month.month:02d}/{report.month.year:04d}"
    violations = []
    figures = (
        ("Dt", report.documents_expected),
        ("Dm", report.documents_sent),
        ("T", report.patients_seen),
        ("Tq", report.patients_qualified),
        ("Ts", report.patients_transitional),
    )
    for name, value in figures:
        if not isinstance(value, int) or isinstance(value, bool):
            violations.append(
                RuleViolation(
                    "MONITORING_NOT_WHOLE", f"{label} : {name} doit être un nombre entier.", "AF §3.3", field=name
                )
            )
        elif value < 0:
            violations.append(
                RuleViolation("MONITORING_NEGATIVE", f"{label} : {name} ne peut être négatif.", "AF §3.3", field=name)
            )
        elif value > MONTH_FIGURE_MAX:
            violations.append(
                RuleViolation(
                    "MONITORING_TOO_LARGE",
                    f"{label} : {name} ({value}) dépasse {MONTH_FIGURE_MAX_LABEL} : vérifiez le chiffre.",
                    "AF §3.3",
                    field=name,
                )
            )
    if violations:
        return violations
    for smaller, larger, small_value, large_value in (
        ("Dm", "Dt", report.documents_sent, report.documents_expected),
        ("Tq", "T", report.patients_qualified, report.patients_seen),
        ("Ts", "Tq", report.patients_transitional, report.patients_qualified),
    ):
        if small_value > large_value:
            violations.append(
                RuleViolation(
                    "MONITORING_INCONSISTENT",
                    f"{label} : {smaller} ({small_value}) ne peut dépasser {larger} ({large_value}) (AF §3.3).",
                    "AF §3.3",
                )
            )
    if report.month.day != 1:
        violations.append(RuleViolation("MONITORING_MONTH", f"{label} : indiquez le 1er jour du mois.", "AF §3.3"))
    return violations


def monitoring_record_months(*, order: Order, reports: list[MonthReport]) -> JournalResult:
    """Record monthly figures; invalid months are rejected with their reasons, valid ones kept (SPEC §9).

    A month already recorded is never overwritten: the journal sent to the ASP/ANS must stay what it was.
    """
    result = JournalResult()
    start = rules.secondary_start(order)
    existing = set(MonitoringMonth.objects.filter(order=order).values_list("month", flat=True))
    for report in reports:
        violations = rules.date_range_violations(
            programme=order.programme, field="month", label="Mois", value=report.month
        ) or month_report_violations(report)
        if violations:
            result.rejected.append((report, violations))
            continue
        if start is None or report.month < start:
            violations.append(
                RuleViolation(
                    "MONITORING_BEFORE_START",
                    f"{report.month:%m/%Y} : la Prestation secondaire démarre le 1er du mois suivant la VA "
                    f"({start:%d/%m/%Y} pour cette commande) (AF §4.5)."
                    if start
                    else f"{report.month:%m/%Y} : la VA n'est pas signée, la Prestation secondaire n'a pas démarré "
                    "(AF §4.5).",
                    "AF §4.5",
                )
            )
        if report.month in existing:
            violations.append(
                RuleViolation("MONITORING_DUPLICATE", f"{report.month:%m/%Y} : mois déjà enregistré.", "AF §4.5")
            )
        if violations:
            result.rejected.append((report, violations))
            continue
        with transaction.atomic():
            result.saved.append(
                MonitoringMonth.objects.create(
                    order=order,
                    month=report.month,
                    documents_expected=report.documents_expected,
                    documents_sent=report.documents_sent,
                    patients_seen=report.patients_seen,
                    patients_qualified=report.patients_qualified,
                    patients_transitional=report.patients_transitional,
                )
            )
        existing.add(report.month)
    return result
