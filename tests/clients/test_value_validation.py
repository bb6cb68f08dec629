"""Values a person or a file gives are checked once, in the clients domain (``clients.rules`` / ``clients.services``):
identifiers in any script of digits, e-mails, head counts and texts are refused with a French message naming the
field, and nothing is stored."""

from decimal import Decimal

import pytest
from django.urls import reverse

from clients import rules
from clients.models import Client, ContactPerson, ReferenceBase
from clients.services import ReferenceRow, client_update, reference_base_import, reference_rows_from_table
from orders.exceptions import BusinessRuleError
from tests.factories import make_doctor, make_order, make_structure, make_user, valid_finess, valid_rpps

pytestmark = pytest.mark.django_db

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def refusal(**data) -> BusinessRuleError:
    with pytest.raises(BusinessRuleError) as caught:
        make_doctor(**data)
    return caught.value


# --- Identifiers in other scripts of digits -------------------------------------------------------------------------


@pytest.mark.parametrize("script", [FULLWIDTH, ARABIC_INDIC], ids=["fullwidth", "arabic-indic"])
def test_an_rpps_typed_in_another_script_of_digits_is_the_same_doctor(script):
    doctor = make_doctor()

    error = refusal(rpps=doctor.rpps.translate(script))

    assert error.codes == ["CLIENT_DUPLICATE"]
    assert doctor.rpps in error.message
    assert Client.objects.count() == 1


def test_an_rpps_in_another_script_is_stored_in_ascii_and_allows_one_order_only():
    rpps = valid_rpps(301)
    doctor = make_doctor(rpps=rpps.translate(FULLWIDTH))
    make_order(client=doctor)

    assert doctor.rpps == rpps
    assert refusal(rpps=rpps.translate(ARABIC_INDIC)).codes == ["CLIENT_DUPLICATE"]


def test_a_finess_in_fullwidth_digits_is_the_same_structure():
    structure = make_structure()

    with pytest.raises(BusinessRuleError) as caught:
        make_structure(finess=structure.finess.translate(FULLWIDTH))

    assert caught.value.codes == ["CLIENT_DUPLICATE"]


def test_changing_a_doctor_to_another_doctors_rpps_is_refused_not_a_database_error():
    first, second = make_doctor(), make_doctor()

    with pytest.raises(BusinessRuleError) as caught:
        client_update(client=second, rpps=first.rpps.translate(FULLWIDTH))

    assert caught.value.codes == ["CLIENT_DUPLICATE"]
    second.refresh_from_db()
    assert second.rpps != first.rpps


@pytest.mark.parametrize(
    "raw",
    ["1000000000８x", "１０\x00000000008", "10000000008\u202e", "1000000000٨\u200b"],
    ids=["letter", "nul", "bidi", "zero-width-space"],
)
def test_anything_but_ascii_digits_after_normalisation_is_refused_as_rpps(raw):
    violation = rules.rpps_violation(raw)

    assert violation is not None and violation.code == "RPPS_FORMAT"
    assert "\x00" not in violation.message and "\u202e" not in violation.message  # quoted visibly


def test_digits_that_python_calls_digits_but_int_cannot_read_never_crash_the_luhn_check():
    # str.isdigit() is True for superscripts and circled numbers; the rules fold them (NFKC) or refuse them.
    assert rules.normalise_identifier("²" * 11) == "2" * 11
    assert rules.rpps_violation("①" + "0" * 10).code == "RPPS_CHECK_DIGIT"


def test_a_corsican_finess_keeps_its_letters_and_a_fullwidth_one_is_folded():
    assert rules.normalise_identifier("２ａ０００１２３４") == "2A0001234"
    assert rules.finess_violation("２ａ０００１２３４") is None


