from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import selectors
from monitoring.selectors import CalendarDay
from orders import rules
from orders.models import OrderState
from segur_portal.spreadsheets import BOM, SafeCSVWriter, french_decimal, paris_datetime_text

DEADLINE_CODES = [
    ("DATE_4_SIGNATURE", _("Signature du bon de commande (Date 4)")),
    ("DATE_4_ADVANCE", _("Demande d'avance (Date 4)")),
    ("PRE_ORDER_120_DAYS", _("Commande conditionnelle : 120 jours")),
    ("DATE_2_NOTICE", _("Information du client (Date 2)")),
    ("DATE_5_REALISATION", _("Réalisation (Date 5)")),
    ("DATE_5_ATTESTATION", _("Solde ou attestation (Date 5)")),
    ("DATE_6_BALANCE", _("Demande de solde (Date 6)")),
    ("SECONDARY_OBSERVATION", _("Secondaire : observation (18 mois)")),
    ("SECONDARY_REQUEST", _("Secondaire : demande (20 mois)")),
    ("TERMINATION_NOTICE", _("Résiliation : information ASP (12 mois)")),
    ("PORTABILITY", _("Portabilité (15 jours)")),
    ("ANS_CHECK_WINDOW", _("Contrôle ANS du journal (6 mois)")),
]


# Rows listed per day: a crunch day (Date 4) holds thousands of orders; the counts per kind cover them all.
CALENDAR_ROWS_PER_DAY = 25
CALENDAR_ROWS_PER_DAY_FILTERED = 500


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker both answer, 503 otherwise; the body says which failed."""
    database = selectors.database_status()
    broker = selectors.broker_status()
    healthy = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if healthy else "error",
        "database": database,
        "broker": broker,
        "last_worker_heartbeat": selectors.last_worker_heartbeat() if database["ok"] else None,
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _calendar(request: HttpRequest, rows_per_day: int | None = None) -> tuple[CalendarDay, list[CalendarDay], bool]:
    """The overdue deadlines and the days of the calendar, for the filters of the query string (each day with its
    first ``rows_per_day`` rows and its counts, or with all its rows)."""
    if not request.user.has_perm("orders.view_order"):
        raise PermissionDenied
    salesperson = request.GET.get("commercial", "")
    filtered = any(request.GET.get(name) for name in ("echeance", "commercial", "etat"))
    overdue, days = selectors.deadline_calendar(
        now=timezone.now(),
        code=request.GET.get("echeance", ""),
        salesperson_id=int(salesperson) if salesperson.isdigit() else None,
        state=request.GET.get("etat", ""),
        rows_per_day=rows_per_day,
    )
    return overdue, days, filtered


def _entry(day: CalendarDay, rows: list[dict[str, Any]], hidden: int) -> dict[str, Any]:
    return {"day": day, "rows": rows, "hidden": hidden}


@staff_member_required
def deadline_calendar(request: HttpRequest) -> TemplateResponse:
    """Staff calendar: deadlines of the next 90 days by day, overdue on top, with counts and amounts (AF §10).

    A crunch day lists its first rows; "Tout afficher" (``?jour=AAAA-MM-JJ``) lists all of that day's rows, 500 a
    page. Each row shown says whether the system would refuse its action today, and why.
    """
    filtered = any(request.GET.get(name) for name in ("echeance", "commercial", "etat"))
    limit = CALENDAR_ROWS_PER_DAY_FILTERED if filtered else CALENDAR_ROWS_PER_DAY
    day_param = request.GET.get("jour", "")
    overdue, days, filtered = _calendar(request, rows_per_day=None if day_param else limit)
    page = None
    if day_param:
        chosen = overdue if day_param == "retard" else next((d for d in days if d.day.isoformat() == day_param), None)
        if chosen is None:
            raise Http404(_("Aucune échéance ce jour-là."))
        page = Paginator(chosen.items, CALENDAR_ROWS_PER_DAY_FILTERED).get_page(request.GET.get("page"))
        overdue_entry = _entry(chosen, list(page.object_list), 0) if chosen is overdue else None
        entries = [] if chosen is overdue else [_entry(chosen, list(page.object_list), 0)]
    else:
        overdue_entry = _entry(overdue, overdue.shown(limit), max(overdue.count - limit, 0))
        entries = [_entry(day, day.shown(limit), max(day.count - limit, 0)) for day in days]
    shown = [row for entry in [overdue_entry, *entries] if entry for row in entry["rows"]]
    selectors.mark_blocked(shown, timezone.now())
    filters = request.GET.copy()
    for name in ("jour", "page", "format"):
        filters.pop(name, None)
    context = {
        **admin.site.each_context(request),
        "title": _("Calendrier des échéances (90 jours)"),
        "overdue": overdue_entry,
        "days": entries,
        "page": page,
        "single_day": bool(day_param),
        "filters": filters.urlencode(),
        "codes": DEADLINE_CODES,
        "states": OrderState.choices,
        "salespeople": get_user_model().objects.filter(orders_sold__isnull=False).distinct().order_by("username"),
        "selected": request.GET,
    }
    return TemplateResponse(request, "monitoring/calendar.html", context)


CSV_HEADERS = ["Échéance le", "Statut", "Échéance", "Commande", "Client", "Qui", "Quoi", "Référence", "Montant (€)"]


@staff_member_required
def deadline_calendar_csv(request: HttpRequest) -> HttpResponse:
    """The calendar as French Excel opens it (``;``, UTF-8 BOM, decimal commas, dd/mm/yyyy HH:MM), same filters."""
    overdue, days, _filtered = _calendar(request)
    with translation.override("fr"):  # the export stays French, like its headers (French Excel)
        labels = {code: str(label) for code, label in DEADLINE_CODES}
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="calendrier-echeances.csv"'
    response.write(BOM)
    writer = SafeCSVWriter(response, delimiter=";")
    writer.writerow(CSV_HEADERS)
    for item in [*overdue.items, *(item for day in days for item in day.items)]:
        deadline, order = item["deadline"], item["order"]
        writer.writerow(
            [
                paris_datetime_text(deadline.due_at),
                "En retard" if deadline.status == rules.OVERDUE else "À venir",
                labels.get(deadline.code, deadline.code),
                order.number if order else "Fournisseur",
                order.client.name if order else item["label"],
                deadline.actor_label,
                deadline.action,
                deadline.reference,
                french_decimal(item["amount"]),
            ]
        )
    return response
