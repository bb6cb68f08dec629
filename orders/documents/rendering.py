"""PDF documents of an order, rendered with WeasyPrint from HTML templates (issue 4; content rules AF §4.3).

One ``FontConfiguration`` per worker process, no network fetch while rendering (local files only). A document is
stored with its SHA-256, the data it was built from and who asked; it is never edited: regenerating adds a version.
"""

import logging
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from monitoring.models import MonitoringMonth
from orders import rules
from orders.documents.store import FILE_STEMS, document_store
from orders.exceptions import BusinessRuleError, RuleViolation, raise_if
from orders.models import Document, DocumentKind, Order, OrderState, VatRegime

logger = logging.getLogger(__name__)

STATE_FUNDING_MENTION = "Montants de la Prestation Ségur pris en charge par l'Etat au titre du Ségur de la santé"
CONDITIONAL_MENTION = (
    "Bon de commande conditionné à l'obtention par le logiciel du référencement ANS. L'affermissement de cette "
    "commande est conditionné au dépôt d'un dossier de référencement complet, contenant l'ensemble des preuves "
    "attendues, sous 120 jours sur le site de l'ANS et à l'obtention subséquente du référencement"
)
VAT_RATES = {"vat_20": Decimal("0.20"), "vat_8_5": Decimal("0.085"), "ht": Decimal("0")}
CENT = Decimal("0.01")
NBSP, NNBSP = "\u00a0", "\u202f"
STATIC_ROOT = Path(settings.BASE_DIR) / "static"

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


def render_pdf(html: str, pdf_variant: str | None = None) -> bytes:
    """HTML to PDF; invoices ask for ``pdf/a-3b`` (the Factur-X container, issue 11)."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=STATIC_ROOT.as_uri() + "/", url_fetcher=local_files_fetcher())
    options: dict[str, Any] = {"pdf_variant": pdf_variant} if pdf_variant else {}
    return document.write_pdf(font_config=font_configuration(), cache=IMAGE_CACHE, **options)


@dataclass(frozen=True)
class AmountLine:
    """One line of an order form or invoice: quantity 1 at the unit price HT (CGI ann. II art. 242 nonies A)."""

    label: str
    ttc: Decimal
    ht: Decimal
    vat: Decimal
    quantity: int = 1

    @property
    def unit_ht(self) -> Decimal:
        return (self.ht / self.quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def amount_line(label: str, amount: Decimal, vat_regime: str) -> AmountLine:
    """The stored amount is the one of the regime's column (AF §5.2): TTC, or HT for a provider not liable."""
    rate = VAT_RATES[vat_regime]
    ht = (amount / (1 + rate)).quantize(CENT, rounding=ROUND_HALF_UP)
    return AmountLine(label, amount, ht, amount - ht)


VAT_RATE_LABELS = {VatRegime.VAT_20: "20 %", VatRegime.VAT_8_5: "8,5 %", VatRegime.HT: ""}
DEFAULT_VAT_EXEMPTION = "TVA non applicable, art. 293 B du CGI"


def vat_context(order: Order) -> dict[str, Any]:
    """How the VAT is printed (AF §5.2): its rate, or for a provider not liable no VAT/TTC column and the legal basis
    of the exemption (a provider setting)."""
    exempt = order.vat_regime == VatRegime.HT
    provider = order.solution.provider
    return {
        "vat_exempt": exempt,
        "vat_rate_label": VAT_RATE_LABELS[VatRegime(order.vat_regime)],
        "vat_exemption_basis": (getattr(provider, "vat_exemption_basis", "") or DEFAULT_VAT_EXEMPTION)
        if exempt
        else "",
    }


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


def perf_window(order: Order) -> rules.PerfWindow | None:
    """The best complete 6-month window of the monitoring journal (AF §3.3, §4.5)."""
    start = rules.secondary_start(order)
    if start is None:
        return None
    months = [
        rules.MonthFigures(month.month, month.documents_expected, month.documents_sent)
        for month in MonitoringMonth.objects.filter(order=order)
    ]
    programme = order.programme
    return rules.best_perf_window(
        months,
        start=start,
        observation_months=programme.secondary_observation_months,
        window_months=programme.secondary_window_months,
    )


