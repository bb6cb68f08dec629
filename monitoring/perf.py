"""PERF of the secondary prestation per order, explained (AF §3.3, §4.5, §5.4; SPEC §9).

Pure functions over the months of one order: every complete window of 6 consecutive months inside the 18-month
observation period, the best one so far (``orders.rules.best_perf_window``, the one the secondary request uses), the
first qualifying one, the amount it pays, the months left, and what is still missing, in words.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from orders import rules

# French month names for the rule messages (stored and shown as they are, like the other rule messages).
MONTH_NAMES = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
PERF_HALF, PERF_ONE = Decimal("0.5"), Decimal("1")
# Dm/Dt thresholds as fractions (numerator over 5), compared in integers (AF §3.3): 40 % = 2/5, 60 % = 3/5.
LEVEL_FIFTHS = {PERF_HALF: 2, PERF_ONE: 3}
LEVEL_PERCENT = {PERF_HALF: "40 %", PERF_ONE: "60 %"}
DT_FLOOR = 60  # Dt must exceed 60 over the window (AF §3.3)


def window_label(first: date, last: date) -> str:
    """« mars–août 2027 », or « novembre 2026–avril 2027 » across a year change."""
    if first.year == last.year:
        return f"{MONTH_NAMES[first.month - 1]}–{MONTH_NAMES[last.month - 1]} {last.year}"
    return f"{MONTH_NAMES[first.month - 1]} {first.year}–{MONTH_NAMES[last.month - 1]} {last.year}"


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def months_between(first: date, later: date) -> int:
    """Whole months from ``first``'s month to ``later``'s month."""
    return month_index(later) - month_index(first)


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def documents_missing(dt: int, dm: int, level: Decimal) -> tuple[int, int]:
    """(Dt to add, Dm to add) for a window to reach ``level``, exact integers (AF §3.3).

    Dt must exceed 60; then 5 × Dm ≥ 2 × Dt (40 %) or 3 × Dt (60 %). Documents added to Dt are assumed sent too.
    """
    dt_missing = max(DT_FLOOR + 1 - dt, 0)
    target_dt = dt + dt_missing
    needed_dm = _ceil_div(LEVEL_FIFTHS[level] * target_dt, 5)
    return dt_missing, max(needed_dm - dm - dt_missing, 0)


@dataclass(frozen=True)
class Closest:
    """The closest next level: on which window, which level, and the documents to produce (Dt) and to send (Dm)."""

    window: rules.PerfWindow | None  # None: no complete window yet
    level: Decimal | None
    dt_missing: int = 0
    dm_missing: int = 0
    months_missing: int = 0  # consecutive months of figures still needed for a first window


@dataclass(frozen=True)
class Analysis:
    start: date | None
    observation_end: date | None  # start + 18 months: the last window must end before it
    months_recorded: int
    windows: list[rules.PerfWindow] = field(default_factory=list)
    best: rules.PerfWindow | None = None
    first_qualifying: rules.PerfWindow | None = None
    months_left: int = 0
    terminated: bool = False
    payable: Decimal = Decimal("0")
    missing_count: int | None = None
    missing_text: str = ""
    closest: Closest | None = None  # None: PERF 1 reached, observation over, not started or terminated

    @property
    def status(self) -> str:
        from monitoring.models import PerfStatus

        if self.best is None:
            return PerfStatus.NO_DATA
        if self.best.perf == PERF_ONE:
            return PerfStatus.PERF_1
        if self.best.perf == PERF_HALF:
            return PerfStatus.PERF_HALF
        return PerfStatus.PERF_0


def analyse(
    months: list[rules.MonthFigures],
    *,
    start: date | None,
    observation_months: int,
    window_months: int,
    secondary_amount: Decimal,
    today: date,
    terminated: bool = False,
) -> Analysis:
    """Windows, best and first qualifying window, amount, months left and what is missing (AF §3.3, §4.5, §5.4)."""
    if start is None:
        return Analysis(
            None,
            None,
            len(months),
            missing_text="La VA n'est pas signée : la Prestation secondaire n'a pas démarré (AF §4.5).",
        )
    end = rules.add_months(start, observation_months)
    by_month = {figures.month: figures for figures in months}
    observed = [rules.add_months(start, offset) for offset in range(observation_months)]
    windows = []
    for offset in range(observation_months - window_months + 1):
        span = observed[offset : offset + window_months]
        if all(month in by_month for month in span):
            dt = sum(by_month[month].dt for month in span)
            dm = sum(by_month[month].dm for month in span)
            windows.append(rules.PerfWindow(span[0], span[-1], dt, dm, rules.perf_level(dt, dm)))
    # The first window with the highest PERF: what ``rules.best_perf_window`` returns for the secondary request.
    best: rules.PerfWindow | None = None
    for window in windows:
        if best is None or window.perf > best.perf:
            best = window
    first_qualifying = next((window for window in windows if window.perf > 0), None)
    months_left = max(months_between(today, end), 0)
    perf = best.perf if best else Decimal("0")
    payable = Decimal("0.00") if terminated else rules.secondary_payable(secondary_amount, perf)
    count, text, closest = _missing(
        windows, best, by_month, start=start, end=end, months_left=months_left, window_months=window_months
    )
    if terminated:
        count, text, closest = (
            None,
            "Commande résiliée par le client : la Prestation secondaire n'est pas payée (AF §7).",
            None,
        )
    return Analysis(
        start,
        end,
        len(by_month),
        windows,
        best,
        first_qualifying,
        months_left,
        terminated,
        payable,
        count,
        text,
        closest,
    )


def _missing(
    windows: list[rules.PerfWindow],
    best: rules.PerfWindow | None,
    by_month: dict[date, rules.MonthFigures],
    *,
    start: date,
    end: date,
    months_left: int,
    window_months: int,
) -> tuple[int | None, str, Closest | None]:
    """The closest next level and what it takes, in words (« il manque 14 documents envoyés sur la fenêtre … »)."""
    if best is not None and best.perf == PERF_ONE:
        return None, f"PERF 1 atteint sur la fenêtre {window_label(best.first_month, best.last_month)}.", None
    if months_left == 0:
        return (
            None,
            "Période d'observation de 18 mois terminée : le niveau atteint ne peut plus progresser (AF §4.5).",
            None,
        )
    if not windows:
        run = 0
        month = rules.add_months(start, 0)
        longest = 0
        while month < end:
            run = run + 1 if month in by_month else 0
            longest = max(longest, run)
            month = rules.add_months(month, 1)
        missing_months = window_months - longest
        return (
            None,
            f"il manque {missing_months} mois consécutif{'s' if missing_months > 1 else ''} de relevés pour "
            f"former une première fenêtre de {window_months} mois.",
            Closest(None, None, months_missing=missing_months),
        )
    level = PERF_ONE if best is not None and best.perf == PERF_HALF else PERF_HALF
    candidates = []
    for window in windows:
        dt_missing, dm_missing = documents_missing(window.dt, window.dm, level)
        candidates.append((dt_missing + dm_missing, dt_missing, dm_missing, window))
    total, dt_missing, dm_missing, window = min(candidates, key=lambda candidate: candidate[0])
    label = window_label(window.first_month, window.last_month)
    parts = []
    if dt_missing:
        parts.append(
            f"{dt_missing} document{'s' if dt_missing > 1 else ''} produit{'s' if dt_missing > 1 else ''} "
            "(Dt doit dépasser 60)"
        )
    if dm_missing:
        parts.append(f"{dm_missing} document{'s' if dm_missing > 1 else ''} envoyé{'s' if dm_missing > 1 else ''}")
    return (
        total,
        f"il manque {' et '.join(parts)} sur la fenêtre {label} pour atteindre {LEVEL_PERCENT[level]}.",
        Closest(window, level, dt_missing, dm_missing),
    )
