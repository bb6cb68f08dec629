"""The only place that changes orders: each action is atomic, locks the order, checks every rule, applies the
transition, writes the immutable ``OrderEvent`` — or writes a refused event and raises ``BusinessRuleError`` with
nothing else changed (SPEC §7).

Every action of the state machine is one ``OrderAction`` in ``ACTIONS``: its guard (the rules), what it records and
which transition it calls. The admin, the API, the client portal and the Celery jobs all go through ``perform``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, can_proceed, has_transition_perm

from clients import rules as client_rules
from clients.models import Client
from orders import deadline_store, rules
from orders.documents.rendering import perf_window
from orders.exceptions import BusinessRuleError, RuleViolation, raise_if
from orders.models import Order, OrderEvent, OrderState, Programme, SignatureMethod, Solution

logger = logging.getLogger(__name__)

User = AbstractBaseUser | AnonymousUser | None


# --- Audit ------------------------------------------------------------------------------------------------------


def actor_label(user: User) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return OrderEvent.SYSTEM
    return user.get_username()


def _json_ready(payload: dict[str, Any]) -> dict[str, Any]:
    ready: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, datetime | date):
            ready[key] = value.isoformat()
        elif isinstance(value, Decimal):
            ready[key] = str(value)
        else:
            ready[key] = value
    return ready


def event_record(
    *,
    order: Order,
    acting_user: User,
    action: str,
    from_state: str,
    to_state: str,
    accepted: bool = True,
    message: str = "",
    payload: dict[str, Any] | None = None,
    actor_name: str = "",
) -> OrderEvent:
    event = event_build(
        order=order,
        acting_user=acting_user,
        action=action,
        from_state=from_state,
        to_state=to_state,
        accepted=accepted,
        message=message,
        payload=payload,
        actor_name=actor_name,
    )
    event.save()
    return event


def event_build(
    *,
    order: Order,
    acting_user: User,
    action: str,
    from_state: str,
    to_state: str,
    accepted: bool = True,
    message: str = "",
    payload: dict[str, Any] | None = None,
    actor_name: str = "",
) -> OrderEvent:
    """The event row, not saved yet: ``event_record`` saves it, a bulk import inserts many at once. ``actor_name``
    names an actor who is no staff user (a client signing online, issue #12); written once, like the rest."""
    user = acting_user if acting_user is not None and getattr(acting_user, "is_authenticated", False) else None
    return OrderEvent(
        order=order,
        actor=user,
        actor_label=actor_name[:150] or actor_label(acting_user),
        action=action,
        from_state=from_state,
        to_state=to_state,
        accepted=accepted,
        message=message,
        payload=_json_ready(payload or {}),
    )


# --- Ceilings ---------------------------------------------------------------------------------------------------


def ceiling_table(programme: Programme) -> dict[tuple[str, str, str], Decimal]:
    """The programme's published price tables as a mapping (one query, none when ``ceilings`` is prefetched)."""
    return {(cell.prestation, cell.category, cell.vat_regime): cell.amount for cell in programme.ceilings.all()}


def default_amounts(
    *,
    programme: Programme,
    client: Client,
    prestation: str,
    vat_regime: str,
    ceilings: dict[tuple[str, str, str], Decimal] | None = None,
) -> tuple[Decimal, Decimal]:
    """By default the order takes the ceilings (AF §5.1: the ceiling, or a lower amount agreed with the client)."""
    table = ceiling_table(programme) if ceilings is None else ceilings
    category = client.ceiling_category
    principal = table.get((prestation, category, vat_regime))
    secondary = table.get(("secondary", category, vat_regime))
    if principal is None or secondary is None:
        raise BusinessRuleError.single(
            "CEILING_UNKNOWN",
            f"Aucun prix plafond publié pour {client} ({category or 'tranche inconnue'}, {vat_regime}) (AF §5).",
            "AF §5",
            field="client",
        )
    return principal, secondary


# --- Creation of an order (state draft) ---------------------------------------------------------------------------


def order_create(
    *,
    programme: Programme,
    client: Client,
    solution: Solution,
    prestation: str,
    vat_regime: str | None = None,
    principal_amount: Decimal | None = None,
    secondary_amount: Decimal | None = None,
    issued_at: datetime | None = None,
    salesperson: Any = None,
    is_pilot: bool = False,
    acting_user: User = None,
) -> Order:
    """Prepare an order form (SPEC §7, draft): eligible client, allowed prestation, amounts ≤ ceilings, unique.
    Without ``vat_regime``, the client's (``rules.default_vat_regime``, AF §5.2)."""
    default_regime = rules.default_vat_regime(client, solution.provider)
    vat_regime, principal_amount, secondary_amount, violations = order_create_check(
        programme=programme,
        client=client,
        solution=solution,
        prestation=prestation,
        vat_regime=vat_regime,
        principal_amount=principal_amount,
        secondary_amount=secondary_amount,
        issued_at=issued_at,
        ceilings=ceiling_table(programme),
        already_ordered=Order.objects.filter(client=client, programme=programme).exists(),
    )
    raise_if(violations)
    try:
        with transaction.atomic():
            order = Order.objects.create(
                number=f"TMP-{timezone.now().timestamp()}-{client.pk}",
                programme=programme,
                client=client,
                solution=solution,
                salesperson=salesperson,
                prestation=prestation,
                vat_regime=vat_regime,
                principal_amount=principal_amount,
                secondary_amount=secondary_amount,
                issued_at=issued_at or timezone.now(),
                is_pilot=is_pilot,
            )
            order.number = order_number(order)
            order.save(update_fields=["number"])
            deadline_store.store_order(order)
            event_record(
                order=order,
                acting_user=acting_user,
                action="create",
                from_state="",
                to_state=order.state,
                payload={
                    "prestation": prestation,
                    "vat_regime": vat_regime,
                    "vat_regime_default": default_regime,
                    "principal_amount": principal_amount,
                    "secondary_amount": secondary_amount,
                },
            )
    except IntegrityError as exc:
        # Two staff members created the same client's order at the same time: the database constraint decides. Any
        # other constraint is a bug to see, never to be reported as a duplicate (0.001 € once was).
        if not Order.objects.filter(client=client, programme=programme).exists():
            raise
        raise BusinessRuleError([duplicate_violation(client, programme)]) from exc
    return order


def order_create_check(
    *,
    programme: Programme,
    client: Client,
    solution: Solution,
    prestation: str,
    vat_regime: str | None,
    principal_amount: Decimal | None,
    secondary_amount: Decimal | None,
    issued_at: datetime | None,
    ceilings: dict[tuple[str, str, str], Decimal],
    already_ordered: bool,
) -> tuple[str, Decimal, Decimal, list[RuleViolation]]:
    """The rules of ``order_create`` without any query (SPEC §7, AF §4.2, §5): the VAT regime and amounts it would
    store (``rules.default_vat_regime`` and the ceilings by default) and every violation. ``ceilings`` is the
    programme's ``ceiling_table``; ``already_ordered`` says whether the client has an order for this programme. The
    single creation and the bulk import (``orders.imports``) both call it."""
    vat_regime = vat_regime or rules.default_vat_regime(client, solution.provider)
    if principal_amount is None or secondary_amount is None:
        try:
            default_principal, default_secondary = default_amounts(
                programme=programme, client=client, prestation=prestation, vat_regime=vat_regime, ceilings=ceilings
            )
        except BusinessRuleError:
            default_principal, default_secondary = Decimal("0"), Decimal("0")
        principal_amount = default_principal if principal_amount is None else principal_amount
        secondary_amount = default_secondary if secondary_amount is None else secondary_amount
    violations = rules.order_terms_violations(
        client=client,
        solution=solution,
        programme=programme,
        prestation=prestation,
        vat_regime=vat_regime,
        principal_amount=principal_amount,
        secondary_amount=secondary_amount,
        ceilings=ceilings,
    )
    violations += rules.date_range_violations(
        programme=programme, field="issued_at", label="Émis le", value=issued_at, with_time=True
    )
    if already_ordered:
        violations.append(duplicate_violation(client, programme))
    return vat_regime, principal_amount, secondary_amount, violations


def order_number(order: Order) -> str:
    return f"BC-{order.programme.code}-{order.pk:06d}"


def duplicate_violation(client: Client, programme: Programme) -> RuleViolation:
    return RuleViolation(
        "DUPLICATE_ORDER",
        f"Le client {client} a déjà une commande pour le programme {programme.code} : une seule commande par client "
        "et par programme (AF §4.2).",
        "AF §4.2",
        field="client",
    )


TERMS_PERMISSION = "orders.change_order_terms"


def order_update_terms(
    *,
    order_id: int,
    prestation: str,
    vat_regime: str,
    principal_amount: Decimal,
    secondary_amount: Decimal,
    acting_user: User,
) -> Order:
    """Change the amounts or prestation of an order form not yet signed (draft only), with the permission of its own
    ``orders.change_order_terms`` (sales and administrators: deployment and finance may change an order, not what
    the client is asked to sign). ``acting_user=None`` is the system."""
    with transaction.atomic():
        order = _locked(order_id)
        violations: list[RuleViolation] = []
        if acting_user is not None and not acting_user.has_perm(TERMS_PERMISSION):  # type: ignore[union-attr]
            violations.append(
                RuleViolation(
                    "PERMISSION_DENIED",
                    "Votre rôle ne permet pas de modifier les montants d'un bon de commande : demandez-le au "
                    "commercial ou à un administrateur.",
                    "",
                    field="permission",
                )
            )
        else:
            if order.state != OrderState.DRAFT:
                violations.append(
                    RuleViolation(
                        "ORDER_ALREADY_SIGNED",
                        "Un bon de commande signé ne se modifie plus : annulez-le et établissez-en un nouveau "
                        "(AF §4.3).",
                        "AF §4.3",
                    )
                )
            violations += rules.order_terms_violations(
                client=order.client,
                solution=order.solution,
                programme=order.programme,
                prestation=prestation,
                vat_regime=vat_regime,
                principal_amount=principal_amount,
                secondary_amount=secondary_amount,
                ceilings=ceiling_table(order.programme),
            )
        payload = {
            "prestation": client_rules.shown(prestation),  # storable even when refused (a NUL byte)
            "vat_regime": client_rules.shown(vat_regime),
            "principal_amount": principal_amount,
            "secondary_amount": secondary_amount,
        }
        if not violations:
            order.prestation, order.vat_regime = prestation, vat_regime
            order.principal_amount, order.secondary_amount = principal_amount, secondary_amount
            order.save(update_fields=["prestation", "vat_regime", "principal_amount", "secondary_amount", "updated_at"])
            deadline_store.store_order(order)  # the amount at stake
        event_record(
            order=order,
            acting_user=acting_user,
            action="update_terms",
            from_state=order.state,
            to_state=order.state,
            accepted=not violations,
            message=" ".join(v.message for v in violations),
            payload=payload,
        )
    raise_if(violations)
    return order


# The checklist records the deployment under way; once installed it is the proof of what was done (AF §3).
CHECKLIST_EDITABLE_STATES = {"firm", "advance_requested", "advance_paid"}


def order_update_checklist(*, order_id: int, done: dict[str, bool | date], acting_user: User) -> Order:
    """Tick or untick deployment checklist items (SPEC §3); each change is logged with its date. An item ticked with
    a date records the day the work was done (typed by staff); ticked with ``True``, today (issue 11)."""
    known = {code for code, _label in rules.DEPLOYMENT_CHECKLIST}
    unknown = set(done) - known
    if unknown:
        raise BusinessRuleError.single(
            "CHECKLIST_UNKNOWN_ITEM",
            f"Éléments inconnus de la liste de déploiement : {', '.join(sorted(unknown))}.",
            "AF §3",
        )
    with transaction.atomic():
        order = _locked(order_id)
        if order.state not in CHECKLIST_EDITABLE_STATES:
            raise BusinessRuleError.single(
                "CHECKLIST_CLOSED",
                f"La liste de déploiement ne se modifie plus à l'état « {_state_label(order.state)} » : elle prouve "
                "la prestation réalisée (AF §3).",
                "AF §3",
            )
        checklist = dict(order.deployment_checklist)
        today = rules.paris_date(timezone.now())
        labels = dict(rules.DEPLOYMENT_CHECKLIST)
        future = [labels[code] for code, day in done.items() if isinstance(day, date) and day > today]
        if future:
            raise BusinessRuleError.single(
                "CHECKLIST_DATE_IN_FUTURE",
                f"Date de réalisation dans le futur ({' ; '.join(future)}) : indiquez le jour où le travail a été "
                "fait (AF §3).",
                "AF §3",
                field="deployment_checklist",
            )
        changes = {}
        for code, is_done in done.items():
            day = (is_done if isinstance(is_done, date) else today).isoformat()
            if is_done and checklist.get(code) != day and (isinstance(is_done, date) or not checklist.get(code)):
                checklist[code] = day
                changes[code] = day
            elif not is_done and checklist.get(code):
                checklist.pop(code)
                changes[code] = None
        if changes:
            order.deployment_checklist = checklist
            order.save(update_fields=["deployment_checklist", "updated_at"])
            event_record(
                order=order,
                acting_user=acting_user,
                action="update_checklist",
                from_state=order.state,
                to_state=order.state,
                payload=changes,
            )
    return order


# --- The state machine's actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamSpec:
    """A value the person must give for an action (a date, a reference, a reason)."""

    name: str
    label: str
    kind: str  # "datetime" | "text" | "choice" | "decimal"
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OrderAction:
    name: str
    label: str
    transition: str  # name of the Order transition method (or the first that applies, see ``pick``)
    params: tuple[ParamSpec, ...] = ()
    guard: Callable[[Order, dict[str, Any], datetime], list[RuleViolation]] = lambda order, params, now: []
    apply: Callable[[Order, dict[str, Any], datetime], None] = lambda order, params, now: None
    pick: Callable[[Order, dict[str, Any], datetime], str] | None = None
    update_fields: tuple[str, ...] = field(default_factory=tuple)

    def transition_name(self, order: Order, params: dict[str, Any], now: datetime) -> str:
        return self.pick(order, params, now) if self.pick else self.transition


def french(text: Any) -> str:
    """A label as quoted in a rule's message or stored (bulk runs): always French, the source language, whatever the
    language of the staff member's pages (labels are lazy so that forms and buttons follow it)."""
    with translation.override("fr"):
        return str(text)


def _when(params: dict[str, Any], name: str, now: datetime) -> datetime:
    value = params.get(name)
    return value if isinstance(value, datetime) else now


RECEIVED_AT = ParamSpec("received_at", _("Reçue par l'ASP le"), "datetime")
ASP_REFERENCE = ParamSpec("asp_reference", _("Référence ASP"), "text", required=False)
ASP_MESSAGE = ParamSpec("asp_message", _("Message de l'ASP"), "text")
RETURN_KIND = ParamSpec(
    "return_kind",
    _("Décision de l'ASP"),
    "choice",
    choices=(("to_complete", _("Demande à compléter ou modifier")), ("rejected", _("Demande rejetée"))),
)
REASON = ParamSpec("reason", _("Motif"), "text")
SIGNED_DOCUMENT = ParamSpec("signed_document", _("Document signé (PDF)"), "file", required=False)
# The signed copy attached to a signature is kept as evidence, never replaced (AF §4.3, §6.3, §6.4).
SIGNED_DOCUMENT_KINDS = {"sign": "signed_order_form", "sign_pilot_pv": "signed_pilot_pv", "sign_va": "signed_va"}


def _sign_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    violations = rules.signature_violations(
        order=order,
        programme=order.programme,
        solution=order.solution,
        signed_at=_when(params, "signed_at", now),
        now=now,
    )
    violations += rules.order_terms_violations(
        client=order.client,
        solution=order.solution,
        programme=order.programme,
        prestation=order.prestation,
        vat_regime=order.vat_regime,
        principal_amount=order.principal_amount,
        secondary_amount=order.secondary_amount,
        ceilings=ceiling_table(order.programme),
    )
    if not params.get("signature_method"):
        violations.append(
            RuleViolation(
                "SIGNATURE_METHOD_MISSING",
                "Indiquez le mode de signature (manuscrite, CPx, Pro Santé Connect, RGS 1 étoile, eIDAS simple) "
                "(AF §4.3).",
                "AF §4.3",
                field="signature_method",
            )
        )
    return violations


def _sign_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.signed_at = _when(params, "signed_at", now)
    order.signature_method = params.get("signature_method", "")
    order.signatory_name = params.get("signatory_name", "")
    if rules.is_referenced_at(order.solution, order.signed_at):
        order.firm_at = order.signed_at


def _firm_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    return rules.firm_violations(order=order, programme=order.programme, solution=order.solution, now=now)


def _lapse_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    if rules.lapse_reason(order=order, programme=order.programme, solution=order.solution, now=now):
        return []
    return [
        RuleViolation(
            "PRE_ORDER_STILL_VALID",
            "La commande conditionnelle est encore dans son délai de 120 jours et le référencement n'a pas été refusé "
            "(AF §4.3).",
            "AF §4.3",
        )
    ]


def _lapse_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.closing_reason = (
        rules.lapse_reason(order=order, programme=order.programme, solution=order.solution, now=now) or ""
    )
    if params.get("client_informed"):
        order.pre_order_expiry_notified_at = now


def _advance_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    return rules.advance_violations(
        programme=order.programme,
        solution=order.solution,
        provider=order.solution.provider,
        received_at=_when(params, "received_at", now),
        now=now,
    )


def _advance_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.advance_requested_at = _when(params, "received_at", now)
    order.advance_asp_reference = params.get("asp_reference", "") or order.advance_asp_reference


def _payment_guard(requested_field: str) -> Callable[[Order, dict[str, Any], datetime], list[RuleViolation]]:
    """A payment is dated after the request it answers, and not in the future (amounts paid are facts, SPEC §7)."""

    def guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
        paid_at = _when(params, "paid_at", now)
        requested_at = getattr(order, requested_field)
        if paid_at > now or (requested_at is not None and paid_at < requested_at):
            return [
                RuleViolation(
                    "PAYMENT_DATE_INVALID",
                    "La date de versement doit suivre la réception de la demande par l'ASP, sans être dans le futur.",
                    "AF §VI",
                    field="paid_at",
                )
            ]
        return []

    return guard


def _advance_paid_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.advance_paid_at = _when(params, "paid_at", now)
    order.advance_amount, _balance = rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)


