from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from monitoring import perf
from monitoring.models import MonitoringMonth, MonitoringRevision, PerfSummary, RevisionSource, WorkerHeartbeat
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
    reason: str = ""  # why a recorded month changes (a correction); the call's reason when empty


FIGURE_FIELDS = (
    "documents_expected",
    "documents_sent",
    "patients_seen",
    "patients_qualified",
    "patients_transitional",
)


@dataclass
class JournalResult:
    saved: list[MonitoringMonth] = field(default_factory=list)  # new months and corrected ones
    unchanged: list[date] = field(default_factory=list)  # sent again with the same figures: nothing written
    rejected: list[tuple[MonthReport, list[RuleViolation]]] = field(default_factory=list)
    corrected: list[date] = field(default_factory=list)
    written: int = 0  # months written (or, in a dry run, to write): new ones and corrections


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
                    field=smaller,
                )
            )
    if report.month.day != 1:
        violations.append(RuleViolation("MONITORING_MONTH", f"{label} : indiquez le 1er jour du mois.", "AF §3.3"))
    return violations


def _figures(report: MonthReport | MonitoringMonth) -> tuple[int, ...]:
    return (
        report.documents_expected,
        report.documents_sent,
        report.patients_seen,
        report.patients_qualified,
        report.patients_transitional,
    )


def _month_violations(
    order: Order,
    report: MonthReport,
    *,
    start: date | None,
    current_month: date,
    existing: dict[date, tuple[int, ...]],
    seen: set[date],
    reason: str,
    window: tuple[date, date],
) -> list[RuleViolation]:
    """Every rule one month breaks (AF §3.3, §4.5); empty when it can be recorded.

    ``window``: ``rules.date_window`` of the order's programme, computed once per call (the message is the rule's)."""
    if not isinstance(report.month, date):
        return [RuleViolation("MONITORING_MONTH", "Mois : indiquez un mois (MM/AAAA).", "AF §3.3", field="month")]
    violations = []
    if not window[0] <= report.month <= window[1]:
        violations = rules.date_range_violations(
            programme=order.programme, field="month", label="Mois", value=report.month
        )
    violations = violations or month_report_violations(report)
    if violations:
        return violations
    label = f"{report.month:%m/%Y}"
    if start is None:
        violations.append(
            RuleViolation(
                "MONITORING_NOT_IN_SECONDARY",
                f"{label} : la commande {order.number} n'est pas en Prestation secondaire (VA non signée) (AF §4.5).",
                "AF §4.5",
                field="order",
            )
        )
    elif report.month < start:
        violations.append(
            RuleViolation(
                "MONITORING_BEFORE_START",
                f"{label} : la Prestation secondaire démarre le 1er du mois suivant la VA "
                f"({start:%d/%m/%Y} pour cette commande) (AF §4.5).",
                "AF §4.5",
                field="month",
            )
        )
    if report.month >= current_month:
        violations.append(
            RuleViolation(
                "MONITORING_FUTURE",
                f"{label} : ce mois n'est pas terminé ; ses chiffres se saisissent à partir du 1er du mois suivant.",
                "AF §3.3",
                field="month",
            )
        )
    if report.month in seen:
        violations.append(
            RuleViolation(
                "MONITORING_DUPLICATE",
                f"{label} : le même mois figure deux fois pour cette commande.",
                "AF §4.5",
                field="month",
            )
        )
    previous = existing.get(report.month)
    if previous is not None and previous != _figures(report) and not (report.reason or reason).strip():
        violations.append(
            RuleViolation(
                "MONITORING_CORRECTION_REASON",
                f"{label} : ce mois est déjà enregistré ; indiquez le motif de la correction.",
                "AF §4.5",
                field="reason",
            )
        )
    return violations


