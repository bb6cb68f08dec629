"""ASP submission packages: the right files per request, a manifest with SHA-256, refusal when a file is missing."""

import hashlib
import io
import json
import zipfile

import pytest
import time_machine
from django.urls import reverse

from orders import asp_packages
from orders.documents import document_generate
from orders.invoices import invoice_issue, invoice_render
from tests.factories import advance, make_order, make_solution, make_user, paris

pytestmark = pytest.mark.django_db
TODAY = paris(2026, 11, 23, 10)


def unzip(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def test_the_advance_package_holds_the_form_and_the_order_form_with_their_hashes():
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "advance_requested")
        document_generate(order_id=order.pk, kind="order_form", acting_user=None)

    files = unzip(asp_packages.package_zip([order], "advance")[0])

    assert set(files) == {f"{order.number}/formulaire.json", f"{order.number}/bon_de_commande.pdf", "manifeste.csv"}
    form = json.loads(files[f"{order.number}/formulaire.json"])
    assert form["montant_avance"] == "180.60" and form["bon_de_commande"] == order.number
    manifest = files["manifeste.csv"].decode().splitlines()
    pdf = files[f"{order.number}/bon_de_commande.pdf"]
    assert f"{order.number}/bon_de_commande.pdf;{hashlib.sha256(pdf).hexdigest()};{len(pdf)}" in manifest


def test_the_balance_package_needs_the_invoice_and_the_va_and_a_batch_lists_the_refused():
    with time_machine.travel(TODAY, tick=False):
        solution = make_solution()
        complete = advance(make_order(solution=solution), "balance_requested")
        invoice_render(invoice_id=complete.invoices.get().pk)
        document_generate(order_id=complete.pk, kind="va", acting_user=None)
        incomplete = advance(make_order(solution=solution), "va_signed")
        invoice_issue(order_id=incomplete.pk, kind="principal", acting_user=None)

    archive, refused = asp_packages.package_zip([complete, incomplete], "balance")

    files = unzip(archive)
    assert f"{complete.number}/verification_aptitude.pdf" in files
    assert any(name.startswith(f"{complete.number}/facture_FP-") for name in files)
    assert not any(name.startswith(incomplete.number) for name in files)
    assert len(refused) == 1 and "il manque : facture (principal), VA" in refused[0]
    assert "il manque" in files["refus.txt"].decode()


def test_the_order_page_link_refuses_an_incomplete_package_with_the_reason(client):
    client.force_login(make_user("root", is_superuser=True))
    order = advance(make_order(), "firm")  # the advance package is offered once the request can be filed

    response = client.get(reverse("admin:orders_asp_package", args=[order.pk, "advance"]), follow=True)

    assert "il manque : bon de commande" in response.content.decode()