def _return_advance_pick(order: Order, params: dict[str, Any], now: datetime) -> str:
    referenced = rules.is_referenced_at(order.solution, now)
    return "return_advance_request" if referenced else "return_advance_request_pending_referencing"


def _return_advance_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.advance_requested_at = None


def _installation_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    return rules.installation_violations(
        order=order, programme=order.programme, installed_at=_when(params, "installed_at", now), now=now
    )


def _installation_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.installed_at = _when(params, "installed_at", now)


def _pilot_pv_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    signed = (
        Order.objects.filter(solution=order.solution, pilot_pv_signed_at__isnull=False).exclude(pk=order.pk).count()
    )
    return rules.pilot_pv_violations(
        order=order,
        programme=order.programme,
        pilot_pvs_signed=signed,
        signed_at=_when(params, "signed_at", now),
        now=now,
    )


def _pilot_pv_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.pilot_pv_signed_at = _when(params, "signed_at", now)


def _va_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    return rules.va_violations(order=order, va_signed_at=_when(params, "signed_at", now), now=now)


def _va_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.va_signed_at = _when(params, "signed_at", now)


def _attest_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    violations = []
    if order.installed_at is None:
        violations.append(
            RuleViolation(
                "NOT_INSTALLED",
                "L'attestation de fin de Prestation principale suppose la prestation réalisée (AF §4.4).",
                "AF §4.4",
            )
        )
    if order.completion_attested_at is not None:
        violations.append(
            RuleViolation("ALREADY_ATTESTED", "L'attestation de fin de prestation a déjà été envoyée.", "AF §4.4")
        )
    return violations


