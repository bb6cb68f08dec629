"""Bulk import of monthly figures: all-or-nothing, each error with its line and column, preview first (AF §4.5)."""

import io

import pytest
import time_machine
from openpyxl import Workbook

from monitoring.imports import MAX_BYTES, import_file
from monitoring.models import MonitoringMonth, MonitoringRevision, PerfSummary
from tests.factories import advance, make_order, paris

HEADER = "commande;mois;Dt;Dm;T;Tq;Ts;motif"


@pytest.fixture
def order(db):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        return advance(make_order(), "va_signed")  # secondary starts 1 November 2026


@pytest.fixture(autouse=True)
def later():
    with time_machine.travel(paris(2027, 12, 10, 10), tick=False):
        yield


def csv(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode()


def good_lines(number: str) -> list[str]:
    return [f"{number};{month:02d}/2027;20;12;100;80;10;" for month in range(1, 7)]


def errors(content: bytes, name: str = "releves.csv") -> list[str]:
    report = import_file(content, name)
    assert not MonitoringMonth.objects.exists() and not MonitoringRevision.objects.exists()
    return [str(error) for error in report.errors]


def test_a_good_file_is_previewed_then_imported(order):
    content = csv(*good_lines(order.number))

    preview = import_file(content, "releves.csv", dry_run=True)

    assert (preview.errors, preview.new_months, preview.written) == ([], 6, False)
    assert not MonitoringMonth.objects.exists()

    done = import_file(content, "releves.csv")

    assert done.written and done.new_months == 6
    assert MonitoringMonth.objects.filter(order=order).count() == 6
    assert set(MonitoringRevision.objects.values_list("source", flat=True)) == {"import"}
    assert PerfSummary.objects.get(order=order).best_perf == 1


def test_the_same_file_twice_changes_nothing_and_a_changed_value_is_a_correction(order):
    import_file(csv(*good_lines(order.number)), "releves.csv")

    again = import_file(csv(*good_lines(order.number)), "releves.csv")
    corrected = import_file(csv(f"{order.number};01/2027;20;2;100;80;10;Relevé corrigé"), "releves.csv")

    assert (again.unchanged, again.written) == (6, False)
    assert corrected.corrections == 1 and corrected.written
    assert MonitoringRevision.objects.count() == 7
    assert MonitoringRevision.objects.filter(month="2027-01-01").last().reason == "Relevé corrigé"


def test_xlsx_keyed_by_rpps(order):
    book = Workbook()
    sheet = book.active
    sheet.append(["RPPS", "mois", "Dt", "Dm", "T", "Tq", "Ts"])
    for month in range(1, 7):
        sheet.append([order.client.rpps, f"{month:02d}/2027", 20, 12, 100, 80, 10])
    buffer = io.BytesIO()
    book.save(buffer)

    report = import_file(buffer.getvalue(), "releves.xlsx")

    assert report.errors == [] and report.new_months == 6


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{n};01/2027;20;-1;100;80;10;", "Ligne 2, colonne « Dm » : 01/2027 : Dm ne peut être négatif."),
        ("{n};01/2027;20;2,5;100;80;10;", "Ligne 2, colonne « Dm » : « 2,5 » n'est pas un nombre entier"),
        ("{n};01/2027;20;21;100;80;10;", "Ligne 2, colonne « Dm » : 01/2027 : Dm (21) ne peut dépasser Dt (20)"),
        ("{n};01/2027;20;12;100;101;10;", "Ligne 2, colonne « Tq » : 01/2027 : Tq (101) ne peut dépasser T (100)"),
        ("{n};01/2027;20;12;100;80;81;", "Ligne 2, colonne « Ts » : 01/2027 : Ts (81) ne peut dépasser Tq (80)"),
        ("{n};10/2026;20;12;100;80;10;", "Ligne 2, colonne « mois » : 10/2026 : la Prestation secondaire démarre"),
        ("{n};12/2027;20;12;100;80;10;", "Ligne 2, colonne « mois » : 12/2027 : ce mois n'est pas terminé"),
        ("{n};13/2027;20;12;100;80;10;", "Ligne 2, colonne « mois » : indiquez le mois au format MM/AAAA"),
        ("BC-INCONNU;01/2027;20;12;100;80;10;", "Ligne 2, colonne « commande » : « BC-INCONNU » : aucune commande"),
    ],
)
def test_each_bad_value_is_refused_with_its_line_and_column_and_nothing_is_imported(order, line, expected):
    found = errors(csv(*good_lines(order.number)[1:], line.format(n=order.number)))

    assert any(message.startswith(expected.replace("Ligne 2", "Ligne 7")) for message in found), found


def test_the_same_month_twice_in_one_file(order):
    lines = good_lines(order.number)

    found = errors(csv(*lines, lines[0]))

    assert found == ["Ligne 8, colonne « mois » : 01/2027 : le même mois figure deux fois pour cette commande."]


def test_an_order_not_in_the_secondary_prestation(db):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        draft = make_order()

    found = errors(csv(f"{draft.number};01/2027;20;12;100;80;10;"))

    assert found[0].startswith(f"Ligne 2, colonne « commande » : 01/2027 : la commande {draft.number} n'est pas")


def test_a_wrong_header(order):
    found = errors(csv(*good_lines(order.number), header="numero;mois;Dt;Dm;T;Tq"))

    assert found[0].startswith("Ligne 1 : en-tête incorrect (une et une seule colonne « commande », « rpps » ou")
    assert "colonnes manquantes : Ts" in found[0] and "colonnes inconnues : numero" in found[0]


def test_an_empty_file(db):
    assert errors(b"") == ["Ligne 1 : le fichier est vide."]
    assert errors(csv()) == ["Ligne 1 : le fichier ne contient aucune ligne de chiffres."]


def test_a_20_megabyte_file(db):
    content = csv() + b"x" * (20 * 1024 * 1024)
    assert len(content) > MAX_BYTES

    assert errors(content) == ["Fichier : il dépasse 10 Mo : découpez-le."]


def test_one_bad_line_among_many_orders_imports_nothing(order, db):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        other = advance(make_order(), "va_signed")

    found = errors(csv(*good_lines(order.number), *good_lines(other.number)[:5], f"{other.number};06/2027;1;2;3;3;3;"))

    assert found == ["Ligne 13, colonne « Dm » : 06/2027 : Dm (2) ne peut dépasser Dt (1) (AF §3.3)."]


def test_a_file_that_is_not_a_spreadsheet(db):
    assert errors(b"%PDF-1.7", "releves.pdf") == ["Fichier : il doit être au format CSV ou XLSX."]
    assert errors(b"not a zip", "releves.xlsx") == [
        "Ligne 1 : fichier illisible : enregistrez-le en CSV (UTF-8) ou en XLSX."
    ]
    assert errors("commande;mois\n".encode("utf-16"), "releves.csv") == [
        "Ligne 1 : fichier illisible : enregistrez-le en CSV (UTF-8) ou en XLSX."
    ]
