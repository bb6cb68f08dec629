"""The staff home page: where every order stands, the money received, expected and at risk, what is due soon, the
readiness for the balance requests and the pace against Date 4 and Date 5 (AF §II, §4.3–§6.5).

Every figure is an SQL aggregate over the orders (``GROUP BY`` or conditional sums): a bounded number of queries
whatever the number of orders, and no Python loop over orders. ``deadlines_ahead`` counts the stored deadlines
(``orders.deadline_store``) per day and kind through ``monitoring.selectors.deadline_calendar``.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncWeek
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from clients.models import ClientKind
from orders import rules
from orders.models import Order, OrderState, Programme, Provider, Solution, VatRegime

ZERO = Decimal("0")
MONEY = DecimalField(max_digits=14, decimal_places=2)
FINANCE_PERMISSION = "orders.file_balance"  # finance and administrators (orders.roles)
PACE_WEEKS = 8

# What the list's own filters understand (orders.admin.order_list, orders.admin.order): « commercial=tous » so that a
# salesperson's link lists what the figure counts, not only his own orders.
EVERYONE = {"commercial": "tous"}


def order_list_url(**params: str) -> str:
    """The order list filtered as the figure it explains (the list's own query parameters)."""
    return reverse("admin:orders_order_changelist") + "?" + urlencode({**EVERYONE, **params})


def _sum(expression: Any, condition: Q) -> Coalesce:
    return Coalesce(Sum(expression, filter=condition, output_field=MONEY), Value(ZERO), output_field=MONEY)


@dataclass
class Row:
    """One line of a block: a label, how many orders, how much, and the filtered list behind it."""

    label: str
    count: int
    amount: Decimal | None
    url: str
    reason: str = ""
    status: str = ""  # readiness: green / amber / red
    paid: Decimal | None = None


@dataclass
class Bar:
    label: str
    value: int
    width: float
    y: int

    @property
    def value_x(self) -> float:
        return round(BAR_LEFT + self.width + 6, 1)


BAR_LEFT = 150
BAR_STEP = 22


def bars(rows: list[Row], *, width: int = 240, step: int = BAR_STEP) -> list[Bar]:
    """Horizontal bars of an SVG chart (server-side, no script): widths proportional to the counts."""
    top = max((row.count for row in rows), default=0) or 1
    return [
        Bar(row.label, row.count, round(width * row.count / top, 1), index * step) for index, row in enumerate(rows)
    ]


# --- Pipeline ------------------------------------------------------------------------------------------------------


def _grouped(orders: QuerySet[Order], *fields: str) -> list[dict[str, Any]]:
    return list(
        orders.order_by()
        .values(*fields)
        .annotate(count=Count("pk"), amount=Coalesce(Sum("principal_amount"), Value(ZERO), output_field=MONEY))
        .order_by(*fields)
    )


def pipeline_by_state(orders: QuerySet[Order]) -> list[Row]:
    """Orders per state, in the order the states are reached, with their principal amount (one query)."""
    found = {row["state"]: row for row in _grouped(orders, "state")}
    return [
        Row(str(label), found[state]["count"], found[state]["amount"], order_list_url(state__exact=state))
        for state, label in OrderState.choices
        if state in found
    ]


def pipeline_by_salesperson(orders: QuerySet[Order]) -> list[Row]:
    rows = _grouped(
        orders, "salesperson_id", "salesperson__first_name", "salesperson__last_name", "salesperson__username"
    )
    result = []
    for row in rows:
        name = f"{row['salesperson__first_name']} {row['salesperson__last_name']}".strip()
        person = name or row["salesperson__username"] or _("Sans commercial")
        params = {"salesperson__id__exact": str(row["salesperson_id"])} if row["salesperson_id"] else {}
        result.append(Row(person, row["count"], row["amount"], order_list_url(**params)))
    return sorted(result, key=lambda row: (-row.count, row.label))


def pipeline_by_client(orders: QuerySet[Order]) -> list[Row]:
    """Per client kind and tranche (AF §5.3: the ceiling's basis)."""
    kinds = dict(ClientKind.choices)
    result = []
    for row in _grouped(orders, "client__kind", "client__tranche"):
        kind, tranche = row["client__kind"], row["client__tranche"]
        label = str(kinds.get(kind, kind)) + (f" · {_('tranche')} {tranche}" if tranche else "")
        params = {"client__kind__exact": kind} | ({"client__tranche__exact": tranche} if tranche else {})
        result.append(Row(label, row["count"], row["amount"], order_list_url(**params)))
    return result


def pipeline_by_programme(orders: QuerySet[Order]) -> list[Row]:
    return [
        Row(
            row["programme__code"],
            row["count"],
            row["amount"],
            order_list_url(programme__id__exact=str(row["programme_id"])),
        )
        for row in _grouped(orders, "programme_id", "programme__code")
    ]


# --- Money (AF §5, §6) -----------------------------------------------------------------------------------------------

S = OrderState
ADVANCE_WAITING = Q(advance_requested_at__isnull=False, advance_paid_at__isnull=True, state=S.ADVANCE_REQUESTED)
BALANCE_WAITING = Q(state=S.BALANCE_REQUESTED)
SECONDARY_STATES = [S.VA_SIGNED, S.BALANCE_REQUESTED, S.BALANCE_PAID]
NOT_INSTALLED = [S.ADVANCE_REQUESTED, S.ADVANCE_PAID]
BEFORE_ADVANCE = [S.PRE_ORDER, S.FIRM]
# The advance the ASP pays is the programme's rate × the principal (AF §6.2); rounded per order in ``rules``, here
# the sum of the expected amounts is shown to the cent of the sum (the ASP's payment is then recorded exactly).
EXPECTED_ADVANCE = ExpressionWrapper(F("principal_amount") * F("programme__advance_rate"), output_field=MONEY)
EXPECTED_BALANCE = ExpressionWrapper(
    F("principal_amount") - Coalesce(F("advance_amount"), Value(ZERO)), output_field=MONEY
)
SECONDARY_SECURED = ExpressionWrapper(F("secondary_amount") * F("secondary_perf"), output_field=MONEY)


def money_figures(orders: QuerySet[Order]) -> dict[str, Any]:
    """Every money figure of the dashboard in one aggregate query (conditional sums)."""
    secured = Q(secondary_perf__isnull=False, secondary_perf__gt=0, secondary_paid_at__isnull=True)
    return orders.order_by().aggregate(
        advance_requested_count=Count("pk", filter=ADVANCE_WAITING),
        advance_requested=_sum(EXPECTED_ADVANCE, ADVANCE_WAITING),
        advance_paid_count=Count("pk", filter=Q(advance_amount__isnull=False)),
        advance_paid=_sum("advance_amount", Q(advance_amount__isnull=False)),
        balance_requested_count=Count("pk", filter=BALANCE_WAITING),
        balance_requested=_sum(EXPECTED_BALANCE, BALANCE_WAITING),
        balance_paid_count=Count("pk", filter=Q(balance_amount__isnull=False)),
        balance_paid=_sum("balance_amount", Q(balance_amount__isnull=False)),
        secondary_paid_count=Count("pk", filter=Q(secondary_paid_amount__isnull=False)),
        secondary_paid=_sum("secondary_paid_amount", Q(secondary_paid_amount__isnull=False)),
        secondary_secured_count=Count("pk", filter=secured),
        secondary_secured=_sum(SECONDARY_SECURED, secured),
        secondary_potential_count=Count("pk", filter=Q(state__in=SECONDARY_STATES)),
        secondary_potential=_sum("secondary_amount", Q(state__in=SECONDARY_STATES)),
        risk_drafts_count=Count("pk", filter=Q(state=S.DRAFT)),
        risk_drafts=_sum("principal_amount", Q(state=S.DRAFT)),
        risk_dossier_count=Count("pk", filter=Q(state=S.PRE_ORDER)),
        risk_dossier=_sum("principal_amount", Q(state=S.PRE_ORDER)),
        risk_advance_count=Count("pk", filter=Q(state=S.FIRM)),
        risk_advance=_sum("principal_amount", Q(state=S.FIRM)),
        risk_install_count=Count("pk", filter=Q(state__in=NOT_INSTALLED)),
        risk_install=_sum("principal_amount", Q(state__in=NOT_INSTALLED)),
        risk_lapsed_count=Count("pk", filter=Q(state=S.LAPSED)),
        risk_lapsed=_sum("principal_amount", Q(state=S.LAPSED)),
        risk_reimbursement_count=Count("pk", filter=Q(state=S.REIMBURSEMENT_DUE)),
        risk_reimbursement=_sum("advance_amount", Q(state=S.REIMBURSEMENT_DUE)),
    )


def money_blocks(orders: QuerySet[Order], programme: Programme | None) -> dict[str, list[Row]]:
    """Received, expected and at risk (with the reason), from ``money_figures``; each row links to its orders."""
    figures = money_figures(orders)

    def row(key: str, label: str, reason: str = "", **params: str) -> Row:
        return Row(label, figures[f"{key}_count"], figures[key], order_list_url(**params), reason)

    date_4 = rules.format_deadline(programme.date_4) if programme else "—"
    date_5 = rules.format_deadline(programme.date_5) if programme else "—"
    return {
        "received": [
            row("advance_paid", _("Avances versées par l'ASP")),
            row("balance_paid", _("Soldes versés par l'ASP")),
            row("secondary_paid", _("Prestations secondaires versées")),
        ],
        "expected": [
            row("advance_requested", _("Avances demandées, en attente de l'ASP"), state__exact=S.ADVANCE_REQUESTED),
            row("balance_requested", _("Soldes demandés, en attente de l'ASP"), state__exact=S.BALANCE_REQUESTED),
            row("secondary_secured", _("Secondaire acquise (PERF connu)")),
            row(
                "secondary_potential",
                _("Secondaire potentielle (à PERF = 1)"),
                state__in=",".join(SECONDARY_STATES),
            ),
        ],
        "at_risk": [
            row(
                "risk_drafts",
                _("Bons de commande non signés"),
                _("signature du client au plus tard à la Date 4 (%(date)s)") % {"date": date_4},
                state__exact=S.DRAFT,
            ),
            row(
                "risk_dossier",
                _("Commandes conditionnelles"),
                _("en attente du dossier complet et du référencement"),
                state__exact=S.PRE_ORDER,
            ),
            row(
                "risk_advance",
                _("Demandes d'avance non déposées"),
                _("à déposer auprès de l'ASP avant la Date 4 (%(date)s)") % {"date": date_4},
                state__exact=S.FIRM,
            ),
            row(
                "risk_install",
                _("Commandes non installées"),
                _("Prestation principale à réaliser avant la Date 5 (%(date)s)") % {"date": date_5},
                state__in=",".join(NOT_INSTALLED),
            ),
            row("risk_lapsed", _("Commandes caduques"), _("dossier complet non déposé à temps"), state__exact=S.LAPSED),
            row(
                "risk_reimbursement",
                _("Avances à reverser"),
                _("Prestation non réalisée à la Date 5"),
                state__exact=S.REIMBURSEMENT_DUE,
            ),
        ],
    }


def by_vat_regime(orders: QuerySet[Order]) -> list[Row]:
    """Per VAT regime (AF §5.2): orders, principal amount, and what the ASP paid (one query)."""
    labels = dict(VatRegime.choices)
    rows = (
        orders.order_by()
        .values("vat_regime")
        .annotate(
            count=Count("pk"),
            amount=Coalesce(Sum("principal_amount"), Value(ZERO), output_field=MONEY),
            paid=_sum(F("advance_amount"), Q(advance_amount__isnull=False))
            + _sum(F("balance_amount"), Q(balance_amount__isnull=False)),
        )
        .order_by("vat_regime")
    )
    return [
        Row(
            str(labels.get(row["vat_regime"], row["vat_regime"])),
            row["count"],
            row["amount"],
            order_list_url(vat_regime__exact=row["vat_regime"]),
            paid=row["paid"],
        )
        for row in rows
    ]


# --- Deadlines (SPEC §10) ------------------------------------------------------------------------------------------


def deadline_calendar(*, now: datetime, days: int, salesperson_id: int | None = None) -> tuple[Any, list[Any]]:
    """The deadline engine's calendar (overdue, then by day), counted per kind of deadline by the database from the
    stored deadlines (``orders.deadline_store``): no row read per order (``rows_per_day=0``)."""
    from monitoring import selectors

    return selectors.deadline_calendar(now=now, days=days, salesperson_id=salesperson_id, rows_per_day=0)


@dataclass
class DeadlineGroup:
    label: str
    count: int = 0
    amount: Decimal = ZERO
    codes: dict[str, Row] = field(default_factory=dict)
    url: str = ""


def deadlines_ahead(now: datetime, *, salesperson_id: int | None = None) -> list[DeadlineGroup]:
    """Overdue first, then the rest of this week (to Sunday), then the next 30 days: counts and amounts per kind of
    deadline, each linking to the list's « prochaine échéance » filter or the calendar."""
    overdue, days = deadline_calendar(now=now, days=30, salesperson_id=salesperson_id)
    today = rules.paris_date(now)
    week_end = today + timedelta(days=6 - today.weekday())
    groups = [
        DeadlineGroup(_("En retard"), url=order_list_url(echeance="overdue")),
        DeadlineGroup(
            _("Cette semaine (jusqu'au %(day)s)") % {"day": f"{week_end:%d/%m/%Y}"}, url=order_list_url(echeance="7")
        ),
        DeadlineGroup(_("Dans les 30 jours"), url=order_list_url(echeance="30")),
    ]
    calendar_url = reverse("deadline_calendar")

    def add(group: DeadlineGroup, day: Any) -> None:
        for counted in day.by_deadline():
            group.count += counted["count"]
            group.amount += counted["amount"]
            row = group.codes.setdefault(
                counted["code"],
                Row(counted["action"], 0, ZERO, f"{calendar_url}?code={counted['code']}", counted["actor"]),
            )
            row.count += counted["count"]
            row.amount = (row.amount or ZERO) + counted["amount"]

    add(groups[0], overdue)
    for day in days:
        add(groups[1] if day.day <= week_end else groups[2], day)
    return groups


# --- Readiness for the balance (AF §6.1, §6.3, §6.4) ---------------------------------------------------------------


def readiness(now: datetime) -> list[Row]:
    """What the balance requests need besides the order itself: ASP enrolment, pilot (k/5 PVs, validated by the ANS),
    présérie Ordonnance numérique, referencing — green when done, amber when under way, red when missing."""
    rows: list[Row] = []
    for provider in Provider.objects.order_by("pk"):
        if provider.asp_enrolment_validated_on:
            rows.append(
                Row(
                    _("Enrôlement ASP de %(name)s") % {"name": provider.name},
                    0,
                    None,
                    "",
                    _("validé le %(day)s") % {"day": f"{provider.asp_enrolment_validated_on:%d/%m/%Y}"},
                    "green",
                )
            )
        elif provider.asp_enrolment_requested_on:
            rows.append(
                Row(
                    _("Enrôlement ASP de %(name)s") % {"name": provider.name},
                    0,
                    None,
                    "",
                    _("demandé le %(day)s, pas encore validé")
                    % {"day": f"{provider.asp_enrolment_requested_on:%d/%m/%Y}"},
                    "amber",
                )
            )
        else:
            rows.append(
                Row(
                    _("Enrôlement ASP de %(name)s") % {"name": provider.name},
                    0,
                    None,
                    "",
                    _("à demander : aucune demande de financement sans lui (AF §6.1)"),
                    "red",
                )
            )
        if provider.preserie_validated_on:
            rows.append(
                Row(
                    _("Présérie Ordonnance numérique"),
                    0,
                    None,
                    "",
                    _("validée le %(day)s") % {"day": f"{provider.preserie_validated_on:%d/%m/%Y}"},
                    "green",
                )
            )
        else:
            rows.append(
                Row(
                    _("Présérie Ordonnance numérique"),
                    0,
                    None,
                    "",
                    _("non validée : aucune demande de solde sans elle (AF §6.4)"),
                    "red",
                )
            )
    pilot_pvs = dict(
        Order.objects.filter(pilot_pv_signed_at__isnull=False)
        .order_by()
        .values("solution_id")
        .annotate(count=Count("pk"))
        .values_list("solution_id", "count")
    )
    for solution in Solution.objects.select_related("programme").order_by("pk"):
        size = solution.programme.pilot_size
        signed = pilot_pvs.get(solution.pk, 0)
        pilot_url = order_list_url(is_pilot__exact="1")
        if solution.pilot_validated_at:
            status, text = (
                "green",
                _("%(signed)s/%(size)s PV signés, validé par l'ANS le %(day)s")
                % {"signed": signed, "size": size, "day": f"{rules.paris_date(solution.pilot_validated_at):%d/%m/%Y}"},
            )
        elif signed >= size:
            status, text = (
                "amber",
                _("%(signed)s/%(size)s PV signés : à envoyer à l'ANS et faire valider")
                % {"signed": signed, "size": size},
            )
        else:
            status, text = (
                "red",
                _("%(signed)s/%(size)s PV signés : il en manque %(missing)s (AF §6.3)")
                % {"signed": signed, "size": size, "missing": size - signed},
            )
        rows.append(
            Row(_("Périmètre pilote de %(solution)s") % {"solution": solution}, signed, None, pilot_url, text, status)
        )
        if solution.referenced_at:
            status, text = (
                "green",
                _("référencée le %(day)s (n° %(number)s)")
                % {
                    "day": f"{rules.paris_date(solution.referenced_at):%d/%m/%Y}",
                    "number": solution.ans_reference_number or "—",
                },
            )
        elif solution.refused_at:
            status, text = (
                "red",
                _("référencement refusé le %(day)s") % {"day": f"{rules.paris_date(solution.refused_at):%d/%m/%Y}"},
            )
        elif solution.complete_dossier_submitted_at:
            status, text = (
                "amber",
                _("dossier complet déposé le %(day)s, décision de l'ANS attendue")
                % {"day": f"{rules.paris_date(solution.complete_dossier_submitted_at):%d/%m/%Y}"},
            )
        else:
            status, text = (
                "red",
                _("dossier complet à déposer avant la Date 2 (%(date)s)")
                % {"date": rules.format_deadline(solution.programme.date_2)},
            )
        rows.append(Row(_("Référencement de %(solution)s") % {"solution": solution}, 0, None, "", text, status))
    return rows


# --- Pace (AF §II: Date 4, Date 5) ----------------------------------------------------------------------------------


@dataclass
class Pace:
    weeks: list[dict[str, Any]]
    signed_needed: Decimal | None
    installed_needed: Decimal | None
    to_sign: int
    to_install: int
    weeks_to_date_4: int
    weeks_to_date_5: int
    chart_height: int = 120
    top: int = 1
    signed_needed_y: float = 0.0
    installed_needed_y: float = 0.0


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def pace(orders: QuerySet[Order], programme: Programme | None, now: datetime) -> Pace:
    """Orders signed and installations per week (the last ``PACE_WEEKS`` weeks) against the weekly pace needed to
    sign every draft by Date 4 and install every signed order by Date 5 (two queries and one aggregate)."""
    this_monday = _monday(rules.paris_date(now))
    first = this_monday - timedelta(weeks=PACE_WEEKS - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=rules.PARIS)

    def per_week(field_name: str) -> dict[date, int]:
        rows = (
            orders.order_by()
            .filter(**{f"{field_name}__gte": since})
            .annotate(week=TruncWeek(field_name, tzinfo=rules.PARIS))
            .values("week")
            .annotate(count=Count("pk"))
        )
        return {row["week"].date() if isinstance(row["week"], datetime) else row["week"]: row["count"] for row in rows}

    signed, installed = per_week("signed_at"), per_week("installed_at")
    left = orders.order_by().aggregate(
        to_sign=Count("pk", filter=Q(state=S.DRAFT)),
        to_install=Count("pk", filter=Q(state__in=[S.PRE_ORDER, S.FIRM, *NOT_INSTALLED])),
    )
    weeks = []
    for index in range(PACE_WEEKS):
        monday = first + timedelta(weeks=index)
        weeks.append(
            {
                "monday": monday,
                "label": f"{monday:%d/%m}",
                "signed": signed.get(monday, 0),
                "installed": installed.get(monday, 0),
            }
        )

    def weeks_until(moment: datetime | None) -> int:
        if moment is None or moment <= now:
            return 0
        return max(1, -(-(moment - now).days // 7))

    to_4 = weeks_until(programme.date_4 if programme else None)
    to_5 = weeks_until(programme.date_5 if programme else None)
    result = Pace(
        weeks=weeks,
        signed_needed=(Decimal(left["to_sign"]) / to_4).quantize(Decimal("0.1"), ROUND_HALF_UP) if to_4 else None,
        installed_needed=(Decimal(left["to_install"]) / to_5).quantize(Decimal("0.1"), ROUND_HALF_UP) if to_5 else None,
        to_sign=left["to_sign"],
        to_install=left["to_install"],
        weeks_to_date_4=to_4,
        weeks_to_date_5=to_5,
    )
    top = max(
        [
            1,
            *(week["signed"] for week in weeks),
            *(week["installed"] for week in weeks),
            float(result.signed_needed or 0),
            float(result.installed_needed or 0),
        ]
    )
    result.top = int(top) if top == int(top) else int(top) + 1
    for index, week in enumerate(weeks):
        week["x"] = 40 + index * 56
        for key in ("signed", "installed"):
            week[f"{key}_h"] = round(result.chart_height * week[key] / result.top, 1)
            week[f"{key}_y"] = round(result.chart_height - week[f"{key}_h"], 1)
    for key, needed in (("signed_needed_y", result.signed_needed), ("installed_needed_y", result.installed_needed)):
        setattr(result, key, round(result.chart_height * (1 - float(needed or 0) / result.top), 1))
    return result


# --- The page ------------------------------------------------------------------------------------------------------


def has_finance(user: Any) -> bool:
    return bool(user.has_perm(FINANCE_PERMISSION))


def dashboard_context(user: Any, now: datetime | None = None) -> dict[str, Any]:
    """Everything the staff home page shows, as far as this user may see: no money blocks without a finance
    permission; a salesperson's own figures first."""
    if not user.has_perm("orders.view_order"):
        return {}
    from orders.admin.order_list import is_sales

    now = now or timezone.now()
    orders = Order.objects.all()
    programme = Programme.objects.order_by("date_4").first()
    states = pipeline_by_state(orders)
    context: dict[str, Any] = {
        "dashboard": True,
        "now": now,
        "programme": programme,
        "states": states,
        "state_bars": bars(states),
        "state_chart_height": len(states) * BAR_STEP + 4,
        "total": Row(
            _("Toutes les commandes"),
            sum(row.count for row in states),
            sum((row.amount or ZERO for row in states), ZERO),
            order_list_url(),
        ),
        "by_salesperson": pipeline_by_salesperson(orders),
        "by_client": pipeline_by_client(orders),
        "by_programme": pipeline_by_programme(orders),
        "deadlines": deadlines_ahead(now),
        "readiness": readiness(now),
        "pace": pace(orders, programme, now),
        "finance": has_finance(user),
    }
    if is_sales(user):
        mine = orders.filter(salesperson=user)
        own_states = [
            Row(row.label, row.count, row.amount, row.url.replace("commercial=tous", "commercial=moi"))
            for row in pipeline_by_state(mine)
        ]
        context["own_states"] = own_states
        context["own_total"] = Row(
            _("Mes commandes"),
            sum(row.count for row in own_states),
            sum((row.amount or ZERO for row in own_states), ZERO),
            order_list_url(commercial="moi"),
        )
        context["own_deadlines"] = own_deadlines = deadlines_ahead(now, salesperson_id=user.pk)
        for group in own_deadlines:
            group.url = group.url.replace("commercial=tous", "commercial=moi")
    if context["finance"]:
        context["money"] = money_blocks(orders, programme)
        context["vat"] = by_vat_regime(orders)
    return context


def admin_index(index_view: Any) -> Any:
    """The admin's own index view with the dashboard in its context (``segur_portal.urls``)."""

    def index(request: Any, extra_context: dict[str, Any] | None = None) -> Any:
        return index_view(request, extra_context={**(extra_context or {}), **dashboard_context(request.user)})

    return index
