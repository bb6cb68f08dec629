"""Writes on clients and on the ANS *Base de référence* (SPEC §4). Identifiers are normalised and checked here."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction

from clients import rules
from clients.models import Client, ClientKind, ReferenceBase, ReferenceEntry
from orders.exceptions import BusinessRuleError, RuleViolation, raise_if

CLIENT_FIELDS = {field.name for field in Client._meta.get_fields() if getattr(field, "concrete", False)} - {
    "id",
    "created_at",
    "updated_at",
    "tranche",
    "staff_count",
    "reference_entry",
}


def latest_reference_entry(finess: str) -> ReferenceEntry | None:
    return ReferenceEntry.objects.filter(finess=finess).order_by("-base__imported_at", "-base_id").first()


def client_violations(data: dict[str, Any]) -> list[RuleViolation]:
    """Everything wrong with these client data (identifiers, eligibility — AF §4.2); empty when acceptable."""
    facts = rules.ClientFacts(
        kind=data.get("kind", ""),
        rpps=data.get("rpps") or "",
        finess=data.get("finess") or "",
        specialty=data.get("specialty", ""),
        cds_kind=data.get("cds_kind", ""),
        aci_signatory=bool(data.get("aci_signatory")),
        staff_declared=bool(data.get("staff_declared")),
        liberal_doctor_count=int(data.get("liberal_doctor_count") or 0),
        salaried_doctor_count=int(data.get("salaried_doctor_count") or 0),
    )
    if facts.kind not in ClientKind.values:
        return [RuleViolation("CLIENT_KIND", f"Type de client « {facts.kind} » inconnu.", "AF §4.2", field="kind")]
    violations = rules.eligibility_violations(facts)
    if not str(data.get("name", "")).strip():
        violations.append(RuleViolation("CLIENT_NAME", "Le nom du client est obligatoire.", "AF §4.3", field="name"))
    return violations


def normalised_client_data(data: dict[str, Any]) -> dict[str, Any]:
    cleaned = {key: value for key, value in data.items() if key in CLIENT_FIELDS}
    if cleaned.get("kind") == ClientKind.DOCTOR:
        cleaned["rpps"] = rules.normalise_identifier(cleaned.get("rpps") or "")
        cleaned["finess"] = None
    else:
        cleaned["finess"] = rules.normalise_identifier(cleaned.get("finess") or "")
        cleaned["rpps"] = None
    cleaned["name"] = str(cleaned.get("name", "")).strip()
    return cleaned


def _apply_reference_entry(client: Client) -> None:
    if client.kind == ClientKind.DOCTOR or not client.finess:
        return
    entry = latest_reference_entry(client.finess)
    client.reference_entry = entry
    client.tranche = entry.tranche if entry else ""
    client.staff_count = entry.staff_count if entry else None


def client_create(**data: Any) -> Client:
    """Create a client after checking its identifier and eligibility (SPEC §4); tranche from the Base de référence."""
    cleaned = normalised_client_data(data)
    violations = client_violations(cleaned)
    identifier_field = "rpps" if cleaned.get("kind") == ClientKind.DOCTOR else "finess"
    if not violations and Client.objects.filter(**{identifier_field: cleaned[identifier_field]}).exists():
        violations.append(
            RuleViolation(
                "CLIENT_DUPLICATE",
                f"Un client existe déjà avec le {identifier_field.upper()} {cleaned[identifier_field]} (SPEC §4).",
                "AF §4.2",
                field=identifier_field,
            )
        )
    raise_if(violations)
    client = Client(**cleaned)
    _apply_reference_entry(client)
    client.save()
    return client


def client_update(*, client: Client, **data: Any) -> Client:
    merged = {name: getattr(client, name) for name in CLIENT_FIELDS} | data
    cleaned = normalised_client_data(merged)
    raise_if(client_violations(cleaned))
    for name, value in cleaned.items():
        setattr(client, name, value)
    _apply_reference_entry(client)
    client.save()
    return client


@dataclass(frozen=True)
class ReferenceRow:
    finess: str
    tranche: str
    staff_count: int
    name: str = ""
    line: int = 0  # line in the source file, for error messages


def reference_base_import(
    *, version: str, rows: Iterable[ReferenceRow], published_on: date | None = None, source_filename: str = ""
) -> ReferenceBase:
    """Import one version of the Base de référence, all or nothing, and refresh every structure's tranche (SPEC §4)."""
    rows = list(rows)
    violations: list[RuleViolation] = []
    seen: set[str] = set()
    if ReferenceBase.objects.filter(version=version).exists():
        violations.append(
            RuleViolation(
                "REFERENCE_VERSION_EXISTS", f"La version « {version} » est déjà importée.", "SPEC §4", "version"
            )
        )
    for position, row in enumerate(rows, start=2):
        line = row.line or position
        finess = rules.normalise_identifier(row.finess)
        problem = rules.finess_violation(finess)
        if problem:
            violations.append(
                RuleViolation(problem.code, f"Ligne {line} : {problem.message}", problem.reference, "finess")
            )
        if row.tranche not in {"A", "B", "C", "D", "E"}:
            violations.append(
                RuleViolation(
                    "TRANCHE_INVALID", f"Ligne {line} : tranche « {row.tranche} » invalide (A à E).", "AF §5.3"
                )
            )
        if finess in seen:
            violations.append(
                RuleViolation("FINESS_DUPLICATE", f"Ligne {line} : FINESS {finess} en double.", "SPEC §4")
            )
        seen.add(finess)
    if not rows:
        violations.append(RuleViolation("REFERENCE_EMPTY", "Le fichier ne contient aucune ligne.", "SPEC §4"))
    if violations:
        raise BusinessRuleError(violations)
    with transaction.atomic():
        base = ReferenceBase.objects.create(version=version, published_on=published_on, source_filename=source_filename)
        ReferenceEntry.objects.bulk_create(
            ReferenceEntry(
                base=base,
                finess=rules.normalise_identifier(row.finess),
                tranche=row.tranche,
                staff_count=row.staff_count,
                name=row.name,
            )
            for row in rows
        )
        structures_refresh_tranche(base=base)
    return base


