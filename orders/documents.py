"""PDF documents of an order, rendered with WeasyPrint from HTML templates (issue 4; content rules AF §4.3).

One ``FontConfiguration`` per worker process, no network fetch while rendering (local files only). A document is
stored with its SHA-256, the data it was built from and who asked; it is never edited: regenerating adds a version.
"""

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Max, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from orders import rules, services
from orders.exceptions import BusinessRuleError, RuleViolation, raise_if
from orders.models import Document, DocumentBatch, DocumentKind, Order

logger = logging.getLogger(__name__)

STATE_FUNDING_MENTION = "Montants de la Prestation Ségur pris en charge par l'Etat au titre du Ségur de la santé"
CONDITIONAL_MENTION = (
    "Bon de commande conditionné à l'obtention par le logiciel du référencement ANS. L'affermissement de cette "
    "commande est conditionné au dépôt d'un dossier de référencement complet, contenant l'ensemble des preuves "
    "attendues, sous 120 jours sur le site de l'ANS et à l'obtention subséquente du référencement"
)
VAT_RATES = {"vat_20": Decimal("0.20"), "vat_8_5": Decimal("0.085"), "ht": Decimal("0")}
CENT = Decimal("0.01")
STATIC_ROOT = Path(settings.BASE_DIR) / "static"
BATCH_QUEUE_GRACE = timedelta(minutes=5)
BATCH_LEASE_SECONDS = 120

_font_config: Any = None


def font_configuration() -> Any:
    """One FontConfiguration per worker: building it scans the system fonts."""
    global _font_config
    if _font_config is None:
        from weasyprint.text.fonts import FontConfiguration

        _font_config = FontConfiguration()
    return _font_config


_fetcher: Any = None


def local_files_fetcher() -> Any:
    """Rendering never reaches the network: only ``file://`` URLs under ``static/`` (one fetcher per worker)."""
    global _fetcher
    if _fetcher is None:
        from weasyprint.urls import URLFetcher

        class LocalStaticFetcher(URLFetcher):  # type: ignore[misc]
            def fetch(self, url: str, headers: Any = None) -> Any:
                path = Path(url.removeprefix("file://").split("?")[0]).resolve()
                if not url.startswith("file://") or STATIC_ROOT.resolve() not in path.parents:
                    raise ValueError(f"Ressource refusée pendant le rendu (hors de static/) : {url}")
                return super().fetch(url, headers)

        _fetcher = LocalStaticFetcher(allowed_protocols=["file"], fail_on_errors=True)
    return _fetcher


# One image cache per worker process too: the letterhead logo is decoded once, not once per document.
IMAGE_CACHE: dict[str, Any] = {}


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    document = HTML(string=html, base_url=STATIC_ROOT.as_uri() + "/", url_fetcher=local_files_fetcher())
    return document.write_pdf(font_config=font_configuration(), cache=IMAGE_CACHE)


@dataclass(frozen=True)
class AmountLine:
    label: str
    ttc: Decimal
    ht: Decimal
    vat: Decimal