def checklist_day(value: Any) -> date | None:
    """A checklist item's stored day (ISO date) as a date, printed dd/mm/yyyy; None when not done or unreadable."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return value if isinstance(value, date) else None


def next_version(order: Order, kind: str) -> int:
    """The version the document about to be rendered will most likely get (printed on each page)."""
    latest = Document.objects.filter(order=order, kind=kind).order_by("-version").values_list("version", flat=True)
    return (latest.first() or 0) + 1


def provider_legal_info(provider: Any) -> str:
    """Legal form, share capital and RCS registration, as printed on the letterhead (Code de commerce R123-237)."""
    parts = [provider.legal_form] if getattr(provider, "legal_form", "") else []
    if getattr(provider, "share_capital", None):
        whole, cents = f"{provider.share_capital:,.2f}".split(".")
        parts.append(f"au capital de {whole.replace(',', NNBSP)},{cents}{NBSP}€")
    if getattr(provider, "rcs", ""):
        parts.append(f"RCS {provider.rcs}")
    return ", ".join(parts)


def order_form_context(order: Order, kind: str = DocumentKind.ORDER_FORM) -> dict[str, Any]:
    provider, client, solution = order.solution.provider, order.client, order.solution
    signed_or_issued = order.signed_at or order.issued_at
    principal = amount_line(str(order.get_prestation_display()), order.principal_amount, order.vat_regime)
    secondary = amount_line("Prestation secondaire", order.secondary_amount, order.vat_regime)
    tranche = f", tranche {client.tranche}" if client.tranche else ""
    return {
        "order": order,
        "provider": provider,
        "client": client,
        "solution": solution,
        "lines": [principal, secondary],
        "total": AmountLine(
            "Total", principal.ttc + secondary.ttc, principal.ht + secondary.ht, principal.vat + secondary.vat
        ),
        **vat_context(order),
        "ceiling_basis": f"{client.get_kind_display()}{tranche}",
        "sign_by": order.programme.date_4,
        "conditional": not rules.is_referenced_at(solution, signed_or_issued),
        "legal_info": provider_legal_info(provider),
        "state_funding_mention": STATE_FUNDING_MENTION,
        "conditional_mention": CONDITIONAL_MENTION,
        "generated_at": timezone.now(),
        "document_version": next_version(order, kind),
        "va_key_functions": VA_KEY_FUNCTIONS,
        "checklist": [
            (label, checklist_day(order.deployment_checklist.get(code)))
            for code, label in rules.checklist_items_for(order.client)
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
NO_ORDER_FORM_STATES = {OrderState.CANCELLED, OrderState.LAPSED}


def _refusal(code: str, message: str, reference: str) -> list[RuleViolation]:
    return [RuleViolation(code, message, reference)]


def applicability_violations(order: Order, kind: str) -> list[RuleViolation]:
    """When each document is true (AF §4.3, §4.4, §4.5, §6.3): nothing is offered or generated out of place."""
    if kind == DocumentKind.ORDER_FORM:
        if order.state in NO_ORDER_FORM_STATES:
            return _refusal(
                "DOCUMENT_NOT_APPLICABLE",
                f"Pas de bon de commande pour une commande « {OrderState(order.state).label} ».",
                "AF §4.3",
            )
        return []
    if order.state not in INSTALLED_STATES:
        return _refusal(
            "DOCUMENT_TOO_EARLY",
            "Ce document suppose la Prestation principale réalisée (installation enregistrée) (AF §4.4).",
            "AF §4.4",
        )
    if kind == DocumentKind.VA and order.va_signed_at is not None:
        return _refusal(
            "DOCUMENT_NOT_APPLICABLE",
            "La VA est déjà signée par le client : pas de nouvelle VA vierge (AF §4.4).",
            "AF §4.4",
        )
    if kind == DocumentKind.COMPLETION_ATTESTATION and order.balance_requested_at is not None:
        return _refusal(
            "DOCUMENT_NOT_APPLICABLE",
            "L'attestation de fin de Prestation principale vaut pour une commande dont le solde n'a pas pu être "
            "demandé ; le solde de celle-ci est déjà demandé (AF §6.4).",
            "AF §6.4",
        )
    if kind == DocumentKind.MONITORING_JOURNAL and order.va_signed_at is None:
        return _refusal(
            "DOCUMENT_TOO_EARLY",
            "Le journal de monitoring commence le mois suivant la signature de la VA (AF §4.5).",
            "AF §4.5",
        )
    if kind == DocumentKind.PILOT_PV and not order.is_pilot:
        return _refusal("NOT_A_PILOT_ORDER", "Cette commande n'est pas du périmètre pilote (AF §6.3).", "AF §6.3")
    return []


def applicable_kinds(order: Order) -> list[str]:
    """The documents the order page offers: only those that are true for the order now."""
    return [kind for kind in TEMPLATES if not applicability_violations(order, kind)]


@dataclass(frozen=True)
class RenderedDocument:
    """A document rendered and not stored yet."""

    order: Order
    kind: str
    pdf: bytes
    snapshot: dict[str, Any]


def document_generate(*, order_id: int, kind: str, acting_user: Any) -> Document:
    """Render and store a new version of a document, or refuse with the list of missing data (nothing stored)."""
    return document_keep(document_render(order_id=order_id, kind=kind), acting_user)


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
    context = order_form_context(order, kind)
    if kind == DocumentKind.MONITORING_JOURNAL:
        context.update(
            monitoring_months=list(order.monitoring_months.order_by("month")),
            secondary_start=rules.secondary_start(order),
            perf_window=perf_window(order),
        )
    with translation.override("fr"):  # a document is French whatever the language of the page that asked for it
        pdf = render_pdf(render_to_string(TEMPLATES[DocumentKind(kind)], context))
    return RenderedDocument(order=order, kind=kind, pdf=pdf, snapshot=snapshot_of(context))


def document_keep(rendered: RenderedDocument, acting_user: Any) -> Document:
    """Store a rendered document as the order's next version of its kind."""
    order, kind = rendered.order, rendered.kind
    document = document_store(
        order=order,
        kind=kind,
        pdf=rendered.pdf,
        snapshot=rendered.snapshot,
        acting_user=acting_user,
        filename=f"{FILE_STEMS[DocumentKind(kind)]}-{order.number}",
    )
    logger.info("document %s v%s generated for %s (%s bytes)", kind, document.version, order.number, len(rendered.pdf))
    return document
