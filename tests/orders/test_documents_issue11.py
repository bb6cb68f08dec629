"""Issue 11: documents offered only where they are true, French file names, the typography filter, the monitoring
journal CSV and the secondary ASP form."""

import csv
import io
import json
import zipfile
from datetime import date

import pytest
import time_machine
from django.urls import reverse
from pypdf import PdfReader

from monitoring.models import MonitoringMonth
from orders import asp_packages, services
from orders.documents import applicable_kinds, document_generate
from orders.exceptions import BusinessRuleError
from orders.invoices import invoice_issue, invoice_render
from orders.models import Order
from orders.templatetags.documents_extras import money, typo
from tests.factories import advance, make_order, make_user, paris
from tests.orders.test_documents_gallery import keep

pytestmark = pytest.mark.django_db
TODAY = paris(2026, 11, 23, 10)


def test_no_order_form_for_a_cancelled_order():
    with time_machine.travel(TODAY, tick=False):
        order = make_order()
        order = services.perform("cancel", order_id=order.pk, acting_user=None, params={"reason": "Doublon"})
        assert "order_form" not in applicable_kinds(order)
        with pytest.raises(BusinessRuleError) as error:
            document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    assert error.value.codes == ["DOCUMENT_NOT_APPLICABLE"]


def test_no_blank_va_once_signed_and_no_attestation_once_the_balance_is_requested():
    with time_machine.travel(TODAY, tick=False):
        installed = advance(make_order(), "installed")
        va_signed = advance(make_order(), "va_signed")
        requested = advance(make_order(), "balance_requested")

    assert {"va", "completion_attestation"} <= set(applicable_kinds(installed))
    assert "va" not in applicable_kinds(va_signed) and "completion_attestation" in applicable_kinds(va_signed)
    assert "completion_attestation" not in applicable_kinds(requested)
    for order, kind in ((va_signed, "va"), (requested, "completion_attestation")):
        with pytest.raises(BusinessRuleError):
            document_generate(order_id=order.pk, kind=kind, acting_user=None)


def test_documents_download_under_french_names(client):
    client.force_login(make_user("root", is_superuser=True))
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "balance_requested")
        form = document_generate(order_id=order.pk, kind="order_form", acting_user=None)
        invoice = invoice_render(invoice_id=order.invoices.get().pk)

    names = [
        client.get(reverse("admin:orders_document_download", args=[document.pk]))["Content-Disposition"]
        for document in (form, invoice)
    ]
    assert f'filename="bon-de-commande-{order.number}-v1.pdf"' in names[0]
    assert f'filename="facture-{order.invoices.get().number}.pdf"' in names[1]


def test_the_typography_filter():
    assert str(typo("L'Atelier Dupont & Fils")) == "L&#x27;Atelier Dupont &amp; Fils"  # escaped once, no more
    assert str(typo("Total : 12 %")) == 'Total\u00a0: <span class="nowrap">12</span>\u202f%'
    assert str(typo("n° 12")).startswith("n°\u00a0")
    assert str(typo("Vague 2")).startswith("Vague\u00a0")
    assert '<span class="nowrap">BC-MDV-LGC-Va2-000001</span>' in str(typo("Bon BC-MDV-LGC-Va2-000001"))
    assert money("-451.5") == "\u2212451,50\u00a0€"
    assert money("12345.678") == "12\u202f345,68\u00a0€"


@pytest.fixture
def secondary_order():
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(), "balance_paid")
        for year, month in [(2026, 11), (2026, 12)] + [(2027, m) for m in range(1, 5)]:
            MonitoringMonth.objects.create(
                order=order,
                month=date(year, month, 1),
                documents_expected=20,
                documents_sent=9,
                patients_seen=40,
                patients_qualified=30,
                patients_transitional=2,
            )
    return Order.objects.get(pk=order.pk)