def record_months_bulk(
    entries: Iterable[tuple[Order, list[MonthReport]]],
    *,
    source: str,
    user: Any = None,
    reason: str = "",
    all_or_nothing: bool = False,
    dry_run: bool = False,
    return_months: bool = True,
    now: datetime | None = None,
) -> list[JournalResult]:
    """Record the monthly figures of many orders: the one validation of manual entry, imports and the API (AF §4.5).

    Each month is checked (SPEC §9 sanity, secondary start, month over, once per order); a month already recorded
    with the same figures changes nothing (the same payload twice is a no-op); different figures are a correction: a
    new revision with who, when, why and the source, which becomes the current value. History is never overwritten.
    ``all_or_nothing`` (imports): one refused month and nothing is written. Otherwise valid months are kept and the
    others refused with their reasons (SPEC §9). The per-order PERF summary is refreshed in the same transaction.
    ``dry_run`` (the import preview): everything is checked and counted in the results, nothing is written.
    ``return_months=False`` (imports): the results count the months written instead of listing them.
    """
    now = now or timezone.now()
    current_month = rules.paris_date(now).replace(day=1)
    entries = list(entries)
    results = [JournalResult() for _entry in entries]
    with transaction.atomic():
        order_ids = sorted({order.pk for order, _reports in entries})
        list(Order.objects.filter(pk__in=order_ids).select_for_update().values_list("pk", flat=True))
        existing: dict[int, dict[date, tuple[int, ...]]] = {order_id: {} for order_id in order_ids}
        for row in MonitoringMonth.objects.filter(order_id__in=order_ids).values_list(
            "order_id", "month", *FIGURE_FIELDS
        ):
            existing[row[0]][row[1]] = tuple(row[2:])
        accepted: list[tuple[int, Order, MonthReport]] = []
        windows: dict[int, tuple[date, date]] = {}
        for index, (order, reports) in enumerate(entries):
            start = rules.secondary_start(order)
            if order.programme_id not in windows:
                windows[order.programme_id] = rules.date_window(order.programme)
            seen: set[date] = set()
            for report in reports:
                violations = _month_violations(
                    order,
                    report,
                    start=start,
                    current_month=current_month,
                    existing=existing[order.pk],
                    seen=seen,
                    reason=reason,
                    window=windows[order.programme_id],
                )
                if isinstance(report.month, date):
                    seen.add(report.month)
                if violations:
                    results[index].rejected.append((report, violations))
                elif existing[order.pk].get(report.month) == _figures(report):
                    results[index].unchanged.append(report.month)
                else:
                    accepted.append((index, order, report))
        if all_or_nothing and any(result.rejected for result in results):
            return results
        if dry_run:
            for index, order, report in accepted:
                if report.month in existing[order.pk]:
                    results[index].corrected.append(report.month)
                results[index].written += 1
                if return_months:
                    results[index].saved.append(MonitoringMonth(order_id=order.pk, month=report.month))
            return results
        if not accepted:
            return results
        author_id = user.pk if getattr(user, "pk", None) else None
        rows = []
        for index, order, report in accepted:
            if report.month in existing[order.pk]:
                results[index].corrected.append(report.month)
            existing[order.pk][report.month] = _figures(report)
            rows.append((order.pk, report.month, *_figures(report), (report.reason or reason).strip()[:500]))
        saved = _write_months(rows, source=source, author_id=author_id, now=now, return_months=return_months)
        for index, _order, _report in accepted:
            results[index].written += 1
        if return_months:
            for (index, _order, _report), month in zip(accepted, saved, strict=True):
                results[index].saved.append(month)
        touched = {order.pk: order for _index, order, _report in accepted}
        analyses = refresh_perf_summaries(
            [(order, existing[order.pk]) for order in touched.values()], today=rules.paris_date(now)
        )
        from monitoring import notices

        notices.notify_after_write(list(touched.values()), analyses, now=now)  # the client is told (AF §4.5)
    return results


STAGE_COPY = (
    "COPY monitoring_stage (position, order_id, month, documents_expected, documents_sent, patients_seen, "
    "patients_qualified, patients_transitional, reason) FROM STDIN"
)
STAGE_TO_REVISIONS = (
    "INSERT INTO monitoring_monitoringrevision (order_id, month, documents_expected, documents_sent, patients_seen, "
    "patients_qualified, patients_transitional, source, author_id, reason, recorded_at) "
    "SELECT order_id, month, documents_expected, documents_sent, patients_seen, patients_qualified, "
    "patients_transitional, %s, %s, reason, %s FROM monitoring_stage ORDER BY position"
)
STAGE_TO_MONTHS = (
    "INSERT INTO monitoring_monitoringmonth (order_id, month, documents_expected, documents_sent, patients_seen, "
    "patients_qualified, patients_transitional, recorded_at) "
    "SELECT order_id, month, documents_expected, documents_sent, patients_seen, patients_qualified, "
    "patients_transitional, %s FROM monitoring_stage ORDER BY position "
    "ON CONFLICT (order_id, month) DO UPDATE SET documents_expected = EXCLUDED.documents_expected, "
    "documents_sent = EXCLUDED.documents_sent, patients_seen = EXCLUDED.patients_seen, "
    "patients_qualified = EXCLUDED.patients_qualified, patients_transitional = EXCLUDED.patients_transitional "
    "RETURNING id, order_id, month"
)


