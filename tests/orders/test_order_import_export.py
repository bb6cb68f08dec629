"""Order import (all or nothing, through ``services.order_create``) and the ASP batch export (CSV and XLSX).

Nothing here passes ``rollback_on_validation_errors``: the resource enforces all-or-nothing itself.
"""

import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import tablib
import time_machine
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import Order
from orders.resources import OrderExportResource, OrderImportResource
from tests.factories import advance, make_doctor, make_order, make_solution, make_structure, make_user, paris

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
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


def orders_file(*rows, headers=HEADERS):
    dataset = tablib.Dataset(headers=headers)
    for row in rows:
        dataset.append(row)
    return dataset


def import_orders(dataset, dry_run=False):
    user = User.objects.filter(username="importeur").first() or make_user("importeur")
    return OrderImportResource().import_data(dataset, dry_run=dry_run, user=user)


def errors_by_line(result):
    """{line in the file (header = line 1): {column: [messages]}}"""
    return {invalid.number + 1: invalid.error_dict for invalid in result.invalid_rows}


def label(solution):
    return f"{solution.name} {solution.version}"


def format_index(title, kind="import"):
    model_admin = admin.site._registry[Order]
    formats = model_admin.get_import_formats() if kind == "import" else model_admin.get_export_formats()
    return str(next(index for index, file_format in enumerate(formats) if file_format().get_title() == title))


# --- Import ----------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sample_orders_file_creates_draft_orders_at_the_ceiling_by_default():
    make_solution(name="MediCab", version="12")
    lambert = make_doctor(rpps="10009000018")
    moreau = make_doctor(rpps="10009000026")
    msp = make_structure(finess="759100019", tranche="C")
    dataset = tablib.Dataset().load((FIXTURES / "commandes.csv").read_text(encoding="utf-8"), format="csv")

    result = import_orders(dataset)

    assert not result.has_validation_errors() and not result.has_errors(), errors_by_line(result)
    first = Order.objects.get(client=lambert)
    assert (first.state, first.principal_amount, first.secondary_amount) == ("draft", Decimal("451.50"), Decimal("125"))
    assert first.issued_at == paris(2026, 11, 20, 10)  # 20/11/2026 10:00, day first, Paris time
    assert first.events.get().actor.username == "importeur"
    second = Order.objects.get(client=moreau)
    assert (second.prestation, second.principal_amount) == ("principal_v1v2", Decimal("580.50"))
    third = Order.objects.get(client=msp)
    assert (third.principal_amount, third.secondary_amount) == (Decimal("7000.00"), Decimal("2125.00"))


@pytest.mark.django_db
def test_a_day_first_date_is_never_read_month_first_and_a_date_alone_is_noon_in_paris():
    solution = make_solution()
    first, second = make_doctor(), make_doctor()

    import_orders(
        orders_file(
            [first.rpps, label(solution), "V2", "", "", "", "05/11/2026 09:30", ""],
            [second.rpps, label(solution), "V2", "", "", "", "06/11/2026", ""],
        )
    )

    assert Order.objects.get(client=first).issued_at == paris(2026, 11, 5, 9, 30)
    assert Order.objects.get(client=second).issued_at == paris(2026, 11, 6, 12)


@pytest.mark.django_db
def test_rpps_and_finess_columns_name_the_client_too():
    solution = make_solution()
    doctor = make_doctor()

    result = import_orders(
        orders_file([doctor.rpps, label(solution), "V2"], headers=["rpps", "solution", "prestation"])
    )

    assert not result.has_validation_errors(), errors_by_line(result)
    assert Order.objects.get().client == doctor


