"""Server-side SVG charts of the secondary prestation (AF §3.3, §4.5): geometry only, the templates draw it.

Per order: the monthly Dm/Dt over the 18-month observation period, the 40 % and 60 % lines, the best window and the
other qualifying windows highlighted. Portfolio: orders per PERF level. Each chart has a table behind it. Floats
are used only for drawing; levels come from ``orders.rules.perf_level`` in integers.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from monitoring import perf
from monitoring.models import MonitoringMonth, MonitoringRevision
from orders import rules
from orders.admin.common import euros
from orders.models import Order

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MONTH_ABBREVIATIONS = [
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
]


def _y(percent: float) -> float:
    return round(TOP + PLOT_H * (1 - percent / 100))


@dataclass(frozen=True)
class Bar:
    month: date
    label: str
    x: int
    y: int
    width: int
    height: int
    dt: int | None
    dm: int | None
    percent: str  # « 62 % » or « — »
    level: str  # css class: ok (≥ 60 %), half (≥ 40 %), low, none


def _percent_text(dt: int, dm: int) -> str:
    return f"{round(100 * dm / dt)} %" if dt else "—"


def _level(dt: int, dm: int) -> str:
    if not dt:
        return "none"
    if 5 * dm >= 3 * dt:
        return "ok"
    if 5 * dm >= 2 * dt:
        return "half"
    return "low"


def order_chart(analysis: perf.Analysis, figures: dict[date, tuple[int, ...]]) -> dict[str, Any]:
    """Bars of Dm/Dt per month of the observation period, the 40 %/60 % lines, the windows as bands."""
    assert analysis.start is not None
    count = months = perf.months_between(analysis.start, analysis.observation_end or analysis.start)
    step = PLOT_W / max(count, 1)
    bars = []
    for index in range(months):
        month = rules.add_months(analysis.start, index)
        label = f"{MONTH_ABBREVIATIONS[month.month - 1]} {month:%y}"
        values = figures.get(month)
        x = round(LEFT + index * step + step * 0.15)
        if values is None:
            bars.append(Bar(month, label, x, _y(0), round(step * 0.7), 0, None, None, "—", "none"))
            continue
        dt, dm = values[0], values[1]
        ratio = 100 * dm / dt if dt else 0.0
        bars.append(
            Bar(month, label, x, _y(ratio), round(step * 0.7), round(PLOT_H * ratio / 100), dt, dm,
                _percent_text(dt, dm), _level(dt, dm))
        )  # fmt: skip

    def band(window: rules.PerfWindow, kind: str) -> dict[str, Any]:
        offset = perf.months_between(analysis.start, window.first_month)
        length = perf.months_between(window.first_month, window.last_month) + 1
        return {
            "x": round(LEFT + offset * step),
            "width": round(length * step),
            "kind": kind,
            "label": perf.window_label(window.first_month, window.last_month),
        }

    bands = []
    if analysis.first_qualifying and analysis.first_qualifying != analysis.best:
        bands.append(band(analysis.first_qualifying, "first"))
    if analysis.best is not None:
        bands.append(band(analysis.best, "best"))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + PLOT_H,
        "plot_height": PLOT_H,
        "label_y": TOP + PLOT_H + 16,
        "bars": bars,
        "bands": bands,
        "lines": [{"y": _y(60), "label": "60 %", "kind": "ok"}, {"y": _y(40), "label": "40 %", "kind": "half"}],
        "ticks": [{"y": _y(value), "label": f"{value} %"} for value in (0, 20, 40, 60, 80, 100)],
    }


def order_panel(order: Order, *, today: date | None = None) -> dict[str, Any] | None:
    """The order page's secondary section: PERF explained, the chart and its table, the history of revisions."""
    start = rules.secondary_start(order)
    if start is None:
        return None
    from monitoring.services import FIGURE_FIELDS, analysis_for

    today = today or rules.paris_date(timezone.now())
    figures = {
        row[0]: tuple(row[1:])
        for row in MonitoringMonth.objects.filter(order=order).values_list("month", *FIGURE_FIELDS)
    }
    analysis = analysis_for(order, figures, today=today)
    revisions = list(MonitoringRevision.objects.filter(order=order).select_related("author").order_by("month", "pk"))
    latest = {revision.month: revision.pk for revision in revisions}
    history = [
        {
            "revision": revision,
            "current": latest[revision.month] == revision.pk,
            "month_label": f"{revision.month:%m/%Y}",
        }
        for revision in revisions
    ]

    def window_text(window: rules.PerfWindow | None) -> str:
        if window is None:
            return "—"
        level = "0,5" if window.perf == Decimal("0.5") else str(int(window.perf))
        return (
            f"{perf.window_label(window.first_month, window.last_month)} : Dt = {window.dt}, Dm = {window.dm}, "
            f"{_percent_text(window.dt, window.dm)}, PERF {level}"
        )

    return {
        "analysis": analysis,
        "best": window_text(analysis.best),
        "first_qualifying": window_text(analysis.first_qualifying),
        "payable": euros(analysis.payable),
        "amount": euros(order.secondary_amount),
        "chart": order_chart(analysis, figures),
        "history": history,
        "corrections": sum(1 for item in history if not item["current"]),
    }