def _write_months(
    rows: list[tuple[Any, ...]], *, source: str, author_id: int | None, now: datetime, return_months: bool = True
) -> list[MonitoringMonth]:
    """Append the revisions and make them the months' current values; ``rows``: (order, month, 5 figures, reason).

    On PostgreSQL the rows are copied once into a temporary table (COPY), from which one INSERT writes the revisions
    and one INSERT … ON CONFLICT DO UPDATE the current months: the import's speed floor is the raw ``bulk_create``.
    """
    if connection.vendor != "postgresql":
        MonitoringRevision.objects.bulk_create(
            [
                MonitoringRevision(
                    order_id=row[0],
                    month=row[1],
                    source=source,
                    author_id=author_id,
                    reason=row[7],
                    recorded_at=now,
                    **dict(zip(FIGURE_FIELDS, row[2:7], strict=True)),
                )
                for row in rows
            ]
        )
        return MonitoringMonth.objects.bulk_create(
            [
                MonitoringMonth(order_id=row[0], month=row[1], **dict(zip(FIGURE_FIELDS, row[2:7], strict=True)))
                for row in rows
            ],
            update_conflicts=True,
            unique_fields=["order", "month"],
            update_fields=list(FIGURE_FIELDS),
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS monitoring_stage (position integer, order_id bigint, month date, "
            "documents_expected integer, documents_sent integer, patients_seen integer, patients_qualified integer, "
            "patients_transitional integer, reason varchar(500)) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE monitoring_stage")
        with cursor.cursor.copy(STAGE_COPY) as copy:
            for position, row in enumerate(rows):
                copy.write_row((position, *row))
        cursor.execute(STAGE_TO_REVISIONS, [source, author_id, now])
        cursor.execute(STAGE_TO_MONTHS, [now])
        ids = {(order_id, month): pk for pk, order_id, month in cursor.fetchall()}
    if not return_months:
        return []
    return [
        MonitoringMonth(
            id=ids[(row[0], row[1])],
            order_id=row[0],
            month=row[1],
            documents_expected=row[2],
            documents_sent=row[3],
            patients_seen=row[4],
            patients_qualified=row[5],
            patients_transitional=row[6],
            recorded_at=now,
        )
        for row in rows
    ]


def record_months(
    order: Order,
    months: list[MonthReport],
    *,
    source: str = RevisionSource.MANUAL,
    user: Any = None,
    reason: str = "",
    all_or_nothing: bool = False,
    now: datetime | None = None,
) -> JournalResult:
    """One order's months through ``record_months_bulk`` (manual entry, API push) (AF §4.5, SPEC §9)."""
    return record_months_bulk(
        [(order, months)], source=source, user=user, reason=reason, all_or_nothing=all_or_nothing, now=now
    )[0]


def monitoring_record_months(*, order: Order, reports: list[MonthReport], user: Any = None) -> JournalResult:
    """Manual entry: valid months kept, invalid ones refused with their reasons (SPEC §9)."""
    return record_months(order, reports, source=RevisionSource.MANUAL, user=user)


# --- PERF summary per order, kept up to date on write (AF §3.3, §4.5) -----------------------------------------------


def analysis_for(order: Order, figures: dict[date, tuple[int, ...]], *, today: date) -> perf.Analysis:
    """``figures``: month → (Dt, Dm, …) in ``FIGURE_FIELDS`` order."""
    programme = order.programme
    return perf.analyse(
        [rules.MonthFigures(month, values[0], values[1]) for month, values in sorted(figures.items())],
        start=rules.secondary_start(order),
        observation_months=programme.secondary_observation_months,
        window_months=programme.secondary_window_months,
        secondary_amount=order.secondary_amount,
        today=today,
        terminated=order.terminated_at is not None,
    )


def order_analysis(order: Order, *, today: date | None = None) -> perf.Analysis:
    """The live PERF analysis of one order (the order page)."""
    figures = {
        row[0]: tuple(row[1:])
        for row in MonitoringMonth.objects.filter(order=order).values_list("month", *FIGURE_FIELDS)
    }
    return analysis_for(order, figures, today=today or rules.paris_date(timezone.now()))


def refresh_perf_summaries(
    items: list[tuple[Order, dict[date, tuple[int, ...]]]], *, today: date
) -> dict[int, perf.Analysis]:
    """Store each order's PERF summary (one upsert), so the portfolio reads it with one query; returns the analyses."""
    rows = []
    analyses = {}
    for order, figures in items:
        analysis = analyses[order.pk] = analysis_for(order, figures, today=today)
        best = analysis.best
        rows.append(
            PerfSummary(
                order_id=order.pk,
                status=analysis.status,
                secondary_start=analysis.start,
                observation_end=analysis.observation_end,
                months_recorded=analysis.months_recorded,
                best_first_month=best.first_month if best else None,
                best_dt=best.dt if best else None,
                best_dm=best.dm if best else None,
                best_perf=best.perf if best else 0,
                first_qualifying_month=analysis.first_qualifying.first_month if analysis.first_qualifying else None,
                payable_amount=analysis.payable,
                missing_count=analysis.missing_count,
                missing_text=analysis.missing_text[:300],
            )
        )
    PerfSummary.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["order"],
        update_fields=[
            "status",
            "secondary_start",
            "observation_end",
            "months_recorded",
            "best_first_month",
            "best_dt",
            "best_dm",
            "best_perf",
            "first_qualifying_month",
            "payable_amount",
            "missing_count",
            "missing_text",
            "updated_at",
        ],
    )
    return analyses


