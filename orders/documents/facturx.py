"""Factur-X e-invoices (EN 16931 profile), built with Akretion's ``factur-x`` library (issue 11).

Every invoice and credit note is a PDF/A-3 with its CII XML embedded. The XML is built from the same ``Invoice`` row
as the PDF (number, dates, parties, lines, totals), so both say the same; its SHA-256 is stored with the document.
A credit note is type 381 with positive amounts (the type carries the sign, EN 16931); its PDF prints them negative.
"""

import hashlib
from decimal import Decimal
from typing import Any

from orders import rules
from orders.documents.rendering import provider_legal_info
from orders.models import Invoice, InvoiceKind, VatRegime

PROFILE = "urn:cen.eu:en16931:2017"
INVOICE_TYPE = "380"  # commercial invoice (UNTDID 1001)
CREDIT_NOTE_TYPE = "381"
VAT_CATEGORY = {VatRegime.VAT_20: ("S", "20"), VatRegime.VAT_8_5: ("S", "8.5"), VatRegime.HT: ("E", "0")}
SIREN_SCHEME = "0002"  # ISO 6523 ICD of the French SIREN
PAYMENT_MEANS_CREDIT_TRANSFER = "30"


def _money(amount: Decimal | str, sign: int) -> str:
    return f"{Decimal(amount) * sign:.2f}"


def _party(name: str, siren: str, address: str, postal_code: str, city: str, **extra: Any) -> dict[str, Any]:
    party = {
        "name": name,
        "country_code": "FR",
        "addr_l1": address,
        "postcode": postal_code,
        "city": city,
    }
    if siren:
        party.update(legal_identifier=siren, legal_identifier_schemeid=SIREN_SCHEME)
    party.update({key: value for key, value in extra.items() if value})
    return party


def invoice_data(invoice: Invoice, vat_exemption_basis: str = "") -> dict[str, Any]:
    """The EN 16931 data of an invoice or credit note, by business term (the library's ``data_dict``)."""
    order = invoice.order
    provider, client = order.solution.provider, order.client
    credit = invoice.kind == InvoiceKind.CREDIT_NOTE
    sign = -1 if credit else 1
    category, rate = VAT_CATEGORY[VatRegime(order.vat_regime)]
    exempt = category == "E"
    issued_on = rules.paris_date(invoice.issued_at)
    notes = [{"BT-22": line} for line in invoice_notes(invoice)]
    vat_breakdown: dict[str, Any] = {
        "BT-116": _money(invoice.total_ht, sign),
        "BT-117": _money(invoice.total_vat, sign),
        "BT-118": category,
        "BT-119": rate,
    }
    if exempt:
        vat_breakdown["BT-120"] = vat_exemption_basis or "TVA non applicable, art. 293 B du CGI"
    lines = []
    for position, line in enumerate(invoice.lines, start=1):
        item: dict[str, Any] = {
            "BT-126": str(position),
            "BT-129": str(line.get("quantity", 1)),
            "BT-130": "C62",  # one (unit)
            "BT-131": _money(line["ht"], sign),
            "BT-146": _money(line.get("unit_ht", line["ht"]), sign),
            "BT-151": category,
            "BT-152": rate,
            "BT-153": line["label"][:200],
        }
        if line.get("service_date"):
            service_on = line["service_date"]
            item.update({"BT-134": service_on, "BT-135": service_on})
        lines.append(item)
    prepaid = Decimal(invoice_prepaid(invoice)) if not credit else Decimal("0")
    data: dict[str, Any] = {
        "BT-24": PROFILE,
        "BT-1": invoice.number,
        "BT-2": issued_on,
        "BT-3": CREDIT_NOTE_TYPE if credit else INVOICE_TYPE,
        "BT-5": "EUR",
        "BT-10": order.number,
        "BT-13": order.number,
        "BG-1": notes,
        "BG-4": _party(
            provider.name,
            provider.siren,
            provider.address,
            provider.postal_code,
            provider.city,
            vat_identifier=provider.vat_number,
            # BR-E-2: an exempt seller without a VAT number is identified by its tax registration (its SIREN).
            tax_identifier="" if provider.vat_number else provider.siren,
            legal_info=provider_legal_info(provider),
        ),
        "BG-7": _party(client.name, client.siren, client.address, client.postal_code, client.city),
        "BG-23": [vat_breakdown],
        "BG-25": lines,
        "BT-106": _money(invoice.total_ht, sign),
        "BT-109": _money(invoice.total_ht, sign),
        "BT-110": _money(invoice.total_vat, sign),
        "BT-112": _money(invoice.total_ttc, sign),
        "BT-113": f"{prepaid:.2f}",
        "BT-115": _money(Decimal(invoice.total_ttc) * sign - prepaid, 1),
    }
    if credit and invoice.credited_invoice_id:
        credited = invoice.credited_invoice
        data["BG-3"] = [{"BT-25": credited.number, "BT-26": rules.paris_date(credited.issued_at)}]
    else:
        data["BT-9"] = invoice.due_on
        data["BT-20"] = "À régler par l'ASP pour le compte du client"
    service_dates = [line["service_date"] for line in invoice.lines if line.get("service_date")]
    if service_dates:
        data["BT-72"] = max(service_dates)
    return data


def invoice_prepaid(invoice: Invoice) -> str:
    """The advance the ASP already paid, deducted from the principal invoice's amount due (AF §6.2, §6.4)."""
    order = invoice.order
    if invoice.kind != InvoiceKind.PRINCIPAL or order.advance_paid_at is None:
        return "0.00"
    advance = order.advance_amount
    if advance is None:
        advance, _balance = rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)
    return f"{min(Decimal(advance), Decimal(invoice.total_ttc)):.2f}"


def invoice_notes(invoice: Invoice) -> list[str]:
    notes = ["Montants de la Prestation Ségur pris en charge par l'Etat au titre du Ségur de la santé"]
    if invoice.reason:
        notes.append(f"Motif : {invoice.reason}")
    return notes


def facturx_xml(invoice: Invoice, vat_exemption_basis: str = "") -> bytes:
    """The CII XML (Factur-X EN 16931), checked against the library's XSD while it is built."""
    from facturx import generate_xml

    return generate_xml(
        invoice_data(invoice, vat_exemption_basis), flavor="factur-x", level="en16931", check_schematron=False
    )


def embed(pdf: bytes, xml: bytes, *, title: str, author: str) -> bytes:
    """The PDF/A-3 with the XML attached as ``factur-x.xml`` (the library writes the XMP metadata)."""
    from facturx import generate_from_binary

    metadata = {"author": author, "keywords": "Factur-X, Ségur", "title": title, "subject": title}
    return generate_from_binary(pdf, xml, flavor="factur-x", level="en16931", pdf_metadata=metadata, lang="fr-FR")


def xml_sha256(xml: bytes) -> str:
    return hashlib.sha256(xml).hexdigest()
