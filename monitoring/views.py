from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import selectors
from monitoring.selectors import CalendarDay
from orders import rules
from orders.models import Order, OrderState
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
        # Who sold at least one order: one index probe per staff member, not a scan of every order.
        "salespeople": get_user_model()
        .objects.filter(Exists(Order.objects.filter(salesperson=OuterRef("pk"))))
        .order_by("username"),
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


# --- Secondary prestation: portfolio, import, manual entry (AF §3.3, §4.5, §5.4) ----------------------------------

PORTFOLIO_PAGE_SIZE = 50
IMPORT_ERRORS_SHOWN = 200


def _staff_with(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def portfolio_bars(totals: dict[str, Any]) -> list[dict[str, Any]]:
    """Horizontal bars of the portfolio chart: orders per PERF level (server-side SVG)."""
    from monitoring.portfolio import LEVELS

    largest = max([totals[key] for _status, key in LEVELS] + [1])
    bars = []
    for index, (status, key) in enumerate(LEVELS):
        bars.append(
            {
                "key": key,
                "label": status.label,
                "count": totals[key],
                "y": 10 + index * 34,
                "width": round(420 * totals[key] / largest),
            }
        )
    return bars


@staff_member_required
def secondary_portfolio(request: HttpRequest) -> TemplateResponse:
    """How many orders sit at each PERF level, the revenue secured and at risk, the orders closest to a level."""
    from monitoring.portfolio import closest_to_a_level, portfolio_totals
    from orders.admin.common import euros

    _staff_with(request, "orders.view_order")
    today = rules.paris_date(timezone.now())
    totals = portfolio_totals(today)
    page = Paginator(closest_to_a_level(today), PORTFOLIO_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        **admin.site.each_context(request),
        "title": _("Prestation secondaire : portefeuille PERF"),
        "totals": totals,
        "bars": portfolio_bars(totals),
        "secured": euros(totals["secured"]),
        "at_risk": euros(totals["at_risk"]),
        "lost": euros(totals["lost"]),
        "page": page,
        "rows": [{"summary": summary, "payable": euros(summary.payable_amount)} for summary in page.object_list],
        "can_import": request.user.has_perm("orders.change_order"),
    }
    return TemplateResponse(request, "monitoring/portfolio.html", context)


def _import_dir() -> "Any":
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.gettempdir()) / "segur-monitoring-imports"
    folder.mkdir(exist_ok=True)
    return folder


@staff_member_required
def secondary_import(request: HttpRequest) -> HttpResponse:
    """Upload a CSV/XLSX of monthly figures, see the preview (or every error with line and column), then confirm."""
    import re
    import uuid

    from django.contrib import messages
    from django.shortcuts import redirect

    from monitoring.imports import IMPORT_TEMPLATE_HEADER, MAX_BYTES, MAX_BYTES_LABEL, ImportReport, import_file

    _staff_with(request, "orders.change_order")
    context: dict[str, Any] = {
        **admin.site.each_context(request),
        "title": _("Importer des relevés mensuels"),
        "max_size": MAX_BYTES_LABEL,
        "header": IMPORT_TEMPLATE_HEADER,
    }
    if request.method == "POST" and request.POST.get("token"):
        token, name = request.POST["token"], request.POST.get("filename", "")
        if not re.fullmatch(r"[0-9a-f]{32}\.(csv|xlsx)", token):
            raise Http404
        path = _import_dir() / token
        if not path.exists():
            messages.error(request, _("Cet aperçu a expiré : déposez le fichier de nouveau."))
            return redirect("admin:monitoring_secondary_import")
        report = import_file(path.read_bytes(), name or token, user=request.user, reason=request.POST.get("reason", ""))
        if report.errors:
            context.update(report=report, errors=report.errors[:IMPORT_ERRORS_SHOWN])
            return TemplateResponse(request, "monitoring/import.html", context)
        path.unlink(missing_ok=True)
        messages.success(
            request,
            _("Import enregistré : %(new)s mois nouveaux, %(corrections)s corrections, %(unchanged)s inchangés.")
            % {"new": report.new_months, "corrections": report.corrections, "unchanged": report.unchanged},
        )
        return redirect("admin:monitoring_secondary_portfolio")
    if request.method == "POST":
        upload = request.FILES.get("file")
        report = ImportReport()
        if upload is None:
            context["form_error"] = _("Fichier : choisissez un fichier CSV ou XLSX.")
            return TemplateResponse(request, "monitoring/import.html", context)
        if upload.size > MAX_BYTES:
            content, name = b"x" * (MAX_BYTES + 1), upload.name  # refused by import_file with its message
        else:
            content, name = upload.read(), upload.name
        report = import_file(content, name, user=request.user, reason=request.POST.get("reason", ""), dry_run=True)
        context.update(report=report, errors=report.errors[:IMPORT_ERRORS_SHOWN], filename=name)
        context["reason"] = request.POST.get("reason", "")
        if not report.errors:
            extension = "xlsx" if name.lower().endswith(".xlsx") else "csv"
            token = f"{uuid.uuid4().hex}.{extension}"
            (_import_dir() / token).write_bytes(content)
            context["token"] = token
    return TemplateResponse(request, "monitoring/import.html", context)


@staff_member_required
def secondary_record_month(request: HttpRequest, order_id: int) -> HttpResponse:
    """Manual entry or correction of one month from the order page (same validation as imports and the API)."""
    from datetime import date

    from django.contrib import messages
    from django.shortcuts import get_object_or_404, redirect

    from monitoring.imports import parse_integer, parse_month
    from monitoring.models import RevisionSource
    from monitoring.services import MonthReport, record_months
    from orders.models import Order

    _staff_with(request, "orders.change_order")
    if request.method != "POST":
        raise Http404
    order = get_object_or_404(Order.objects.select_related("programme", "client"), pk=order_id)
    back = redirect(reverse_order(order.pk) + "#suivi-secondaire")
    month = parse_month(request.POST.get("month", ""))
    figures = {name: parse_integer(request.POST.get(name, "")) for name in ("dt", "dm", "t", "tq", "ts")}
    problems = []
    if month is None:
        problems.append(_("Mois : indiquez le mois au format MM/AAAA (ex. 03/2027)."))
    problems += [
        _("%(name)s : indiquez un nombre entier.") % {"name": name.capitalize() if len(name) == 2 else name.upper()}
        for name, value in figures.items()
        if value is None
    ]
    if problems:
        for problem in problems:
            messages.error(request, problem)
        return back
    assert isinstance(month, date)
    report = MonthReport(month, *(int(figures[name] or 0) for name in ("dt", "dm", "t", "tq", "ts")))
    result = record_months(
        order, [report], source=RevisionSource.MANUAL, user=request.user, reason=request.POST.get("reason", "")
    )
    for _report, violations in result.rejected:
        for violation in violations:
            messages.error(request, violation.message)
    if result.corrected:
        messages.success(request, _("Correction enregistrée pour %(month)s.") % {"month": f"{month:%m/%Y}"})
    elif result.saved:
        messages.success(request, _("Mois %(month)s enregistré.") % {"month": f"{month:%m/%Y}"})
    elif result.unchanged:
        messages.info(
            request, _("Mois %(month)s : chiffres identiques, rien n'a changé.") % {"month": f"{month:%m/%Y}"}
        )
    return back


def reverse_order(order_id: int) -> str:
    from django.urls import reverse

    return reverse("admin:orders_order_change", args=[order_id])