def _attest_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.completion_attested_at = _when(params, "sent_at", now)


def _invoice_violation(order: Order, kind: str, reference: str) -> list[RuleViolation]:
    """The ASP request carries a copy of the invoice issued to the client (AF §6.4, §6.5)."""
    if order.invoices.filter(kind=kind, credit_note__isnull=True).exists():
        return []
    label = "de la Prestation principale" if kind == "principal" else "de la Prestation secondaire"
    return [
        RuleViolation(
            "INVOICE_MISSING",
            f"Émettez d'abord la facture {label} au nom du client : sa copie accompagne la demande ({reference}).",
            reference,
        )
    ]


def _balance_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    return _invoice_violation(order, "principal", "AF §6.4") + rules.balance_violations(
        order=order,
        programme=order.programme,
        solution=order.solution,
        provider=order.solution.provider,
        received_at=_when(params, "received_at", now),
        now=now,
    )


def _balance_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.balance_requested_at = _when(params, "received_at", now)
    order.balance_asp_reference = params.get("asp_reference", "") or order.balance_asp_reference


def _balance_paid_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.balance_paid_at = _when(params, "paid_at", now)
    advance = order.advance_amount
    if advance is None:
        advance, _balance = rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)
    order.balance_amount = order.principal_amount - advance


def _return_balance_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.balance_requested_at = None


