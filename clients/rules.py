"""Pure rules about clients (SPEC §4, AF §4.2): identifiers and eligibility. No database access."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from orders.exceptions import RuleViolation

EXCLUDED_SPECIALTIES = frozenset(
    {"biologie médicale", "radiodiagnostic et imagerie médicale", "médecine nucléaire"}
)  # AF §4.2, note 1: these specialties belong to other couloirs.
TREATING_DOCTOR_PROFILE_THRESHOLD = 10  # AF §4.2: ≥ 10 patients as médecin traitant needs the profile.

# ASCII digits only: ``\d`` and ``str.isdigit`` also accept other scripts' digits, superscripts and circled numbers.
_RPPS_PATTERN = re.compile(r"^[0-9]{11}$", re.ASCII)
_FINESS_PATTERN = re.compile(r"^([0-9]{2}|2A|2B)[0-9]{7}$", re.ASCII)

# Head counts a person or a file gives. Bounds far above any real value, so only typos and unit errors are refused:
# a médecin traitant follows about a thousand patients (a few thousand for the busiest), and the largest centres de
# santé employ a few hundred doctors. The AF needs only the thresholds (10 patients, 1 doctor); PostgreSQL would
# refuse anything above 2 147 483 647 with an error instead of a message.
TREATING_PATIENT_COUNT_MAX = 100_000
STAFF_COUNT_MAX = 10_000
# A count typed or read from a cell: digits, thousands spaces allowed, and ",0" / ".00" (a spreadsheet's 12.0); not
# « 1.000 », which may mean one or a thousand.
_COUNT_TEXT = re.compile(r"^(-?[0-9]{1,12})(?:[.,]0{1,2})?$", re.ASCII)

# Bidirectional overrides and isolates reorder what is displayed (a name or an e-mail that reads other than it is).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\t\n\r")
_SHOWN_LENGTH = 40


def normalise_identifier(raw: Any) -> str:
    """The identifier in ASCII: compatibility forms folded (NFKC: fullwidth « １２３ » → 123), digits of any script
    written 0-9 (Arabic-Indic « ١٢٣ » → 123), spaces, dots and dashes people type removed, upper-cased (2a → 2A).

    Anything else stays, so the format check refuses it: two spellings of one identifier never make two clients.
    """
    text = unicodedata.normalize("NFKC", "" if raw is None else str(raw))
    text = "".join(
        str(unicodedata.decimal(char)) if unicodedata.decimal(char, None) is not None else char for char in text
    )
    return re.sub(r"[\s.\-]", "", text).upper()


def shown(raw: Any) -> str:
    """A value as it may be quoted in a message: invisible characters made visible, cut to a readable length."""
    text = "".join(
        f"\\x{ord(char):02x}" if unicodedata.category(char) in {"Cc", "Cs"} or char in _BIDI_CONTROLS else char
        for char in ("" if raw is None else str(raw))
    )
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 1] + "…"


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
    """RPPS: 11 digits, the last one a Luhn check digit."""
    rpps = normalise_identifier(raw)
    if not _RPPS_PATTERN.match(rpps):
        return RuleViolation(
            "RPPS_FORMAT", f"RPPS « {shown(raw)} » invalide : 11 chiffres attendus (AF §4.2).", "AF §4.2", field="rpps"
        )
    if not luhn_is_valid(rpps):
        return RuleViolation(
            "RPPS_CHECK_DIGIT",
            f"RPPS « {shown(raw)} » invalide : la clé de contrôle (Luhn) ne correspond pas (AF §4.2).",
            "AF §4.2",
            field="rpps",
        )
    return None


def finess_violation(raw: str) -> RuleViolation | None:
    """FINESS: 9 characters, département (2 digits or 2A/2B) then digits; Luhn check when all digits."""
    finess = normalise_identifier(raw)
    if not _FINESS_PATTERN.match(finess):
        return RuleViolation(
            "FINESS_FORMAT",
            f"FINESS « {shown(raw)} » invalide : 9 caractères attendus, département (2 chiffres, 2A ou 2B) puis "
            "chiffres (AF §4.2).",
            "AF §4.2",
            field="finess",
        )
    if finess.isdigit() and not luhn_is_valid(finess):
        return RuleViolation(
            "FINESS_CHECK_DIGIT",
            f"FINESS « {shown(raw)} » invalide : la clé de contrôle (Luhn) ne correspond pas (AF §4.2).",
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


# --- Values a person or a file gives (checked before anything is stored) ---------------------------------------------


def parse_count(raw: Any) -> int | None:
    """A head count from a form, a file cell or an API: a whole number (may be negative or huge: bounds are
    checked by ``count_violation``); empty is 0; ``None`` when it is no whole number (« 2,5 », « 1e9 », « abc »)."""
    if raw is None:
        return 0
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float | Decimal):
        number = Decimal(str(raw)) if isinstance(raw, float) else raw
        if not number.is_finite() or number != number.to_integral_value():
            return None
        return int(number)
    text = re.sub(r"\s", "", unicodedata.normalize("NFKC", str(raw)))  # NFKC: no-break spaces become spaces
    if not text:
        return 0
    match = _COUNT_TEXT.match(text)
    return int(match.group(1)) if match else None


def count_violation(raw: Any, *, field: str, label: str, maximum: int) -> RuleViolation | None:
    """A head count is a whole number from 0 to ``maximum`` (« 2,5 » is refused, never read as 2)."""
    count = parse_count(raw)
    if count is not None and 0 <= count <= maximum:
        return None
    bound = f"{maximum:,}".replace(",", "\u202f")  # 100 000, as written in French
    return RuleViolation(
        "COUNT_INVALID",
        f"{label} : « {shown(raw)} » n'est pas un nombre entier de 0 à {bound} ; saisissez le nombre exact, sans "
        "décimale.",
        "AF §4.2",
        field=field,
    )


def text_violation(
    value: Any, *, field: str, label: str, max_length: int | None, multiline: bool = False, reference: str = "AF §4.2"
) -> RuleViolation | None:
    """A name or a free text: no control or invisible reordering character, at most ``max_length`` characters.

    Line breaks and tabs are allowed only in ``multiline`` texts (a reason, a message copied from the ASP). NUL bytes
    and lone surrogates would make PostgreSQL refuse the row with an error instead of a message.
    """
    text = "" if value is None else str(value)
    for position, char in enumerate(text, start=1):
        if multiline and char in _LINE_BREAKS:
            continue
        if unicodedata.category(char) in {"Cc", "Cs"} or char in _BIDI_CONTROLS:
            return RuleViolation(
                "TEXT_CONTROL_CHARACTER",
                f"{label} : caractère invisible ou de contrôle interdit (U+{ord(char):04X}, position {position}) ; "
                "retapez la valeur sans le copier-coller d'origine.",
                reference,
                field=field,
            )
    if max_length is not None and len(text) > max_length:
        return RuleViolation(
            "TEXT_TOO_LONG",
            f"{label} : {len(text)} caractères, {max_length} au plus ; raccourcissez la valeur.",
            reference,
            field=field,
        )
    return None


def email_violation(value: Any, *, field: str, label: str, max_length: int = 254) -> RuleViolation | None:
    """One e-mail address (links to the client space and notices are sent to it): a single valid address, no line
    break or header smuggled in (« a@b.fr\\nBcc: … »). Empty is for the caller to allow or not."""
    text = "" if value is None else str(value)
    if not text:
        return None
    problem = text_violation(text, field=field, label=label, max_length=max_length)
    if problem:
        return problem
    try:
        EmailValidator()(text)
    except ValidationError:
        return RuleViolation(
            "EMAIL_INVALID",
            f"{label} : « {shown(text)} » n'est pas une adresse e-mail valide ; une seule adresse, de la forme "
            "nom@domaine.fr.",
            "AF §4.2",
            field=field,
        )
    return None


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


# --- VAT regime from the client's département (AF §5.2, CGI art. 294) ----------------------------------------------

# The codes of ``orders.models.VatRegime`` (clients does not import orders' models, which import clients).
VAT_20, VAT_8_5, VAT_NOT_APPLICABLE = "vat_20", "vat_8_5", "ht"
VAT_REGIME_LABELS = {
    VAT_20: "TVA 20 %",
    VAT_8_5: "TVA 8,5 % (DOM)",
    VAT_NOT_APPLICABLE: "Non assujetti (HT)",
}
# CGI art. 294: 8,5 % in Guadeloupe, Martinique and La Réunion; VAT not applicable in Guyane and Mayotte.
OVERSEAS_VAT_REGIMES = {
    "971": VAT_8_5,
    "972": VAT_8_5,
    "974": VAT_8_5,
    "973": VAT_NOT_APPLICABLE,
    "976": VAT_NOT_APPLICABLE,
}


def departement(*, postal_code: str = "", finess: str = "") -> str:
    """The client's département: from its postal code (971xx → 971, 75008 → 75, 20000 → 20), else from its FINESS
    number, whose overseas ones start with 970 and the département's digit (970100228 → 971); empty when neither
    says it."""
    code = (postal_code or "").strip()
    if re.fullmatch(r"[0-9]{5}", code, re.ASCII):
        return code[:3] if code.startswith("97") else code[:2]
    finess = (finess or "").strip().upper()
    if finess.startswith("970") and len(finess) > 3:
        return "97" + finess[3]
    return finess[:2]


def default_vat_regime(departement_code: str) -> str:
    """The VAT regime the product suggests for a client of this département (AF §5.2, CGI art. 294): 8,5 % in 971,
    972 and 974, not applicable in 973 and 976, 20 % elsewhere."""
    return OVERSEAS_VAT_REGIMES.get(departement_code, VAT_20)


def vat_regime_choice_violations(*, vat_regime: Any, reason: Any, suggested: str) -> list[RuleViolation]:
    """Staff may set another regime than the one suggested by the client's département, with a reason that is
    recorded (AF §5.2: the provider's own VAT position decides). Empty when the choice is acceptable."""
    if not vat_regime:
        return []
    if vat_regime not in VAT_REGIME_LABELS:
        return [
            RuleViolation(
                "VAT_REGIME_UNKNOWN",
                f"Régime de TVA « {shown(vat_regime)} » inconnu : TVA 20 %, TVA 8,5 % (DOM) ou non assujetti "
                "(AF §5.2).",
                "AF §5.2",
                field="vat_regime",
            )
        ]
    if vat_regime != suggested and not str(reason or "").strip():
        return [
            RuleViolation(
                "VAT_REGIME_REASON_MISSING",
                f"Régime de TVA : « {VAT_REGIME_LABELS[vat_regime]} » au lieu de « {VAT_REGIME_LABELS[suggested]} », "
                "le régime du département du client (AF §5.2, CGI art. 294) : indiquez le motif de ce choix.",
                "AF §5.2",
                field="vat_regime_reason",
            )
        ]
    return []
