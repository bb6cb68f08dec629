"""Data never rewrites a document's style sheet: a provider, software or client name with a newline, a quote, a
brace or ``</style>`` prints as text, and every page keeps its body and its footer (it used to blank every PDF)."""

import io

import pytest
import time_machine
from django.template.loader import render_to_string

from clients.models import Client
from orders import invoices
from orders.documents import STATE_FUNDING_MENTION, TEMPLATES, document_generate
from orders.models import Document, DocumentKind, Provider, Solution
from tests.factories import advance, make_order, paris

pytestmark = pytest.mark.django_db

TODAY = paris(2026, 11, 23, 10)
# Closes the CSS string and the rule, hides the body, then tries to leave the style element altogether.
HOSTILE = (
    'Acme "SAS" \\ \'x\'\n} body { display: none } @page { @bottom-left { content: "pirate" } }</style><b>gras</b>'
)


def pdf_pages(document: Document) -> list[str]:
    """Each page's text without any whitespace (the extraction wraps long names at its own places)."""
    from pypdf import PdfReader

    with document.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return [squash(page.extract_text() or "") for page in reader.pages]


def squash(text: str) -> str:
    return "".join(text.split())


def make_hostile(state: str):
    """An order whose provider, software and client carry the hostile name, as old or imported data could."""
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), state)
    Provider.objects.filter(pk=order.solution.provider_id).update(name="Fournisseur " + HOSTILE)
    Solution.objects.filter(pk=order.solution_id).update(name="Logiciel " + HOSTILE)
    Client.objects.filter(pk=order.client_id).update(name="Client " + HOSTILE)
    return order


@pytest.fixture
def hostile_order():
    return make_hostile("installed")  # before the VA, so that a blank VA still applies


@pytest.mark.parametrize("kind", [DocumentKind.ORDER_FORM, DocumentKind.VA, DocumentKind.COMPLETION_ATTESTATION])
def test_a_hostile_name_prints_as_text_and_the_document_keeps_its_body(hostile_order, kind):
    pages = pdf_pages(document_generate(order_id=hostile_order.pk, kind=kind, acting_user=None))
    text = " ".join(pages)

    assert hostile_order.number in text
    assert squash("Fournisseur " + HOSTILE) in text and squash("Client " + HOSTILE) in text
    for page in pages:  # the footer, on every page, still names the provider in full: the hostile rule never applied
        assert squash(f"Fournisseur {HOSTILE} · SIREN 123456789 · TVA FR32123456789") in page


def test_a_hostile_name_on_an_invoice():
    hostile_order = make_hostile("va_signed")
    invoice = invoices.invoice_issue(order_id=hostile_order.pk, kind="principal", acting_user=None, now=TODAY)
    text = " ".join(pdf_pages(invoices.invoice_render(invoice_id=invoice.pk)))

    assert invoice.number in text and squash(STATE_FUNDING_MENTION) in text
    assert squash(f"Fournisseur {HOSTILE} · SIREN 123456789") in text


@pytest.mark.parametrize("template", [*TEMPLATES.values(), "documents/invoice.html"])
def test_no_template_puts_data_inside_a_style_element(hostile_order, template):
    """Whatever the template, the style elements it renders are the same with or without hostile data."""
    from orders.documents import order_form_context

    order = type(hostile_order).objects.select_related("client", "solution__provider").get(pk=hostile_order.pk)
    context = order_form_context(order)
    context.update(invoice=None, monitoring_months=[], perf_window=None, secondary_start=None)
    html = render_to_string(template, context)

    styles = html.split("<style>")[1:]
    assert styles, template
    for style in styles:
        css = style.split("</style>")[0]
        assert "Acme" not in css and "pirate" not in css
