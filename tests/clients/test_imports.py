"""Client imports are all or nothing, and each error names the line, the column and the rule (SPEC §4, AF §4.2).

Files: ``tests/fixtures/imports/`` (header on line 1). Nothing here passes ``use_transactions`` or
``rollback_on_validation_errors``: the resources enforce all-or-nothing themselves, whoever calls them.
"""

import io
from pathlib import Path

import pytest
import tablib
from django.contrib import admin
from django.contrib.messages import get_messages
from django.urls import reverse

from clients import services as client_services
from clients.models import Client, ClientChange, ReferenceBase
from clients.resources import DoctorResource, StructureResource
from clients.services import ReferenceRow, reference_base_import
from tests.factories import make_doctor, make_structure, make_user, valid_finess, valid_rpps

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
DOCTOR_HEADERS = [
    "nom",
    "rpps",
    "specialite",
    "patients_medecin_traitant",
    "email",
    "vague1_beneficiaire",
    "vague1_autofinance",
]
STRUCTURE_HEADERS = [
    "nom",
    "type",
    "finess",
    "type_cds",
    "signataire_aci",
    "effectifs_declares",
    "medecins_liberaux",
    "medecins_salaries",
]


def fixture_dataset(name: str) -> tablib.Dataset:
    path = FIXTURES / name
    if path.suffix == ".xlsx":
        return tablib.Dataset().load(path.read_bytes(), format="xlsx")
    return tablib.Dataset().load(path.read_text(encoding="utf-8"), format="csv")


def table(headers, *rows):
    dataset = tablib.Dataset(headers=headers)
    for row in rows:
        dataset.append(row)
    return dataset


def doctor_row(name="Dr Lambert", rpps=None, specialty="Médecine générale", wave1="non", patients="120"):
    return [name, rpps or valid_rpps(), specialty, patients, "lambert@example.org", wave1, "non"]


def structure_row(name="MSP des Lilas", kind="msp", finess=None, cds_kind="", liberal="3", salaried="0"):
    return [name, kind, finess or valid_finess(), cds_kind, "oui", "oui", liberal, salaried]


def row_errors(result):
    """{line in the file (header = line 1): {column: [messages]}}"""
    return {invalid.number + 1: invalid.error_dict for invalid in result.invalid_rows}


def bad_luhn(identifier):
    return identifier[:-1] + str((int(identifier[-1]) + 1) % 10)


# --- Doctors ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_good_doctors_file_imports_every_row():
    result = DoctorResource().import_data(fixture_dataset("medecins.csv"))

    assert not result.has_validation_errors() and not result.has_errors()
    assert result.totals["new"] == 5
    assert Client.objects.filter(kind="doctor").count() == 5
    moreau = Client.objects.get(name="Dr Paul Moreau")
    assert moreau.rpps == "10009000026"  # typed "100 0900 0026": normalised like the services do
    assert Client.objects.get(name="Dr Hugo Petit").treating_patient_count == 0  # empty cell
    lambert = Client.objects.get(name="Dr Claire Lambert")
    assert (lambert.wave1_benefited, lambert.wave1_self_funded, lambert.city) == (True, False, "Paris")


@pytest.mark.django_db
def test_a_doctors_xlsx_file_with_numeric_cells_imports_every_row():
    result = DoctorResource().import_data(fixture_dataset("medecins.xlsx"))

    assert not result.has_validation_errors() and not result.has_errors()
    assert Client.objects.get(name="Dr Claire Lambert").rpps == "10009000018"


