"""The client notice of the levels reached (AF §4.5): when a month's figures are recorded (manual entry, import, API),
the client is told by e-mail which level its best six months reach and what is still missing, in plain French, at
most once per calendar month and per order (the outbox key holds the month).

The same words are shown on the order's page of the client space (``client_perf_words``).
"""

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from monitoring import perf
from monitoring.models import MonitoringRevision, OutboxEmail
from orders import rules
from orders.models import Order

logger = logging.getLogger(__name__)

KIND = "perf_notice"
# Up to this many orders in one write, the notices are written in its transaction; above (big imports), a worker
# writes them after the commit, and the nightly job catches up whatever a lost message left out.
INLINE_MAX = 100


def _documents(count: int) -> str:
    return f"{count} document{'s' if count > 1 else ''}"


def period_words(first: date, last: date) -> str:
    """« de mars à août 2027 », « de novembre 2026 à avril 2027 »."""
    first_name, last_name = perf.MONTH_NAMES[first.month - 1], perf.MONTH_NAMES[last.month - 1]
    start = first_name if first.year == last.year else f"{first_name} {first.year}"
    return f"{'d’' if start[0] in 'aeiouy' else 'de '}{start} à {last_name} {last.year}"


def client_perf_words(analysis: perf.Analysis, *, window_months: int) -> list[str]:
    """The level reached and what is missing, in sentences a client understands (no codes, no rule references)."""
    if analysis.start is None:
        return []
    if analysis.terminated:
        return ["Votre commande est résiliée : la Prestation secondaire ne sera pas versée."]
    sentences = []
    best = analysis.best
    if best is None:
        missing = analysis.closest.months_missing if analysis.closest else 0
        sentences.append(
            f"Le niveau se mesure sur {window_months} mois consécutifs de relevés"
            + (f" : il en manque {missing} pour une première mesure." if missing else ".")
        )
    else:
        share = best.dm * 100 // best.dt if best.dt else 0
        figures = f"vous avez envoyé {_documents(best.dm)} sur {best.dt} à Mon espace santé ({share} %)"
        period = period_words(best.first_month, best.last_month)
        if best.perf == perf.PERF_ONE:
            sentences.append(f"Niveau plein atteint : {period}, {figures}. Au moins 60 % étaient demandés.")
        elif best.perf == perf.PERF_HALF:
            sentences.append(f"Moitié du niveau atteinte : {period}, {figures}. Le niveau plein demande au moins 60 %.")
        else:
            sentences.append(
                f"Niveau pas encore atteint : sur vos meilleurs {window_months} mois consécutifs ({period}), "
                f"{figures}. Il faut au moins 40 % pour la moitié du niveau."
            )
    closest = analysis.closest
    if closest is not None and closest.window is not None and closest.level is not None:
        period = period_words(closest.window.first_month, closest.window.last_month)
        target = perf.LEVEL_PERCENT[closest.level]
        if closest.dt_missing:
            sentences.append(
                f"Pour qu'une période de {window_months} mois compte, il faut plus de {perf.DT_FLOOR} documents à "
                f"envoyer : {period}, il en manque {closest.dt_missing}."
            )
        if closest.dm_missing:
            sentences.append(
                f"Pour atteindre {target} sur les mois {period}, il manque {_documents(closest.dm_missing)} "
                f"envoyé{'s' if closest.dm_missing > 1 else ''} à Mon espace santé."
            )
    if best is not None and best.perf == perf.PERF_ONE:
        sentences.append("Le financement de la Prestation secondaire est acquis : rien de plus n'est demandé.")
    elif analysis.months_left > 0 and analysis.observation_end is not None:
        last_day = analysis.observation_end - timedelta(days=1)
        sentences.append(f"Il reste {analysis.months_left} mois, jusqu'au {last_day:%d/%m/%Y}, pour progresser.")
    else:
        sentences.append("La période de mesure de 18 mois est terminée : ce niveau est définitif.")
    return sentences


def notice_key(order_id: int, today: date) -> str:
    return f"{KIND}:{order_id}:{today:%Y-%m}"


def queue_perf_notices(items: Iterable[tuple[Order, perf.Analysis]], *, now: datetime | None = None) -> int:
    """Write the notices of these orders not yet told this month (one query for the keys, one insert)."""
    from monitoring.reminders import client_email_context, outbox_email, unique_key
    from portal.access import access_links_batch

    now = now or timezone.now()
    today = rules.paris_date(now)
    candidates = [
        (order, analysis)
        for order, analysis in items
        if analysis.start is not None and not analysis.terminated and order.client.email
    ]
    keys = {order.pk: unique_key(notice_key(order.pk, today)) for order, _analysis in candidates}
    sent = set(OutboxEmail.objects.filter(key__in=keys.values()).values_list("key", flat=True))
    emails = []
    with access_links_batch():  # the client-space links of the batch in one insert
        for order, analysis in candidates:
            if keys[order.pk] in sent:
                continue
            address = order.client.email
            window_months = order.programme.secondary_window_months
            emails.append(
                outbox_email(
                    key=notice_key(order.pk, today),
                    kind=KIND,
                    to=address,
                    subject=f"Commande Ségur {order.number} : vos envois de documents à Mon espace santé",
                    template="emails/perf_notice",
                    context={
                        **client_email_context(order, address),
                        "sentences": client_perf_words(analysis, window_months=window_months),
                        "today": today,
                    },
                )
            )
    created = OutboxEmail.objects.bulk_create(emails, ignore_conflicts=True)
    if created:
        from monitoring.reminders import outbox_send_soon

        transaction.on_commit(outbox_send_soon)
    return len(emails)


def notify_after_write(orders: list[Order], analyses: dict[int, perf.Analysis], *, now: datetime) -> None:
    """Called by ``record_months_bulk`` in its transaction: few orders → the notices now; many → after the commit."""
    if len(orders) <= INLINE_MAX:
        loaded = Order.objects.select_related("client", "programme", "solution").in_bulk([order.pk for order in orders])
        queue_perf_notices([(loaded[order.pk], analyses[order.pk]) for order in orders], now=now)
        return
    order_ids = [order.pk for order in orders]

    def send_later() -> None:
        from monitoring.tasks import send_perf_notices

        try:
            send_perf_notices.delay(order_ids)
        except Exception:  # broker down: the nightly job writes the notices
            logger.warning("perf notices: could not queue the task; the nightly job will catch up", exc_info=True)

    transaction.on_commit(send_later)


def notices_for(order_ids: list[int], *, now: datetime | None = None, batch: int = 1000) -> int:
    """Write the notices of these orders (worker and nightly job), ``batch`` orders at a time."""
    from monitoring.services import analysis_for, load_figures

    now = now or timezone.now()
    today = rules.paris_date(now)
    count = 0
    for first in range(0, len(order_ids), batch):
        chunk = order_ids[first : first + batch]
        with transaction.atomic():
            orders = Order.objects.select_related("programme", "client", "solution").filter(pk__in=chunk).order_by("pk")
            figures = load_figures(chunk)
            count += queue_perf_notices(
                [(order, analysis_for(order, figures[order.pk], today=today)) for order in orders], now=now
            )
    return count


def notices_catch_up(*, now: datetime | None = None) -> int:
    """Orders whose figures were written since yesterday and whose client was not told this month (nightly job)."""
    now = now or timezone.now()
    since = rules.end_of_day_paris(rules.paris_date(now) - timedelta(days=2))
    order_ids = sorted(
        set(MonitoringRevision.objects.filter(recorded_at__gt=since).values_list("order_id", flat=True).distinct())
    )
    return notices_for(order_ids, now=now)
