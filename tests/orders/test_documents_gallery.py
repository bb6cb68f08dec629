"""Every document kind for a doctor, an MSP, a CDS, an overseas client and a VAT-exempt provider (issue 11).

The PDFs are written under ``var/documents-gallery/`` to be looked at (``pdftoppm -png -r 60``); the assertions
check what each must say: legal mentions, the VAT rendering, the footer escaped once, French typography.
"""

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from facturx import get_xml_from_pdf, xml_check_xsd
from lxml import etree
from pypdf import PdfReader

from monitoring.models import MonitoringMonth
from orders import invoices, services
from orders.documents import document_generate, document_store
from orders.models import Document, Order, Solution
from tests.factories import advance, make_doctor, make_order, make_provider, make_solution, make_structure, paris

pytestmark = pytest.mark.django_db
TODAY = paris(2026, 11, 23, 10)
GALLERY = Path(settings.BASE_DIR) / "var" / "documents-gallery"
DUPONT = "L'Atelier Dupont & Fils"


def pdf_bytes(document: Document) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


def pages_text(pdf: bytes) -> list[str]:
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def keep(name: str, pdf: bytes) -> None:
    GALLERY.mkdir(parents=True, exist_ok=True)
    (GALLERY / f"{name}.pdf").write_bytes(pdf)


def case_order(case: str, *, is_pilot: bool = False) -> Order:
    provider = None
    if case == "exempt":
        provider = make_provider(
            name=DUPONT,
            vat_regime="ht",
            vat_number="",
            vat_exemption_basis="TVA non applicable, art. 293 B du CGI",
            legal_form="SARL",
            rcs="Lyon 812 345 678",
            share_capital="7500.00",
            siren="812345678",
        )
    else:
        provider = make_provider(legal_form="SAS", rcs="Paris 123 456 789", share_capital="150000.00")
    solution = make_solution(provider=provider)
    client = {
        "doctor": lambda: make_doctor(),
        "msp": lambda: make_structure(kind="msp", tranche="C"),
        "cds": lambda: make_structure(kind="cds", tranche="B"),
        "overseas": lambda: make_doctor(address="5 rue Victor Hugo", postal_code="97200", city="Fort-de-France"),
        "exempt": lambda: make_doctor(),
    }[case]()
    extra = {"vat_regime": "vat_8_5"} if case == "overseas" else {}
    return make_order(client=client, solution=solution, is_pilot=is_pilot, **extra)


@pytest.mark.parametrize("case", ["doctor", "msp", "cds", "overseas", "exempt"])
def test_every_document_kind_renders_for_each_case(case):
    with time_machine.travel(TODAY, tick=False):
        order = case_order(case, is_pilot=True)
        texts = {"order_form": pages_text(pdf_bytes(keep_doc(case, order, "order_form")))}
        order = advance(order, "installed")
        for kind in ("va", "pilot_pv", "completion_attestation"):
            texts[kind] = pages_text(pdf_bytes(keep_doc(case, order, kind)))
        services.perform(
            "sign_pilot_pv",
            order_id=order.pk,
            acting_user=None,
            params={"signed_at": order.installed_at + timedelta(days=2)},
            now=TODAY,
        )
        order = finish_principal(order)
        for year, month in [(2026, 11), (2026, 12)] + [(2027, m) for m in range(1, 7)]:
            MonitoringMonth.objects.create(
                order=order,
                month=date(year, month, 1),
                documents_expected=20,
                documents_sent=12 if case != "msp" else 9,
                patients_seen=40,
                patients_qualified=30,
                patients_transitional=2,
            )
        texts["monitoring_journal"] = pages_text(pdf_bytes(keep_doc(case, order, "monitoring_journal")))
        invoice = order.invoices.get()
        invoice_pdf = pdf_bytes(invoices.invoice_render(invoice_id=invoice.pk))
        keep(f"{case}-facture", invoice_pdf)
        texts["invoice"] = pages_text(invoice_pdf)

    exempt = case == "exempt"
    for kind, pages in texts.items():
        for page in pages:  # the footer on every page: the provider once escaped, the version, the generation date
            assert "&#x27;" not in page and "&amp;" not in page, kind
            assert "généré le 23/11/2026" in page, kind
            if exempt:
                assert DUPONT in page, kind
        if exempt and kind in ("order_form", "invoice"):
            text = " ".join(pages)
            assert "TVA non applicable, art. 293 B du CGI" in text and "TTC" not in text, kind
            assert "non applicable (fournisseur" not in text
    assert "Reste à charge pour le client : 0 €" in " ".join(texts["order_form"])
    assert ("Qualité du signataire :" in " ".join(texts["order_form"])) == (case in ("msp", "cds"))


def finish_principal(order: Order) -> Order:
    """From the pilot PV to the balance paid, with the dates ``advance()`` uses."""
    base = order.issued_at
    services.perform("sign_va", order_id=order.pk, acting_user=None, params={"signed_at": base + timedelta(days=45)})
    invoices.invoice_issue(order_id=order.pk, kind="principal", acting_user=None, now=base + timedelta(days=50))
    for action, params in (
        ("file_balance", {"received_at": base + timedelta(days=50)}),
        ("record_balance_paid", {"paid_at": base + timedelta(days=70)}),
    ):
        services.perform(action, order_id=order.pk, acting_user=None, params=params)
    return Order.objects.get(pk=order.pk)