@pytest.mark.django_db
def test_a_bad_rpps_on_line_4_of_the_file_imports_nothing_and_names_line_column_and_rule():
    result = DoctorResource().import_data(fixture_dataset("medecins_rpps_invalide_ligne4.csv"))

    errors = row_errors(result)
    assert list(errors) == [4]
    assert list(errors[4]) == ["rpps"]
    message = errors[4]["rpps"][0]
    assert "clé de contrôle (Luhn)" in message and "AF §4.2" in message and "[RPPS_CHECK_DIGIT]" in message
    assert Client.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad_row", "column", "rule"),
    [
        (doctor_row(rpps=bad_luhn(valid_rpps(31))), "rpps", "RPPS_CHECK_DIGIT"),
        (doctor_row(rpps="12345"), "rpps", "RPPS_FORMAT"),
        (doctor_row(specialty="Biologie médicale"), "specialite", "EXCLUDED_SPECIALTY"),
        (doctor_row(specialty="Radiodiagnostic et imagerie médicale"), "specialite", "AF §4.2"),
        (doctor_row(wave1="peut-être"), "vague1_beneficiaire", "oui ou non"),
        (doctor_row(patients="-3"), "patients_medecin_traitant", "nombre entier"),
    ],
)
def test_one_bad_doctor_row_on_line_4_imports_nothing(bad_row, column, rule):
    dataset = table(DOCTOR_HEADERS, doctor_row("Dr A"), doctor_row("Dr B"), bad_row, doctor_row("Dr D"))

    result = DoctorResource().import_data(dataset)

    errors = row_errors(result)
    assert list(errors) == [4]
    assert rule in " ".join(errors[4][column])
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_the_same_rpps_twice_in_a_file_is_refused_on_the_second_line():
    rpps = valid_rpps()

    result = DoctorResource().import_data(table(DOCTOR_HEADERS, doctor_row("Dr A", rpps), doctor_row("Dr B", rpps)))

    errors = row_errors(result)
    assert list(errors) == [3]
    assert "déjà présent ligne 2" in errors[3]["rpps"][0]
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_a_file_without_the_rpps_column_imports_nothing():
    dataset = table(["nom", "specialite"], ["Dr A", "Médecine générale"])

    result = DoctorResource().import_data(dataset)

    assert result.has_errors()
    assert "Colonnes manquantes : rpps" in str(result.base_errors[0].error)
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_dry_run_imports_nothing():
    result = DoctorResource().import_data(fixture_dataset("medecins.csv"), dry_run=True)

    assert result.totals["new"] == 5
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_reimporting_a_doctor_updates_it_through_the_same_rules():
    rpps = valid_rpps()
    DoctorResource().import_data(table(DOCTOR_HEADERS, doctor_row("Dr Ancien", rpps=rpps)))

    updated = DoctorResource().import_data(table(DOCTOR_HEADERS, doctor_row("Dr Nouveau", rpps=rpps)))
    refused = DoctorResource().import_data(table(DOCTOR_HEADERS, doctor_row("Dr X", rpps, "Médecine nucléaire")))

    assert updated.totals["update"] == 1
    assert "EXCLUDED_SPECIALTY" in " ".join(row_errors(refused)[2]["specialite"])
    doctor = Client.objects.get(rpps=rpps)
    assert (doctor.name, doctor.specialty) == ("Dr Nouveau", "Médecine générale")


@pytest.mark.django_db
def test_reimporting_the_same_file_skips_every_row():
    DoctorResource().import_data(fixture_dataset("medecins.csv"))

    again = DoctorResource().import_data(fixture_dataset("medecins.csv"))

    assert (again.totals["skip"], again.totals["new"], again.totals["update"]) == (5, 0, 0)


@pytest.mark.django_db
def test_the_doctors_export_holds_doctors_only():
    doctor = make_doctor()
    make_structure()

    dataset = DoctorResource().export(Client.objects.all())

    assert [row[dataset.headers.index("RPPS")] for row in dataset] == [doctor.rpps]


# --- Structures ------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad_row", "column", "rule"),
    [
        (structure_row("CDS dentaire", "cds", cds_kind="dentaire", liberal="0", salaried="2"), "type_cds", "dentaire"),
        (structure_row("CDS infirmier", "cds", cds_kind="Infirmier", salaried="2"), "type_cds", "CDS_KIND_EXCLUDED"),
        (structure_row("MSP vide", liberal="0"), "medecins_liberaux", "MSP_WITHOUT_LIBERAL_DOCTOR"),
        (structure_row("CDS sans médecin", "cds", cds_kind="polyvalent"), "medecins_salaries", "CDS_WITHOUT_SALARIED"),
        (structure_row("EHPAD", "ehpad"), "type", "msp ou cds"),
        (structure_row(finess="75000123X"), "finess", "FINESS_FORMAT"),
        (structure_row(finess=bad_luhn(valid_finess(77))), "finess", "FINESS_CHECK_DIGIT"),
    ],
)
def test_one_bad_structure_row_imports_nothing(bad_row, column, rule):
    dataset = table(STRUCTURE_HEADERS, structure_row("MSP des Lilas"), bad_row)

    result = StructureResource().import_data(dataset)

    errors = row_errors(result)
    assert list(errors) == [3]
    assert rule in " ".join(errors[3][column])
    assert "§4" in " ".join(errors[3][column])  # the rule's reference: AF §4.2 or SPEC §4
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_imported_structures_take_their_tranche_from_the_base_de_reference_not_from_the_file():
    existing = make_structure(tranche="B")
    finess = valid_finess(904)
    reference_base_import(
        version="2026-10", rows=[ReferenceRow(finess, "D", 40), ReferenceRow(existing.finess, "C", 25)]
    )
    dataset = table(
        [*STRUCTURE_HEADERS, "tranche"], structure_row("CDS Nord", "cds", finess, "polyvalent", "0", "3") + ["A"]
    )

    result = StructureResource().import_data(dataset)

    assert not result.has_validation_errors()
    imported = Client.objects.get(finess=finess)
    assert (imported.tranche, imported.staff_count, imported.kind) == ("D", 40, "cds")
    existing.refresh_from_db()
    assert (existing.tranche, existing.staff_count) == ("C", 25)


