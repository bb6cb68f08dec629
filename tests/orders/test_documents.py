"""The order form PDF (AF §4.3): mandatory mentions, immutability and versions, refusal when data are missing."""

import io

import pytest
import time_machine
from django.urls import reverse

from orders import services
from orders.documents import CONDITIONAL_MENTION, STATE_FUNDING_MENTION, document_generate
from orders.exceptions import BusinessRuleError
from orders.models import Document
from orders.roles import SALES_GROUP
from tests.factories import advance, make_doctor, make_order, make_solution, make_structure, make_user, paris

pytestmark = pytest.mark.django_db


def pdf_text(document: Document) -> str:
    from pypdf import PdfReader

    with document.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def generate(order) -> Document:
    return document_generate(order_id=order.pk, kind="order_form", acting_user=None)


def test_the_order_form_of_a_structure_carries_every_mandatory_mention():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        structure = make_structure(kind="msp", tranche="C", address="4 rue Haute", city="Brest", postal_code="29200")
        order = advance(make_order(client=structure, prestation="principal_v1v2"), "firm")

        text = pdf_text(generate(order))

    assert order.number in text
    assert structure.name in text and structure.finess in text
    assert "version 12" in text and "LGC-VA2-0042" in text
    assert "MSP, tranche C" in text
    assert "Prestation principale Vague 1 + Vague 2" in text and "Prestation secondaire" in text
    assert "9 868,50 €" in text.replace("\u202f", " ").replace("\xa0", " ")  # TTC, published ceiling
    assert "8 223,75 €" in text.replace("\u202f", " ").replace("\xa0", " ")  # HT, published HT column
    assert "TVA 20 %" in text.replace("\u202f", " ").replace("\xa0", " ")
    assert flat(STATE_FUNDING_MENTION) in text
    assert "certificat logiciel de type organisation" in text
    assert flat(CONDITIONAL_MENTION) not in text  # signed after referencing


def test_a_pre_order_form_carries_the_conditional_mention_and_a_doctor_no_structure_commitment():
    # Complete dossier filed before Date 2, referencing still pending (AF §4.3).
    solution = make_solution(
        complete_dossier_submitted_at=paris(2026, 7, 20), referenced_at=None, ans_reference_number=""
    )
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = make_order(solution=solution, client=make_doctor())
        order = services.perform(
            "sign",
            order_id=order.pk,
            acting_user=None,
            params={"signed_at": paris(2026, 11, 20), "signature_method": "eidas_simple", "signatory_name": "Dr M"},
        )

        text = pdf_text(generate(order))

    assert flat(CONDITIONAL_MENTION) in text
    assert "Référencement ANS en cours" in text
    assert "certificat logiciel de type organisation" not in text
    assert "Signature électronique eIDAS simple" in text


def test_regenerating_adds_a_version_and_never_touches_the_first():
    order = make_order()
    first = generate(order)
    first_bytes, first_hash = first.file.open("rb").read(), first.sha256

    second = generate(order)

    first.refresh_from_db()
    assert (first.version, second.version) == (1, 2)
    assert first.sha256 == first_hash and first.file.open("rb").read() == first_bytes
    assert first.snapshot["number"] == order.number
    with pytest.raises(ValueError, match="ne se modifie jamais"):
        first.save()
    with pytest.raises(ValueError, match="ne se supprime jamais"):
        first.delete()


def test_missing_data_refuses_with_the_list_and_stores_nothing():
    order = make_order(client=make_doctor(address="", city=""))

    with pytest.raises(BusinessRuleError) as error:
        generate(order)

    assert error.value.codes == ["DOCUMENT_DATA_MISSING"]
    assert "adresse du client" in error.value.message
    assert not Document.objects.exists()


def test_download_needs_the_right_to_view_the_order(client):
    order = make_order()
    document = generate(order)
    url = reverse("admin:orders_document_download", args=[document.pk])

    client.force_login(make_user("intrus"))  # staff, but no role
    forbidden = client.get(url)
    client.force_login(make_user("vente", SALES_GROUP))
    allowed = client.get(url)

    assert forbidden.status_code == 403
    assert allowed.status_code == 200
    assert b"".join(allowed.streaming_content).startswith(b"%PDF")


