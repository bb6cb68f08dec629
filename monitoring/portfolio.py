"""The secondary prestation's portfolio (AF §3.3, §4.5, §5.4): one aggregate query over the stored PERF summaries.

Orders in the secondary prestation are those with a signed VA. Terminated orders pay nothing (AF §7) and count apart.
Secured: the amount the best window pays today. At risk: what is not secured yet on orders still inside their
18-month observation. Lost: what is not secured on orders whose observation is over.
"""

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from monitoring.models import PerfStatus, PerfSummary
from orders.models import Order

ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))
LEVELS = [
    (PerfStatus.PERF_1, "perf_1"),
    (PerfStatus.PERF_HALF, "perf_half"),
    (PerfStatus.PERF_0, "perf_0"),
    (PerfStatus.NO_DATA, "no_data"),
]


def portfolio_totals(today: date) -> dict[str, Any]:
    """Counts per PERF level and the secondary revenue secured, at risk and lost, in one query."""
    active = Q(terminated_at__isnull=True)
    open_ = Q(perf__isnull=True) | Q(perf__observation_end__gt=today)
    unsecured = F("secondary_amount") - Coalesce(F("perf__payable_amount"), ZERO)
    return Order.objects.filter(va_signed_at__isnull=False).aggregate(
        perf_1=Count("pk", filter=active & Q(perf__status=PerfStatus.PERF_1)),
        perf_half=Count("pk", filter=active & Q(perf__status=PerfStatus.PERF_HALF)),
        perf_0=Count("pk", filter=active & Q(perf__status=PerfStatus.PERF_0)),
        no_data=Count("pk", filter=active & (Q(perf__isnull=True) | Q(perf__status=PerfStatus.NO_DATA))),
        terminated=Count("pk", filter=~active),
        secured=Coalesce(Sum("perf__payable_amount", filter=active), ZERO),
        at_risk=Coalesce(Sum(unsecured, filter=active & open_), ZERO),
        lost=Coalesce(Sum(unsecured, filter=active & ~open_), ZERO),
    )


def closest_to_a_level(today: date) -> QuerySet[PerfSummary]:
    """Orders still in observation that miss a level, the fewest documents missing first (partial index)."""
    return (
        PerfSummary.objects.filter(
            missing_count__isnull=False, observation_end__gt=today, order__terminated_at__isnull=True
        )
        .select_related("order", "order__client")
        .only(
            "order_id",
            "status",
            "missing_count",
            "missing_text",
            "best_perf",
            "payable_amount",
            "observation_end",
            "order__number",
            "order__secondary_amount",
            "order__client__name",
        )
        .order_by("missing_count", "order_id")
    )