@pytest.mark.django_db
def test_one_row_above_the_ceiling_imports_nothing_and_names_the_line_and_rule():
    solution = make_solution()

    result = import_orders(
        orders_file(
            [make_doctor().rpps, label(solution), "V2", "20", "", "", "", ""],
            [make_doctor().rpps, label(solution), "V2", "20", "451,51", "", "", ""],
        )
    )

    errors = errors_by_line(result)
    assert list(errors) == [3]
    message = errors[3]["montant_principal"][0]
    assert "dépasse le prix plafond de 451,50 €" in message
    assert "AF §5" in message and "[AMOUNT_ABOVE_CEILING]" in message
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_duplicate_client_in_the_file_imports_nothing():
    solution = make_solution()
    doctor = make_doctor()

    result = import_orders(
        orders_file(
            [make_doctor().rpps, label(solution), "V2", "", "", "", "", ""],
            [doctor.rpps, label(solution), "V2", "", "", "", "", ""],
            [doctor.rpps, label(solution), "V2", "", "", "", "", ""],
        )
    )

    errors = errors_by_line(result)
    assert list(errors) == [4]
    message = " ".join(errors[4]["rpps_ou_finess"])
    assert "DUPLICATE_ORDER" in message and "AF §4.2" in message
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_client_who_already_has_an_order_imports_nothing():
    solution = make_solution()
    ordered = make_order(solution=solution)

    result = import_orders(
        orders_file(
            [make_doctor().rpps, label(solution), "V2", "", "", "", "", ""],
            [ordered.client.rpps, label(solution), "V2", "", "", "", "", ""],
        )
    )

    assert "DUPLICATE_ORDER" in " ".join(errors_by_line(result)[3]["rpps_ou_finess"])
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_v1v2_for_a_wave_1_client_is_refused_on_the_prestation_column():
    solution = make_solution()
    equipped = make_doctor(wave1_benefited=True)

    result = import_orders(orders_file([equipped.rpps, label(solution), "V1V2", "", "", "", "", ""]))

    assert "V1V2_NOT_ALLOWED" in " ".join(errors_by_line(result)[2]["prestation"])
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_an_existing_order_number_is_not_reimported():
    solution = make_solution()
    existing = make_order(solution=solution)

    result = import_orders(
        orders_file(
            [existing.number, make_doctor().rpps, label(solution), "V2"],
            headers=["numero", "rpps_ou_finess", "solution", "prestation"],
        )
    )

    assert f"Le bon de commande {existing.number} existe déjà" in errors_by_line(result)[2]["numero"][0]
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_unknown_client_solution_or_prestation_name_their_column():
    result = import_orders(orders_file(["12345678901", "Inconnu 1", "V3", "7", "abc", "", "31/02/2026", "personne"]))

    columns = set(errors_by_line(result)[2])
    assert columns == {
        "rpps_ou_finess",
        "solution",
        "prestation",
        "regime_tva",
        "montant_principal",
        "date_emission",
        "commercial",
    }


@pytest.mark.django_db
def test_dry_run_runs_every_rule_and_imports_nothing():
    solution = make_solution()
    good, greedy = make_doctor(), make_doctor()

    clean = import_orders(orders_file([good.rpps, label(solution), "V2", "", "", "", "", ""]), dry_run=True)
    dirty = import_orders(orders_file([greedy.rpps, label(solution), "V2", "", "", "126", "", ""]), dry_run=True)

    assert clean.totals["new"] == 1 and not clean.has_validation_errors()
    assert "AF §5" in " ".join(errors_by_line(dirty)[2]["montant_secondaire"])
    assert Order.objects.count() == 0


# --- Import through the admin ----------------------------------------------------------------------------------------


@pytest.fixture
def superuser_client(client):
    client.force_login(make_user("root", is_superuser=True))
    return client


def csv_upload(*rows):
    upload = io.BytesIO(orders_file(*rows).export("csv").encode())
    upload.name = "commandes.csv"
    return upload


@pytest.mark.django_db
def test_importing_orders_through_the_admin_previews_then_creates_them(superuser_client):
    solution = make_solution()
    doctor = make_doctor()
    upload = csv_upload([doctor.rpps, label(solution), "V2", "20", "", "", "", ""])

    preview = superuser_client.post(
        reverse("admin:orders_order_import"), {"import_file": upload, "format": format_index("csv"), "resource": "0"}
    )
    assert preview.status_code == 200
    assert Order.objects.count() == 0
    confirm = preview.context["confirm_form"]
    done = superuser_client.post(reverse("admin:orders_order_process_import"), confirm.initial)

    assert done.status_code == 302
    assert Order.objects.get().client == doctor


@pytest.mark.django_db
def test_the_admin_preview_of_a_file_above_the_ceiling_shows_the_error_and_saves_nothing(superuser_client):
    solution = make_solution()
    upload = csv_upload(
        [make_doctor().rpps, label(solution), "V2", "20", "", "", "", ""],
        [make_doctor().rpps, label(solution), "V2", "20", "999", "", "", ""],
    )

    preview = superuser_client.post(
        reverse("admin:orders_order_import"), {"import_file": upload, "format": format_index("csv"), "resource": "0"}
    )

    assert "dépasse le prix plafond" in preview.content.decode()
    assert preview.context.get("confirm_form") is None
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_row_refused_at_the_admin_confirm_step_still_imports_nothing(superuser_client):
    solution = make_solution()
    first, second = make_doctor(), make_doctor()
    upload = csv_upload(
        [first.rpps, label(solution), "V2", "", "", "", "", ""],
        [second.rpps, label(solution), "V2", "", "", "", "", ""],
    )
    preview = superuser_client.post(
        reverse("admin:orders_order_import"), {"import_file": upload, "format": format_index("csv"), "resource": "0"}
    )
    make_order(client=second, solution=solution)  # a colleague creates line 3's order meanwhile

    superuser_client.post(reverse("admin:orders_order_process_import"), preview.context["confirm_form"].initial)

    assert list(Order.objects.values_list("client", flat=True)) == [second.pk]