def test_the_va_lists_the_af_4_4_key_functions_and_needs_the_installation():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(), "advance_paid")
        with pytest.raises(BusinessRuleError) as error:
            document_generate(order_id=order.pk, kind="va", acting_user=None)
        order = advance(order, "installed")

        text = pdf_text(document_generate(order_id=order.pk, kind="va", acting_user=None))

    assert error.value.codes == ["DOCUMENT_TOO_EARLY"]
    assert "Vérification d'Aptitude" in text
    for key_function in (
        "Pro Santé Connect",
        "statut INS",
        "MSSanté patient",
        "Mon espace santé",
        "CDA R2",
        "ordonnance numérique",
    ):
        assert key_function in text, key_function


def test_the_pilot_pv_is_only_for_pilot_orders_and_lists_the_prestation():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        solution = make_solution()
        regular = advance(make_order(solution=solution), "installed")
        pilot = advance(make_order(solution=solution, is_pilot=True), "installed")

        with pytest.raises(BusinessRuleError) as error:
            document_generate(order_id=regular.pk, kind="pilot_pv", acting_user=None)
        text = pdf_text(document_generate(order_id=pilot.pk, kind="pilot_pv", acting_user=None))

    assert error.value.codes == ["NOT_A_PILOT_ORDER"]
    assert "Procès-verbal d'installation pilote" in text and "Formation" in text
    assert "23/11/2026" in text  # each item's day, written dd/mm/yyyy (issue 11)


def test_the_completion_attestation_names_the_order_and_no_staff_instruction():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(), "va_signed")

        text = pdf_text(document_generate(order_id=order.pk, kind="completion_attestation", acting_user=None))

    assert "Attestation de fin de Prestation principale" in text
    assert order.number in text and "ASP-1" in text
    assert "n'a pas pu être déposée" in text
    assert "À adresser aux pouvoirs publics" not in text  # a staff instruction, not the client's business


def test_a_batch_generates_per_order_reports_refusals_and_shows_its_progress(client):
    from orders.documents import batch_request, batch_run
    from orders.models import DocumentBatch

    good = [make_order() for _ in range(3)]
    bad = make_order(client=make_doctor(address="", city=""))
    batch = batch_request(order_ids=[o.pk for o in [*good, bad]], kind="order_form", acting_user=None)

    batch = batch_run(batch_id=batch.pk)

    assert (batch.status, batch.processed, batch.generated) == (DocumentBatch.DONE, 4, 3)
    assert batch.refusals == [{"order_id": bad.pk, "message": batch.refusals[0]["message"]}]
    assert "adresse du client" in batch.refusals[0]["message"]
    assert batch_run(batch_id=batch.pk).generated == 3  # a second run (a retry) resumes after the last: nothing new
    client.force_login(make_user("root", is_superuser=True))
    page = client.get(reverse("admin:orders_documentbatch_changelist")).content.decode()
    assert "4/4 · Bon de commande (3 générés)" in page


def test_the_admin_bulk_action_queues_a_batch(client, django_capture_on_commit_callbacks):
    from orders.models import DocumentBatch

    client.force_login(make_user("root", is_superuser=True))
    orders = [make_order() for _ in range(2)]

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:orders_order_changelist"),
            {"action": "bulk_generate_order_forms", "_selected_action": [o.pk for o in orders]},
            follow=True,
        )

    batch = DocumentBatch.objects.get()
    assert batch.total == 2 and batch.status == DocumentBatch.QUEUED
    assert len(callbacks) == 1  # the worker task is queued once the batch is committed
    assert "suivre l'avancement" in response.content.decode()


@pytest.mark.parametrize("client_kind", ["doctor", "msp", "cds"])
@pytest.mark.parametrize(
    ("kind", "state", "title"),
    [
        ("order_form", "draft", "Bon de commande"),
        ("order_form", "firm", "Bon de commande"),
        ("va", "installed", "Vérification d'Aptitude"),
        ("completion_attestation", "va_signed", "Attestation de fin de Prestation principale"),
        ("monitoring_journal", "balance_paid", "Journal de monitoring"),
    ],
)
def test_each_document_renders_for_each_client_kind_where_it_applies(client_kind, kind, state, title):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        client = make_doctor() if client_kind == "doctor" else make_structure(kind=client_kind, tranche="B")
        order = advance(make_order(client=client), state)

        text = pdf_text(document_generate(order_id=order.pk, kind=kind, acting_user=None))

    assert title in text and order.number in text and client.name in text


