"""ASP submission packages (AF §6.2, §6.4, §6.5): for each request, the files it needs in one ZIP, with a manifest
listing every file and its SHA-256, per order or for a batch of orders."""

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from orders import rules, services
from orders.exceptions import BusinessRuleError, RuleViolation
from orders.models import Document, DocumentKind, Invoice, Order
from segur_portal.spreadsheets import SafeCSVWriter

REQUESTS = {
    "advance": "Demande de financement et de versement de l'avance (AF §6.2)",
    "balance": "Demande de versement du solde (AF §6.4)",
    "secondary": "Demande de paiement de la Prestation secondaire (AF §6.5)",
}


def _latest_document(order: Order, kind: str, invoice: Invoice | None = None) -> Document | None:
    documents = Document.objects.filter(order=order, kind=kind)
    if invoice is not None:
        documents = documents.filter(invoice=invoice)
    return documents.order_by("-version").first()


def form_data(order: Order, request: str) -> dict[str, Any]:
    """The fields of the ASP form, as the provider fills them in."""
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
        "montant_principal": str(order.principal_amount),
        "montant_secondaire_perf_1": str(order.secondary_amount),
        "date_signature": order.signed_at.isoformat() if order.signed_at else "",
    }
    if request == "advance":
        data["montant_avance"] = str(order.advance_amount or advance)
    if request == "balance":
        data.update(montant_solde=str(order.balance_amount or balance), reference_avance=order.advance_asp_reference)
        data["date_va"] = order.va_signed_at.isoformat() if order.va_signed_at else ""
    if request == "secondary":
        window = services.perf_window_for(order)
        data.update(perf=str(window.perf) if window else "", reference_solde=order.balance_asp_reference)
        if window:
            data["fenetre"] = f"{window.first_month:%m/%Y}–{window.last_month:%m/%Y}"
    return data


def monitoring_journal_csv(order: Order) -> bytes:
    """The monitoring journal (AF §3.3): monthly Dt, Dm, T, Tq, Ts, then the window and its PERF."""
    buffer = io.StringIO()
    writer = SafeCSVWriter(buffer, delimiter=";")
    writer.writerow(["mois", "Dt", "Dm", "T", "Tq", "Ts"])
    for month in order.monitoring_months.order_by("month"):
        writer.writerow(
            [
                f"{month.month:%Y-%m}",
                month.documents_expected,
                month.documents_sent,
                month.patients_seen,
                month.patients_qualified,
                month.patients_transitional,
            ]
        )
    window = services.perf_window_for(order)
    if window:
        writer.writerow([])
        writer.writerow(["fenetre", f"{window.first_month:%Y-%m}", f"{window.last_month:%Y-%m}", "Dt", window.dt, "Dm"])
        writer.writerow(["PERF", str(window.perf)])
    return buffer.getvalue().encode("utf-8")


def package_files(order: Order, request: str) -> dict[str, bytes]:
    """The files of one request, or a refusal listing what is missing (nothing half-built)."""
    files: dict[str, bytes] = {
        "formulaire.json": json.dumps(form_data(order, request), ensure_ascii=False, indent=2).encode("utf-8")
    }
    missing: list[str] = []
    wanted: list[tuple[str, Document | None, str]] = []
    if request == "advance":
        signed = _latest_document(order, DocumentKind.SIGNED_ORDER_FORM)
        if signed is not None:
            wanted.append(("bon_de_commande_signe.pdf", signed, "bon de commande signé"))
        else:
            wanted.append(("bon_de_commande.pdf", _latest_document(order, DocumentKind.ORDER_FORM), "bon de commande"))
    if request in {"balance", "secondary"}:
        kind = "principal" if request == "balance" else "secondary"
        invoice = order.invoices.filter(kind=kind, credit_note__isnull=True).order_by("-sequence").first()
        document = _latest_document(order, DocumentKind.INVOICE, invoice) if invoice else None
        wanted.append((f"facture_{invoice.number if invoice else kind}.pdf", document, f"facture ({kind})"))
    if request == "balance":
        va = _latest_document(order, DocumentKind.SIGNED_VA) or _latest_document(order, DocumentKind.VA)
        wanted.append(("verification_aptitude.pdf", va, "VA"))
    for filename, document, label in wanted:
        if document is None:
            missing.append(label)
        else:
            with document.file.open("rb") as handle:
                files[filename] = handle.read()
    if request == "secondary":
        files["journal_de_monitoring.csv"] = monitoring_journal_csv(order)
    if missing:
        raise BusinessRuleError(
            [
                RuleViolation(
                    "PACKAGE_INCOMPLETE",
                    f"Dossier ASP de {order.number} incomplet, il manque : {', '.join(missing)} ({REQUESTS[request]}).",
                    REQUESTS[request].split("(")[-1].rstrip(")"),
                )
            ]
        )
    return files


def _manifest(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.StringIO()
    writer = SafeCSVWriter(buffer, delimiter=";", lineterminator="\n")  # file names come from uploads: quoted, safe
    writer.writerow(["fichier", "sha256", "octets"])
    for name, data in entries:
        writer.writerow([name, hashlib.sha256(data).hexdigest(), len(data)])
    return buffer.getvalue().encode("utf-8")


def package_zip(orders: Iterable[Order], request: str) -> tuple[bytes, list[str]]:
    """One ZIP for one or many orders (a folder per order) with a manifest; refused orders are listed, not packed."""
    entries: list[tuple[str, bytes]] = []
    refused: list[str] = []
    for order in orders:
        try:
            files = package_files(order, request)
        except BusinessRuleError as error:
            refused.append(error.message)
            continue
        entries += [(f"{order.number}/{name}", data) for name, data in files.items()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
        archive.writestr("manifeste.csv", _manifest(entries))
        if refused:
            archive.writestr("refus.txt", "\n".join(refused) + "\n")
    return buffer.getvalue(), refused


def package_filename(request: str, count: int) -> str:
    return f"asp-{request}-{count}-commandes-{timezone.localtime():%Y%m%d-%H%M}.zip"
