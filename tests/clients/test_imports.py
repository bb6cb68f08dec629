"""Imports are all or nothing, and each error names the line, the column and the rule (SPEC §4, AF §4.2)."""

import io

import pytest
import tablib
from django.urls import reverse

from clients.models import Client, ReferenceBase
from clients.resources import DoctorResource, StructureResource
from tests.factories import make_structure, make_user, valid_finess, valid_rpps

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


def doctors(*rows):
    dataset = tablib.Dataset(headers=DOCTOR_HEADERS)
    for row in rows:
        dataset.append(row)
    return dataset


def doctor_row(name="Dr Lambert", rpps=None, specialty="Médecine générale", wave1="non"):
    return [name, rpps or valid_rpps(), specialty, "120", "lambert@example.org", wave1, "non"]


def import_all_or_nothing(resource, dataset, dry_run=False):
    return resource.import_data(dataset, dry_run=dry_run, use_transactions=True, rollback_on_validation_errors=True)


def row_errors(result):
    """{line in the file (header = line 1): {column: [messages]}}"""
    return {invalid.number + 1: invalid.error_dict for invalid in result.invalid_rows}


def bad_luhn(rpps):
    return rpps[:-1] + str((int(rpps[-1]) + 1) % 10)


@pytest.mark.django_db
def test_a_good_doctors_file_imports_every_row():
    result = import_all_or_nothing(DoctorResource(), doctors(*[doctor_row(f"Dr {i}") for i in range(5)]))

    assert not result.has_validation_errors() and not result.has_errors()
    assert Client.objects.filter(kind="doctor").count() == 5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad_row", "column", "rule"),
    [
        (doctor_row(rpps=bad_luhn(valid_rpps(31))), "rpps", "RPPS_CHECK_DIGIT"),
        (doctor_row(rpps="12345"), "rpps", "RPPS_FORMAT"),
        (doctor_row(specialty="Biologie médicale"), "specialite", "EXCLUDED_SPECIALTY"),
        (doctor_row(wave1="peut-être"), "vague1_beneficiaire", "oui ou non"),
    ],
)
def test_one_bad_doctor_row_on_line_4_imports_nothing(bad_row, column, rule):
    dataset = doctors(doctor_row("Dr A"), doctor_row("Dr B"), bad_row, doctor_row("Dr D"))

    result = import_all_or_nothing(DoctorResource(), dataset)

    errors = row_errors(result)
    assert list(errors) == [4]
    assert column in errors[4]
    assert rule in " ".join(errors[4][column])
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_dry_run_imports_nothing():
    result = import_all_or_nothing(DoctorResource(), doctors(doctor_row()), dry_run=True)

    assert result.totals["new"] == 1
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_reimporting_a_doctor_updates_it():
    rpps = valid_rpps()
    import_all_or_nothing(DoctorResource(), doctors(doctor_row("Dr Ancien", rpps=rpps)))

    import_all_or_nothing(DoctorResource(), doctors(doctor_row("Dr Nouveau", rpps=rpps)))

    assert Client.objects.get(rpps=rpps).name == "Dr Nouveau"


def structures(*rows):
    dataset = tablib.Dataset(headers=STRUCTURE_HEADERS)
    for row in rows:
        dataset.append(row)
    return dataset


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad_row", "column", "rule"),
    [
        (
            ["CDS dentaire", "cds", valid_finess(901), "dentaire", "oui", "oui", "0", "2"],
            "type_cds",
            "CDS_KIND_EXCLUDED",
        ),
        (
            ["MSP vide", "msp", valid_finess(902), "", "oui", "oui", "0", "0"],
            "medecins_liberaux",
            "MSP_WITHOUT_LIBERAL_DOCTOR",
        ),
        (["MSP", "ehpad", valid_finess(903), "", "oui", "oui", "2", "0"], "type", "msp ou cds"),
        (["MSP", "msp", "75000123X", "", "oui", "oui", "2", "0"], "finess", "FINESS_FORMAT"),
    ],
)
def test_one_bad_structure_row_imports_nothing(bad_row, column, rule):
    good = ["MSP des Lilas", "msp", valid_finess(900), "", "oui", "oui", "3", "0"]

    result = import_all_or_nothing(StructureResource(), structures(good, bad_row))

    errors = row_errors(result)
    assert list(errors) == [3]
    assert rule in " ".join(errors[3][column])
    assert Client.objects.count() == 0


