"""Exports never carry a live formula (CSV and XLSX, read back), exports and order imports obey roles, and the order
import refuses unreadable amounts and reads French CSVs."""

import io
from decimal import Decimal

import openpyxl
import pytest
import tablib
from django.urls import reverse

from clients.resources import DoctorResource
from orders import asp_packages
from orders.models import Order
from orders.resources import OrderExportResource
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from segur_portal.spreadsheets import SafeCSVWriter, safe_cell, unescaped_cell
from tests.factories import make_doctor, make_order, make_solution, make_user, valid_rpps

FORMULAS = ["=1+1", "+33 1 23", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x")']
ORDER_HEADER = (
    "rpps_ou_finess;solution;prestation;regime_tva;montant_principal;montant_secondaire;date_emission;commercial"
)


def export_post(client, url_name, resource_name, fields, file_format):
    formats = ["csv", "xlsx"]
    return client.post(
        reverse(url_name),
        {
            "format": str(formats.index(file_format)),
            "resource": "0",
            **{f"{resource_name}_{name}": "on" for name in fields},
        },
    )


def sheet_cells(content: bytes) -> list[openpyxl.cell.Cell]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [cell for row in sheet.iter_rows() for cell in row]


@pytest.fixture
def finance_client(client):
    client.force_login(make_user("compta", FINANCE_GROUP))
    return client


# --- The shared function ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [*FORMULAS, "  =1+1", "\t=1", "\r=1", "\tplain"])
def test_a_cell_that_would_start_a_formula_is_prefixed(value):
    assert safe_cell(value) == "'" + value
    assert unescaped_cell(safe_cell(value)) == value  # a re-imported export reads the same value


@pytest.mark.parametrize("value", ["Dr Lambert", "-12,50", "451.50", "+33", "", "'quoted", Decimal("-1"), 5, None])
def test_data_and_numbers_are_left_as_they_are(value):
    assert safe_cell(value) == value


def test_control_characters_xlsx_cannot_hold_are_dropped():
    assert safe_cell("Dr\x01 Lambert\x1f") == "Dr Lambert"


def test_the_csv_files_built_by_hand_use_the_safe_writer():
    buffer = io.StringIO()
    SafeCSVWriter(buffer, delimiter=";").writerow(["=cmd|' /C calc'!A0", 3])

    manifest = asp_packages._manifest([("0001/=evil.pdf", b"x")]).decode()

    assert buffer.getvalue().startswith("'=cmd")
    assert "\n0001/=evil.pdf;" in manifest  # the path starts with the order folder
    assert asp_packages._manifest([("=evil.pdf", b"x")]).decode().splitlines()[1].startswith("'=evil.pdf;")


# --- Client and order exports, read back -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_client_export_neutralises_formulas(client, file_format):
    client.force_login(make_user("vendeur", SALES_GROUP))
    for seed, name in enumerate(FORMULAS):
        make_doctor(name=name, rpps=valid_rpps(500 + seed), city="  =2+2")

    response = export_post(
        client, "admin:clients_client_export", "doctorresource", DoctorResource._meta.fields, file_format
    )

    assert response.status_code == 200
    if file_format == "csv":
        assert response.content.startswith(b"\xef\xbb\xbf")
        dataset = tablib.Dataset().load(response.content.decode("utf-8-sig"), format="csv", delimiter=";")
        values = [cell for row in dataset for cell in row]
    else:
        cells = sheet_cells(response.content)
        assert all(cell.data_type != "f" for cell in cells)
        values = [cell.value for cell in cells]
    assert sorted(value for value in values if isinstance(value, str) and value.startswith("'")) == sorted(
        ["'" + name for name in FORMULAS] + ["'=2+2"] * len(FORMULAS)  # the domain trims the city's spaces
    )
    assert not any(isinstance(value, str) and value.lstrip().startswith(("=", "@")) for value in values)


@pytest.mark.django_db
@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_asp_batch_export_neutralises_a_client_name_and_keeps_amounts_numeric(finance_client, file_format):
    order = make_order(client=make_doctor(name='=HYPERLINK("http://evil";"Cliquez")'))

    response = export_post(
        finance_client,
        "admin:orders_order_export",
        "orderexportresource",
        OrderExportResource._meta.fields,
        file_format,
    )

    assert response.status_code == 200
    if file_format == "csv":
        dataset = tablib.Dataset().load(response.content.decode("utf-8-sig"), format="csv", delimiter=";")
        row = dict(zip(dataset.headers, dataset[0], strict=True))
    else:
        cells = sheet_cells(response.content)
        assert all(cell.data_type != "f" for cell in cells)
        width = len(OrderExportResource._meta.fields)
        row = dict(zip([cell.value for cell in cells[:width]], [cell.value for cell in cells[width:]], strict=True))
        assert isinstance(row["Montant principal (€)"], float | int)  # amounts stay numbers
    assert row["Client"] == "'" + order.client.name
    assert row["N° de commande"] == order.number


# --- Roles -----------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("group", "can_import", "can_export"),
    [
        (SALES_GROUP, True, True),
        (ADMIN_GROUP, True, True),
        (FINANCE_GROUP, False, True),
        (DEPLOYMENT_GROUP, False, True),
        (None, False, False),
    ],
)
def test_order_import_and_export_follow_the_roles(client, group, can_import, can_export):
    client.force_login(make_user(f"user-{group}", *([group] if group else [])))

    import_page = client.get(reverse("admin:orders_order_import"))
    export_page = client.get(reverse("admin:orders_order_export"))

    assert import_page.status_code == (200 if can_import else 403)
    assert export_page.status_code == (200 if can_export else 403)
    if group is not None:
        changelist = client.get(reverse("admin:orders_order_changelist")).content.decode()
        assert (reverse("admin:orders_order_import") in changelist) is can_import


# --- Order import: amounts and French CSVs ---------------------------------------------------------------------------


def order_upload(*lines: str, encoding: str = "utf-8") -> io.BytesIO:
    upload = io.BytesIO("\r\n".join([ORDER_HEADER, *lines]).encode(encoding))
    upload.name = "commandes.csv"
    return upload


@pytest.fixture
def sales_client(client):
    client.force_login(make_user("vendeuse", SALES_GROUP))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("amount", ["NaN", "nan", "inf", "-Infinity", "1e3", "sNaN", "12,5,0"])
def test_an_unreadable_amount_is_refused_naming_its_line_and_column(sales_client, amount):
    solution = make_solution()
    good = f"{make_doctor().rpps};{solution.name} {solution.version};V2;20;;;;"
    bad = f"{make_doctor().rpps};{solution.name} {solution.version};V2;20;{amount};;;"

    preview = sales_client.post(
        reverse("admin:orders_order_import"), {"import_file": order_upload(good, bad), "format": "0", "resource": "0"}
    )

    rows = preview.context["invalid_rows"]
    assert [(row.number + 1, list(row.error_dict)) for row in rows] == [(3, ["montant_principal"])]
    assert "illisible" in rows[0].error_dict["montant_principal"][0]
    assert preview.context.get("confirm_form") is None
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_an_order_file_from_french_excel_imports(sales_client):
    solution = make_solution(name="MédiCab", version="12")
    doctor = make_doctor()
    line = f"{doctor.rpps};MédiCab 12;V2;20;;;01/09/2026;"

    preview = sales_client.post(
        reverse("admin:orders_order_import"),
        {"import_file": order_upload(line, encoding="cp1252"), "format": "0", "resource": "0"},
    )
    sales_client.post(reverse("admin:orders_order_process_import"), preview.context["confirm_form"].initial)

    assert Order.objects.get().solution == solution