@pytest.mark.django_db
def test_the_structures_sample_file_imports_every_row_with_tranches_once_the_base_is_imported():
    headers, records = base_reference_table("base_reference.csv")
    rows, problems = client_services.reference_rows_from_table(headers, records)
    reference_base_import(version="BDR-fixture", rows=rows)

    result = StructureResource().import_data(fixture_dataset("structures.csv"))

    assert not result.has_validation_errors() and not result.has_errors() and not problems
    assert dict(Client.objects.values_list("name", "tranche")) == {
        "MSP des Buttes-Chaumont": "C",
        "Centre de santé de Cleunay": "B",
        "MSP du Bugey": "A",
    }


def base_reference_table(name):
    dataset = tablib.Dataset().load((FIXTURES / name).read_text(encoding="utf-8"), format="csv", delimiter=";")
    return list(dataset.headers), [list(row) for row in dataset]


# --- Base de référence: service ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_bad_base_de_reference_row_imports_nothing_and_names_its_line():
    from orders.exceptions import BusinessRuleError

    structure = make_structure(tranche="A")
    rows = [
        ReferenceRow(structure.finess, "E", 80, line=2),
        ReferenceRow(valid_finess(907), "F", 10, line=3),
        ReferenceRow(bad_luhn(valid_finess(908)), "B", 10, line=4),
    ]

    with pytest.raises(BusinessRuleError) as refused:
        reference_base_import(version="BDR-bad", rows=rows)

    assert "Ligne 3 : tranche « F » invalide" in refused.value.message
    assert "Ligne 4 : FINESS" in refused.value.message
    assert not ReferenceBase.objects.filter(version="BDR-bad").exists()
    structure.refresh_from_db()
    assert structure.tranche == "A"


# --- Through the admin: upload → preview → confirm -------------------------------------------------------------------


def upload(name: str, content: bytes | str) -> io.BytesIO:
    file = io.BytesIO(content.encode() if isinstance(content, str) else content)
    file.name = name
    return file


def fixture_upload(name: str) -> io.BytesIO:
    return upload(name, (FIXTURES / name).read_bytes())


def format_index(title: str) -> str:
    formats = admin.site._registry[Client].get_import_formats()
    return str(next(index for index, file_format in enumerate(formats) if file_format().get_title() == title))


@pytest.fixture
def superuser_client(client):
    client.force_login(make_user("root", is_superuser=True))
    return client


@pytest.mark.django_db
def test_admin_doctor_import_previews_then_imports_every_row(superuser_client):
    url = reverse("admin:clients_client_import")

    preview = superuser_client.post(
        url, {"import_file": fixture_upload("medecins.xlsx"), "format": format_index("xlsx"), "resource": "0"}
    )
    assert preview.status_code == 200
    assert "complet ou nul" in preview.content.decode()
    assert Client.objects.count() == 0
    confirm = preview.context["confirm_form"]
    done = superuser_client.post(reverse("admin:clients_client_process_import"), confirm.initial)

    assert done.status_code == 302
    assert Client.objects.filter(kind="doctor").count() == 5
    assert "Import terminé : 5 créations," in [str(m) for m in get_messages(done.wsgi_request)][0]


@pytest.mark.django_db
def test_admin_doctor_import_with_a_bad_line_4_shows_the_errors_and_saves_nothing(superuser_client):
    preview = superuser_client.post(
        reverse("admin:clients_client_import"),
        {"import_file": fixture_upload("medecins_rpps_invalide_ligne4.csv"), "format": format_index("csv")},
    )

    content = preview.content.decode()
    assert preview.status_code == 200
    assert "rien ne sera importé" in content
    assert "<td>4</td><td>rpps</td>" in content
    assert "RPPS_CHECK_DIGIT" in content
    assert "confirm_form" not in preview.context or preview.context["confirm_form"] is None
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_admin_structure_import_shows_an_ineligible_cds_and_saves_nothing(superuser_client):
    csv = table(STRUCTURE_HEADERS, structure_row(), structure_row("CDS dentaire", "cds", cds_kind="dentaire")).export(
        "csv"
    )

    preview = superuser_client.post(
        reverse("admin:clients_client_import"),
        {"import_file": upload("structures.csv", csv), "format": format_index("csv"), "resource": "1"},
    )

    content = preview.content.decode()
    assert "<td>3</td><td>type_cds</td>" in content
    assert "CDS_KIND_EXCLUDED" in content
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_a_row_refused_at_the_confirm_step_still_imports_nothing(superuser_client, monkeypatch):
    preview = superuser_client.post(
        reverse("admin:clients_client_import"),
        {"import_file": fixture_upload("medecins.csv"), "format": format_index("csv"), "resource": "0"},
    )
    confirm = preview.context["confirm_form"]
    # Between the preview and the confirmation, the rules changed their mind about Dr Haddad (line 4).
    real_violations = client_services.client_violations

    def violations(data):
        found = real_violations(data)
        if data.get("name") == "Dr Inès Haddad":
            return [*found, client_services.RuleViolation("TEST", "Refusé pour le test.", "AF §4.2", field="rpps")]
        return found

    monkeypatch.setattr(client_services, "client_violations", violations)

    done = superuser_client.post(reverse("admin:clients_client_process_import"), confirm.initial)

    assert done.status_code == 302
    assert Client.objects.count() == 0
    message = [str(m) for m in get_messages(done.wsgi_request)][0]
    assert message.startswith("Import refusé, rien n'a été importé")
    assert "Ligne 4, colonne « rpps » : Refusé pour le test. [TEST]" in message


