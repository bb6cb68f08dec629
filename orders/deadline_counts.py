"""Stored deadlines counted per Paris day and code (issue 13): the calendar's and the dashboard's counts, read from
``DeadlineDayCount`` — a few rows per day, whatever the number of orders — instead of counting the stored deadlines.

PostgreSQL triggers (migration ``0022``) append each statement's change to that table; nothing else writes it. The
counts are the sums of its rows per (day, code); ``compact`` folds them into one row per (day, code) (the daily scan
runs it). On another database (the embedded SQLite) there are no triggers: ``available`` says so and the callers
count the stored deadlines themselves.
"""

from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Sum

from orders.models import DeadlineDayCount


def available() -> bool:
    """Whether the triggers keep the counts (PostgreSQL)."""
    return connection.vendor == "postgresql"


def day_groups(first: date | None, last: date, code: str = "") -> list[dict[str, Any]]:
    """The stored deadlines due from ``first`` (or ever) to ``last`` (Paris days, both included) per day and code:
    ``day``, ``code``, ``count``, ``total`` (amount at stake), ``label`` and ``who`` (the deadline's action and
    actor), as the calendar's own ``GROUP BY`` gives them."""
    rows = DeadlineDayCount.objects.filter(day__lte=last)
    if first is not None:
        rows = rows.filter(day__gte=first)
    if code:
        rows = rows.filter(code=code)
    grouped = (
        rows.order_by()
        .values("day", "code")
        .annotate(count=Sum("count"), total=Sum("amount"), label=Max("action"), who=Max("actor"))
    )
    return [row for row in grouped if row["count"]]


COMPACT = """
WITH moved AS (DELETE FROM {table} RETURNING day, code, count, amount, action, actor)
INSERT INTO {table} (day, code, count, amount, action, actor)
SELECT day, code, sum(count), sum(amount), max(action), max(actor) FROM moved GROUP BY day, code
HAVING sum(count) <> 0
"""


def compact() -> int:
    """Fold the appended changes into one row per (day, code); returns the rows left. Rows appended meanwhile by
    other transactions are not visible to this one and stay as they are (still counted). One compaction at a time."""
    if not available():
        return 0
    table = connection.ops.quote_name(DeadlineDayCount._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('deadline_day_counts'))")
        cursor.execute(COMPACT.format(table=table))
        return cursor.rowcount