def perf_window_for(order: Order) -> rules.PerfWindow | None:
    """The best complete 6-month window of the order's monitoring journal (AF §3.3, §4.5): the one the documents
    print (``orders.documents.rendering.perf_window``), read in one place."""
    return perf_window(order)


def _secondary_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    return _invoice_violation(order, "secondary", "AF §6.5") + rules.secondary_violations(
        order=order,
        programme=order.programme,
        window=perf_window_for(order),
        received_at=_when(params, "received_at", now),
        now=now,
    )


def _secondary_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    window = perf_window_for(order)
    order.secondary_requested_at = _when(params, "received_at", now)
    order.journal_received_at = order.secondary_requested_at
    order.secondary_perf = window.perf if window else Decimal("0")


def _secondary_paid_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.secondary_paid_at = _when(params, "paid_at", now)
    order.secondary_paid_amount = rules.secondary_payable(order.secondary_amount, order.secondary_perf or Decimal("0"))


def _close_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    check = next((d for d in rules.order_deadlines(order, now) if d.code == "ANS_CHECK_WINDOW"), None)
    if check is not None and check.status == rules.UPCOMING:
        return [
            RuleViolation(
                "ANS_CHECK_WINDOW_OPEN",
                f"L'ANS peut encore annoncer un contrôle du journal jusqu'au {rules.format_deadline(check.due_at)} "
                "(AF §4.5).",
                "AF §4.5",
            )
        ]
    return []


