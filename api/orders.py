"""Orders through the API: create a draft, read it as the admin's order page does, list, and run the state machine's
actions through ``orders.services.perform`` (the same guards as every other caller: no rule lives here)."""

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Body, Path, Query, Router, Schema
from pydantic import Field, create_model

from api.auth import ApiError, InvalidInput, invalid, require_staff
from api.schemas import (
    ActionOut,
    AwareMoment,
    ChecklistIn,
    ClientRef,
    DeadlineOut,
    ErrorOut,
    Input,
    InvalidOut,
    InvoiceOut,
    LongText,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderSummary,
    ParamOut,
    RefusalOut,
    StateCode,
    ViolationOut,
)
from clients.models import Client
from orders import invoices, rules, selectors, services
from orders.admin.order_page import action_permission, roles_with
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderState, Programme, Solution

LIST_DOC = (
    "Les commandes par ordre de création, `limit` à la fois (100 au plus) ; `next_cursor` donne la page suivante."
)
CREATE_DOC = (
    "Un bon de commande en brouillon, avec les contrôles du back-office : client éligible, prestation autorisée, "
    "montants au plus égaux aux plafonds (par défaut : les plafonds), une commande par client et par programme."
)
ACTION_DOC = (
    "Exécute une action de la commande (voir `actions` de la commande : nom, valeurs attendues, rôles). "
    "Une règle qui refuse : 409 avec chaque violation (code, message, référence AF, champ), rien n'est modifié. "
    "Une valeur mal formée, absente ou étrangère à l'action : 422 nommant le champ."
)
router = Router(tags=["Commandes"])

ERRORS: dict[Any, Any] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: InvalidOut, 429: ErrorOut}
PAGE_SIZE_MAX = 100
ORDER_DATE_FIELDS = (
    "issued_at",
    "signed_at",
    "firm_at",
    "advance_requested_at",
    "advance_paid_at",
    "installed_at",
    "pilot_pv_signed_at",
    "va_signed_at",
    "completion_attested_at",
    "balance_requested_at",
    "balance_paid_at",
    "secondary_requested_at",
    "secondary_paid_at",
    "journal_received_at",
    "terminated_at",
    "reimbursed_at",
)


# --- Cursor pagination (by primary key: stable while rows are added) -------------------------------------------------


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"pk:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value = text.split(":", 1)
        pk = int(value)
        if kind != "pk" or not 0 <= pk < 2**62:
            raise ValueError(kind)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid("cursor", "curseur invalide : reprenez celui de la page précédente.", location="query") from exc
    return pk


def page(queryset: QuerySet[Any], cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    if cursor:
        queryset = queryset.filter(pk__gt=decode_cursor(cursor))
    rows = list(queryset.order_by("pk")[: limit + 1])
    next_cursor = encode_cursor(rows[limit - 1].pk) if len(rows) > limit else None
    return rows[:limit], next_cursor


# --- Reading an order -------------------------------------------------------------------------------------------


def order_or_404(number: str) -> Order:
    order = selectors.order_list_queryset().filter(number=number[:32]).first()
    if order is None:
        raise ApiError(404, "NOT_FOUND", f"Aucune commande n° « {number[:40]} ».")
    return order


def deadline_out(deadline: rules.Deadline | None) -> DeadlineOut | None:
    if deadline is None:
        return None
    return DeadlineOut(
        code=deadline.code,
        due_at=deadline.due_at,
        actor=deadline.actor,
        actor_label=deadline.actor_label,
        action=deadline.action,
        reference=deadline.reference,
        status=deadline.status,
        met_at=deadline.met_at,
    )


def order_summary_fields(order: Order, now: datetime) -> dict[str, Any]:
    client = order.client
    return {
        "number": order.number,
        "state": order.state,
        "state_label": services.french(OrderState(order.state).label),
        "programme": order.programme.code,
        "client": ClientRef(id=client.pk, name=client.name, kind=client.kind, identifier=client.identifier),
        "solution_id": order.solution_id,
        "prestation": order.prestation,
        "vat_regime": order.vat_regime,
        "principal_amount": order.principal_amount,
        "secondary_amount": order.secondary_amount,
        "is_pilot": order.is_pilot,
        "issued_at": order.issued_at,
        "next_deadline": deadline_out(rules.next_deadline(order, now)),
    }


def action_out(order: Order, availability: services.ActionAvailability) -> ActionOut:
    action = availability.action
    return ActionOut(
        name=action.name,
        label=services.french(action.label),
        allowed=availability.allowed,
        roles=roles_with(action_permission(order, action)),
        params=[
            ParamOut(
                name=spec.name,
                label=services.french(spec.label),
                kind=spec.kind,
                required=spec.required,
                choices=[code for code, _label in spec.choices],
            )
            for spec in action.params
            if spec.kind != "file"
        ],
        violations=[ViolationOut(**violation.as_dict()) for violation in availability.violations],
    )


def order_detail(order: Order, user: Any, now: datetime | None = None) -> OrderOut:
    """What the admin's order page shows: amounts with their ceilings, advance and balance, every deadline (who acts,
    by when), and the actions reachable now with why the blocked ones are blocked."""
    now = now or timezone.now()
    table = services.ceiling_table(order.programme)
    category = order.client.ceiling_category
    advance, balance = rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)
    return OrderOut(
        **order_summary_fields(order, now),
        solution_name=str(order.solution),
        amounts={
            "principal_amount": order.principal_amount,
            "principal_ceiling": table.get((order.prestation, category, order.vat_regime)),
            "secondary_amount": order.secondary_amount,
            "secondary_ceiling": table.get(("secondary", category, order.vat_regime)),
            "advance_amount": order.advance_amount or advance,
            "balance_amount": order.balance_amount or balance,
            "advance_paid_amount": order.advance_amount,
            "balance_paid_amount": order.balance_amount,
            "secondary_paid_amount": order.secondary_paid_amount,
        },
        dates={name: getattr(order, name) for name in ORDER_DATE_FIELDS},
        deadlines=[deadline_out(deadline) for deadline in rules.order_deadlines(order, now)],
        actions=[action_out(order, availability) for availability in services.available_actions(order, user, now)],
    )