def amount_line(label: str, amount: Decimal, vat_regime: str) -> AmountLine:
    """The stored amount is the one of the regime's column (AF §5.2): TTC, or HT for a provider not liable."""
    rate = VAT_RATES[vat_regime]
    ht = (amount / (1 + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
    return AmountLine(label, amount, ht, amount - ht)


def order_form_missing(order: Order) -> list[str]:
    """What the order form needs and the records lack (AF §4.3)."""
    provider, client, solution = order.solution.provider, order.client, order.solution
    missing = []
    for label, value in (
        ("raison sociale du fournisseur", provider.name),
        ("SIREN du fournisseur", provider.siren),
        ("adresse du fournisseur", provider.address and provider.city),
        ("nom du client", client.name),
        ("adresse du client", client.address and client.city),
        ("version du logiciel", solution.version),
    ):
        if not value:
            missing.append(label)
    if solution.referenced_at and not solution.ans_reference_number:
        missing.append("numéro de référencement ANS de la solution")
    if client.is_structure and not client.tranche:
        missing.append("tranche de la structure (Base de référence)")
    return missing


def order_form_context(order: Order) -> dict[str, Any]:
    provider, client, solution = order.solution.provider, order.client, order.solution
    signed_or_issued = order.signed_at or order.issued_at
    principal = amount_line(str(order.get_prestation_display()), order.principal_amount, order.vat_regime)
    secondary = amount_line("Prestation secondaire", order.secondary_amount, order.vat_regime)
    return {
        "order": order,
        "provider": provider,
        "client": client,
        "solution": solution,
        "lines": [principal, secondary],
        "total": AmountLine(
            "Total", principal.ttc + secondary.ttc, principal.ht + secondary.ht, principal.vat + secondary.vat
        ),
        "vat_rate_label": {"vat_20": "20 %", "vat_8_5": "8,5 %", "ht": "non applicable (fournisseur non assujetti)"}[
            order.vat_regime
        ],
        "ceiling_basis": f"{client.get_kind_display()}" + (f", tranche {client.tranche}" if client.tranche else ""),
        "conditional": not rules.is_referenced_at(solution, signed_or_issued),
        "state_funding_mention": STATE_FUNDING_MENTION,
        "conditional_mention": CONDITIONAL_MENTION,
        "generated_at": timezone.now(),
        "va_key_functions": VA_KEY_FUNCTIONS,
        "checklist": [
            (label, order.deployment_checklist.get(code)) for code, label in rules.checklist_items_for(order.client)
        ],
    }


def snapshot_of(context: dict[str, Any]) -> dict[str, Any]:
    order = context["order"]
    return {
        "number": order.number,
        "client": {"name": context["client"].name, "identifier": context["client"].identifier},
        "solution": f"{context['solution'].name} {context['solution'].version}",
        "ans_reference_number": context["solution"].ans_reference_number,
        "prestation": order.prestation,
        "vat_regime": order.vat_regime,
        "lines": [
            {"label": line.label, "ttc": str(line.ttc), "ht": str(line.ht), "vat": str(line.vat)}
            for line in context["lines"]
        ],
        "conditional": context["conditional"],
        "state": order.state,
    }


TEMPLATES = {
    DocumentKind.ORDER_FORM: "documents/order_form.html",
    DocumentKind.VA: "documents/va.html",
    DocumentKind.PILOT_PV: "documents/pilot_pv.html",
    DocumentKind.COMPLETION_ATTESTATION: "documents/completion_attestation.html",
    DocumentKind.MONITORING_JOURNAL: "documents/monitoring_journal.html",
}
# AF §4.4: the key functions the client attests in the VA.
VA_KEY_FUNCTIONS = (
    "S'authentifier avec Pro Santé Connect (e-CPS) au logiciel et aux téléservices de l'Assurance maladie (INS, DMP, "
    "ordonnance numérique)",
    "Connaître le statut INS des patients et qualifier l'identité facilement",
    "Rechercher un confrère dans l'annuaire et lui adresser un document par MSSanté professionnelle",
    "Envoyer un message vers la MSSanté patient",
    "Recevoir des documents par MSSanté directement dans le logiciel et les y intégrer",
    "Envoyer simplement les documents produits à Mon espace santé",
    "Consulter simplement Mon espace santé",
    "Produire tous les documents de la liste des documents Ségur aux formats CDA R2 N1 ou N3 à envoyer "
    "systématiquement à Mon espace santé",
    "Produire une ordonnance numérique de produits de santé et consulter une ordonnance numérique",
)
INSTALLED_STATES = {
    "installed",
    "pilot_pv_signed",
    "va_signed",
    "balance_requested",
    "balance_paid",
    "secondary_requested",
    "secondary_paid",
    "closed",
    "terminated",
}


def applicability_violations(order: Order, kind: str) -> list[RuleViolation]:
    """When each document makes sense (AF §4.4, §6.3): nothing is generated out of place."""
    if kind == DocumentKind.ORDER_FORM:
        return []
    if order.state not in INSTALLED_STATES:
        return [
            RuleViolation(
                "DOCUMENT_TOO_EARLY",
                "Ce document suppose la Prestation principale réalisée (installation enregistrée) (AF §4.4).",
                "AF §4.4",
            )
        ]
    if kind == DocumentKind.MONITORING_JOURNAL and order.va_signed_at is None:
        return [
            RuleViolation(
                "DOCUMENT_TOO_EARLY",
                "Le journal de monitoring commence le mois suivant la signature de la VA (AF §4.5).",
                "AF §4.5",
            )
        ]
    if kind == DocumentKind.PILOT_PV and not order.is_pilot:
        return [
            RuleViolation("NOT_A_PILOT_ORDER", "Cette commande n'est pas du périmètre pilote (AF §6.3).", "AF §6.3")
        ]
    return []


@dataclass(frozen=True)
class RenderedDocument:
    """A document rendered and not stored yet."""

    order: Order
    kind: str
    pdf: bytes
    snapshot: dict[str, Any]


def document_generate(*, order_id: int, kind: str, acting_user: Any) -> Document:
    """Render and store a new version of a document, or refuse with the list of missing data (nothing stored)."""
    return _document_keep(document_render(order_id=order_id, kind=kind), acting_user)


def document_render(*, order_id: int, kind: str) -> RenderedDocument:
    """Render a document (no lock held, nothing stored), or refuse with the list of missing data."""
    order = Order.objects.select_related("client", "solution__provider", "programme").get(pk=order_id)
    raise_if(applicability_violations(order, kind))
    missing = order_form_missing(order)
    if missing:
        raise BusinessRuleError(
            [
                RuleViolation(
                    "DOCUMENT_DATA_MISSING",
                    "Document impossible à générer, il manque : " + ", ".join(missing) + " (AF §4.3).",
                    "AF §4.3",
                    details={"missing": missing},
                )
            ]
        )
    context = order_form_context(order)
    if kind == DocumentKind.MONITORING_JOURNAL:
        context.update(
            monitoring_months=list(order.monitoring_months.order_by("month")),
            secondary_start=rules.secondary_start(order),
            perf_window=services.perf_window_for(order),
        )
    with translation.override("fr"):  # a document is French whatever the language of the page that asked for it
        pdf = render_pdf(render_to_string(TEMPLATES[DocumentKind(kind)], context))
    return RenderedDocument(order=order, kind=kind, pdf=pdf, snapshot=snapshot_of(context))


def _document_keep(rendered: RenderedDocument, acting_user: Any) -> Document:
    order, kind = rendered.order, rendered.kind
    document = document_store(
        order=order,
        kind=kind,
        pdf=rendered.pdf,
        snapshot=rendered.snapshot,
        acting_user=acting_user,
        filename=f"{order.number}-{kind}",
    )
    logger.info("document %s v%s generated for %s (%s bytes)", kind, document.version, order.number, len(rendered.pdf))
    return document


def document_store(
    *, order: Order, kind: str, pdf: bytes, snapshot: dict[str, Any], acting_user: Any, filename: str, **links: Any
) -> Document:
    """Store a rendered PDF as the next version of the order's documents of that kind, with its SHA-256."""
    with transaction.atomic():
        # Lock the order so two generations at once get versions n and n+1, never the same number.
        Order.objects.select_for_update().filter(pk=order.pk).first()
        version = (Document.objects.filter(order=order, kind=kind).aggregate(last=Max("version"))["last"] or 0) + 1
        user = acting_user if getattr(acting_user, "is_authenticated", False) else None
        document = Document(
            order=order,
            kind=kind,
            version=version,
            sha256=hashlib.sha256(pdf).hexdigest(),
            snapshot=snapshot,
            created_by=user,
            **links,
        )
        document.file.save(f"{filename}-v{version}.pdf", ContentFile(pdf), save=False)
        document.save()
    return document


def batch_request(*, order_ids: list[int], kind: str, acting_user: Any) -> DocumentBatch:
    """Queue the generation of one document per order on a worker; progress is kept on the batch."""
    user = acting_user if getattr(acting_user, "is_authenticated", False) else None
    batch = DocumentBatch.objects.create(kind=kind, order_ids=order_ids, total=len(order_ids), requested_by=user)
    transaction.on_commit(lambda: _queue_batch(batch.pk))
    return batch


def _queue_batch(batch_id: int) -> None:
    from orders.tasks import generate_document_batch

    try:
        generate_document_batch.delay(batch_id)
    except Exception:  # the broker is down: the batch stays "en attente"; ``batches_resume`` queues it again later
        logger.warning("document batch %s could not be queued", batch_id, exc_info=True)


def batch_lease() -> timedelta:
    """How long a running batch stays its worker's without news (``SEGUR_DOCUMENT_BATCH_LEASE_SECONDS``, 2 minutes
    by default). Each document renews it, so it must exceed the rendering of one document."""
    return timedelta(seconds=getattr(settings, "SEGUR_DOCUMENT_BATCH_LEASE_SECONDS", BATCH_LEASE_SECONDS))


def batch_claim(batch_id: int, run_id: str, now: datetime) -> DocumentBatch | None:
    """Take a batch for this run (the Celery task id), atomically, as a lease: a queued batch; a running one whose
    lease expired (its worker died, nobody renewed it); or a running one claimed by this same task id — the message
    the broker redelivers at once when a worker dies mid-batch (``acks_late``). Anything else finds it taken."""
    claimable = (
        Q(status=DocumentBatch.QUEUED)
        | Q(status=DocumentBatch.RUNNING, claimed_by=run_id)
        | Q(status=DocumentBatch.RUNNING, progress_at__lt=now - batch_lease())
    )
    taken = DocumentBatch.objects.filter(claimable, pk=batch_id).update(
        status=DocumentBatch.RUNNING, claimed_by=run_id, progress_at=now
    )
    return DocumentBatch.objects.select_related("requested_by").get(pk=batch_id) if taken else None


def _batch_step(batch: DocumentBatch, run_id: str, index: int, refusals: list[dict[str, Any]]) -> bool:
    """Make the document of the batch's ``index``-th order and count it, both or neither, while this run holds the
    lease: stored in the transaction that advances the batch, so a run killed in between, or taken over, never
    leaves a document that the resumed run would make a second time. False when the batch is no longer this run's.
    """
    order_id = batch.order_ids[index]
    try:
        rendered: RenderedDocument | None = document_render(order_id=order_id, kind=batch.kind)
    except BusinessRuleError as error:
        rendered = None
        refusals.append({"order_id": order_id, "message": error.message})
    with transaction.atomic():
        mine = DocumentBatch.objects.filter(
            pk=batch.pk, status=DocumentBatch.RUNNING, claimed_by=run_id, processed=index
        )
        progress = {"processed": index + 1, "progress_at": timezone.now()}
        if rendered is None:
            return bool(mine.update(refusals=refusals, **progress))
        if not mine.update(generated=F("generated") + 1, **progress):
            return False
        _document_keep(rendered, batch.requested_by)
    return True


def batch_run(*, batch_id: int, run_id: str | None = None) -> DocumentBatch:
    """Generate the batch's documents one by one, resuming where a previous (interrupted) run stopped.

    ``run_id`` is the Celery task id (a redelivered message resumes its own batch at once). An error puts the batch
    back in the queue (the task retries it); a batch taken by a live run or done is left alone.
    """
    run_id = run_id or uuid.uuid4().hex
    batch = batch_claim(batch_id, run_id, timezone.now())
    if batch is None:
        return DocumentBatch.objects.get(pk=batch_id)
    refusals = list(batch.refusals)
    mine = DocumentBatch.objects.filter(pk=batch.pk, status=DocumentBatch.RUNNING, claimed_by=run_id)
    try:
        for index in range(batch.processed, len(batch.order_ids)):
            if not _batch_step(batch, run_id, index, refusals):
                logger.warning("document batch %s: taken over by another run, %s stops", batch.pk, run_id)
                return DocumentBatch.objects.get(pk=batch_id)
    except Exception:
        mine.update(status=DocumentBatch.QUEUED)
        raise
    mine.update(status=DocumentBatch.DONE, finished_at=timezone.now())
    batch.refresh_from_db()
    return batch


def batches_resume(*, now: datetime | None = None) -> list[int]:
    """Queue again the batches nobody is working on: queued for over ``BATCH_QUEUE_GRACE`` (the broker was down when
    they were asked for), or running with an expired lease (their worker died and no redelivered message took them
    back). A run that lost its batch this way stops at its next document."""
    now = now or timezone.now()
    stalled = DocumentBatch.objects.filter(status=DocumentBatch.RUNNING, progress_at__lt=now - batch_lease())
    stalled_ids = list(stalled.values_list("pk", flat=True))
    stalled.filter(pk__in=stalled_ids).update(status=DocumentBatch.QUEUED)
    waiting = DocumentBatch.objects.filter(
        Q(status=DocumentBatch.QUEUED, created_at__lt=now - BATCH_QUEUE_GRACE) | Q(pk__in=stalled_ids)
    )
    batch_ids = list(waiting.order_by("pk").values_list("pk", flat=True))
    for batch_id in batch_ids:
        _queue_batch(batch_id)
    return batch_ids