def _not_completed_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    if order.installed_at is not None and order.installed_at <= order.programme.date_5:
        return [
            RuleViolation(
                "ALREADY_REALISED",
                "La Prestation principale a été réalisée avant la Date 5 : rien à déclarer (AF §4.4).",
                "AF §4.4",
            )
        ]
    return []


def _not_completed_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.failure_notified_at = _when(params, "notified_at", now)
    order.closing_reason = params.get("reason", "")


def _withdrawal_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    if order.solution.referencing_withdrawn_at is None:
        return [
            RuleViolation(
                "REFERENCING_NOT_WITHDRAWN",
                "Enregistrez d'abord le retrait du référencement sur la solution (AF §VII).",
                "AF §VII",
            )
        ]
    return []


def _reason_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    if not str(params.get("reason", "")).strip():
        return [
            RuleViolation(
                "REASON_MISSING",
                "Le motif est obligatoire : indiquez-le, il est inscrit au journal de la commande.",
                "",
                field="reason",
            )
        ]
    return []


def _reason_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.closing_reason = str(params.get("reason", "")).strip()


def _termination_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.terminated_at = _when(params, "terminated_at", now)
    order.closing_reason = str(params.get("reason", "")).strip()
    if order.va_signed_at is not None:  # AF §7: no secondary payment; the portfolio reads the stored summary
        from monitoring.services import refresh_perf_summary

        refresh_perf_summary(order, today=rules.paris_date(now))


def _reimbursement_apply(order: Order, params: dict[str, Any], now: datetime) -> None:
    order.reimbursed_at = _when(params, "reimbursed_at", now)


def _asp_message_guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
    if not str(params.get("asp_message", "")).strip():
        return [
            RuleViolation(
                "ASP_MESSAGE_MISSING",
                "Recopiez le message de l'ASP : il est conservé au journal.",
                "AF §6.2",
                "asp_message",
            )
        ]
    return []


def _fact_guard(
    field_name: str, message: str, needs: str | None = None
) -> Callable[[Order, dict[str, Any], datetime], list[RuleViolation]]:
    """A fact is recorded once (``field_name`` still empty) and, if ``needs`` is given, after that other fact."""

    def guard(order: Order, params: dict[str, Any], now: datetime) -> list[RuleViolation]:
        violations = []
        if getattr(order, field_name) is not None:
            violations.append(RuleViolation("ALREADY_RECORDED", message, ""))
        if needs is not None and getattr(order, needs) is None:
            violations.append(RuleViolation("PREREQUISITE_MISSING", "Enregistrez d'abord la demande.", "AF §4.4"))
        when = _when(params, "at", now)
        if when > now:
            violations.append(RuleViolation("DATE_IN_FUTURE", "La date ne peut être dans le futur.", "", "at"))
        return violations

    return guard


def _set_fact(field_name: str) -> Callable[[Order, dict[str, Any], datetime], None]:
    def apply(order: Order, params: dict[str, Any], now: datetime) -> None:
        setattr(order, field_name, _when(params, "at", now))

    return apply


