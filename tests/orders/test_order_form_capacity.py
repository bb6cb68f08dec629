"""Issue #11: the order form of a structure leaves a labelled line to write the signatory's capacity by hand
(«Qualité du signataire : …»); a doctor signs for himself, no such line. Online, the capacity goes to the evidence
page of the sealed copy (issue #12)."""

import io

import pytest
from pypdf import PdfReader

from orders.documents.rendering import document_render
from tests.factories import make_doctor, make_order, make_structure

pytestmark = pytest.mark.django_db


def order_form_text(client) -> str:
    pdf = document_render(order_id=make_order(client=client).pk, kind="order_form").pdf
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize("kind", ["msp", "cds"])
def test_a_structure_order_form_has_a_labelled_capacity_line(kind):
    text = order_form_text(make_structure(kind=kind))

    assert "Qualité du signataire :" in text
    assert "Qualité :" not in text


def test_a_doctor_order_form_has_no_capacity_line():
    assert "Qualité" not in order_form_text(make_doctor())