@pytest.mark.django_db
def test_imported_structures_take_their_tranche_from_the_base_de_reference():
    existing = make_structure(tranche="B")  # creates base "test-base"
    finess = valid_finess(904)
    from clients.services import ReferenceRow, reference_base_import

    reference_base_import(
        version="2026-10", rows=[ReferenceRow(finess, "D", 40), ReferenceRow(existing.finess, "C", 25)]
    )

    import_all_or_nothing(
        StructureResource(), structures(["CDS Nord", "cds", finess, "polyvalent", "oui", "oui", "0", "3"])
    )

    assert Client.objects.get(finess=finess).tranche == "D"
    existing.refresh_from_db()
    assert (existing.tranche, existing.staff_count) == ("C", 25)


# --- Base de référence through the admin ---------------------------------------------------------------------------


def upload(name: str, text: str) -> io.BytesIO:
    file = io.BytesIO(text.encode())
    file.name = name
    return file


@pytest.mark.django_db
def test_base_de_reference_import_previews_then_imports_and_sets_tranches(client):
    client.force_login(make_user("root", is_superuser=True))
    structure = make_structure(tranche="A")
    url = reverse("admin:clients_referencebase_import")
    csv = f"finess;raison_sociale;tranche;effectif\n{structure.finess};MSP test;E;80\n{valid_finess(905)};CDS;B;12\n"

    preview = client.post(url, {"version": "BDR-2026-11", "published_on": "2026-11-02", "file": upload("bdr.csv", csv)})
    assert "2 ligne(s) valides" in preview.content.decode()
    assert not ReferenceBase.objects.filter(version="BDR-2026-11").exists()
    confirmed = client.post(url, {"confirm": "1", "token": preview.context["token"]})

    assert confirmed.status_code == 302
    assert ReferenceBase.objects.get(version="BDR-2026-11").entries.count() == 2
    structure.refresh_from_db()
    assert (structure.tranche, structure.staff_count) == ("E", 80)


@pytest.mark.django_db
def test_base_de_reference_with_a_bad_row_imports_nothing_and_names_the_line(client):
    client.force_login(make_user("root", is_superuser=True))
    url = reverse("admin:clients_referencebase_import")
    lines = ["finess,raison_sociale,tranche,effectif", f"{valid_finess(906)},A,B,10", f"{valid_finess(907)},B,F,10"]
    csv = "\n".join([*lines, "750001235,C,A,3"]) + "\n"

    preview = client.post(url, {"version": "BDR-bad", "file": upload("bdr.csv", csv)})

    content = preview.content.decode()
    assert "rien ne sera importé" in content
    assert "Ligne 3 : tranche « F » invalide" in content
    assert "Ligne 4 : FINESS" in content
    assert not ReferenceBase.objects.filter(version="BDR-bad").exists()


@pytest.mark.django_db
def test_client_admin_refuses_an_invalid_rpps_and_saves_a_valid_doctor(client):
    client.force_login(make_user("root", is_superuser=True))
    url = reverse("admin:clients_client_add")
    form = {
        "kind": "doctor",
        "name": "Dr Admin",
        "treating_patient_count": "0",
        "liberal_doctor_count": "0",
        "salaried_doctor_count": "0",
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
    }

    refused = client.post(url, {**form, "rpps": bad_luhn(valid_rpps(44))})
    saved = client.post(url, {**form, "rpps": valid_rpps(45)})

    assert "clé de contrôle (Luhn)" in refused.content.decode()
    assert saved.status_code == 302
    assert Client.objects.get().rpps == valid_rpps(45)