class OrderFilters(Schema):
    state: StateCode | None = None
    client_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    programme: Annotated[str, Field(max_length=32)] | None = None
    cursor: Annotated[str, Field(max_length=64)] | None = None
    limit: Annotated[int, Field(ge=1, le=PAGE_SIZE_MAX)] = 50


@router.get("/orders", response={200: OrderPage, **ERRORS}, summary="Lister les commandes", description=LIST_DOC)
def order_list(request: HttpRequest, filters: Query[OrderFilters]) -> OrderPage:
    """Orders by creation, ``limit`` at a time (at most 100); ``next_cursor`` gives the next page. The number of
    queries does not grow with the page size."""
    require_staff(request, "orders.view_order")
    queryset = selectors.order_list_queryset()
    if filters.state:
        queryset = queryset.filter(state=filters.state)
    if filters.client_id:
        queryset = queryset.filter(client_id=filters.client_id)
    if filters.programme:
        queryset = queryset.filter(programme__code=filters.programme)
    rows, next_cursor = page(queryset, filters.cursor, filters.limit)
    now = timezone.now()
    return OrderPage(items=[OrderSummary(**order_summary_fields(o, now)) for o in rows], next_cursor=next_cursor)


@router.post(
    "/orders",
    response={201: OrderOut, 409: RefusalOut, **ERRORS},
    summary="Créer un bon de commande",
    description=CREATE_DOC,
)
def order_create(request: HttpRequest, payload: OrderIn) -> tuple[int, OrderOut]:
    """A draft order form through ``orders.services.order_create`` (eligibility, amounts ≤ ceilings, AF §4.2-§5)."""
    user = require_staff(request, "orders.add_order")
    programme = Programme.objects.filter(code=payload.programme).first()
    if programme is None:
        raise invalid("programme", f"programme « {payload.programme} » inconnu.")
    client = Client.objects.filter(pk=payload.client_id).first()
    if client is None:
        raise invalid("client_id", f"aucun client n° {payload.client_id}.")
    solution = Solution.objects.select_related("provider").filter(pk=payload.solution_id, programme=programme).first()
    if solution is None:
        raise invalid("solution_id", f"aucune solution n° {payload.solution_id} dans ce programme.")
    order = services.order_create(
        programme=programme,
        client=client,
        solution=solution,
        prestation=payload.prestation,
        vat_regime=payload.vat_regime,
        principal_amount=payload.principal_amount,
        secondary_amount=payload.secondary_amount,
        issued_at=payload.issued_at,
        is_pilot=payload.is_pilot,
        salesperson=user,
        acting_user=user,
    )
    return 201, order_detail(order_or_404(order.number), user)


@router.get("/orders/{number}", response={200: OrderOut, **ERRORS}, summary="Lire une commande")
def order_read(request: HttpRequest, number: str) -> OrderOut:
    user = require_staff(request, "orders.view_order")
    return order_detail(order_or_404(number), user)


# --- Actions ----------------------------------------------------------------------------------------------------------


def _param_type(kind: str) -> Any:
    if kind == "datetime":
        return AwareMoment | None
    if kind == "choice":
        return Annotated[str, Field(max_length=64)] | None
    return LongText | None