def structures_refresh_tranche(*, base: ReferenceBase) -> int:
    """Give each structure the tranche and staff of ``base`` (the source of truth for ceilings, SPEC §4)."""
    entries = {entry.finess: entry for entry in base.entries.all()}
    changed = []
    for client in Client.objects.filter(kind__in=[ClientKind.MSP, ClientKind.CDS], finess__in=list(entries)):
        entry = entries[client.finess]
        client.reference_entry, client.tranche, client.staff_count = entry, entry.tranche, entry.staff_count
        changed.append(client)
    Client.objects.bulk_update(changed, ["reference_entry", "tranche", "staff_count"], batch_size=1000)
    return len(changed)


def client_save(client: Client) -> Client:
    """Save a client whose data were already checked with ``client_violations`` (imports), with its tranche."""
    _apply_reference_entry(client)
    client.save()
    return client


def client_data(client: Client) -> dict[str, Any]:
    return {name: getattr(client, name) for name in CLIENT_FIELDS}


REFERENCE_COLUMNS = ("finess", "raison_sociale", "tranche", "effectif")


def reference_rows_from_table(
    headers: list[str], records: list[list[Any]]
) -> tuple[list[ReferenceRow], list[RuleViolation]]:
    """Read the Base de référence columns (finess, raison_sociale, tranche, effectif); line 1 is the header."""
    normalised_headers = [str(header or "").strip().lower() for header in headers]
    missing = [column for column in ("finess", "tranche", "effectif") if column not in normalised_headers]
    if missing:
        return [], [
            RuleViolation(
                "REFERENCE_COLUMNS",
                f"Colonnes manquantes : {', '.join(missing)} (attendues : {', '.join(REFERENCE_COLUMNS)}).",
                "SPEC §4",
            )
        ]
    index = {column: normalised_headers.index(column) for column in REFERENCE_COLUMNS if column in normalised_headers}
    rows, violations = [], []
    for line, record in enumerate(records, start=2):

        def cell(column: str, record: list[Any] = record) -> str:
            position = index.get(column)
            return (
                ""
                if position is None or position >= len(record) or record[position] is None
                else str(record[position]).strip()
            )

        staff = cell("effectif")
        try:
            staff_count = int(float(staff.replace(",", "."))) if staff else -1
        except ValueError:
            staff_count = -1
        if staff_count < 0:
            violations.append(
                RuleViolation(
                    "STAFF_INVALID", f"Ligne {line} : effectif « {staff} » invalide (nombre entier attendu).", "SPEC §4"
                )
            )
            continue
        rows.append(
            ReferenceRow(
                finess=cell("finess"),
                tranche=cell("tranche").upper(),
                staff_count=staff_count,
                name=cell("raison_sociale"),
                line=line,
            )
        )
    return rows, violations
