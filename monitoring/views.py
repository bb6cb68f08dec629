from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import selectors
from orders.models import OrderState

DEADLINE_CODES = [
    ("DATE_4_SIGNATURE", "Signature du bon de commande (Date 4)"),
    ("DATE_4_ADVANCE", "Demande d'avance (Date 4)"),
    ("PRE_ORDER_120_DAYS", "Commande conditionnelle : 120 jours"),
    ("DATE_2_NOTICE", "Information du client (Date 2)"),
    ("DATE_5_REALISATION", "Réalisation (Date 5)"),
    ("DATE_5_ATTESTATION", "Solde ou attestation (Date 5)"),
    ("DATE_6_BALANCE", "Demande de solde (Date 6)"),
    ("SECONDARY_OBSERVATION", "Secondaire : observation (18 mois)"),
    ("SECONDARY_REQUEST", "Secondaire : demande (20 mois)"),
    ("TERMINATION_NOTICE", "Résiliation : information ASP (12 mois)"),
    ("PORTABILITY", "Portabilité (15 jours)"),
    ("ANS_CHECK_WINDOW", "Contrôle ANS du journal (6 mois)"),
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


@staff_member_required
def deadline_calendar(request: HttpRequest) -> TemplateResponse:
    """Staff calendar: deadlines of the next 90 days by day, overdue on top, with counts and amounts (SPEC §10)."""
    if not request.user.has_perm("orders.view_order"):
        raise PermissionDenied
    salesperson = request.GET.get("commercial", "")
    filtered = any(request.GET.get(name) for name in ("echeance", "commercial", "etat"))
    limit = CALENDAR_ROWS_PER_DAY_FILTERED if filtered else CALENDAR_ROWS_PER_DAY
    overdue, days = selectors.deadline_calendar(
        now=timezone.now(),
        code=request.GET.get("echeance", ""),
        salesperson_id=int(salesperson) if salesperson.isdigit() else None,
        state=request.GET.get("etat", ""),
    )
    context = {
        **admin.site.each_context(request),
        "title": "Calendrier des échéances (90 jours)",
        "overdue": {"day": overdue, "rows": overdue.shown(limit), "hidden": max(overdue.count - limit, 0)},
        "days": [{"day": day, "rows": day.shown(limit), "hidden": max(day.count - limit, 0)} for day in days],
        "codes": DEADLINE_CODES,
        "states": OrderState.choices,
        "salespeople": get_user_model().objects.filter(orders_sold__isnull=False).distinct().order_by("username"),
        "selected": request.GET,
    }
    return TemplateResponse(request, "monitoring/calendar.html", context)