ACTION_PARAM_KINDS = {
    spec.name: spec.kind for action in services.ACTIONS.values() for spec in action.params if spec.kind != "file"
}
ActionIn = create_model(
    "ActionIn",
    __base__=Input,
    **{name: (_param_type(kind), None) for name, kind in sorted(ACTION_PARAM_KINDS.items())},
)


def action_params(action: services.OrderAction, given: dict[str, Any]) -> dict[str, Any]:
    """The values this action takes (``ParamSpec``): a value it does not take, a required one missing or a choice
    outside its list is malformed input (422), named by its field."""
    specs = {spec.name: spec for spec in action.params if spec.kind != "file"}
    errors = []
    for name in sorted(set(given) - set(specs)):
        expected = ", ".join(specs) or "aucune valeur"
        errors.append(f"{name} : champ inconnu pour l'action « {action.name} » (attendus : {expected}).")
    for name, spec in specs.items():
        if spec.required and given.get(name) in (None, ""):
            errors.append(f"{name} : champ obligatoire pour l'action « {action.name} ».")
        elif spec.kind == "choice" and name in given and given[name] not in {code for code, _l in spec.choices}:
            errors.append(f"{name} : valeur non proposée (choix : {', '.join(code for code, _l in spec.choices)}).")
    if errors:
        raise InvalidInput(
            [
                {"location": "body", "field": error.split(" : ", 1)[0], "code": "invalid", "message": error}
                for error in errors
            ]
        )
    return {name: value for name, value in given.items() if value not in (None, "")}


@router.post(
    "/orders/{number}/actions/{name}",
    response={200: OrderOut, 409: RefusalOut, **ERRORS},
    summary="Exécuter une action sur une commande",
    description=ACTION_DOC,
)
def order_action(
    request: HttpRequest,
    number: str,
    name: Annotated[str, Path(max_length=64)],
    payload: ActionIn = Body(default=None),  # type: ignore[valid-type]  # noqa: B008
) -> OrderOut:
    """Runs ``orders.services.perform``: a rule that refuses answers 409 with every violation (code, French
    message, AF reference, field), and nothing is changed."""
    user = require_staff(request, "orders.view_order")
    order = order_or_404(number)
    action = services.ACTIONS.get(name)
    if action is None:
        raise ApiError(404, "ACTION_UNKNOWN", f"Action « {name[:64]} » inconnue (voir « actions » de la commande).")
    params = action_params(action, payload.model_dump(exclude_unset=True) if payload is not None else {})
    now = timezone.now()
    preview = services.action_violations(order, action, dict(params), user, now)
    if any(violation.code == "PERMISSION_DENIED" for violation in preview):
        raise ApiError(403, "PERMISSION_DENIED", f"Votre rôle ne permet pas l'action « {action.name} ».")
    order = services.perform(name, order_id=order.pk, acting_user=user, params=params)
    return order_detail(order_or_404(order.number), user)


@router.post(
    "/orders/{number}/checklist",
    response={200: OrderOut, 409: RefusalOut, **ERRORS},
    summary="Cocher la liste de déploiement",
    description="Coche ou décoche les éléments de la liste de déploiement (AF §3), comme le back-office.",
)
def order_checklist(request: HttpRequest, number: str, payload: ChecklistIn) -> OrderOut:
    """``orders.services.order_update_checklist`` (AF §3), as the admin's checklist form."""
    user = require_staff(request, "orders.view_order", "orders.record_installation")
    order = order_or_404(number)
    services.order_update_checklist(order_id=order.pk, done=payload.done, acting_user=user)
    return order_detail(order_or_404(number), user)


@router.post(
    "/orders/{number}/invoices/{kind}",
    response={201: InvoiceOut, 409: RefusalOut, **ERRORS},
    summary="Émettre la facture principale ou secondaire",
)
def order_invoice(request: HttpRequest, number: str, kind: str) -> tuple[int, InvoiceOut]:
    user = require_staff(request, "orders.view_order", "orders.file_balance")
    order = order_or_404(number)
    if kind not in {"principal", "secondary"}:
        raise invalid("kind", "choisissez principal ou secondary.", location="path")
    invoice = invoices.invoice_issue(order_id=order.pk, kind=kind, acting_user=user)
    return 201, InvoiceOut(
        number=invoice.number,
        kind=invoice.kind,
        issued_at=invoice.issued_at,
        due_on=invoice.due_on,
        total_ht=invoice.total_ht,
        total_vat=invoice.total_vat,
        total_ttc=invoice.total_ttc,
    )


def document_url(document_id: int) -> str:
    return reverse("api-1:document_download", args=[document_id])


__all__ = ["ERRORS", "ActionIn", "BusinessRuleError", "InvalidInput", "order_or_404", "router"]