# --- Export for ASP batches ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_has_the_asp_columns_in_decimal_and_paris_time():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        solution = make_solution()
        paid = advance(make_order(solution=solution, client=make_structure(tranche="A")), "advance_paid")
        draft = make_order(solution=solution)

    dataset = OrderExportResource().export(Order.objects.all(), force_native_type=True)

    assert dataset.headers == [
        "N° de commande",
        "Client",
        "RPPS ou FINESS",
        "Type de client",
        "Tranche",
        "Solution",
        "Référencement ANS",
        "Prestation",
        "Régime de TVA",
        "Montant principal (€)",
        "Montant secondaire (€)",
        "Avance (€)",
        "Solde (€)",
        "État",
        "Signé le",
        "Avance demandée le",
        "Référence ASP de l'avance",
        "VA signée le",
        "Solde demandé le",
        "Référence ASP du solde",
    ]
    rows = {row[0]: dict(zip(columns(dataset.headers), row, strict=True)) for row in dataset}
    row = rows[paid.number]
    assert (row["rpps_ou_finess"], row["type_client"], row["tranche"]) == (paid.client.finess, "MSP", "A")
    assert (row["solution"], row["referencement_ans"]) == (label(solution), "LGC-VA2-0042")
    assert (row["prestation"], row["regime_tva"]) == ("Prestation principale Vague 2", "TVA 20 %")
    assert (row["montant_principal"], row["montant_secondaire"]) == (Decimal("3160.50"), Decimal("875.00"))
    assert (row["avance"], row["solde"]) == (Decimal("1264.20"), Decimal("1896.30"))
    assert (row["etat"], row["reference_asp_avance"]) == ("Avance versée", "ASP-1")
    # Signed one day after the 1 September 09:00 issue: Paris wall-clock time, without time zone, for the sheet.
    assert row["signe_le"] == datetime(2026, 9, 2, 9, 0)
    # Not paid yet: the 40 % / 60 % split of the principal (AF §VI), to the cent.
    assert (rows[draft.number]["avance"], rows[draft.number]["solde"]) == (Decimal("180.60"), Decimal("270.90"))
    assert rows[draft.number]["signe_le"] == ""


@pytest.mark.django_db
def test_export_makes_the_same_number_of_queries_for_20_and_200_orders():
    solution = make_solution()
    for _ in range(20):
        make_order(solution=solution)
    with CaptureQueriesContext(connection) as twenty:
        assert len(OrderExportResource().export(Order.objects.all())) == 20
    for _ in range(180):
        make_order(solution=solution)
    with CaptureQueriesContext(connection) as two_hundred:
        assert len(OrderExportResource().export(Order.objects.all())) == 200

    assert len(two_hundred) == len(twenty) <= 2


def columns(headers):
    """The short column names behind the export's French headers."""
    return [OrderExportResource.import_column(header) for header in headers]


def export_post(client, file_format):
    return client.post(
        reverse("admin:orders_order_export"),
        {
            "format": format_index(file_format, kind="export"),
            "resource": "0",
            **{f"orderexportresource_{name}": "on" for name in OrderExportResource._meta.fields},
        },
    )


@pytest.mark.django_db
def test_export_as_csv_from_the_admin(superuser_client):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        order = advance(make_order(client=make_structure(tranche="B")), "firm")

    response = export_post(superuser_client, "csv")

    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM and ";": French Excel opens it in columns
    dataset = tablib.Dataset().load(response.content.decode("utf-8-sig"), format="csv", delimiter=";")
    row = dict(zip(columns(dataset.headers), dataset[0], strict=True))
    assert (row["numero"], row["tranche"], row["etat"]) == (order.number, "B", order.get_state_display())
    assert row["montant_principal"] == "5418,00"  # decimal comma: the CSV opens as numbers in a French spreadsheet
    assert (row["avance"], row["solde"]) == ("2167,20", "3250,80")
    assert row["signe_le"] == "02/09/2026 09:00"  # Paris time


@pytest.mark.django_db
def test_export_as_xlsx_from_the_admin(superuser_client):
    order = make_order(client=make_structure(tranche="E"))

    response = export_post(superuser_client, "xlsx")

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    row = dict(zip(columns(values[0]), values[1], strict=True))
    assert row["numero"] == order.number
    assert row["montant_principal"] == pytest.approx(12190.50)  # a number cell, not text
    assert (row["avance"], row["solde"]) == (pytest.approx(4876.20), pytest.approx(7314.30))
    assert Decimal(str(row["avance"])) + Decimal(str(row["solde"])) == Decimal("12190.5")


@pytest.mark.django_db
def test_the_admin_import_and_export_pages_open(superuser_client):
    assert superuser_client.get(reverse("admin:orders_order_import")).status_code == 200
    assert superuser_client.get(reverse("admin:orders_order_export")).status_code == 200
    assert superuser_client.get(reverse("admin:clients_client_import")).status_code == 200
    assert superuser_client.get(reverse("admin:clients_client_export")).status_code == 200
