"""The client admin checks every client with the domain rules (``clients.services``), in French, field by field."""

import pytest
from django.urls import reverse

from clients.models import Client, ContactPerson, ReferenceBase
from clients.services import ReferenceRow, reference_base_import
from tests.factories import make_doctor, make_structure, make_user, valid_finess, valid_rpps

EMPTY_CONTACTS = {"contacts-TOTAL_FORMS": "0", "contacts-INITIAL_FORMS": "0"}
DOCTOR_FORM = {
    "kind": "doctor",
    "name": "Dr Admin",
    "specialty": "Médecine générale",
    "treating_patient_count": "40",
    "liberal_doctor_count": "0",
    "salaried_doctor_count": "0",
    **EMPTY_CONTACTS,
}
STRUCTURE_FORM = {
    "kind": "cds",
    "name": "Centre de santé du Port",
    "cds_kind": "polyvalent",
    "aci_signatory": "on",
    "staff_declared": "on",
    "treating_patient_count": "0",
    "liberal_doctor_count": "0",
    "salaried_doctor_count": "3",
    **EMPTY_CONTACTS,
}


def bad_luhn(identifier):
    return identifier[:-1] + str((int(identifier[-1]) + 1) % 10)


@pytest.fixture
def superuser_client(client):
    client.force_login(make_user("root", is_superuser=True))
    return client


@pytest.mark.django_db
def test_the_add_form_refuses_an_invalid_rpps_on_its_field_and_saves_nothing(superuser_client):
    response = superuser_client.post(
        reverse("admin:clients_client_add"), {**DOCTOR_FORM, "rpps": bad_luhn(valid_rpps(44))}
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "clé de contrôle (Luhn)" in errors["rpps"][0]
    assert "AF §4.2" in errors["rpps"][0]
    assert not Client.objects.exists()


@pytest.mark.django_db
def test_the_add_form_saves_a_valid_doctor_with_its_contact(superuser_client):
    rpps = valid_rpps(45)
    typed = f"{rpps[:3]} {rpps[3:7]} {rpps[7:]}"

    response = superuser_client.post(
        reverse("admin:clients_client_add"),
        {
            **DOCTOR_FORM,
            "rpps": typed,
            "contacts-TOTAL_FORMS": "1",
            "contacts-0-name": "Mme Secrétaire",
            "contacts-0-email": "secretariat@example.org",
        },
    )

    assert response.status_code == 302
    doctor = Client.objects.get()
    assert (doctor.rpps, doctor.finess, doctor.kind) == (rpps, None, "doctor")
    assert ContactPerson.objects.get().client == doctor


@pytest.mark.django_db
def test_the_add_form_refuses_an_excluded_specialty_on_its_field(superuser_client):
    response = superuser_client.post(
        reverse("admin:clients_client_add"), {**DOCTOR_FORM, "rpps": valid_rpps(46), "specialty": "Médecine nucléaire"}
    )

    assert "AF §4.2" in response.context["adminform"].form.errors["specialty"][0]
    assert not Client.objects.exists()


@pytest.mark.django_db
def test_the_add_form_refuses_a_duplicate_rpps(superuser_client):
    existing = make_doctor()

    response = superuser_client.post(reverse("admin:clients_client_add"), {**DOCTOR_FORM, "rpps": existing.rpps})

    assert response.status_code == 200
    assert "rpps" in response.context["adminform"].form.errors
    assert Client.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"cds_kind": "dentaire"}, "cds_kind", "couloir distinct"),
        ({"salaried_doctor_count": "0"}, "salaried_doctor_count", "médecin salarié"),
        ({"aci_signatory": ""}, "aci_signatory", "Accord conventionnel"),
        ({"finess": "75000123X"}, "finess", "9 caractères"),
    ],
)
def test_the_add_form_refuses_an_ineligible_structure_on_the_right_field(superuser_client, changes, field, text):
    form = {**STRUCTURE_FORM, "finess": valid_finess(810), **changes}
    form = {key: value for key, value in form.items() if value != ""}

    response = superuser_client.post(reverse("admin:clients_client_add"), form)

    assert text in response.context["adminform"].form.errors[field][0]
    assert not Client.objects.exists()


@pytest.mark.django_db
def test_a_structure_saved_in_the_admin_takes_its_tranche_from_the_base_de_reference(superuser_client):
    finess = valid_finess(811)
    reference_base_import(version="BDR-admin", rows=[ReferenceRow(finess, "D", 42)])

    response = superuser_client.post(reverse("admin:clients_client_add"), {**STRUCTURE_FORM, "finess": finess})

    assert response.status_code == 302
    structure = Client.objects.get(finess=finess)
    assert (structure.tranche, structure.staff_count) == ("D", 42)


@pytest.mark.django_db
def test_the_change_form_goes_through_the_rules_too(superuser_client):
    doctor = make_doctor()
    url = reverse("admin:clients_client_change", args=[doctor.pk])
    form = {**DOCTOR_FORM, "rpps": doctor.rpps, "name": doctor.name}

    refused = superuser_client.post(url, {**form, "specialty": "Biologie médicale"})
    saved = superuser_client.post(url, {**form, "city": "Nantes"})

    assert "specialty" in refused.context["adminform"].form.errors
    assert saved.status_code == 302
    doctor.refresh_from_db()
    assert (doctor.specialty, doctor.city) == ("Médecine générale", "Nantes")


@pytest.mark.django_db
def test_the_list_filters_and_searches(superuser_client):
    doctor = make_doctor(city="Quimper")
    make_structure(tranche="C")
    url = reverse("admin:clients_client_changelist")

    listed = superuser_client.get(url)
    by_tranche = superuser_client.get(url, {"tranche": "C"})
    by_city = superuser_client.get(url, {"q": "Quimper"})
    by_rpps = superuser_client.get(url, {"q": doctor.rpps})

    assert listed.status_code == 200
    assert "RPPS / FINESS" in listed.content.decode()
    assert [c.kind for c in by_tranche.context["cl"].result_list] == ["msp"]
    assert list(by_city.context["cl"].result_list) == [doctor]
    assert list(by_rpps.context["cl"].result_list) == [doctor]


@pytest.mark.django_db
def test_the_base_de_reference_is_read_only_and_lists_its_entries(superuser_client):
    base = reference_base_import(version="BDR-ro", rows=[ReferenceRow(valid_finess(812), "B", 9)])

    page = superuser_client.get(reverse("admin:clients_referencebase_change", args=[base.pk]))
    listing = superuser_client.get(reverse("admin:clients_referencebase_changelist"))

    assert page.status_code == 200
    assert valid_finess(812) in page.content.decode()
    assert "Importer une version" in listing.content.decode()
    assert superuser_client.get(reverse("admin:clients_referencebase_add")).status_code == 403
    assert ReferenceBase.objects.count() == 1