ACTIONS: dict[str, OrderAction] = {
    action.name: action
    for action in (
        OrderAction(
            "sign",
            _("Enregistrer la signature du client"),
            "sign_as_firm",
            params=(
                ParamSpec("signed_at", _("Signé le"), "datetime"),
                ParamSpec(
                    "signature_method",
                    _("Mode de signature"),
                    "choice",
                    choices=tuple((method.value, str(method.label)) for method in SignatureMethod),
                ),
                ParamSpec("signatory_name", _("Signataire"), "text"),
                SIGNED_DOCUMENT,
            ),
            guard=_sign_guard,
            apply=_sign_apply,
            pick=lambda order, params, now: (
                "sign_as_firm"
                if rules.is_referenced_at(order.solution, _when(params, "signed_at", now))
                else "sign_as_pre_order"
            ),
        ),
        OrderAction(
            "firm",
            _("Affermir la commande conditionnelle"),
            "firm_pre_order",
            guard=_firm_guard,
            apply=lambda order, params, now: setattr(order, "firm_at", now),
        ),
        OrderAction("lapse", _("Constater la caducité"), "lapse", guard=_lapse_guard, apply=_lapse_apply),
        OrderAction(
            "file_advance",
            _("Déposer la demande d'avance"),
            "file_advance_request",
            params=(RECEIVED_AT, ASP_REFERENCE),
            guard=_advance_guard,
            apply=_advance_apply,
        ),
        OrderAction(
            "record_advance_paid",
            _("Enregistrer le versement de l'avance"),
            "record_advance_paid",
            params=(ParamSpec("paid_at", _("Versée le"), "datetime"),),
            guard=_payment_guard("advance_requested_at"),
            apply=_advance_paid_apply,
        ),
        OrderAction(
            "return_advance",
            _("Enregistrer un retour de l'ASP sur l'avance"),
            "return_advance_request",
            params=(RETURN_KIND, ASP_MESSAGE),
            guard=_asp_message_guard,
            apply=_return_advance_apply,
            pick=_return_advance_pick,
        ),
        OrderAction(
            "record_installation",
            _("Enregistrer l'installation"),
            "record_installation",
            params=(ParamSpec("installed_at", _("Installée le"), "datetime"),),
            guard=_installation_guard,
            apply=_installation_apply,
        ),
        OrderAction(
            "sign_pilot_pv",
            _("Enregistrer le PV d'installation pilote"),
            "sign_pilot_pv",
            params=(ParamSpec("signed_at", _("Signé le"), "datetime"), SIGNED_DOCUMENT),
            guard=_pilot_pv_guard,
            apply=_pilot_pv_apply,
        ),
        OrderAction(
            "sign_va",
            _("Enregistrer la VA signée"),
            "sign_va",
            params=(ParamSpec("signed_at", _("Signée le"), "datetime"), SIGNED_DOCUMENT),
            guard=_va_guard,
            apply=_va_apply,
        ),
        OrderAction(
            "attest_completion",
            _("Envoyer l'attestation de fin de Prestation principale"),
            "",
            params=(ParamSpec("sent_at", _("Envoyée le"), "datetime"),),
            guard=_attest_guard,
            apply=_attest_apply,
        ),
        OrderAction(
            "file_balance",
            _("Déposer la demande de solde"),
            "file_balance_request",
            params=(RECEIVED_AT, ASP_REFERENCE),
            guard=_balance_guard,
            apply=_balance_apply,
        ),
        OrderAction(
            "record_balance_paid",
            _("Enregistrer le versement du solde"),
            "record_balance_paid",
            params=(ParamSpec("paid_at", _("Versé le"), "datetime"),),
            guard=_payment_guard("balance_requested_at"),
            apply=_balance_paid_apply,
        ),
        OrderAction(
            "return_balance",
            _("Enregistrer un retour de l'ASP sur le solde"),
            "return_balance_request",
            params=(RETURN_KIND, ASP_MESSAGE),
            guard=_asp_message_guard,
            apply=_return_balance_apply,
        ),
        OrderAction(
            "file_secondary",
            _("Déposer la demande de Prestation secondaire"),
            "file_secondary_request",
            params=(RECEIVED_AT,),
            guard=_secondary_guard,
            apply=_secondary_apply,
        ),
        OrderAction(
            "record_secondary_paid",
            _("Enregistrer le versement de la Prestation secondaire"),
            "record_secondary_paid",
            params=(ParamSpec("paid_at", _("Versée le"), "datetime"),),
            guard=_payment_guard("secondary_requested_at"),
            apply=_secondary_paid_apply,
        ),
        OrderAction("close", _("Clôturer"), "close", guard=_close_guard),
        OrderAction(
            "declare_not_completed",
            _("Déclarer la non-réalisation (client et ASP informés)"),
            "declare_not_completed",
            params=(ParamSpec("notified_at", _("Informés le"), "datetime"), REASON),
            guard=lambda order, params, now: (
                _not_completed_guard(order, params, now) + _reason_guard(order, params, now)
            ),
            apply=_not_completed_apply,
        ),
        OrderAction(
            "record_referencing_withdrawal",
            _("Constater le retrait du référencement"),
            "record_referencing_withdrawal",
            guard=_withdrawal_guard,
        ),
        OrderAction(
            "record_reimbursement",
            _("Enregistrer le reversement à l'ASP"),
            "record_reimbursement",
            params=(ParamSpec("reimbursed_at", _("Reversé le"), "datetime"),),
            apply=_reimbursement_apply,
        ),
        OrderAction(
            "record_termination",
            _("Enregistrer la résiliation par le client"),
            "record_termination",
            params=(ParamSpec("terminated_at", _("Résiliée le"), "datetime"), REASON),
            guard=_reason_guard,
            apply=_termination_apply,
        ),
        OrderAction("cancel", _("Annuler"), "cancel", params=(REASON,), guard=_reason_guard, apply=_reason_apply),
        OrderAction(
            "request_portability",
            _("Enregistrer une demande de portabilité des données"),
            "",
            params=(ParamSpec("at", _("Demandée le"), "datetime"),),
            guard=_fact_guard("portability_requested_at", "Une demande de portabilité est déjà enregistrée."),
            apply=_set_fact("portability_requested_at"),
        ),
        OrderAction(
            "deliver_portability",
            _("Enregistrer la livraison de l'export (portabilité)"),
            "",
            params=(ParamSpec("at", _("Livré le"), "datetime"),),
            guard=_fact_guard(
                "portability_delivered_at", "La livraison est déjà enregistrée.", needs="portability_requested_at"
            ),
            apply=_set_fact("portability_delivered_at"),
        ),
        OrderAction(
            "notify_date_2",
            _("Enregistrer l'information du client (pas de dossier complet à la Date 2)"),
            "",
            params=(ParamSpec("at", _("Informé le"), "datetime"),),
            guard=_fact_guard("date_2_notice_sent_at", "Le client a déjà été informé."),
            apply=_set_fact("date_2_notice_sent_at"),
        ),
        OrderAction(
            "notify_termination",
            _("Enregistrer l'information de l'ASP (résiliation)"),
            "",
            params=(ParamSpec("at", _("ASP informée le"), "datetime"),),
            guard=_fact_guard("termination_notified_at", "L'ASP a déjà été informée."),
            apply=_set_fact("termination_notified_at"),
        ),
    )
}
# Actions that record a fact without changing the state; they need the permission of the neighbouring transition.
STATELESS_ACTION_PERMISSIONS = {
    "attest_completion": "orders.file_balance",
    "request_portability": "orders.record_installation",
    "deliver_portability": "orders.record_installation",
    "notify_termination": "orders.file_balance",  # finance writes to the ASP (AF §6.5)
    "notify_date_2": "orders.sign_order",
}
_REALISED = {"installed", "pilot_pv_signed", "va_signed", "balance_requested", "balance_paid"}
STATELESS_ACTION_STATES = {
    "attest_completion": {"installed", "pilot_pv_signed", "va_signed"},
    # AF §4.4: the portability clause holds once the main prestation is realised, for the support contract's life.
    "request_portability": _REALISED | {"secondary_requested", "secondary_paid", "closed", "terminated"},
    "deliver_portability": _REALISED | {"secondary_requested", "secondary_paid", "closed", "terminated"},
    "notify_termination": {"terminated"},
    "notify_date_2": {"pre_order"},
}


