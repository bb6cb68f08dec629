"""Pure functions of the regulation (AF MDV-LGC-Va2, SPEC §2–§10): money, calendar, guards and deadlines.

Nothing here reads or writes the database: callers pass the objects they loaded (with ``select_related``), so the same
rule serves the admin, the API, the client portal and the Celery jobs, and a list of 100 000 orders costs no query
per order.
"""

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from clients.rules import ClientFacts, eligibility_violations, required_profiles, shown, wave1_allows_v1v2
from orders.exceptions import RuleViolation

if TYPE_CHECKING:
    from clients.models import Client
    from orders.models import Order, Programme, Provider, Solution

PARIS = ZoneInfo("Europe/Paris")
CENT = Decimal("0.01")
DEADLINE_TIME = time(12, 0)

# SPEC §3: what the main prestation covers; an order is installed when every item is done (AF §3.1, §3.2).
DEPLOYMENT_CHECKLIST: tuple[tuple[str, str], ...] = (
    ("rights_of_use", "Droits d'usage (contrat de support restant, 5 ans max.)"),
    ("installation", "Installation, paramétrage et qualification jusqu'à l'activation effective"),
    ("organisation_certificate", "Aide à l'obtention du certificat logiciel de type organisation (structures)"),
    ("corrective_maintenance", "Maintenance corrective et mises à jour des jeux de valeurs"),
    ("training_session", "Formation : au moins une session collective d'une heure proposée à chaque utilisateur"),
    ("training_material", "Supports de formation remis (enregistrement si à distance)"),
    ("self_service_content", "Contenus d'autoformation (e-learning, vidéos)"),
    ("documentation", "Documentation livrée"),
    ("datamatrix_reader", "Référence commerciale d'un lecteur datamatrix/QR code"),
    ("project_follow_up", "Suivi de projet"),
)
STRUCTURE_ONLY_CHECKLIST_ITEMS = frozenset({"organisation_certificate"})


def french_number(value: Decimal | str) -> str:
    """A number as a person reads it in a French message: decimal comma (451,50)."""
    return str(value).replace(".", ",")


# --- Calendar -------------------------------------------------------------------------------------------------


def noon_paris(day: date) -> datetime:
    """Deadlines fall at 12:00 Europe/Paris on their day (AF §II), whatever the daylight-saving offset."""
    return datetime.combine(day, DEADLINE_TIME, tzinfo=PARIS)


