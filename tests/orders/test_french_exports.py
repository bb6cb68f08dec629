"""Every export opens in French Excel as French people read it: French headers, ``;`` and a UTF-8 BOM in CSV, decimal
commas, dd/mm/yyyy HH:MM in Paris time; XLSX keeps numbers and dates as cells; our own export imports back."""

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pytest
import time_machine
from django.urls import reverse

from clients.models import Client
from clients.resources import DoctorResource, StructureResource
from orders.resources import OrderExportResource
from orders.roles import FINANCE_GROUP, SALES_GROUP
from segur_portal.spreadsheets import french_decimal, paris_datetime_text
from tests.factories import advance, make_doctor, make_order, make_structure, make_user, paris

pytestmark = pytest.mark.django_db
EXPORTS = [
    ("admin:orders_order_export", OrderExportResource),
    ("admin:clients_client_export", DoctorResource),
    ("admin:clients_client_export", StructureResource),
]
SNAKE_CASE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")
ENGLISH = ("Name", "Vat", "Number", "Amount", "Kind", "Date", "Reference", "State")


def export(client, url_name, resource, file_format):
    formats = ["csv", "xlsx"]
    resources = [DoctorResource, StructureResource] if resource is not OrderExportResource else [resource]
    prefix = resource.__name__.lower()
    return client.post(
        reverse(url_name),
        {
            "format": str(formats.index(file_format)),
            "resource": str(resources.index(resource)),
            **{f"{prefix}_{name}": "on" for name in resource._meta.fields},
        },
    )


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


@pytest.fixture
def finance(client):
    client.force_login(make_user("compta", FINANCE_GROUP))
    return client


@pytest.mark.parametrize(("url_name", "resource"), EXPORTS)
def test_every_column_of_every_export_has_a_french_header(finance, url_name, resource):
    make_order(client=make_structure())
    make_doctor()

    content = export(finance, url_name, resource, "csv").content

    headers = read_csv(content)[0]
    assert len(headers) == len(resource._meta.fields)
    for header in headers:
        assert not SNAKE_CASE.match(header), header
        assert not any(word in header for word in ENGLISH), header
    assert headers[0] in {"N° de commande", "Nom"}


@pytest.mark.parametrize(("url_name", "resource"), EXPORTS)
def test_the_export_page_lists_the_columns_by_their_french_headers(finance, url_name, resource):
    page = finance.get(reverse(url_name)).content.decode()

    assert "Client Name" not in page and ">Vat" not in page
    assert "Régime de TVA" in page if resource is OrderExportResource else "Code postal" in page


@pytest.mark.parametrize(("url_name", "resource"), EXPORTS)
def test_the_csv_has_a_bom_and_semicolons(finance, url_name, resource):
    make_order(client=make_structure())
    make_doctor(name="Dr Lemaître; Anne")

    response = export(finance, url_name, resource, "csv")

    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response["Content-Type"].startswith("text/csv")
    header_line = response.content.decode("utf-8-sig").splitlines()[0]
    assert header_line.count(";") == len(resource._meta.fields) - 1
    if resource is DoctorResource:
        assert '"Dr Lemaître; Anne";' in response.content.decode("utf-8-sig")


def test_the_order_csv_has_decimal_commas_and_paris_dates(finance):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(client=make_structure(tranche="A")), "advance_paid")

    rows = read_csv(export(finance, "admin:orders_order_export", OrderExportResource, "csv").content)

    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["Montant principal (€)"] == "3160,50"
    assert (row["Montant secondaire (€)"], row["Avance (€)"], row["Solde (€)"]) == ("875,00", "1264,20", "1896,30")
    assert row["Signé le"] == "02/09/2026 09:00"
    assert row["Signé le"] == paris_datetime_text(order.signed_at)
    assert row["État"] == "Avance versée"


def test_the_order_xlsx_keeps_numbers_and_dates_as_cells_under_french_headers(finance):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        advance(make_order(client=make_structure(tranche="A")), "advance_paid")

    response = export(finance, "admin:orders_order_export", OrderExportResource, "xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    row = dict(zip(values[0], values[1], strict=True))
    assert row["Montant principal (€)"] == pytest.approx(3160.50)  # a number: Excel sums it, shows 3160,5 in French
    assert row["Signé le"].strftime("%d/%m/%Y %H:%M") == "02/09/2026 09:00"


def test_formulas_stay_neutralised_in_the_french_csv(finance):
    make_order(client=make_doctor(name="=1+1", city="@SOMME(A1)"))

    order_rows = read_csv(export(finance, "admin:orders_order_export", OrderExportResource, "csv").content)
    doctor_rows = read_csv(export(finance, "admin:clients_client_export", DoctorResource, "csv").content)

    assert dict(zip(order_rows[0], order_rows[1], strict=True))["Client"] == "'=1+1"
    doctor = dict(zip(doctor_rows[0], doctor_rows[1], strict=True))
    assert (doctor["Nom"], doctor["Ville"]) == ("'=1+1", "'@SOMME(A1)")


@pytest.mark.parametrize(
    ("value", "text"), [(Decimal("3160.5"), "3160,50"), (Decimal("-12"), "-12,00"), (0, "0,00"), (None, "")]
)
def test_french_decimal(value, text):
    assert french_decimal(value) == text


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_our_own_doctor_export_imports_back(client, file_format):
    client.force_login(make_user("vendeuse", SALES_GROUP))
    doctor = make_doctor(name="=Dr Lemaître", city="Lyon", treating_patient_count=1200)
    exported = export(client, "admin:clients_client_export", DoctorResource, file_format).content
    Client.objects.filter(pk=doctor.pk).update(city="Ailleurs", treating_patient_count=3)
    upload = io.BytesIO(exported)
    upload.name = f"medecins.{file_format}"

    preview = client.post(
        reverse("admin:clients_client_import"),
        {"import_file": upload, "format": str(["csv", "xlsx"].index(file_format)), "resource": "0"},
    )

    assert preview.status_code == 200
    assert preview.context["error_count"] == 0 and preview.context["invalid_count"] == 0
    done = client.post(reverse("admin:clients_client_process_import"), preview.context["confirm_form"].initial)
    assert done.status_code == 302
    doctor.refresh_from_db()
    assert (doctor.name, doctor.city, doctor.treating_patient_count) == ("=Dr Lemaître", "Lyon", 1200)