# --- Running an action --------------------------------------------------------------------------------------------


def _locked(order_id: int) -> Order:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("programme", "solution__provider", "client")
        .get(pk=order_id)
    )


def _state_label(state: str) -> str:
    return str(OrderState(state).label)


def date_param_violations(order: Order, action: OrderAction, params: dict[str, Any]) -> list[RuleViolation]:
    """Every date given to an action lies in the programme's calendar (AF §II), checked before any rule reads it:
    the action's date parameters, and any other date passed along. An absent date means "now"."""
    labels = {spec.name: french(spec.label) for spec in action.params if spec.kind == "datetime"}
    labels.update({name: name for name, value in params.items() if isinstance(value, date) and name not in labels})
    violations: list[RuleViolation] = []
    for name, label in labels.items():
        violations += rules.date_range_violations(
            programme=order.programme, field=name, label=label, value=params.get(name), with_time=True
        )
    return violations


def action_violations(
    order: Order, action: OrderAction, params: dict[str, Any], user: User, now: datetime
) -> list[RuleViolation]:
    """Why ``action`` cannot run on ``order`` now: state, permission, then every rule. Empty when it can."""
    if not action.transition:
        allowed_states = STATELESS_ACTION_STATES[action.name]
        if order.state not in allowed_states:
            return [_state_violation(order, action)]
        permission = STATELESS_ACTION_PERMISSIONS[action.name]
        if user is not None and not user.has_perm(permission):  # type: ignore[union-attr]
            return [_permission_violation(action)]
        return action.guard(order, params, now)
    method = getattr(order, action.transition_name(order, params, now))
    if not can_proceed(method):
        return [_state_violation(order, action)]
    if user is not None and not has_transition_perm(method, user):
        return [_permission_violation(action)]
    return action.guard(order, params, now)


def _state_violation(order: Order, action: OrderAction) -> RuleViolation:
    return RuleViolation(
        "STATE_NOT_ALLOWED",
        f"« {french(action.label)} » est impossible depuis l'état « {_state_label(order.state)} ».",
        "AF §VI",
    )


def _permission_violation(action: OrderAction) -> RuleViolation:
    return RuleViolation(
        "PERMISSION_DENIED", f"Votre rôle ne permet pas l'action « {french(action.label)} ».", "", field="permission"
    )


# Texts given to an action, stored on the order or in its event log: (max length, line breaks allowed). Single-line
# fields take the model's length; a reason or a message copied from the ASP fits in a few paragraphs, and the bound
# keeps a pasted file out of the event log.
FREE_TEXT_MAX_LENGTH = 2000
TEXT_PARAM_LIMITS: dict[str, tuple[int | None, bool]] = {
    "signatory_name": (Order._meta.get_field("signatory_name").max_length, False),
    "asp_reference": (Order._meta.get_field("advance_asp_reference").max_length, False),
    "asp_message": (FREE_TEXT_MAX_LENGTH, True),
    "reason": (FREE_TEXT_MAX_LENGTH, True),
}


