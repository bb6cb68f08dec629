import pytest

from clients.rules import (
    ClientFacts,
    eligibility_violations,
    finess_violation,
    luhn_is_valid,
    normalise_identifier,
    required_profiles,
    rpps_violation,
)
from tests.factories import valid_finess, valid_rpps


def codes(violations):
    return [violation.code for violation in violations]


def test_a_valid_rpps_passes_and_spaces_are_normalised():
    rpps = valid_rpps(4242)
    spaced = f"{rpps[:3]} {rpps[3:7]} {rpps[7:]}"

    assert rpps_violation(rpps) is None
    assert rpps_violation(spaced) is None
    assert normalise_identifier(spaced) == rpps


@pytest.mark.parametrize(
    ("raw", "code"),
    [("1234567890", "RPPS_FORMAT"), ("1234567890A", "RPPS_FORMAT"), ("123456789012", "RPPS_FORMAT")],
)
def test_malformed_rpps_is_refused_with_the_rule(raw, code):
    violation = rpps_violation(raw)

    assert violation.code == code
    assert "11 chiffres" in violation.message
    assert violation.field == "rpps"


def test_rpps_with_a_wrong_luhn_key_is_refused():
    rpps = valid_rpps(77)
    wrong = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)

    violation = rpps_violation(wrong)

    assert violation.code == "RPPS_CHECK_DIGIT"
    assert "Luhn" in violation.message


def test_finess_format_luhn_and_corsica():
    finess = valid_finess(123)
    assert finess_violation(finess) is None
    assert finess_violation(finess[:-1] + str((int(finess[-1]) + 1) % 10)).code == "FINESS_CHECK_DIGIT"
    assert finess_violation("2A0001234") is None  # Corsica: format only (SPEC §4)
    assert finess_violation("2b 000 1234") is None
    assert finess_violation("2C0001234").code == "FINESS_FORMAT"
    assert finess_violation("75000123").code == "FINESS_FORMAT"


def test_luhn_reference_values():
    assert luhn_is_valid("79927398713")
    assert not luhn_is_valid("79927398710")


@pytest.mark.parametrize(
    "specialty", ["Biologie médicale", "Radiodiagnostic et imagerie médicale", "Médecine nucléaire"]
)
def test_excluded_specialties_are_not_eligible(specialty):
    facts = ClientFacts(kind="doctor", rpps=valid_rpps(), specialty=specialty)

    assert codes(eligibility_violations(facts)) == ["EXCLUDED_SPECIALTY"]


@pytest.mark.parametrize("cds_kind", ["infirmier", "dentaire"])
def test_nursing_and_dental_health_centres_are_not_eligible(cds_kind):
    facts = ClientFacts(
        kind="cds",
        finess=valid_finess(),
        cds_kind=cds_kind,
        aci_signatory=True,
        staff_declared=True,
        salaried_doctor_count=2,
    )

    violations = eligibility_violations(facts)

    assert codes(violations) == ["CDS_KIND_EXCLUDED"]
    assert "AF §4.2" in violations[0].message


def test_msp_without_liberal_doctor_is_not_eligible():
    facts = ClientFacts(kind="msp", finess=valid_finess(), aci_signatory=True, staff_declared=True)

    assert codes(eligibility_violations(facts)) == ["MSP_WITHOUT_LIBERAL_DOCTOR"]


def test_structure_must_sign_aci_and_declare_staff():
    facts = ClientFacts(kind="msp", finess=valid_finess(), liberal_doctor_count=2)

    assert codes(eligibility_violations(facts)) == ["STRUCTURE_NOT_ACI", "STRUCTURE_STAFF_NOT_DECLARED"]


def test_required_profiles():
    assert required_profiles(kind="msp", treating_patient_count=0) == {"structures", "medecin_traitant"}
    assert required_profiles(kind="doctor", treating_patient_count=10) == {"medecin_traitant"}
    assert required_profiles(kind="doctor", treating_patient_count=9) == set()
