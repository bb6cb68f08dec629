"""Invoices: after the VA, never at zero, continuous numbering per series, immutable, corrected by credit notes."""

import io
from decimal import Decimal

import pytest
import time_machine

from orders import invoices
from orders.documents import invoices as invoice_documents
from orders.exceptions import BusinessRuleError
from orders.models import Invoice, InvoiceSeries
from tests.factories import advance, make_order, make_solution, paris
from tests.orders.test_concurrency import run_concurrently

TODAY = paris(2026, 11, 23, 10)


def issue(order, kind="principal"):
    return invoices.invoice_issue(order_id=order.pk, kind=kind, acting_user=None, now=TODAY)


@pytest.fixture
def va_signed_order(db):
    with time_machine.travel(TODAY, tick=False):
        return advance(make_order(), "va_signed")


@pytest.mark.django_db
def test_no_principal_invoice_before_the_va():
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "installed")

    with pytest.raises(BusinessRuleError) as error:
        issue(order)

    assert error.value.codes == ["INVOICE_BEFORE_VA"]
    assert not Invoice.objects.exists()
    assert InvoiceSeries.objects.get(kind="principal").last_number == 0  # no number consumed by a refusal


def test_principal_invoice_numbers_totals_and_due_date(va_signed_order):
    invoice = issue(va_signed_order)

    assert invoice.number == "FP-000001"
    assert (invoice.total_ttc, invoice.total_ht, invoice.total_vat) == (
        Decimal("451.50"),
        Decimal("376.25"),
        Decimal("75.25"),
    )
    assert invoice.due_on.isoformat() == "2026-12-23"


def test_an_issued_invoice_is_corrected_by_a_credit_note_then_reissued(va_signed_order):
    first = issue(va_signed_order)
    with pytest.raises(BusinessRuleError) as error:
        issue(va_signed_order)
    assert error.value.codes == ["INVOICE_ALREADY_ISSUED"]
    with pytest.raises(ValueError, match="ne se modifie jamais"):
        first.save()

    credit = invoices.invoice_credit(invoice_id=first.pk, reason="Erreur d'adresse", acting_user=None, now=TODAY)
    second = issue(va_signed_order)

    assert credit.number == "AV-000001" and credit.credited_invoice == first
    assert credit.total_ttc == Decimal("-451.50")
    assert second.number == "FP-000002"
    with pytest.raises(BusinessRuleError):
        invoices.invoice_credit(invoice_id=first.pk, reason="encore", acting_user=None, now=TODAY)


def test_the_invoice_pdf_carries_the_mandatory_mentions(va_signed_order):
    from pypdf import PdfReader

    invoice = issue(va_signed_order)
    document = invoices.invoice_render(invoice_id=invoice.pk)

    with document.file.open("rb") as handle:
        text = " ".join(
            " ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(handle.read())).pages
        )
    provider, client = va_signed_order.solution.provider, va_signed_order.client
    for mention in (
        "Facture n° FP-000001",
        f"Bon de commande n° {va_signed_order.number}",
        "Date d'émission : 23/11/2026",
        provider.name,
        f"SIREN {provider.siren}",
        f"TVA intracommunautaire {provider.vat_number}",
        client.name,
        f"SIREN {client.siren}",
        client.address,
        "Prestation principale Vague 2",
        "TVA 20 %",
        "376,25 €",
        "451,50 €",
        "Date d'échéance : 23/12/2026",
        "10 points",
        "40 €",
        "pris en charge par l'Etat au titre du Ségur de la santé",
    ):
        assert mention in text, mention
    assert document.sha256 and document.invoice == invoice


def test_a_failed_rendering_keeps_the_number_and_the_next_invoice_follows(va_signed_order, monkeypatch):
    other = advance(make_order(solution=va_signed_order.solution), "va_signed", now=TODAY)
    first = issue(va_signed_order)

    def broken(html, **options):
        raise OSError("disque plein")

    monkeypatch.setattr(invoice_documents, "render_pdf", broken)
    with pytest.raises(OSError):
        invoices.invoice_render(invoice_id=first.pk)
    second = issue(other)

    assert Invoice.objects.get(pk=first.pk).number == "FP-000001"
    assert second.number == "FP-000002"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("programme_data")
def test_concurrent_invoices_get_continuous_numbers_without_gap_or_duplicate():
    import importlib

    from django.apps import apps

    importlib.import_module("orders.migrations.0005_invoices").create_series(apps, None)
    with time_machine.travel(TODAY, tick=False):
        solution = make_solution()
        orders = [advance(make_order(solution=solution), "va_signed") for _ in range(4)]

    results = run_concurrently(*[lambda order=order: issue(order) for order in orders])

    assert all(isinstance(result, Invoice) for result in results), results
    assert sorted(result.number for result in results) == ["FP-000001", "FP-000002", "FP-000003", "FP-000004"]