def refresh_perf_summary(order: Order, *, today: date | None = None) -> None:
    figures = {
        row[0]: tuple(row[1:])
        for row in MonitoringMonth.objects.filter(order=order).values_list("month", *FIGURE_FIELDS)
    }
    refresh_perf_summaries([(order, figures)], today=today or rules.paris_date(timezone.now()))


def load_figures(order_ids: list[int]) -> dict[int, dict[date, tuple[int, ...]]]:
    """The current months of these orders: order → month → figures in ``FIGURE_FIELDS`` order (one query)."""
    figures: dict[int, dict[date, tuple[int, ...]]] = {pk: {} for pk in order_ids}
    for row in MonitoringMonth.objects.filter(order_id__in=order_ids).values_list("order_id", "month", *FIGURE_FIELDS):
        figures[row[0]][row[1]] = tuple(row[2:])
    return figures


def perf_summaries_stale(today: date) -> Any:
    """Orders in the secondary prestation whose stored PERF summary is missing or no longer true (AF §3.3, §4.5, §7).

    Missing: months recorded before summaries existed (migration 0004), or a VA signed since. Out of date with time:
    an observation whose 18 months ended after the summary was written (what is missing becomes « terminée »), an
    order terminated after it (no secondary payment). Windows themselves only change on write, which refreshes them.
    """
    from django.db.models import F, Q
    from django.db.models.functions import TruncDate

    return (
        Order.objects.filter(va_signed_at__isnull=False)
        .annotate(perf_written_on=TruncDate("perf__updated_at", tzinfo=rules.PARIS))
        .filter(
            Q(perf__isnull=True)
            | Q(perf__observation_end__lte=today, perf_written_on__lt=F("perf__observation_end"))
            | Q(terminated_at__isnull=False, perf__updated_at__lt=F("terminated_at"))
        )
    )


def rebuild_perf_summaries(*, today: date | None = None, everything: bool = False, batch: int = 2000) -> int:
    """Write the PERF summaries that are missing or stale (``everything``: all of them), ``batch`` orders at a time,
    with the same ``refresh_perf_summaries`` as every write. Returns the number of orders refreshed."""
    today = today or rules.paris_date(timezone.now())
    orders = Order.objects.filter(va_signed_at__isnull=False) if everything else perf_summaries_stale(today)
    ids = list(orders.order_by("pk").values_list("pk", flat=True))
    for first in range(0, len(ids), batch):
        chunk = ids[first : first + batch]
        with transaction.atomic():
            loaded = Order.objects.select_related("programme").filter(pk__in=chunk).order_by("pk")
            figures = load_figures(chunk)
            refresh_perf_summaries([(order, figures[order.pk]) for order in loaded], today=today)
    return len(ids)