def paris_date(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def end_of_day_paris(day: date) -> datetime:
    """The last instant of a Paris calendar day. A day or month count («120 jours calendaires», «au plus tard
    20 mois», «15 jours», «12 mois») ends with its last calendar day in Europe/Paris, not at noon (AF §4.3, §4.4,
    §4.5, §6.5): ``moment <= end_of_day_paris(day)`` is ``paris_date(moment) <= day``. Only the programme's Date 0–6
    are instants at 12:00 (``noon_paris``)."""
    return datetime.combine(day, time.max, tzinfo=PARIS)


def is_end_of_day(moment: datetime) -> bool:
    return moment.astimezone(PARIS).time() == time.max


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's last day (31 Jan + 1 month → 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def first_day_of_next_month(moment: datetime) -> date:
    day = paris_date(moment)
    return add_months(day.replace(day=1), 1)


def end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def format_deadline(moment: datetime) -> str:
    """``16/12/2026 12:00`` for a programme date; ``04/05/2022`` alone for the last day of a day count."""
    if is_end_of_day(moment):
        return moment.astimezone(PARIS).strftime("%d/%m/%Y")
    return moment.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


# --- Plausible dates ----------------------------------------------------------------------------------------------

# Every date a person or a file gives must fall in a window around the programme's calendar (AF §II): from two years
# before its first date (Date 0, else Date 1) to six years after Date 6 — the support contract runs five years at
# most after the realisation (AF §3.1), and its portability and ASP notices follow. A year 1 or 9999 date is a typing
# error; stored, it would make every list and the daily scan fail (PostgreSQL and Python disagree on its range).
DATE_WINDOW_YEARS_BEFORE = 2
DATE_WINDOW_YEARS_AFTER = 6


def date_window(programme: "Programme") -> tuple[date, date]:
    """First and last acceptable day (Paris calendar) of any date given for an order of ``programme``."""
    first = programme.date_0 or programme.date_1
    return (
        add_months(paris_date(first), -12 * DATE_WINDOW_YEARS_BEFORE),
        add_months(paris_date(programme.date_6), 12 * DATE_WINDOW_YEARS_AFTER),
    )


def _day_label(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"  # strftime does not pad years before 1000


def date_range_violations(
    *, programme: "Programme", field: str, label: str, value: object, with_time: bool = False
) -> list[RuleViolation]:
    """Why a date (a datetime when ``with_time``) given for ``field`` cannot be recorded: not a date, no time zone,
    or outside ``date_window`` of the programme. Empty when it can, or when no date is given (``None``)."""
    first, last = date_window(programme)
    window = f"du {_day_label(first)} au {_day_label(last)}"
    if value is None:
        return []
    if not isinstance(value, datetime if with_time else date):
        return [
            RuleViolation(
                "DATE_INVALID",
                f"« {label} » : « {str(value)[:40]} » n'est pas une {'date et heure' if with_time else 'date'} ; "
                f"indiquez une date du calendrier du programme {programme.code} ({window}).",
                "AF §II",
                field=field,
            )
        ]
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        return [
            RuleViolation(
                "DATE_WITHOUT_TIME_ZONE",
                f"« {label} » : la date {_day_label(value.date())} n'indique pas son fuseau horaire ; donnez-la à "
                "l'heure de Paris.",
                "AF §II",
                field=field,
            )
        ]
    try:
        day = paris_date(value) if isinstance(value, datetime) else value
    except OverflowError:  # the first or last days of year 1 or 9999 cannot even be converted to Paris time
        day = value.date()
    if first <= day <= last:
        return []
    return [
        RuleViolation(
            "DATE_OUT_OF_RANGE",
            f"« {label} » : le {_day_label(day)} est hors du calendrier du programme {programme.code} ; indiquez une "
            f"date {window} (vérifiez l'année).",
            "AF §II",
            field=field,
        )
    ]


# --- Money (AF §5) -------------------------------------------------------------------------------------------


def advance_and_balance(principal_amount: Decimal, advance_rate: Decimal) -> tuple[Decimal, Decimal]:
    """Advance = rate × principal rounded half-up to the cent; balance = the remainder, so they add up (AF §VI)."""
    advance = (principal_amount * advance_rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return advance, principal_amount - advance


def secondary_payable(secondary_amount: Decimal, perf: Decimal) -> Decimal:
    """The secondary prestation pays its amount × PERF (AF §5.4)."""
    return (secondary_amount * perf).quantize(CENT, rounding=ROUND_HALF_UP)


CeilingTable = Mapping[tuple[str, str, str], Decimal]  # (prestation, category, vat_regime) → amount


def _is_to_the_cent(amount: Decimal) -> bool:
    """No digit beyond the cent (12.340 is 12.34; 12.345 is not), read exactly: no rounding, no context limit."""
    _sign, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):  # NaN, Infinity
        return False
    while exponent < -2 and digits and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return exponent >= -2 or not digits


def amount_value_violation(amount: Any, *, field: str, label: str) -> RuleViolation | None:
    """An amount of an order form is a number of euros, to the cent, above zero (AF §4.3: the total cannot be zero;
    AF §5: prices in euros). It is refused, never rounded: the database would store 12.345 as 12.35 while the event
    log keeps 12.345, and 0.001 as 0.00."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int) or not Decimal(amount).is_finite():
        return RuleViolation(
            "AMOUNT_INVALID",
            f"Le montant {label} « {amount} » n'est pas un montant en euros : saisissez un nombre, par exemple "
            "451,50 (AF §5).",
            "AF §5",
            field=field,
        )
    if amount <= 0:
        return RuleViolation(
            "AMOUNT_NOT_POSITIVE",
            f"Le montant {label} doit être supérieur à zéro : le total du bon de commande ne peut être nul (AF §4.3).",
            "AF §4.3",
            field=field,
        )
    if not _is_to_the_cent(Decimal(amount)):
        return RuleViolation(
            "AMOUNT_NOT_TO_THE_CENT",
            f"Le montant {label} {french_number(amount)} € doit être donné au centime près : "
            "deux décimales au plus (AF §5).",
            "AF §5",
            field=field,
        )
    return None


def amount_violations(
    *,
    ceilings: CeilingTable,
    prestation: str,
    category: str,
    vat_regime: str,
    principal_amount: Decimal,
    secondary_amount: Decimal,
) -> list[RuleViolation]:
    """Each amount is a positive number of euros to the cent and ≤ its published ceiling (AF §4.3, §5.3, §5.4)."""
    violations: list[RuleViolation] = []
    for field, prestation_code, amount, label in (
        ("principal_amount", prestation, principal_amount, "principal"),
        ("secondary_amount", "secondary", secondary_amount, "secondaire"),
    ):
        problem = amount_value_violation(amount, field=field, label=label)
        ceiling = ceilings.get((prestation_code, category, vat_regime))
        if ceiling is None:  # first: without a ceiling, order_create had no default amount to offer either
            violations.append(
                RuleViolation(
                    "CEILING_UNKNOWN",
                    f"Aucun prix plafond publié pour le montant {label} de cette catégorie de client "
                    f"({category or 'tranche inconnue'}, {vat_regime}) (AF §5).",
                    "AF §5",
                    field=field,
                )
            )
        elif problem:
            violations.append(problem)
        elif amount > ceiling:
            violations.append(
                RuleViolation(
                    "AMOUNT_ABOVE_CEILING",
                    f"Le montant {label} {french_number(amount)} € dépasse le prix plafond de "
                    f"{french_number(ceiling)} € (AF §5).",
                    "AF §5.3" if field == "principal_amount" else "AF §5.4",
                    field=field,
                )
            )
    return violations


# --- Order terms (AF §4.2, §4.3) -------------------------------------------------------------------------------


def client_facts(client: "Client") -> ClientFacts:
    return ClientFacts(
        kind=client.kind,
        rpps=client.rpps or "",
        finess=client.finess or "",
        specialty=client.specialty,
        cds_kind=client.cds_kind,
        aci_signatory=client.aci_signatory,
        staff_declared=client.staff_declared,
        liberal_doctor_count=client.liberal_doctor_count,
        salaried_doctor_count=client.salaried_doctor_count,
    )


def default_vat_regime(client: "Client", provider: "Provider") -> str:
    """The VAT regime an order form takes unless staff choose another (AF §5.2, CGI art. 294): ``ht`` when the
    provider is not liable to VAT; else the regime staff chose for the client (with its reason), else the client's
    département's: 8,5 % in 971, 972, 974; not applicable in 973, 976; 20 % elsewhere."""
    from orders.models import VatRegime

    if provider.vat_regime == VatRegime.HT:
        return VatRegime.HT
    return client.vat_regime_in_force


def terms_choice_violations(*, prestation: Any, vat_regime: Any) -> list[RuleViolation]:
    """The order form sells a principal prestation (the secondary one comes with it, never in its place — AF §4.2)
    under one of the AF's VAT regimes (AF §5.2)."""
    from orders.models import Prestation, VatRegime

    violations = []
    if prestation not in (Prestation.PRINCIPAL_V2, Prestation.PRINCIPAL_V1V2):
        violations.append(
            RuleViolation(
                "PRESTATION_UNKNOWN",
                f"Prestation « {shown(prestation)} » inconnue : choisissez la Prestation principale Vague 2 ou "
                "Vague 1 + Vague 2 (AF §4.2).",
                "AF §4.2",
                field="prestation",
            )
        )
    if vat_regime not in VatRegime.values:
        violations.append(
            RuleViolation(
                "VAT_REGIME_UNKNOWN",
                f"Régime de TVA « {shown(vat_regime)} » inconnu : TVA 20 %, TVA 8,5 % (DOM) ou non assujetti "
                "(AF §5.2).",
                "AF §5.2",
                field="vat_regime",
            )
        )
    return violations


def order_terms_violations(
    *,
    client: "Client",
    solution: "Solution",
    programme: "Programme",
    prestation: str,
    vat_regime: str,
    principal_amount: Decimal,
    secondary_amount: Decimal,
    ceilings: CeilingTable,
) -> list[RuleViolation]:
    """Everything an order form must satisfy before it can be signed (SPEC §7, state draft)."""
    choice_violations = terms_choice_violations(prestation=prestation, vat_regime=vat_regime)
    violations = eligibility_violations(client_facts(client)) + choice_violations
    if solution.programme_id != programme.pk:
        violations.append(
            RuleViolation(
                "SOLUTION_OTHER_PROGRAMME",
                f"La solution {solution} n'est pas candidate au programme {programme.code}.",
                "AF §4.1",
                field="solution",
            )
        )
    missing = (
        required_profiles(kind=client.kind, treating_patient_count=client.treating_patient_count) - solution.profiles
    )
    if missing:
        from orders.models import Profile

        labels = ", ".join(f"« {Profile(code).label} »" for code in sorted(missing))
        violations.append(
            RuleViolation(
                "SOLUTION_PROFILE_MISSING",
                f"La solution {solution} ne détient pas le profil {labels} requis pour ce client (AF §4.2).",
                "AF §4.2",
                field="solution",
            )
        )
    if prestation == "principal_v1v2" and not wave1_allows_v1v2(
        wave1_benefited=client.wave1_benefited, wave1_self_funded=client.wave1_self_funded
    ):
        violations.append(
            RuleViolation(
                "V1V2_NOT_ALLOWED",
                "La « Prestation principale Vague 1 + Vague 2 » est réservée aux clients qui n'ont ni bénéficié d'une "
                "prestation Ségur vague 1 ni financé eux-mêmes la mise à jour vague 1 : seule la Vague 2 est possible "
                "(AF §4.2).",
                "AF §4.2",
                field="prestation",
            )
        )
    if client.is_structure and not client.tranche:
        violations.append(
            RuleViolation(
                "TRANCHE_UNKNOWN",
                f"FINESS {client.finess} absent de la Base de référence ANS importée : tranche inconnue, plafond "
                "impossible à déterminer : importez la dernière Base de référence (AF §5.3).",
                "AF §5.3",
                field="client",
            )
        )
    elif not choice_violations:  # an unknown prestation or regime has no ceiling: its own message says why
        violations += amount_violations(
            ceilings=ceilings,
            prestation=prestation,
            category=client.ceiling_category,
            vat_regime=vat_regime,
            principal_amount=principal_amount,
            secondary_amount=secondary_amount,
        )
    return violations


# --- Signature and pre-orders (AF §4.3) --------------------------------------------------------------------------


def is_referenced_at(solution: "Solution", moment: datetime) -> bool:
    return solution.referenced_at is not None and solution.referenced_at <= moment


def pre_order_deadline(order: "Order", programme: "Programme") -> datetime | None:
    """The effective deadline of a pre-order's complete proof dossier (AF §II, §4.3), or None before signature.

    See ``complete_dossier_deadline``: firming, lapsing, the order's deadlines and reminders all use it."""
    if order.signed_at is None:
        return None
    return complete_dossier_deadline(signed_at=order.signed_at, programme=programme)


def complete_dossier_deadline(*, signed_at: datetime, programme: "Programme") -> datetime:
    """By when the complete proof dossier must be deemed submitted to the ANS for a pre-order signed at
    ``signed_at``: the earlier of the last of the «120 jours calendaires» after the signature (the whole Paris day:
    a dossier filed at 15:00 on day 120 is on time) and Date 2 (12:00), before which the complete dossier must
    reach the ANS for any pre-order to be firmed (AF §II, §4.3). One deadline for every rule that reasons about it."""
    last_day = paris_date(signed_at) + timedelta(days=programme.pre_order_window_days)
    return min(end_of_day_paris(last_day), programme.date_2)


def complete_dossier_on_time(dossier_at: datetime | None, deadline: datetime | None) -> bool:
    """The complete dossier reached the ANS by the effective deadline (AF §4.3)."""
    return dossier_at is not None and deadline is not None and dossier_at <= deadline


def _dossier_deadline_text(deadline: datetime, programme: "Programme") -> str:
    """Which limit the effective deadline is, as the client's staff read it."""
    if deadline == programme.date_2:
        return f"avant la Date 2 ({format_deadline(deadline)})"
    return f"dans les {programme.pre_order_window_days} jours calendaires suivant la signature (au plus tard le " + (
        f"{format_deadline(deadline)})"
    )


def signature_violations(
    *, order: "Order", programme: "Programme", solution: "Solution", signed_at: datetime, now: datetime
) -> list[RuleViolation]:
    violations: list[RuleViolation] = []
    if programme.date_0 and order.issued_at <= programme.date_0:
        violations.append(
            RuleViolation(
                "ISSUED_BEFORE_DATE_0",
                f"Le bon de commande doit être émis après la Date 0 ({format_deadline(programme.date_0)}) (AF §4.3).",
                "AF §4.3",
                field="issued_at",
            )
        )
    if signed_at < order.issued_at:
        violations.append(
            RuleViolation(
                "SIGNED_BEFORE_ISSUE",
                "La date de signature ne peut précéder la date d'émission du bon de commande (AF §4.3).",
                "AF §4.3",
                field="signed_at",
            )
        )
    if signed_at > now:
        violations.append(
            RuleViolation(
                "SIGNED_IN_FUTURE", "La date de signature ne peut être dans le futur.", "AF §4.3", "signed_at"
            )
        )
    if signed_at > programme.date_4:
        violations.append(
            RuleViolation(
                "SIGNED_AFTER_DATE_4",
                f"Date 4 dépassée : le client doit signer le bon de commande au plus tard le "
                f"{format_deadline(programme.date_4)} (AF §2, §4.3).",
                "AF §4.3",
                field="signed_at",
            )
        )
    if not is_referenced_at(solution, signed_at):
        if solution.refused_at is not None and solution.refused_at <= signed_at:
            violations.append(
                RuleViolation(
                    "SOLUTION_REFUSED",
                    f"Le référencement de {solution} a été refusé : aucune commande ne peut être signée (AF §4.3).",
                    "AF §4.3",
                    field="solution",
                )
            )
        deadline = complete_dossier_deadline(signed_at=signed_at, programme=programme)
        dossier_at = solution.complete_dossier_submitted_at
        if complete_dossier_on_time(dossier_at, deadline) or (dossier_at is None and now <= deadline):
            pass
        elif deadline == programme.date_2 and signed_at > programme.date_2:
            violations.append(
                RuleViolation(
                    "PRE_ORDER_AFTER_DATE_2",
                    f"Date 2 passée ({format_deadline(programme.date_2)}) sans dossier complet de preuves de "
                    f"{solution} déposé à l'ANS : aucune commande conditionnelle ne peut plus être signée "
                    "(AF §II, §4.3).",
                    "AF §4.3",
                    field="signed_at",
                )
            )
        else:
            violations.append(
                RuleViolation(
                    "PRE_ORDER_SIGNED_TOO_EARLY",
                    f"Commande conditionnelle signée plus de {programme.pre_order_window_days} jours calendaires "
                    "avant le dépôt du dossier complet de preuves de conformité à l'ANS, ou dossier déposé après la "
                    f"Date 2 : le dossier devait être déposé {_dossier_deadline_text(deadline, programme)} "
                    "(AF §4.3).",
                    "AF §4.3",
                    field="signed_at",
                )
            )
    return violations


def firm_violations(
    *, order: "Order", programme: "Programme", solution: "Solution", now: datetime
) -> list[RuleViolation]:
    """A pre-order becomes firm: complete dossier within 120 calendar days of the signature and before Date 2
    (``complete_dossier_deadline``), and referencing obtained (AF §II, §4.3)."""
    violations: list[RuleViolation] = []
    deadline = pre_order_deadline(order, programme)
    if not complete_dossier_on_time(solution.complete_dossier_submitted_at, deadline):
        when = _dossier_deadline_text(deadline, programme) if deadline else "dans les délais"
        violations.append(
            RuleViolation(
                "COMPLETE_DOSSIER_LATE",
                f"Le dossier complet de preuves n'a pas été déposé à l'ANS {when} (AF §II, §4.3).",
                "AF §4.3",
            )
        )
    if not is_referenced_at(solution, now):
        violations.append(
            RuleViolation(
                "SOLUTION_NOT_REFERENCED",
                f"La solution {solution} n'a pas encore obtenu le référencement ANS (AF §4.3).",
                "AF §4.3",
            )
        )
    return violations


def lapse_reason(*, order: "Order", programme: "Programme", solution: "Solution", now: datetime) -> str | None:
    """Why a pre-order lapses now, or None (AF §4.3): no complete dossier by ``complete_dossier_deadline`` (120
    calendar days, capped by Date 2), or referencing refused."""
    if solution.refused_at is not None and solution.refused_at <= now:
        return "Référencement ANS refusé (AF §4.3)."
    deadline = pre_order_deadline(order, programme)
    dossier_at = solution.complete_dossier_submitted_at
    if deadline is not None and now > deadline and not complete_dossier_on_time(dossier_at, deadline):
        when = _dossier_deadline_text(deadline, programme)
        return f"Aucun dossier complet de preuves déposé à l'ANS {when} (AF §4.3)."
    return None


# --- Advance (AF §6.2) -----------------------------------------------------------------------------------------


def advance_exception_applies(*, programme: "Programme", solution: "Solution", received_at: datetime) -> bool:
    """AF §6.2 exception: complete dossier before Date 2 and no ANS decision 15 days before Date 4."""
    cutoff = programme.date_4 - timedelta(days=programme.advance_exception_days)
    dossier_at = solution.complete_dossier_submitted_at
    decided_by_cutoff = (solution.referenced_at is not None and solution.referenced_at <= cutoff) or (
        solution.refused_at is not None and solution.refused_at <= cutoff
    )
    return dossier_at is not None and dossier_at <= programme.date_2 and not decided_by_cutoff and received_at > cutoff


def advance_violations(
    *, programme: "Programme", solution: "Solution", provider: "Provider", received_at: datetime, now: datetime
) -> list[RuleViolation]:
    violations: list[RuleViolation] = []
    enrolment = provider.asp_enrolment_validated_on
    if enrolment is None or enrolment > paris_date(received_at):
        violations.append(
            RuleViolation(
                "ENROLMENT_NOT_VALIDATED",
                "L'enrôlement du Fournisseur auprès de l'ASP doit être validé avant toute demande de financement "
                "(AF §6.1, §6.2).",
                "AF §6.2",
            )
        )
    if received_at > now:
        violations.append(
            RuleViolation("RECEIVED_IN_FUTURE", "La date de réception ASP ne peut être dans le futur.", "AF §2")
        )
    if received_at > programme.date_4:
        violations.append(
            RuleViolation(
                "DATE_4_PASSED",
                f"Date 4 dépassée : la demande d'avance doit être reçue par l'ASP avant le "
                f"{format_deadline(programme.date_4)} (AF §2, §6.2).",
                "AF §6.2",
                field="received_at",
            )
        )
    if not is_referenced_at(solution, received_at) and not advance_exception_applies(
        programme=programme, solution=solution, received_at=received_at
    ):
        violations.append(
            RuleViolation(
                "SOLUTION_NOT_REFERENCED",
                f"La solution {solution} doit être référencée par l'ANS avant la demande d'avance, sauf dossier "
                "complet déposé avant la Date 2 et absence de décision 15 jours avant la Date 4 (AF §6.2).",
                "AF §6.2",
            )
        )
    return violations


# --- Realisation (AF §3, §4.4, §6.3) ----------------------------------------------------------------------------


def checklist_items_for(client: "Client") -> list[tuple[str, str]]:
    return [
        (code, label)
        for code, label in DEPLOYMENT_CHECKLIST
        if client.is_structure or code not in STRUCTURE_ONLY_CHECKLIST_ITEMS
    ]


def installation_violations(
    *, order: "Order", programme: "Programme", installed_at: datetime, now: datetime
) -> list[RuleViolation]:
    violations: list[RuleViolation] = []
    missing = [label for code, label in checklist_items_for(order.client) if not order.deployment_checklist.get(code)]
    if missing:
        violations.append(
            RuleViolation(
                "CHECKLIST_INCOMPLETE",
                "Prestation principale incomplète (AF §3) : " + " ; ".join(missing) + ".",
                "AF §3.1",
                field="deployment_checklist",
                details={"missing": missing},
            )
        )
    if installed_at > programme.date_5:
        violations.append(
            RuleViolation(
                "DATE_5_PASSED",
                f"Date 5 dépassée : la Prestation principale devait être réalisée au plus tard le "
                f"{format_deadline(programme.date_5)} (AF §2, §4.4).",
                "AF §4.4",
                field="installed_at",
            )
        )
    if installed_at > now or (order.signed_at and installed_at < order.signed_at):
        violations.append(
            RuleViolation(
                "INSTALLATION_DATE_INVALID",
                "La date d'installation doit suivre la signature du bon de commande et ne pas être dans le futur.",
                "AF §4.4",
                field="installed_at",
            )
        )
    return violations


def pilot_pv_violations(
    *, order: "Order", programme: "Programme", pilot_pvs_signed: int, signed_at: datetime, now: datetime
) -> list[RuleViolation]:
    violations: list[RuleViolation] = []
    if not order.is_pilot:
        violations.append(
            RuleViolation(
                "NOT_A_PILOT_ORDER",
                "Cette commande ne fait pas partie du périmètre pilote (AF §6.3).",
                "AF §6.3",
            )
        )
    if pilot_pvs_signed >= programme.pilot_size:
        violations.append(
            RuleViolation(
                "PILOT_FULL",
                f"Le périmètre pilote compte déjà {programme.pilot_size} PV signés (AF §6.3).",
                "AF §6.3",
            )
        )
    if signed_at > now or (order.installed_at and signed_at < order.installed_at):
        violations.append(
            RuleViolation(
                "PILOT_PV_DATE_INVALID",
                "Le PV pilote se signe après l'installation, et pas dans le futur (AF §6.3).",
                "AF §6.3",
                field="signed_at",
            )
        )
    return violations


def va_violations(*, order: "Order", va_signed_at: datetime, now: datetime) -> list[RuleViolation]:
    violations: list[RuleViolation] = []
    if order.installed_at is None or va_signed_at < order.installed_at:
        violations.append(
            RuleViolation(
                "VA_BEFORE_INSTALLATION",
                "La Vérification d'Aptitude ne peut être signée qu'une fois la Prestation principale réalisée "
                "(AF §4.4).",
                "AF §4.4",
                field="va_signed_at",
            )
        )
    if order.is_pilot and order.pilot_pv_signed_at is None:
        violations.append(
            RuleViolation(
                "PILOT_PV_MISSING",
                "Commande pilote : le PV d'installation pilote doit être signé avant la VA (AF §6.3).",
                "AF §6.3",
            )
        )
    if va_signed_at > now:
        violations.append(
            RuleViolation("VA_IN_FUTURE", "La date de signature de la VA ne peut être dans le futur.", "AF §4.4")
        )
    return violations


# --- Balance (AF §6.4) ------------------------------------------------------------------------------------------


def balance_violations(
    *,
    order: "Order",
    programme: "Programme",
    solution: "Solution",
    provider: "Provider",
    received_at: datetime,
    now: datetime,
) -> list[RuleViolation]:
    violations: list[RuleViolation] = []
    if order.advance_paid_at is None:
        violations.append(
            RuleViolation(
                "ADVANCE_NOT_VALIDATED",
                "La demande d'avance doit avoir été validée par l'ASP avant la demande de solde (AF §6.4).",
                "AF §6.4",
            )
        )
    if order.installed_at is None or order.installed_at > programme.date_5:
        violations.append(
            RuleViolation(
                "NOT_INSTALLED_BY_DATE_5",
                f"La Prestation principale doit être intégralement réalisée au plus tard à la Date 5 "
                f"({format_deadline(programme.date_5)}) (AF §6.4).",
                "AF §6.4",
            )
        )
    if solution.pilot_validated_at is None or solution.pilot_validated_at > received_at:
        violations.append(
            RuleViolation(
                "PILOT_NOT_VALIDATED",
                "Le périmètre pilote (5 PV d'installation) doit avoir été validé par l'ANS avant toute demande de "
                "solde (AF §6.3, §6.4).",
                "AF §6.4",
            )
        )
    if provider.preserie_validated_on is None or provider.preserie_validated_on > paris_date(received_at):
        violations.append(
            RuleViolation(
                "PRESERIE_NOT_VALIDATED",
                "La procédure de présérie Ordonnance numérique doit être définitivement validée auprès de l'Assurance "
                "Maladie avant la demande de solde (AF §6.4).",
                "AF §6.4",
            )
        )
    if received_at > programme.date_6:
        violations.append(
            RuleViolation(
                "DATE_6_PASSED",
                f"Date 6 dépassée : la demande de solde doit être reçue par l'ASP au plus tard le "
                f"{format_deadline(programme.date_6)} (AF §2, §6.4).",
                "AF §6.4",
                field="received_at",
            )
        )
    if received_at > now:
        violations.append(
            RuleViolation("RECEIVED_IN_FUTURE", "La date de réception ASP ne peut être dans le futur.", "AF §2")
        )
    return violations


# --- Secondary prestation (AF §3.3, §4.5, §6.5) ------------------------------------------------------------------


def secondary_start(order: "Order") -> date | None:
    """The secondary prestation starts the 1st day of the month after the VA signature (AF §4.5)."""
    return first_day_of_next_month(order.va_signed_at) if order.va_signed_at else None


def perf_level(dt: int, dm: int) -> Decimal:
    """PERF over a 6-month window, exact integer arithmetic (AF §3.3)."""
    if dt <= 60:
        return Decimal("0")
    if 5 * dm >= 3 * dt:
        return Decimal("1")
    if 5 * dm >= 2 * dt:
        return Decimal("0.5")
    return Decimal("0")


@dataclass(frozen=True)
class MonthFigures:
    month: date  # first day of the month
    dt: int
    dm: int


@dataclass(frozen=True)
class PerfWindow:
    first_month: date
    last_month: date
    dt: int
    dm: int
    perf: Decimal


def best_perf_window(
    months: Iterable[MonthFigures], *, start: date, observation_months: int, window_months: int
) -> PerfWindow | None:
    """The best continuous window of ``window_months`` months inside the observation period (AF §4.5)."""
    by_month = {figures.month: figures for figures in months}
    best: PerfWindow | None = None
    for offset in range(observation_months - window_months + 1):
        window = [add_months(start, offset + index) for index in range(window_months)]
        if not all(month in by_month for month in window):
            continue
        dt = sum(by_month[month].dt for month in window)
        dm = sum(by_month[month].dm for month in window)
        candidate = PerfWindow(window[0], window[-1], dt, dm, perf_level(dt, dm))
        if best is None or candidate.perf > best.perf:
            best = candidate
    return best


def secondary_violations(
    *, order: "Order", programme: "Programme", window: PerfWindow | None, received_at: datetime, now: datetime
) -> list[RuleViolation]:
    violations: list[RuleViolation] = []
    start = secondary_start(order)
    if order.balance_paid_at is None or start is None:
        violations.append(
            RuleViolation(
                "BALANCE_NOT_VALIDATED",
                "La demande de solde doit avoir été validée par l'ASP (AF §6.5).",
                "AF §6.5",
            )
        )
        return violations
    if window is None or window.perf == 0:
        violations.append(
            RuleViolation(
                "PERF_NOT_REACHED",
                f"Aucune période continue de {programme.secondary_window_months} mois n'atteint un niveau de "
                f"performance significatif dans les {programme.secondary_observation_months} mois suivant le "
                f"démarrage ({start:%d/%m/%Y}) (AF §3.3, §4.5).",
                "AF §4.5",
            )
        )
    request_deadline = end_of_day_paris(add_months(start, programme.secondary_request_months))
    if received_at > request_deadline:
        violations.append(
            RuleViolation(
                "SECONDARY_REQUEST_LATE",
                f"La demande de Prestation secondaire doit être déposée au plus tard "
                f"{programme.secondary_request_months} mois après son démarrage, soit le "
                f"{format_deadline(request_deadline)} (AF §4.5).",
                "AF §4.5",
                field="received_at",
            )
        )
    if received_at > now:
        violations.append(
            RuleViolation("RECEIVED_IN_FUTURE", "La date de réception ASP ne peut être dans le futur.", "AF §2")
        )
    return violations


# --- Deadlines (SPEC §10) ---------------------------------------------------------------------------------------

UPCOMING, OVERDUE, MET = "upcoming", "overdue", "met"
ACTOR_LABELS = {
    "sales": "Commercial",
    "deployment": "Déploiement",
    "finance": "Finance",
    "admin": "Administrateur",
    "client": "Client",
}
_BEFORE_ADVANCE = {"draft", "pre_order", "firm"}
_ADVANCE_TO_VA = {"advance_requested", "advance_paid", "installed", "pilot_pv_signed"}


@dataclass(frozen=True)
class Deadline:
    code: str
    due_at: datetime
    actor: str
    action: str
    reference: str
    status: str
    met_at: datetime | None = None

    @property
    def actor_label(self) -> str:
        return ACTOR_LABELS[self.actor]


def _deadline(
    code: str, due_at: datetime, actor: str, action: str, reference: str, met_at: datetime | None, now: datetime
) -> Deadline:
    if met_at is not None:
        status = MET
    elif now > due_at:
        status = OVERDUE
    else:
        status = UPCOMING
    return Deadline(code, due_at, actor, action, reference, status, met_at)


# What ``order_deadlines`` reads, and nothing else: ``selectors.deadline_rows`` loads just these for the pages that
# compute the deadlines of every order (calendar, list filter). A field read below must be listed here.
DEADLINE_ORDER_FIELDS = (
    "state",
    "is_pilot",
    "signed_at",
    "pre_order_expiry_notified_at",
    "date_2_notice_sent_at",
    "installed_at",
    "completion_attested_at",
    "va_signed_at",
    "terminated_at",
    "termination_notified_at",
    "portability_requested_at",
    "portability_delivered_at",
    "journal_received_at",
)
DEADLINE_PROGRAMME_FIELDS = (
    "date_2",
    "date_4",
    "date_5",
    "date_6",
    "pre_order_window_days",
    "secondary_observation_months",
    "secondary_request_months",
    "termination_notice_months",
    "portability_days",
    "ans_check_months",
)
DEADLINE_SOLUTION_FIELDS = ("complete_dossier_submitted_at",)


def order_deadlines(order: "Order", now: datetime) -> list[Deadline]:
    """Every deadline of one order, by due date (SPEC §10). Reads ``order.programme`` and ``order.solution``.

    One function for the admin, the reminders, the calendar and the API: load orders with
    ``select_related("programme", "solution")`` and it makes no query.
    """
    programme, solution, state = order.programme, order.solution, order.state
    deadlines: list[Deadline] = []
    if state == "draft":
        deadlines.append(
            _deadline(
                "DATE_4_SIGNATURE",
                programme.date_4,
                "client",
                "Faire signer le bon de commande par le client",
                "AF §4.3",
                None,
                now,
            )
        )
    if state == "pre_order" and order.signed_at:
        dossier_at = solution.complete_dossier_submitted_at
        deadline_120 = pre_order_deadline(order, programme)
        assert deadline_120 is not None
        deadlines.append(
            _deadline(
                "PRE_ORDER_120_DAYS",
                deadline_120,
                "admin",
                "Déposer le dossier complet de preuves à l'ANS sous 120 jours et avant la Date 2, sinon informer le "
                "client",
                "AF §4.3",
                dossier_at
                if complete_dossier_on_time(dossier_at, deadline_120)
                else order.pre_order_expiry_notified_at,
                now,
            )
        )
        if dossier_at is None or dossier_at > programme.date_2:
            deadlines.append(
                _deadline(
                    "DATE_2_NOTICE",
                    programme.date_2,
                    "sales",
                    "Informer le client : aucun dossier complet de référencement déposé avant la Date 2",
                    "AF §4.3",
                    order.date_2_notice_sent_at,
                    now,
                )
            )
    if state in {"pre_order", "firm"}:
        deadlines.append(
            _deadline(
                "DATE_4_ADVANCE",
                programme.date_4,
                "finance",
                "Déposer la demande de financement et d'avance auprès de l'ASP",
                "AF §6.2",
                None,
                now,
            )
        )
    if state in _ADVANCE_TO_VA | {"va_signed"}:
        realised = order.installed_at if order.installed_at and order.installed_at <= programme.date_5 else None
        deadlines.append(
            _deadline(
                "DATE_5_REALISATION",
                programme.date_5,
                "deployment",
                "Réaliser la Prestation principale, sinon informer le client et l'ASP",
                "AF §4.4",
                realised,
                now,
            )
        )
        if state in {"installed", "pilot_pv_signed", "va_signed"}:
            deadlines.append(
                _deadline(
                    "DATE_5_ATTESTATION",
                    programme.date_5,
                    "finance",
                    "Déposer la demande de solde ou envoyer l'attestation de fin de Prestation principale",
                    "AF §4.4, §6.4",
                    order.completion_attested_at,
                    now,
                )
            )
    if state == "installed" and order.is_pilot:
        deadlines.append(
            _deadline(
                "PILOT_PV_SIGNATURE",
                programme.date_5,
                "client",
                "Signer le PV d'installation pilote",
                "AF §6.3",
                None,
                now,
            )
        )
    elif state in {"installed", "pilot_pv_signed"}:
        deadlines.append(
            _deadline(
                "VA_SIGNATURE",
                programme.date_5,
                "client",
                "Signer la Vérification d'Aptitude (VA)",
                "AF §4.4",
                None,
                now,
            )
        )
    if state in {"installed", "pilot_pv_signed", "va_signed"}:
        deadlines.append(
            _deadline(
                "DATE_6_BALANCE",
                programme.date_6,
                "finance",
                "Déposer la demande de versement du solde",
                "AF §6.4",
                None,
                now,
            )
        )
    start = secondary_start(order)
    if start is not None and state in {"va_signed", "balance_requested", "balance_paid"}:
        deadlines.append(
            _deadline(
                "SECONDARY_OBSERVATION",
                end_of_day_paris(add_months(start, programme.secondary_observation_months)),
                "deployment",
                "Atteindre le niveau de PERF sur 6 mois continus",
                "AF §4.5",
                None,
                now,
            )
        )
        deadlines.append(
            _deadline(
                "SECONDARY_REQUEST",
                end_of_day_paris(add_months(start, programme.secondary_request_months)),
                "finance",
                "Déposer la demande de Prestation secondaire",
                "AF §4.5, §6.5",
                None,
                now,
            )
        )
    if state == "terminated" and order.terminated_at:
        deadlines.append(
            _deadline(
                "TERMINATION_NOTICE",
                end_of_day_paris(add_months(paris_date(order.terminated_at), programme.termination_notice_months)),
                "finance",
                "Informer l'ASP de la résiliation",
                "AF §6.5",
                order.termination_notified_at,
                now,
            )
        )
    if order.portability_requested_at:
        deadlines.append(
            _deadline(
                "PORTABILITY",
                end_of_day_paris(
                    paris_date(order.portability_requested_at) + timedelta(days=programme.portability_days)
                ),
                "deployment",
                "Livrer l'export des données (portabilité)",
                "AF §4.4",
                order.portability_delivered_at,
                now,
            )
        )
    if order.journal_received_at and state in {"secondary_requested", "secondary_paid"}:
        month_end = end_of_month(paris_date(order.journal_received_at))
        deadlines.append(
            _deadline(
                "ANS_CHECK_WINDOW",
                end_of_day_paris(add_months(month_end, programme.ans_check_months)),
                "admin",
                "Fin du délai de contrôle du journal par l'ANS : données définitives",
                "AF §4.5",
                None,
                now,
            )
        )
    deadlines.sort(key=lambda deadline: deadline.due_at)
    return deadlines


def provider_deadlines(
    *, programme: "Programme", provider: "Provider", last_va_at: datetime | None, now: datetime
) -> list[Deadline]:
    """Deadlines of the provider itself (SPEC §5, §10): the aggregated satisfaction report to the ANS, at most
    18 months after the last VA signed (AF §6.1)."""
    if last_va_at is None:
        return []
    sent = provider.satisfaction_report_sent_on
    return [
        _deadline(
            "SATISFACTION_REPORT",
            end_of_day_paris(add_months(paris_date(last_va_at), programme.satisfaction_report_months)),
            "admin",
            "Transmettre à l'ANS le bilan agrégé des questionnaires de satisfaction",
            "AF §6.1",
            noon_paris(sent) if sent else None,
            now,
        )
    ]


def solution_deadlines(*, programme: "Programme", solution: "Solution", now: datetime) -> list[Deadline]:
    """Deadlines of a solution in its programme (AF §II, §6.3): the complete proof dossier at the ANS by Date 2,
    and the pilot (5 PVs) validated by the ANS, without which no balance can be requested before Date 6."""
    dossier_at = solution.complete_dossier_submitted_at
    return [
        _deadline(
            "COMPLETE_DOSSIER",
            programme.date_2,
            "admin",
            f"Déposer à l'ANS le dossier complet de preuves de {solution}",
            "AF §II, §4.3",
            dossier_at if dossier_at and dossier_at <= programme.date_2 else None,
            now,
        ),
        _deadline(
            "PILOT_VALIDATION",
            programme.date_6,
            "deployment",
            f"Faire valider par l'ANS le périmètre pilote de {solution} (5 PV et supports de formation)",
            "AF §6.3",
            solution.pilot_validated_at,
            now,
        ),
    ]


def next_deadline(order: "Order", now: datetime) -> Deadline | None:
    """The earliest deadline not yet met (overdue ones first, since they are earlier)."""
    return next((deadline for deadline in order_deadlines(order, now) if deadline.status != MET), None)


# --- Obsolete versions (AF §4.3) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionFacts:
    label: str
    released_on: date
    end_announced_on: date | None
    is_wave1_referenced: bool
    declared_obsolete: bool


def obsolete_declaration_violations(versions: Iterable[VersionFacts], date_0: datetime | None) -> list[RuleViolation]:
    """An editor may declare a version obsolete only within the AF §4.3 limits; returns every breach."""
    versions = sorted(versions, key=lambda version: version.released_on)
    declared = [version for version in versions if version.declared_obsolete]
    if not declared:
        return []
    if date_0 is None:
        return [
            RuleViolation(
                "DATE_0_UNKNOWN",
                "Renseignez la Date 0 du programme : une version ne peut être déclarée obsolète que si son arrêt a été "
                "rendu public avant la Date 0 (AF §4.3).",
                "AF §4.3",
            )
        ]
    day_0 = paris_date(date_0)
    violations: list[RuleViolation] = []
    for version in declared:
        if version.end_announced_on is None or version.end_announced_on >= day_0:
            violations.append(
                RuleViolation(
                    "OBSOLETE_NOT_ANNOUNCED_BEFORE_DATE_0",
                    f"Version {version.label} : l'arrêt de commercialisation ou de maintenance doit avoir été rendu "
                    f"public avant la Date 0 ({day_0:%d/%m/%Y}) pour la déclarer obsolète (AF §4.3).",
                    "AF §4.3",
                    field="declared_obsolete",
                )
            )
    existing_at_date_0 = [version for version in versions if version.released_on <= day_0]
    if existing_at_date_0 and existing_at_date_0[-1].declared_obsolete:
        violations.append(
            RuleViolation(
                "OBSOLETE_MOST_RECENT_AT_DATE_0",
                f"Version {existing_at_date_0[-1].label} : la version la plus récente en production à la Date 0 "
                "ne peut pas être déclarée obsolète (AF §4.3).",
                "AF §4.3",
                field="declared_obsolete",
            )
        )
    wave1 = next((version for version in versions if version.is_wave1_referenced), None)
    if wave1 is not None:
        for version in declared:
            if version.released_on >= wave1.released_on:
                violations.append(
                    RuleViolation(
                        "OBSOLETE_WAVE1_OR_LATER",
                        f"Version {version.label} : la version référencée en vague 1 et les suivantes ne peuvent pas "
                        "être déclarées obsolètes (AF §4.3).",
                        "AF §4.3",
                        field="declared_obsolete",
                    )
                )
    return violations
