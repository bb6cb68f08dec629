"""Clients through the API: the same checks as the admin and the imports (``clients.services``, AF §4.2)."""

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema
from pydantic import Field

from api.auth import ApiError, require_staff
from api.orders import ERRORS, PAGE_SIZE_MAX, page
from api.schemas import ClientIn, ClientKindCode, ClientOut, ClientPage, ClientPatch, RefusalOut, TrancheCode
from clients import rules as client_rules
from clients import services as client_services
from clients.models import Client
from orders import services as order_services

CLIENT_DOC = (
    "Les mêmes contrôles que le back-office et les imports : identifiant RPPS ou FINESS (clé de Luhn), éligibilité, "
    "valeurs ; un client par identifiant. Refus : 409 avec chaque violation."
)
router = Router(tags=["Clients"])
ClientId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def client_out(client: Client) -> ClientOut:
    values = {name: getattr(client, name) for name in ClientOut.model_fields if name != "kind_label"}
    return ClientOut(**values, kind_label=order_services.french(client.get_kind_display()))


def client_or_404(client_id: int) -> Client:
    client = Client.objects.filter(pk=client_id).first()
    if client is None:
        raise ApiError(404, "NOT_FOUND", f"Aucun client n° {client_id}.")
    return client


def given(payload: Schema) -> dict[str, Any]:
    return {name: value for name, value in payload.model_dump(exclude_unset=True).items() if value is not None}


class ClientFilters(Schema):
    kind: ClientKindCode | None = None
    rpps: Annotated[str, Field(max_length=32)] | None = None
    finess: Annotated[str, Field(max_length=32)] | None = None
    tranche: TrancheCode | None = None
    cursor: Annotated[str, Field(max_length=64)] | None = None
    limit: Annotated[int, Field(ge=1, le=PAGE_SIZE_MAX)] = 50


@router.get("/clients", response={200: ClientPage, **ERRORS}, summary="Lister les clients")
def client_list(request: HttpRequest, filters: Query[ClientFilters]) -> ClientPage:
    require_staff(request, "clients.view_client")
    queryset = Client.objects.all()
    if filters.kind:
        queryset = queryset.filter(kind=filters.kind)
    if filters.rpps:
        queryset = queryset.filter(rpps=client_rules.normalise_identifier(filters.rpps))
    if filters.finess:
        queryset = queryset.filter(finess=client_rules.normalise_identifier(filters.finess))
    if filters.tranche:
        queryset = queryset.filter(tranche=filters.tranche)
    rows, next_cursor = page(queryset, filters.cursor, filters.limit)
    return ClientPage(items=[client_out(client) for client in rows], next_cursor=next_cursor)


@router.post(
    "/clients", response={201: ClientOut, 409: RefusalOut, **ERRORS}, summary="Créer un client", description=CLIENT_DOC
)
def client_create(request: HttpRequest, payload: ClientIn) -> tuple[int, ClientOut]:
    """``clients.services.client_create``: identifier, eligibility and values checked as in the admin (AF §4.2)."""
    require_staff(request, "clients.add_client")
    return 201, client_out(client_services.client_create(**given(payload)))


@router.get("/clients/{client_id}", response={200: ClientOut, **ERRORS}, summary="Lire un client")
def client_read(request: HttpRequest, client_id: ClientId) -> ClientOut:
    require_staff(request, "clients.view_client")
    return client_out(client_or_404(client_id))


@router.patch(
    "/clients/{client_id}",
    response={200: ClientOut, 409: RefusalOut, **ERRORS},
    summary="Modifier un client",
    description=CLIENT_DOC,
)
def client_update(request: HttpRequest, client_id: ClientId, payload: ClientPatch) -> ClientOut:
    """``clients.services.client_update``: the same checks as at creation; a new e-mail is journaled."""
    user = require_staff(request, "clients.change_client")
    client = client_or_404(client_id)
    return client_out(client_services.client_update(client=client, acting_user=user, **given(payload)))