# --- E-mails --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "dr@cabinet.example\nBcc: victime@example.org",
        "dr@cabinet.example\r\nX-Evil: 1",
        "dr@cab\x00inet.example",
        "pas-une-adresse",
        "a@b.fr, c@d.fr",
        "dr@cabinet.example\u202e",
    ],
    ids=["bcc-header", "crlf-inside", "nul", "no-at", "two-addresses", "bidi"],
)
def test_a_client_e_mail_that_is_not_one_valid_address_is_refused_on_its_field(email):
    error = refusal(email=email)

    assert [violation.field for violation in error.violations] == ["email"]
    assert error.message.startswith("E-mail :")
    assert not Client.objects.exists()


def test_a_valid_e_mail_is_stored_trimmed():
    assert make_doctor(email="  dr.martin@cabinet.example \n").email == "dr.martin@cabinet.example"


def test_a_contact_e_mail_with_a_header_is_refused_in_the_admin(client):
    doctor = make_doctor()
    client.force_login(make_user("root", is_superuser=True))
    url = reverse("admin:clients_client_change", args=[doctor.pk])
    form = {
        "kind": "doctor",
        "name": doctor.name,
        "rpps": doctor.rpps,
        "email": doctor.email,
        "treating_patient_count": "40",
        "liberal_doctor_count": "0",
        "salaried_doctor_count": "0",
        "contacts-TOTAL_FORMS": "1",
        "contacts-INITIAL_FORMS": "0",
        "contacts-0-name": "Secrétariat\x1b",
        "contacts-0-email": "secretariat@example.org",
    }

    response = client.post(url, form)

    assert response.status_code == 200
    assert "Nom : caractère invisible" in response.content.decode()
    assert not ContactPerson.objects.exists()


def test_contact_rules_name_each_field():
    from clients.services import contact_violations

    violations = contact_violations({"name": "A" * 256, "email": "x@y.fr\nBcc: z@w.fr", "role": "", "phone": ""})

    assert {violation.field: violation.code for violation in violations} == {
        "name": "TEXT_TOO_LONG",
        "email": "TEXT_CONTROL_CHARACTER",
    }
    assert [v.code for v in contact_violations({"name": "Mme A", "email": ""})] == ["EMAIL_MISSING"]
    assert contact_violations({"name": "Mme A", "email": "a@b.fr"}) == []


# --- Head counts ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count",
    ["2,5", "2.5", 2.5, "1e9", 1_000_000_000, "-3", -1, 100_001, "99999999999", "inf", float("nan"), "abc", True],
)
def test_an_absurd_or_fractional_patient_count_is_refused_with_a_french_message(count):
    error = refusal(treating_patient_count=count)

    assert [violation.field for violation in error.violations] == ["treating_patient_count"]
    assert "nombre entier de 0 à 100\u202f000" in error.message
    assert not Client.objects.exists()


@pytest.mark.parametrize(("count", "stored"), [(0, 0), (100_000, 100_000), ("1 200", 1200), ("12,0", 12), (12.0, 12)])
def test_whole_counts_up_to_the_bound_are_stored_as_numbers(count, stored):
    assert make_doctor(treating_patient_count=count).treating_patient_count == stored


@pytest.mark.parametrize(("count", "accepted"), [(10_000, True), (10_001, False), ("2,5", False)])
def test_staff_counts_are_bounded_and_whole(count, accepted):
    if accepted:
        assert make_structure(liberal_doctor_count=count).liberal_doctor_count == count
        return
    with pytest.raises(BusinessRuleError) as caught:
        make_structure(liberal_doctor_count=count)
    assert caught.value.codes == ["COUNT_INVALID"]  # not also "an MSP needs a liberal doctor": one message per field


def test_parse_count_never_reads_a_fraction_as_a_whole_number():
    assert rules.parse_count("2,5") is None
    assert rules.parse_count("1.000") is None  # one or a thousand? ask
    assert rules.parse_count(Decimal("3.00")) == 3
    assert rules.parse_count("") == 0 and rules.parse_count(None) == 0


@pytest.mark.parametrize("staff", ["2,5", "inf", "1e400", "99999999999", "-1", "douze"])
def test_the_reference_base_refuses_a_bad_staff_count_instead_of_reading_it(staff):
    finess = valid_finess(501)

    rows, violations = reference_rows_from_table(["finess", "tranche", "effectif"], [[finess, "B", staff]])

    assert rows == []
    assert [violation.code for violation in violations] == ["STAFF_INVALID"]
    assert violations[0].message.startswith("Ligne 2 : Effectif : ")