@pytest.mark.django_db
def test_base_de_reference_import_previews_then_imports_and_sets_tranches(superuser_client):
    structure = make_structure(tranche="A", finess="759100019")
    url = reverse("admin:clients_referencebase_import")

    preview = superuser_client.post(
        url,
        {"version": "BDR-2026-11", "published_on": "2026-11-02", "file": fixture_upload("base_reference.csv")},
    )
    content = preview.content.decode()
    assert "4 lignes valides" in content and "tranche C : 1" in content
    assert not ReferenceBase.objects.filter(version="BDR-2026-11").exists()
    confirmed = superuser_client.post(url, {"confirm": "1", "token": preview.context["token"]})

    assert confirmed.status_code == 302
    base = ReferenceBase.objects.get(version="BDR-2026-11")
    assert (base.entries.count(), str(base.published_on), base.source_filename) == (
        4,
        "2026-11-02",
        "base_reference.csv",
    )
    structure.refresh_from_db()
    assert (structure.tranche, structure.staff_count) == ("C", 24)


@pytest.mark.django_db
def test_base_de_reference_xlsx_keeps_the_leading_zero_of_a_numeric_finess(superuser_client):
    structure = make_structure(tranche="E", finess="019100031")  # département 01: Excel stores 19100031
    url = reverse("admin:clients_referencebase_import")

    preview = superuser_client.post(url, {"version": "BDR-xlsx", "file": fixture_upload("base_reference.xlsx")})
    assert not preview.context["errors"], preview.context["errors"]
    superuser_client.post(url, {"confirm": "1", "token": preview.context["token"]})

    structure.refresh_from_db()
    assert (structure.tranche, structure.staff_count) == ("A", 6)


@pytest.mark.django_db
def test_base_de_reference_with_a_bad_row_imports_nothing_and_names_the_line(superuser_client):
    url = reverse("admin:clients_referencebase_import")
    lines = ["finess,raison_sociale,tranche,effectif", f"{valid_finess(906)},A,B,10", f"{valid_finess(907)},B,F,10"]
    csv = "\n".join([*lines, "750001235,C,A,3"]) + "\n"

    preview = superuser_client.post(url, {"version": "BDR-bad", "file": upload("bdr.csv", csv)})

    content = preview.content.decode()
    assert "rien ne sera importé" in content
    assert "Ligne 3 : tranche « F » invalide" in content
    assert "Ligne 4 : FINESS" in content
    assert "token" not in superuser_client.session.get("reference_base_import", {})
    assert not ReferenceBase.objects.filter(version="BDR-bad").exists()


@pytest.mark.django_db
def test_base_de_reference_unreadable_file_is_refused_on_the_form(superuser_client):
    response = superuser_client.post(
        reverse("admin:clients_referencebase_import"),
        {"version": "BDR-x", "file": upload("bdr.xlsx", b"not a spreadsheet")},
    )

    assert "Fichier illisible" in response.content.decode()
    assert not ReferenceBase.objects.exists()


@pytest.mark.django_db
def test_an_import_that_changes_a_clients_email_is_journaled_with_the_importer_and_revokes_its_links():
    rpps = valid_rpps()
    DoctorResource().import_data(table(DOCTOR_HEADERS, doctor_row("Dr Lambert", rpps=rpps)))
    importer = make_user("vendeur", "Commercial")
    row = doctor_row("Dr Lambert", rpps=rpps)
    row[4] = "nouvelle.adresse@example.org"

    DoctorResource().import_data(table(DOCTOR_HEADERS, row), user=importer)

    doctor = Client.objects.get(rpps=rpps)
    change = ClientChange.objects.get(client=doctor)
    assert (change.field, change.old_value, change.new_value) == (
        "email",
        "lambert@example.org",
        "nouvelle.adresse@example.org",
    )
    assert change.actor == importer
    assert doctor.portal_links_revoked_at is not None