def test_the_journal_csv_has_one_layout_identifiers_and_the_window_dm(secondary_order):
    order = secondary_order
    rows = list(csv.reader(io.StringIO(asp_packages.monitoring_journal_csv(order).decode()), delimiter=";"))

    assert len({len(row) for row in rows}) == 1  # one layout for the whole file
    header, window = rows[0], rows[-1]
    assert header[:3] == ["bon_de_commande", "rpps_ou_finess", "referencement_ans"]
    assert all(row[0] == order.number and row[1] == order.client.identifier for row in rows[1:])
    assert window[3] == "fenetre" and window[header.index("Dt")] == "120" and window[header.index("Dm")] == "54"
    assert window[header.index("PERF")] == "0,5"  # decimals with a comma throughout
    assert rows[1][4] == "11/2026"


def test_the_secondary_form_states_the_amount_requested_in_french(secondary_order):
    order = secondary_order
    with time_machine.travel(TODAY, tick=False):
        invoice = invoice_issue(order_id=order.pk, kind="secondary", acting_user=None)
        document = invoice_render(invoice_id=invoice.pk)
    with document.file.open("rb") as handle:
        keep("doctor-facture-secondaire", handle.read())
    archive, refused = asp_packages.package_zip([order], "secondary")

    assert refused == []
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        form = json.loads(opened.read(f"{order.number}/formulaire.json"))
        names = set(opened.namelist())
        manifest = opened.read("manifeste.csv").decode()
    assert form["perf"] == "0,5" and form["montant_demande"] == "62,50"  # 125,00 € × 0,5
    assert form["date_signature"] == "02/09/2026"
    assert all(name in manifest for name in names - {"manifeste.csv"})
    assert asp_packages.package_filename("secondary", 1).startswith("dossier-asp-prestation-secondaire-1-commande-")


def test_the_documents_package_depends_on_models_and_rules_only():
    """Issue 11 (shape): services, the invoices service and the tasks call the documents package, never the reverse."""
    import ast
    from pathlib import Path

    import orders.documents

    allowed = {"orders.rules", "orders.models", "orders.exceptions", "monitoring.models", "segur_portal.spreadsheets"}
    for path in Path(orders.documents.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {f"{node.module}.{alias.name}" for alias in node.names} if node.module == "orders" else set()
                module = node.module
                for name in names or {module}:
                    if name.split(".")[0] in {"orders", "monitoring", "clients", "portal", "segur_portal"}:
                        assert name in allowed or name.startswith("orders.documents"), (path.name, name)


def test_each_checklist_item_records_the_day_the_work_was_done_and_the_pv_prints_it(client):
    """Issue 11: the day typed by staff (today by default), never the day the form was saved; dd/mm/yyyy on the PV."""
    client.force_login(make_user("root", is_superuser=True))
    with time_machine.travel(TODAY, tick=False):
        order = advance(make_order(is_pilot=True), "advance_paid")
        url = reverse("admin:orders_order_checklist", args=[order.pk])
        page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
        assert 'name="day_installation" value="2026-11-23"' in page  # today by default
        typed = {"item_installation": "on", "day_installation": "2026-11-02"}
        client.post(url, {**typed, "item_documentation": "on", "day_documentation": ""})
        order.refresh_from_db()
        assert order.deployment_checklist == {"installation": "2026-11-02", "documentation": "2026-11-23"}
        with pytest.raises(BusinessRuleError) as future:
            services.order_update_checklist(
                order_id=order.pk, done={"installation": date(2026, 11, 30)}, acting_user=None
            )
        assert "futur" in future.value.message and "installation" not in future.value.message.split("(")[0]
        services.order_update_checklist(
            order_id=order.pk, done={code: True for code, _ in services.rules.DEPLOYMENT_CHECKLIST}, acting_user=None
        )
        order = services.perform(
            "record_installation", order_id=order.pk, acting_user=None, params={"installed_at": TODAY}
        )
        document = document_generate(order_id=order.pk, kind="pilot_pv", acting_user=None)
    with document.file.open("rb") as handle:
        text = " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(io.BytesIO(handle.read())).pages)
    assert "02/11/2026" in text and "2026-11-02" not in text