def _refuse_bad_param_values(action: OrderAction, params: dict[str, Any]) -> list[RuleViolation]:
    """Texts with control characters (a NUL byte) or too long, and choices outside their list, each refused naming
    its field. A refused value is replaced in ``params`` by a visible, storable copy, so the refused attempt can
    still be written to the event log (PostgreSQL stores no NUL byte)."""
    specs = {spec.name: spec for spec in action.params}
    violations: list[RuleViolation] = []
    for name, value in params.items():
        spec = specs.get(name)
        problem: RuleViolation | None = None
        if spec is not None and spec.kind == "choice" and value not in ("", None, *(code for code, _l in spec.choices)):
            problem = RuleViolation(
                "CHOICE_UNKNOWN",
                f"{french(spec.label)} : « {client_rules.shown(value)} » n'est pas un choix proposé.",
                "",
                field=name,
            )
        elif isinstance(value, str):
            max_length, multiline = TEXT_PARAM_LIMITS.get(name, (None, True))
            label = french(spec.label) if spec is not None else name
            problem = client_rules.text_violation(
                value, field=name, label=label, max_length=max_length, multiline=multiline, reference=""
            )
        if problem:
            violations.append(problem)
            params[name] = client_rules.shown(value)
    return violations


def perform(
    action_name: str,
    *,
    order_id: int,
    acting_user: User,
    params: dict[str, Any] | None = None,
    now: datetime | None = None,
    actor_name: str = "",
) -> Order:
    """Run one action of the state machine atomically, or refuse it with every reason and change nothing.

    ``acting_user=None`` is the system (Celery jobs); a refused attempt is still written to the event log.
    ``actor_name`` is the event log's actor when it is not a staff user (a client signing online, issue #12).
    """
    action = ACTIONS[action_name]
    params = dict(params or {})
    upload = params.pop("signed_document", None)
    signed_pdf = upload.read() if upload is not None else None
    now = now or timezone.now()
    with transaction.atomic():
        order = _locked(order_id)
        from_state = order.state
        # Bad texts are replaced by a storable copy first, so that the refused attempt can still be logged; a date out
        # of the calendar is refused before the rules compute with it (they could overflow).
        value_violations = _refuse_bad_param_values(action, params)
        violations = (
            date_param_violations(order, action, params) or action_violations(order, action, params, acting_user, now)
        ) + value_violations
        if signed_pdf is not None and not signed_pdf.startswith(b"%PDF"):
            violations.append(
                RuleViolation(
                    "SIGNED_DOCUMENT_NOT_PDF",
                    f"Le document signé « {upload.name} » n'est pas un PDF.",
                    "AF §4.3",
                    field="signed_document",
                )
            )
        if violations:
            event_record(
                order=order,
                acting_user=acting_user,
                action=action_name,
                from_state=from_state,
                to_state=from_state,
                accepted=False,
                message=" ".join(v.message for v in violations),
                payload={**params, "codes": [v.code for v in violations]},
                actor_name=actor_name,
            )
        else:
            action.apply(order, params, now)
            if action.transition:
                getattr(order, action.transition_name(order, params, now))()
            try:
                order.save()
            except ConcurrentTransition as exc:  # only when the lock was not taken (SQLite): same message as above
                raise BusinessRuleError([_state_violation(order, action)]) from exc
            deadline_store.store_order(order)
            if signed_pdf is not None and action_name in SIGNED_DOCUMENT_KINDS:
                from orders.documents import document_store

                evidence = document_store(
                    order=order,
                    kind=SIGNED_DOCUMENT_KINDS[action_name],
                    pdf=signed_pdf,
                    snapshot={"uploaded_as": upload.name, "action": action_name},
                    acting_user=acting_user,
                    filename=f"{order.number}-{SIGNED_DOCUMENT_KINDS[action_name]}",
                )
                params["signed_document"] = {"document_id": evidence.pk, "sha256": evidence.sha256, "name": upload.name}
            event_record(
                order=order,
                acting_user=acting_user,
                action=action_name,
                from_state=from_state,
                to_state=order.state,
                payload=params,
                actor_name=actor_name,
            )
    raise_if(violations)
    logger.info(
        "order %s: %s %s → %s by %s", order.number, action_name, from_state, order.state, actor_label(acting_user)
    )
    return order


@dataclass(frozen=True)
class ActionAvailability:
    action: OrderAction
    allowed: bool
    violations: list[RuleViolation]


def available_actions(order: Order, user: User, now: datetime | None = None) -> list[ActionAvailability]:
    """Actions reachable from the order's state, each with the reasons it is blocked right now (for the order page).

    Dates the person will type are taken as "now" for this preview; ``perform`` checks again with the real values.
    """
    now = now or timezone.now()
    result = []
    for action in ACTIONS.values():
        if action.transition:
            method = getattr(order, action.transition_name(order, {}, now))
            if not can_proceed(method):
                continue
        elif order.state not in STATELESS_ACTION_STATES[action.name]:
            continue
        violations = action_violations(order, action, {}, user, now)
        blocking = [v for v in violations if v.field not in {"reason", "asp_message", "signature_method"}]
        result.append(ActionAvailability(action, not blocking, blocking))
    return result


# --- Solutions ------------------------------------------------------------------------------------------------------


def solution_versions_check(*, solution: Solution, pending: list[rules.VersionFacts] | None = None) -> None:
    """Raise when the solution's obsolete declarations (or the ``pending`` set replacing them) break AF §4.3."""
    versions = pending
    if versions is None:
        versions = [
            rules.VersionFacts(v.label, v.released_on, v.end_announced_on, v.is_wave1_referenced, v.declared_obsolete)
            for v in solution.versions.all()
        ]
    raise_if(rules.obsolete_declaration_violations(versions, solution.programme.date_0))
