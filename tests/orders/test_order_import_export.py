"""Order import (all or nothing, through ``services.order_create``) and the ASP batch export."""

from decimal import Decimal

import pytest
import tablib
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import Order
from orders.resources import OrderExportResource, OrderImportResource
from tests.factories import advance, make_doctor, make_order, make_solution, make_structure, make_user, paris

HEADERS = [
    "rpps_ou_finess",
    "solution",
    "prestation",
    "regime_tva",
    "montant_principal",
    "montant_secondaire",
    "date_emission",
    "commercial",
]


def orders_file(*rows):
    dataset = tablib.Dataset(headers=HEADERS)
    for row in rows:
        dataset.append(row)
    return dataset


def import_orders(dataset):
    return OrderImportResource().import_data(
        dataset, use_transactions=True, rollback_on_validation_errors=True, user=make_user("importeur")
    )


def errors_by_line(result):
    return {invalid.number + 1: invalid.error_dict for invalid in result.invalid_rows}


@pytest.mark.django_db
def test_a_good_orders_file_creates_draft_orders_at_the_ceiling_by_default():
    solution = make_solution()
    label = f"{solution.name} {solution.version}"
    doctor, structure = make_doctor(), make_structure(tranche="C")

    result = import_orders(
        orders_file(
            [doctor.rpps, label, "V2", "20", "", "", "2026-11-20 10:00", ""],
            [structure.finess, label, "V1V2", "20", "9000,00", "", "2026-11-20 10:00", ""],
        )
    )

    assert not result.has_validation_errors(), errors_by_line(result)
    assert Order.objects.get(client=doctor).principal_amount == Decimal("451.50")
    imported = Order.objects.get(client=structure)
    assert (imported.principal_amount, imported.secondary_amount, imported.state) == (
        Decimal("9000.00"),
        Decimal("2125.00"),
        "draft",
    )


@pytest.mark.django_db
def test_one_row_above_the_ceiling_imports_nothing_and_names_the_line_and_rule():
    solution = make_solution()
    label = f"{solution.name} {solution.version}"

    result = import_orders(
        orders_file(
            [make_doctor().rpps, label, "V2", "20", "", "", "", ""],
            [make_doctor().rpps, label, "V2", "20", "451,51", "", "", ""],
        )
    )

    errors = errors_by_line(result)
    assert list(errors) == [3]
    assert "dépasse le prix plafond" in errors[3]["montant_principal"][0]
    assert "AF §5" in errors[3]["montant_principal"][0]
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_duplicate_client_in_the_file_or_in_the_database_imports_nothing():
    solution = make_solution()
    label = f"{solution.name} {solution.version}"
    doctor = make_doctor()

    result = import_orders(
        orders_file([doctor.rpps, label, "V2", "", "", "", "", ""], [doctor.rpps, label, "V2", "", "", "", "", ""])
    )

    errors = errors_by_line(result)
    assert list(errors) == [3]
    assert "DUPLICATE_ORDER" in " ".join(errors[3]["rpps_ou_finess"])
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_unknown_client_solution_or_prestation_name_their_column():
    result = import_orders(orders_file(["12345678901", "Inconnu 1", "V3", "7", "abc", "", "", "personne"]))

    columns = set(errors_by_line(result)[2])
    assert columns == {"rpps_ou_finess", "solution", "prestation", "regime_tva", "montant_principal", "commercial"}


@pytest.mark.django_db
def test_export_has_the_asp_columns_and_a_constant_number_of_queries():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        solution = make_solution()
        paid = advance(make_order(solution=solution, client=make_structure(tranche="A")), "advance_paid")
        for _ in range(5):
            make_order(solution=solution)
        with CaptureQueriesContext(connection) as few:
            OrderExportResource().export(Order.objects.all())
        for _ in range(20):
            make_order(solution=solution)
        with CaptureQueriesContext(connection) as many:
            dataset = OrderExportResource().export(Order.objects.all())

    assert len(many) == len(few)
    assert dataset.headers[:3] == ["numero", "client", "rpps_ou_finess"]
    row = dict(zip(dataset.headers, dataset[[r[0] for r in dataset].index(paid.number)], strict=True))
    # Decimal, written the French way for the spreadsheets finance staff open.
    assert row["montant_principal"] == "3160,50"
    assert row["avance"] == "1264,20"
    assert row["solde"] == "1896,30"
    assert row["etat"] == "Avance versée"
    assert row["tranche"] == "A"
    assert row["reference_asp_avance"] == "ASP-1"


@pytest.mark.django_db
def test_export_as_xlsx_from_the_admin(client):
    import openpyxl

    client.force_login(make_user("root", is_superuser=True))
    order = make_order()

    response = client.post(
        reverse("admin:orders_order_export"),
        {
            "format": "1",
            "resource": "0",
            **{f"orderexportresource_{name}": "on" for name in OrderExportResource._meta.fields},
        },
    )

    assert response.status_code == 200, response.content[:500]
    import io

    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    values = [[cell.value for cell in row] for row in workbook.active.iter_rows()]
    assert values[0][0] == "numero"
    assert values[1][0] == order.number


@pytest.mark.django_db
def test_the_admin_import_and_export_pages_open(client):
    client.force_login(make_user("root", is_superuser=True))

    assert client.get(reverse("admin:orders_order_import")).status_code == 200
    assert client.get(reverse("admin:orders_order_export")).status_code == 200
    assert client.get(reverse("admin:clients_client_import")).status_code == 200


@pytest.mark.django_db
def test_importing_orders_through_the_admin_previews_then_creates_them(client):
    import io

    client.force_login(make_user("root", is_superuser=True))
    solution = make_solution()
    doctor = make_doctor()
    csv = "\n".join([",".join(HEADERS), f"{doctor.rpps},{solution.name} {solution.version},V2,20,,,,"]) + "\n"
    upload = io.BytesIO(csv.encode())
    upload.name = "commandes.csv"

    preview = client.post(reverse("admin:orders_order_import"), {"import_file": upload, "format": "0", "resource": "0"})
    assert preview.status_code == 200
    assert Order.objects.count() == 0
    confirm = preview.context["confirm_form"]
    done = client.post(reverse("admin:orders_order_process_import"), {**confirm.initial, "resource": "0"})

    assert done.status_code == 302, done.content.decode()[:1000]
    assert Order.objects.get().client == doctor