def test_the_reference_base_reads_whole_staff_counts_from_text_and_spreadsheet_cells():
    rows, violations = reference_rows_from_table(
        ["finess", "tranche", "effectif"], [[valid_finess(502), "B", "14"], [valid_finess(503), "C", 22.0]]
    )

    assert violations == []
    assert [row.staff_count for row in rows] == [14, 22]


def test_the_reference_base_refuses_long_or_invisible_names_and_versions_and_stores_nothing():
    rows = [
        ReferenceRow(finess=valid_finess(504), tranche="B", staff_count=3, name="M" * 256),
        ReferenceRow(finess=valid_finess(505), tranche="B", staff_count=3, name="MSP\x00"),
        ReferenceRow(finess=valid_finess(506), tranche="B", staff_count=10_001),
    ]

    with pytest.raises(BusinessRuleError) as version_refused:
        reference_base_import(version="v" * 65, rows=rows)
    with pytest.raises(BusinessRuleError) as rows_refused:
        reference_base_import(version="v1", rows=rows)

    assert version_refused.value.codes == ["TEXT_TOO_LONG"]  # the version is checked before anything is read
    assert rows_refused.value.codes == ["TEXT_TOO_LONG", "TEXT_CONTROL_CHARACTER", "COUNT_INVALID"]
    assert "Ligne 2 : Raison sociale : 256 caractères, 255 au plus" in rows_refused.value.message
    assert not ReferenceBase.objects.exists()


# --- Texts ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code", "label"),
    [
        ("name", "Dr Martin\x00", "TEXT_CONTROL_CHARACTER", "Nom"),
        ("name", "N" * 256, "TEXT_TOO_LONG", "Nom"),
        ("city", "Lyon\x1b[2J", "TEXT_CONTROL_CHARACTER", "Ville"),
        ("postal_code", "690021", "TEXT_TOO_LONG", "Code postal"),
        ("address", "3 place\ndu Marché", "TEXT_CONTROL_CHARACTER", "Adresse"),
        ("specialty", "S" * 129, "TEXT_TOO_LONG", "Spécialité"),
        ("phone", "\ud800", "TEXT_CONTROL_CHARACTER", "Téléphone"),
    ],
)
def test_client_texts_with_control_characters_or_too_long_are_refused_naming_the_field(field, value, code, label):
    error = refusal(**{field: value})

    assert [(violation.field, violation.code) for violation in error.violations] == [(field, code)]
    assert error.message.startswith(f"{label} :")
    assert not Client.objects.exists()


def test_a_text_at_its_maximum_length_is_stored():
    assert len(make_doctor(name="N" * 255).name) == 255


def test_an_unknown_kind_of_centre_is_refused_rather_than_stored():
    with pytest.raises(BusinessRuleError) as caught:
        make_structure(kind="cds", cds_kind="x" * 40)

    assert caught.value.codes == ["CDS_KIND_UNKNOWN"]


@pytest.mark.parametrize("answer", ["oui", 1, "abc\x00"])
def test_a_yes_no_field_takes_only_yes_or_no(answer):
    error = refusal(wave1_benefited=answer)

    assert [(violation.field, violation.code) for violation in error.violations] == [
        ("wave1_benefited", "YES_NO_INVALID")
    ]


def test_empty_cells_become_the_models_empty_values_not_a_database_error():
    doctor = make_doctor(cds_kind=None, wave1_self_funded=None)

    assert (doctor.cds_kind, doctor.wave1_self_funded) == ("", False)


def test_a_reference_version_with_a_lone_surrogate_is_refused_before_any_query():
    with pytest.raises(BusinessRuleError) as caught:
        reference_base_import(
            version="v\ud800", rows=[ReferenceRow(finess=valid_finess(507), tranche="B", staff_count=1)]
        )

    assert caught.value.codes == ["TEXT_CONTROL_CHARACTER"]
