"""ASP submission packages: the right files per request, a manifest with SHA-256, refusal when a file is missing."""

import hashlib
import io
import json
import zipfile

import pytest
import time_machine
from django.urls import reverse

from orders import asp_packages
from orders.documents import document_generate, document_store
from orders.invoices import invoice_issue, invoice_render
from tests.factories import advance, make_order, make_solution, make_user, paris

pytestmark = pytest.mark.django_db
TODAY = paris(2026, 11, 23, 10)


def unzip(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def sign(order, kind: str, content: bytes = b"%PDF-1.7 signed") -> None:
    """The client's signed copy, as the signing flow stores it."""
    document_store(
        order=order, kind=kind, pdf=content, snapshot={}, acting_user=None, filename=f"{order.number}-{kind}"
    )


def test_the_advance_package_holds_the_form_and_the_signed_order_form_with_their_hashes():
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "advance_requested")
        document_generate(order_id=order.pk, kind="order_form", acting_user=None)
        sign(order, "signed_order_form", b"%PDF-1.7 first")
        sign(order, "signed_order_form", b"%PDF-1.7 latest")

    files = unzip(asp_packages.package_zip([order], "advance")[0])

    assert set(files) == {
        f"{order.number}/formulaire.json",
        f"{order.number}/bon_de_commande_signe.pdf",
        "manifeste.csv",
    }
    assert files[f"{order.number}/bon_de_commande_signe.pdf"] == b"%PDF-1.7 latest"  # the latest signed copy
    form = json.loads(files[f"{order.number}/formulaire.json"])
    assert form["montant_avance"] == "180,60" and form["bon_de_commande"] == order.number
    assert form["date_signature"].count("/") == 2  # dd/mm/yyyy, Europe/Paris
    manifest = files["manifeste.csv"].decode().splitlines()
    for name in set(files) - {"manifeste.csv"}:  # every file of the ZIP is in the manifest
        assert f"{name};{hashlib.sha256(files[name]).hexdigest()};{len(files[name])}" in manifest


def test_without_the_signed_copy_the_package_is_refused_with_what_is_missing_never_the_blank_pdf():
    """Issue 11: the blank generated order form or VA is no substitute for the client's signed copy."""
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "advance_requested")
        document_generate(order_id=order.pk, kind="order_form", acting_user=None)
        paid = advance(make_order(solution=order.solution), "balance_requested")
        invoice_render(invoice_id=paid.invoices.get().pk)

    archive, refused = asp_packages.package_zip([order], "advance")
    assert refused == [
        f"Dossier ASP de {order.number} incomplet, il manque : bon de commande signé par le client "
        "(Demande de financement et de versement de l'avance (AF §6.2))."
    ]
    files = unzip(archive)
    assert set(files) == {"refus.txt", "manifeste.csv"} and "refus.txt" in files["manifeste.csv"].decode()
    refused = asp_packages.package_zip([paid], "balance")[1]
    assert "il manque : VA signée par le client" in refused[0] and "secondary" not in refused[0]


def test_the_balance_package_needs_the_invoice_and_the_va_and_a_batch_lists_the_refused():
    with time_machine.travel(TODAY, tick=False):
        solution = make_solution()
        complete = advance(make_order(solution=solution), "balance_requested")
        invoice_render(invoice_id=complete.invoices.get().pk)
        sign(complete, "signed_va")
        incomplete = advance(make_order(solution=solution), "va_signed")
        invoice_issue(order_id=incomplete.pk, kind="principal", acting_user=None)

    archive, refused = asp_packages.package_zip([complete, incomplete], "balance")

    files = unzip(archive)
    assert f"{complete.number}/verification_aptitude_signee.pdf" in files
    assert any(name.startswith(f"{complete.number}/facture_FP-") for name in files)
    assert not any(name.startswith(incomplete.number) for name in files)
    assert (
        len(refused) == 1 and "il manque : facture de la Prestation principale, VA signée par le client" in refused[0]
    )
    assert "il manque" in files["refus.txt"].decode()


def test_the_order_page_link_refuses_an_incomplete_package_with_the_reason(client):
    client.force_login(make_user("root", is_superuser=True))
    order = advance(make_order(), "firm")  # the advance package is offered once the request can be filed

    response = client.get(reverse("admin:orders_asp_package", args=[order.pk, "advance"]), follow=True)

    assert "il manque : bon de commande signé par le client" in response.content.decode()
