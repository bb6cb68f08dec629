"""Ceilings lookup (AF §5.3, §5.4) and an order's documents, downloaded after the same permission check as the
admin's (never a public media address)."""

from typing import Annotated

from django.http import FileResponse, HttpRequest
from ninja import Path, Query, Router, Schema
from pydantic import Field

from api.auth import ApiError, require_staff
from api.orders import ERRORS, document_url, order_or_404
from api.schemas import CeilingOut, CeilingPrestationCode, ClientKindCode, DocumentOut, TrancheCode, VatRegimeCode
from clients.models import Client
from orders import services
from orders.models import Document, Programme

CEILING_DOC = (
    "Le prix plafond publié pour (programme, prestation, type et tranche du client, régime de TVA) : médecin, ou "
    "tranche de la structure."
)
router = Router(tags=["Plafonds et documents"])


class CeilingQuery(Schema):
    programme: Annotated[str, Field(max_length=32)] = "MDV-LGC-Va2"
    prestation: CeilingPrestationCode
    client_kind: ClientKindCode
    tranche: TrancheCode | None = None
    vat_regime: VatRegimeCode


@router.get("/ceilings", response={200: CeilingOut, **ERRORS}, summary="Prix plafond", description=CEILING_DOC)
def ceiling_read(request: HttpRequest, query: Query[CeilingQuery]) -> CeilingOut:
    """The published ceiling for (programme, prestation, client kind and tranche, VAT regime): the row is the
    client's ``ceiling_category`` (a doctor, or a structure's tranche), as for an order."""
    require_staff(request, "orders.view_priceceiling")
    programme = Programme.objects.filter(code=query.programme).first()
    if programme is None:
        raise ApiError(404, "NOT_FOUND", f"Programme « {query.programme} » inconnu.")
    category = Client(kind=query.client_kind, tranche=query.tranche or "").ceiling_category
    amount = services.ceiling_table(programme).get((query.prestation, category, query.vat_regime))
    if amount is None:
        raise ApiError(
            404,
            "CEILING_UNKNOWN",
            f"Aucun prix plafond publié pour {query.prestation}, {category or 'tranche inconnue'}, "
            f"{query.vat_regime} (AF §5).",
        )
    return CeilingOut(
        programme=programme.code,
        prestation=query.prestation,
        category=category,
        vat_regime=query.vat_regime,
        amount=amount,
    )


@router.get("/orders/{number}/documents", response={200: list[DocumentOut], **ERRORS}, summary="Documents")
def document_list(request: HttpRequest, number: str) -> list[DocumentOut]:
    require_staff(request, "orders.view_order")
    order = order_or_404(number)
    return [
        DocumentOut(
            id=document.pk,
            kind=document.kind,
            kind_label=services.french(document.get_kind_display()),
            version=document.version,
            sha256=document.sha256,
            created_at=document.created_at,
            download_url=document_url(document.pk),
        )
        for document in order.documents.order_by("kind", "-version")
    ]


@router.get(
    "/documents/{document_id}",
    response={200: None, **ERRORS},
    url_name="document_download",
    summary="Télécharger un document (PDF)",
    openapi_extra={
        "responses": {
            200: {
                "description": "Le PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def document_download(request: HttpRequest, document_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> FileResponse:
    require_staff(request, "orders.view_order")
    document = Document.objects.select_related("order").filter(pk=document_id).first()
    if document is None:
        raise ApiError(404, "NOT_FOUND", f"Aucun document n° {document_id}.")
    return FileResponse(
        document.file.open("rb"),
        as_attachment=True,
        filename=f"{document.order.number}-{document.kind}-v{document.version}.pdf",
        content_type="application/pdf",
    )
