"""Pure rules about clients (SPEC §4, AF §4.2): identifiers and eligibility. No database access."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from orders.exceptions import RuleViolation

EXCLUDED_SPECIALTIES = frozenset(
    {"biologie médicale", "radiodiagnostic et imagerie médicale", "médecine nucléaire"}
)  # AF §4.2, note 1: these specialties belong to other couloirs.
TREATING_DOCTOR_PROFILE_THRESHOLD = 10  # AF §4.2: ≥ 10 patients as médecin traitant needs the profile.

_FINESS_PATTERN = re.compile(r"^(\d{2}|2A|2B)\d{7}$")


def normalise_identifier(raw: str) -> str:
    """Remove spaces, dots and dashes people type in identifiers; upper-case (2a → 2A)."""
    return re.sub(r"[\s.\-]", "", raw or "").upper()


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def rpps_violation(raw: str) -> RuleViolation | None:
    """RPPS: 11 digits, the last one a Luhn check digit (SPEC §4)."""
    rpps = normalise_identifier(raw)
    if not rpps.isdigit() or len(rpps) != 11:
        return RuleViolation(
            "RPPS_FORMAT", f"RPPS « {raw} » invalide : 11 chiffres attendus (SPEC §4).", "AF §4.2", field="rpps"
        )
    if not luhn_is_valid(rpps):
        return RuleViolation(
            "RPPS_CHECK_DIGIT",
            f"RPPS « {raw} » invalide : la clé de contrôle (Luhn) ne correspond pas (SPEC §4).",
            "AF §4.2",
            field="rpps",
        )
    return None


def finess_violation(raw: str) -> RuleViolation | None:
    """FINESS: 9 characters, département (2 digits or 2A/2B) then digits; Luhn check when all digits (SPEC §4)."""
    finess = normalise_identifier(raw)
    if not _FINESS_PATTERN.match(finess):
        return RuleViolation(
            "FINESS_FORMAT",
            f"FINESS « {raw} » invalide : 9 caractères attendus, département (2 chiffres, 2A ou 2B) puis chiffres "
            "(SPEC §4).",
            "AF §4.2",
            field="finess",
        )
    if finess.isdigit() and not luhn_is_valid(finess):
        return RuleViolation(
            "FINESS_CHECK_DIGIT",
            f"FINESS « {raw} » invalide : la clé de contrôle (Luhn) ne correspond pas (SPEC §4).",
            "AF §4.2",
            field="finess",
        )
    return None


def luhn_check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` pass the Luhn check (used to build valid demo/test identifiers)."""
    for digit in "0123456789":
        if luhn_is_valid(payload + digit):
            return digit
    raise ValueError(payload)  # unreachable: one digit always fits


@dataclass(frozen=True)
class ClientFacts:
    """What eligibility depends on, whatever the storage (model, import row, API payload)."""

    kind: str  # "doctor" | "msp" | "cds"
    rpps: str = ""
    finess: str = ""
    specialty: str = ""
    cds_kind: str = ""
    aci_signatory: bool = False
    staff_declared: bool = False
    liberal_doctor_count: int = 0
    salaried_doctor_count: int = 0


def eligibility_violations(facts: ClientFacts) -> list[RuleViolation]:
    """Every reason the client cannot benefit from the Prestation Ségur (AF §4.2); empty when eligible."""
    violations: list[RuleViolation] = []
    if facts.kind == "doctor":
        violation = rpps_violation(facts.rpps)
        if violation:
            violations.append(violation)
        if facts.specialty.strip().lower() in EXCLUDED_SPECIALTIES:
            violations.append(
                RuleViolation(
                    "EXCLUDED_SPECIALTY",
                    f"Spécialité « {facts.specialty} » exclue du couloir médecine de ville : elle relève d'un autre "
                    "couloir (AF §4.2).",
                    "AF §4.2",
                    field="specialty",
                )
            )
        return violations

    violation = finess_violation(facts.finess)
    if violation:
        violations.append(violation)
    if not facts.aci_signatory:
        violations.append(
            RuleViolation(
                "STRUCTURE_NOT_ACI",
                "La structure doit être signataire de l'Accord conventionnel interprofessionnel du 20 avril 2017 "
                "(AF §4.2).",
                "AF §4.2",
                field="aci_signatory",
            )
        )
    if not facts.staff_declared:
        violations.append(
            RuleViolation(
                "STRUCTURE_STAFF_NOT_DECLARED",
                "La structure doit avoir déclaré ses effectifs à l'Assurance maladie (AF §4.2).",
                "AF §4.2",
                field="staff_declared",
            )
        )
    if facts.kind == "msp" and facts.liberal_doctor_count < 1:
        violations.append(
            RuleViolation(
                "MSP_WITHOUT_LIBERAL_DOCTOR",
                "Une MSP doit déclarer au moins un médecin libéral (AF §4.2).",
                "AF §4.2",
                field="liberal_doctor_count",
            )
        )
    if facts.kind == "cds":
        if facts.cds_kind in {"infirmier", "dentaire"}:
            violations.append(
                RuleViolation(
                    "CDS_KIND_EXCLUDED",
                    f"Les centres de santé {facts.cds_kind}s relèvent d'un couloir distinct (AF §4.2, note 2).",
                    "AF §4.2",
                    field="cds_kind",
                )
            )
        if facts.salaried_doctor_count < 1:
            violations.append(
                RuleViolation(
                    "CDS_WITHOUT_SALARIED_DOCTOR",
                    "Un centre de santé doit déclarer au moins un médecin salarié (AF §4.2).",
                    "AF §4.2",
                    field="salaried_doctor_count",
                )
            )
    return violations


def required_profiles(*, kind: str, treating_patient_count: int) -> set[str]:
    """Profiles the sold solution must hold for this client (AF §4.2)."""
    if kind in {"msp", "cds"}:
        return {"structures", "medecin_traitant"}
    if treating_patient_count >= TREATING_DOCTOR_PROFILE_THRESHOLD:
        return {"medecin_traitant"}
    return set()


def wave1_allows_v1v2(*, wave1_benefited: bool, wave1_self_funded: bool) -> bool:
    """V1V2 is strictly for clients who neither benefited from nor paid for a wave-1 update (AF §4.2)."""
    return not (wave1_benefited or wave1_self_funded)


def join_messages(violations: Iterable[RuleViolation]) -> str:
    return " ".join(violation.message for violation in violations)