def test_the_monitoring_journal_lists_the_months_and_the_perf_reached():
    from monitoring.services import MonthReport, monitoring_record_months
    from orders import rules

    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(), "balance_paid")
        start = rules.secondary_start(order)
        reports = [MonthReport(rules.add_months(start, i), 20, 13, 90, 70, 8) for i in range(6)]
        with time_machine.travel(paris(2027, 7, 1, 10), tick=False):  # the months are over (AF §3.3)
            monitoring_record_months(order=order, reports=reports)
        before_va = make_order()

        text = pdf_text(document_generate(order_id=order.pk, kind="monitoring_journal", acting_user=None))
        with pytest.raises(BusinessRuleError):
            document_generate(order_id=before_va.pk, kind="monitoring_journal", acting_user=None)

    assert "PERF = 1" in text and "Dt = 120, Dm = 78" in text and f"{start:%m/%Y}" in text


def test_a_signed_copy_attached_to_a_signature_is_kept_and_goes_into_the_asp_package():
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    from orders import asp_packages, services
    from orders.models import OrderEvent

    signed_pdf = b"%PDF-1.7 signed by the client"
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = make_order()
        order = services.perform(
            "sign",
            order_id=order.pk,
            acting_user=None,
            params={
                "signed_at": paris(2026, 11, 20),
                "signature_method": "handwritten",
                "signatory_name": "Dr M",
                "signed_document": SimpleUploadedFile("bc-signe.pdf", signed_pdf, "application/pdf"),
            },
        )
        services.perform(
            "file_advance", order_id=order.pk, acting_user=None, params={"received_at": paris(2026, 11, 21)}
        )

    evidence = Document.objects.get(order=order, kind="signed_order_form")
    assert evidence.sha256 == hashlib.sha256(signed_pdf).hexdigest()
    event = OrderEvent.objects.get(order=order, action="sign")
    assert event.payload["signed_document"]["sha256"] == evidence.sha256
    files = asp_packages.package_files(order, "advance")
    assert files["bon_de_commande_signe.pdf"] == signed_pdf


def test_a_signed_copy_that_is_not_a_pdf_is_refused_and_nothing_changes():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from orders import services

    order = make_order()
    with pytest.raises(BusinessRuleError) as error:
        services.perform(
            "sign",
            order_id=order.pk,
            acting_user=None,
            params={
                "signed_at": paris(2026, 11, 20),
                "signature_method": "handwritten",
                "signed_document": SimpleUploadedFile("scan.jpg", b"\xff\xd8\xff", "image/jpeg"),
            },
            now=paris(2026, 11, 23, 10),
        )

    assert error.value.codes == ["SIGNED_DOCUMENT_NOT_PDF"]
    order.refresh_from_db()
    assert order.state == "draft" and not Document.objects.exists()


def test_the_admin_signature_form_takes_the_signed_copy(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(make_user("root", is_superuser=True))
    order = make_order()

    response = client.post(
        reverse("admin:orders_order_action", args=[order.pk, "sign"]),
        {
            "signed_at_0": "20/11/2026",
            "signed_at_1": "10:00",
            "signature_method": "psc",
            "signatory_name": "Dr M",
            "signed_document": SimpleUploadedFile("bc.pdf", b"%PDF-1.4 test", "application/pdf"),
        },
    )

    assert response.status_code == 302
    assert Document.objects.filter(order=order, kind="signed_order_form").exists()


@pytest.mark.parametrize(
    ("setting", "shown"),
    [("documents/logo-demo.svg", True), ("", False), ("documents/absent.png", False), ("../pyproject.toml", False)],
)
def test_the_letterhead_logo_comes_from_settings_and_only_from_static(settings, setting, shown):
    from django.template import Context, Template

    settings.SEGUR_PROVIDER_LOGO = setting

    html = Template("{% load documents_extras %}{% provider_logo %}").render(Context())

    assert html == (setting if shown else "")


def test_an_order_form_renders_with_the_logo_of_the_settings(settings):
    order = make_order()
    settings.SEGUR_PROVIDER_LOGO = ""
    without_logo = generate(order)
    settings.SEGUR_PROVIDER_LOGO = "documents/logo-demo.svg"

    with_logo = generate(order)

    assert with_logo.file.size > without_logo.file.size + 200  # the logo's drawing, fetched from static/
    assert pdf_text(with_logo).startswith("Logimed")  # the logo's own lettering comes first on the page
