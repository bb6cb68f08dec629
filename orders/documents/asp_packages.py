"""ASP submission packages (AF §6.2, §6.4, §6.5): for each request, the files it needs in one ZIP, with a manifest
listing every file of the ZIP and its SHA-256, per order or for a batch of orders.

A request goes with the client's signed copy, never the blank generated PDF: the signed order form for the advance,
the VA signed by the client for the balance (the latest ``signed_*`` document of the order). Without it the package
is refused with the list of what is missing.
"""

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from orders import rules
from orders.documents.invoices import open_invoice
from orders.documents.rendering import perf_window
from orders.documents.store import latest_document
from orders.exceptions import BusinessRuleError, RuleViolation
from orders.models import Document, DocumentKind, InvoiceKind, Order
from segur_portal.spreadsheets import SafeCSVWriter

REQUESTS = {
    "advance": "Demande de financement et de versement de l'avance (AF §6.2)",
    "balance": "Demande de versement du solde (AF §6.4)",
    "secondary": "Demande de paiement de la Prestation secondaire (AF §6.5)",
}
REQUEST_SLUGS = {"advance": "avance", "balance": "solde", "secondary": "prestation-secondaire"}
REQUEST_REFERENCES = {"advance": "AF §6.2", "balance": "AF §6.4", "secondary": "AF §6.5"}
MANIFEST = "manifeste.csv"
REFUSALS = "refus.txt"


def _paris(moment: datetime | None) -> str:
    """A date of the form, in Europe/Paris, written dd/mm/yyyy."""
    return f"{timezone.localtime(moment):%d/%m/%Y}" if moment else ""


def _amount(value: Decimal | None) -> str:
    """Amounts of the form and the journal: a decimal comma, two decimals (e.g. 180,60)."""
    return "" if value is None else f"{Decimal(value):.2f}".replace(".", ",")


def _decimal(value: Decimal | None) -> str:
    """PERF and ratios with a decimal comma (e.g. 0,5)."""
    return "" if value is None else f"{Decimal(value).normalize():f}".replace(".", ",")


def form_data(order: Order, request: str) -> dict[str, Any]:
    """The fields of the ASP form, as the provider fills them in (dates in Europe/Paris, decimal commas)."""
    advance, balance = rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)
    provider = order.solution.provider
    data: dict[str, Any] = {
        "demande": REQUESTS[request],
        "programme": order.programme.code,
        "fournisseur": provider.name,
        "siren_fournisseur": provider.siren,
        "bon_de_commande": order.number,
        "client": order.client.name,
        "rpps_ou_finess": order.client.identifier,
        "type_client": str(order.client.get_kind_display()),
        "tranche": order.client.tranche,
        "logiciel": f"{order.solution.name} {order.solution.version}",
        "referencement_ans": order.solution.ans_reference_number,
        "prestation": str(order.get_prestation_display()),
        "regime_tva": str(order.get_vat_regime_display()),
        "montant_principal": _amount(order.principal_amount),
        "montant_secondaire_perf_1": _amount(order.secondary_amount),
        "date_signature": _paris(order.signed_at),
    }
    if request == "advance":
        data["montant_avance"] = _amount(order.advance_amount or advance)
    if request == "balance":
        data.update(
            montant_solde=_amount(order.balance_amount or balance), reference_avance=order.advance_asp_reference
        )
        data["date_va"] = _paris(order.va_signed_at)
    if request == "secondary":
        window = perf_window(order)
        data.update(perf=_decimal(window.perf) if window else "", reference_solde=order.balance_asp_reference)
        if window:
            data["fenetre"] = f"{window.first_month:%m/%Y}–{window.last_month:%m/%Y}"
            data["montant_demande"] = _amount(rules.secondary_payable(order.secondary_amount, window.perf))
    return data


def monitoring_journal_csv(order: Order) -> bytes:
    """The monitoring journal (AF §3.3): one layout for the whole file — a row per month, then the window row with
    its Dt, Dm and PERF in the same columns — with the order, client and software identifiers on every row.
    Months are mm/yyyy; decimals are written with a comma (PERF 0,5)."""
    buffer = io.StringIO()
    writer = SafeCSVWriter(buffer, delimiter=";")
    identity = [order.number, order.client.identifier, order.solution.ans_reference_number]
    writer.writerow(
        ["bon_de_commande", "rpps_ou_finess", "referencement_ans", "ligne", "du", "au", "Dt", "Dm", "T", "Tq", "Ts"]
        + ["PERF"]
    )
    for month in order.monitoring_months.order_by("month"):
        writer.writerow(
            identity
            + ["mois", f"{month.month:%m/%Y}", f"{month.month:%m/%Y}"]
            + [month.documents_expected, month.documents_sent, month.patients_seen]
            + [month.patients_qualified, month.patients_transitional, ""]
        )
    window = perf_window(order)
    if window:
        writer.writerow(
            identity
            + ["fenetre", f"{window.first_month:%m/%Y}", f"{window.last_month:%m/%Y}", window.dt, window.dm]
            + ["", "", "", _decimal(window.perf)]
        )
    return buffer.getvalue().encode("utf-8")