def keep_doc(case: str, order: Order, kind: str) -> Document:
    document = document_generate(order_id=order.pk, kind=kind, acting_user=None)
    keep(f"{case}-{kind}", pdf_bytes(document))
    return document


def test_the_invoice_carries_the_legal_mentions_and_a_factur_x_xml_equal_to_its_pdf():
    """CGI ann. II art. 242 nonies A, Code de commerce L441-9 and R123-237; EN 16931 (Factur-X)."""
    with time_machine.travel(TODAY, tick=False):
        order = advance(case_order("doctor"), "balance_requested")
        invoice = order.invoices.get()
        document = invoices.invoice_render(invoice_id=invoice.pk)
    pdf = pdf_bytes(document)
    text = " ".join(pages_text(pdf))

    for mention in (
        "Facture n° FP-000001",
        "Date de la prestation : 16/10/2026",  # the VA signature (advance(): issue + 45 days)
        "Qté",
        "Prix unitaire HT",
        "RCS Paris 123 456 789",
        "au capital de 150 000,00 €",
        f"{order.solution.name}, version 12",
        "référencement ANS n° LGC-VA2-0042",
        "Avance déjà versée par l'ASP 180,60 €",
        "Reste à payer 270,90 €",
        "À régler par l'ASP pour le compte du client",
        "10 points",
    ):
        assert mention in text, mention
    filename, xml = get_xml_from_pdf(pdf, check_xsd=False)
    assert filename == "factur-x.xml"
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    ns = tree.nsmap

    def value(path: str) -> str:
        return tree.findtext(path, namespaces=ns)

    assert value(".//rsm:ExchangedDocument/ram:ID") == invoice.number
    assert value(".//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert (
        value(".//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == "20261021"
    )  # issued with the balance request
    assert value(".//ram:SellerTradeParty/ram:Name") == order.solution.provider.name
    assert value(".//ram:BuyerTradeParty/ram:Name") == order.client.name
    assert value(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:GrandTotalAmount") == "451.50"
    assert value(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxBasisTotalAmount") == "376.25"
    assert value(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TotalPrepaidAmount") == "180.60"
    assert value(".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:DuePayableAmount") == "270.90"
    assert document.snapshot["facturx_xml_sha256"] == __import__("hashlib").sha256(xml).hexdigest()
    assert document.file.name.split("/")[-1].startswith("facture-FP-000001")


def test_a_credit_note_cites_the_invoice_number_and_date_and_has_no_payment_terms():
    with time_machine.travel(TODAY, tick=False):
        order = advance(case_order("doctor"), "va_signed")
        invoice = invoices.invoice_issue(order_id=order.pk, kind="principal", acting_user=None)
        credit = invoices.invoice_credit(invoice_id=invoice.pk, reason="Erreur d'adresse", acting_user=None)
        document = invoices.invoice_render(invoice_id=credit.pk)
    pdf = pdf_bytes(document)
    keep("doctor-avoir", pdf)
    text = " ".join(pages_text(pdf))

    assert f"Avoir n° {credit.number}" in text
    assert f"annule la facture n° {invoice.number} du 23/11/2026" in text
    assert "−451,50 €" in text  # a true minus sign
    assert "échéance" not in text and "Reste à payer" not in text and "10 points" not in text
    xml = get_xml_from_pdf(pdf, check_xsd=False)[1]
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert tree.findtext(".//rsm:ExchangedDocument/ram:TypeCode", namespaces=tree.nsmap) == "381"
    assert tree.findtext(".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID", namespaces=tree.nsmap) == (
        invoice.number
    )
    assert tree.find(".//ram:DueDateDateTime", namespaces=tree.nsmap) is None


def test_a_credit_note_on_an_invoice_the_asp_paid_needs_the_reimbursement_track():
    """AF §VII: cancelling an invoice the ASP paid makes that money undue; the credit note follows the declaration."""
    from orders import services
    from orders.exceptions import BusinessRuleError

    with time_machine.travel(TODAY, tick=False):
        order = advance(case_order("doctor"), "balance_paid")
        invoice = order.invoices.get()
        with pytest.raises(BusinessRuleError) as refused:
            invoices.invoice_credit(invoice_id=invoice.pk, reason="Erreur", acting_user=None)
        assert refused.value.codes == ["CREDIT_ON_PAID_INVOICE"]
        assert not order.invoices.filter(kind="credit_note").exists()
        Solution.objects.filter(pk=order.solution_id).update(referencing_withdrawn_at=TODAY)
        order = services.perform(
            "record_referencing_withdrawal", order_id=order.pk, acting_user=None, params={}, now=TODAY
        )
        credit = invoices.invoice_credit(invoice_id=invoice.pk, reason="Retrait du référencement", acting_user=None)
        text = " ".join(pages_text(pdf_bytes(invoices.invoice_render(invoice_id=credit.pk))))
        with pytest.raises(BusinessRuleError) as again:
            invoices.invoice_issue(order_id=order.pk, kind="principal", acting_user=None)

    assert "lui est reversé" in text
    assert "INVOICE_NOT_APPLICABLE" in again.value.codes


def test_signed_copies_from_the_signing_flow_are_stored_with_french_names():
    with time_machine.travel(TODAY, tick=False):
        order = make_order()
        document = document_store(
            order=order, kind="signed_order_form", pdf=b"%PDF", snapshot={}, acting_user=None, filename="x"
        )
    from orders.documents import document_download_name

    assert document_download_name(document) == f"bon-de-commande-signe-{order.number}-v1.pdf"