def _signed_copy(order: Order, request: str) -> tuple[str, Document | None, str] | None:
    if request == "advance":
        document = latest_document(order, DocumentKind.SIGNED_ORDER_FORM)
        return "bon_de_commande_signe.pdf", document, "bon de commande signé par le client"
    if request == "balance":
        document = latest_document(order, DocumentKind.SIGNED_VA)
        return "verification_aptitude_signee.pdf", document, "VA signée par le client"
    return None


def package_files(order: Order, request: str) -> dict[str, bytes]:
    """The files of one request, or a refusal listing what is missing (nothing half-built)."""
    files: dict[str, bytes] = {
        "formulaire.json": json.dumps(form_data(order, request), ensure_ascii=False, indent=2).encode("utf-8")
    }
    wanted: list[tuple[str, Document | None, str]] = []
    signed = _signed_copy(order, request)
    if signed is not None and request == "advance":
        wanted.append(signed)
    if request in {"balance", "secondary"}:
        kind = InvoiceKind.PRINCIPAL if request == "balance" else InvoiceKind.SECONDARY
        label = "facture de la Prestation principale" if request == "balance" else "facture de la Prestation secondaire"
        invoice = open_invoice(order, kind)
        document = latest_document(order, DocumentKind.INVOICE, invoice) if invoice else None
        wanted.append((f"facture_{invoice.number}.pdf" if invoice else "facture.pdf", document, label))
    if signed is not None and request == "balance":
        wanted.append(signed)
    missing = [label for _name, document, label in wanted if document is None]
    if missing:
        raise BusinessRuleError(
            [
                RuleViolation(
                    "PACKAGE_INCOMPLETE",
                    f"Dossier ASP de {order.number} incomplet, il manque : {', '.join(missing)} ({REQUESTS[request]}).",
                    REQUEST_REFERENCES[request],
                    details={"missing": missing},
                )
            ]
        )
    for filename, document, _label in wanted:
        assert document is not None
        with document.file.open("rb") as handle:
            files[filename] = handle.read()
    if request == "secondary":
        files["journal_de_monitoring.csv"] = monitoring_journal_csv(order)
    return files


def _manifest(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.StringIO()
    writer = SafeCSVWriter(buffer, delimiter=";", lineterminator="\n")  # file names come from uploads: quoted, safe
    writer.writerow(["fichier", "sha256", "octets"])
    for name, data in entries:
        writer.writerow([name, hashlib.sha256(data).hexdigest(), len(data)])
    return buffer.getvalue().encode("utf-8")


def package_zip(orders: Iterable[Order], request: str) -> tuple[bytes, list[str]]:
    """One ZIP for one or many orders (a folder per order) with a manifest listing every other file of the ZIP
    (the refusals too); refused orders are listed, not packed."""
    entries: list[tuple[str, bytes]] = []
    refused: list[str] = []
    for order in orders:
        try:
            files = package_files(order, request)
        except BusinessRuleError as error:
            refused.append(error.message)
            continue
        entries += [(f"{order.number}/{name}", data) for name, data in files.items()]
    if refused:
        entries.append((REFUSALS, ("\n".join(refused) + "\n").encode("utf-8")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
        archive.writestr(MANIFEST, _manifest(entries))
    return buffer.getvalue(), refused


def package_filename(request: str, count: int) -> str:
    """``dossier-asp-solde-12-commandes-20261123-1000.zip`` (Europe/Paris time)."""
    noun = "commande" if count == 1 else "commandes"
    return f"dossier-asp-{REQUEST_SLUGS[request]}-{count}-{noun}-{timezone.localtime():%Y%m%d-%H%M}.zip"


def order_package_filename(order: Order, request: str) -> str:
    """``dossier-asp-avance-CMD-2026-00012.zip``."""
    return f"dossier-asp-{REQUEST_SLUGS[request]}-{order.number}.zip"
