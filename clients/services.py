"""Writes on clients and on the ANS *Base de référence* (SPEC §4). Identifiers are normalised and checked here."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any

from django.db import transaction

from clients import rules
from clients.models import Client, ClientKind, ReferenceBase, ReferenceEntry
from orders.exceptions import BusinessRuleError, RuleViolation, raise_if
from segur_portal.spreadsheets import whole_number

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


REFERENCE_BATCH_SIZE = 2000
REFERENCE_LISTED_VIOLATIONS = 100
REFERENCE_STAFF_MAX = 100_000  # no structure of the programme employs that many: a typing or unit error (SPEC §4)
REFERENCE_NAME_MAX = ReferenceEntry._meta.get_field("name").max_length


def reference_base_import(
    *,
    version: str,
    rows: Iterable[ReferenceRow | RuleViolation],
    published_on: date | None = None,
    source_filename: str = "",
) -> ReferenceBase:
    """Import one version of the Base de référence, all or nothing, and refresh every structure's tranche (SPEC §4).

    ``rows`` is read once, as a stream (a file of 450 000 lines is never held in memory): each row is checked and
    written in batches in one transaction, rolled back when any row is refused. A ``RuleViolation`` in ``rows`` is a
    line the reader could not read: it refuses the import like any other. The refusal lists the first
    ``REFERENCE_LISTED_VIOLATIONS`` problems and counts the others.
    """
    if ReferenceBase.objects.filter(version=version).exists():
        raise BusinessRuleError(
            [
                RuleViolation(
                    "REFERENCE_VERSION_EXISTS", f"La version « {version} » est déjà importée.", "SPEC §4", "version"
                )
            ]
        )
    violations: list[RuleViolation] = []
    unlisted = 0
    count = 0
    with transaction.atomic():
        base = ReferenceBase.objects.create(version=version, published_on=published_on, source_filename=source_filename)
        for batch in _batches(rows, REFERENCE_BATCH_SIZE):
            problems, entries = _reference_batch(base, batch, position=count + 2)
            count += len(batch)
            listed = problems[: max(REFERENCE_LISTED_VIOLATIONS - len(violations), 0)]
            violations += listed
            unlisted += len(problems) - len(listed)
            if not violations and not unlisted:
                ReferenceEntry.objects.bulk_create(entries)
        if not count:
            violations.append(RuleViolation("REFERENCE_EMPTY", "Le fichier ne contient aucune ligne.", "SPEC §4"))
        if unlisted:
            violations.append(
                RuleViolation("REFERENCE_MORE_ERRORS", f"… et {unlisted} autre(s) erreur(s) non listée(s).", "SPEC §4")
            )
        raise_if(violations)  # rolls back every batch already written
        structures_refresh_tranche(base=base)
    return base


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _reference_batch(
    base: ReferenceBase, batch: list[ReferenceRow | RuleViolation], *, position: int
) -> tuple[list[RuleViolation], list[ReferenceEntry]]:
    """Check one batch of rows (and its FINESS against the rows already written); the entries to write."""
    problems: list[RuleViolation] = []
    entries: list[ReferenceEntry] = []
    finess_of = {id(row): rules.normalise_identifier(row.finess)[:32] for row in batch if isinstance(row, ReferenceRow)}
    well_formed = {finess for finess in finess_of.values() if len(finess) == FINESS_LENGTH and finess.isalnum()}
    already = set(base.entries.filter(finess__in=well_formed).values_list("finess", flat=True))
    for offset, row in enumerate(batch):
        if isinstance(row, RuleViolation):
            problems.append(row)
            continue
        line = row.line or position + offset
        finess = finess_of[id(row)]
        row_problems = _reference_row_violations(row, finess, line)
        if not row_problems and finess in already:
            row_problems.append(
                RuleViolation("FINESS_DUPLICATE", f"Ligne {line} : FINESS {finess} en double.", "SPEC §4", "finess")
            )
        already.add(finess)
        problems += row_problems
        entries.append(
            ReferenceEntry(base=base, finess=finess, tranche=row.tranche, staff_count=row.staff_count, name=row.name)
        )
    return problems, entries


def _reference_row_violations(row: ReferenceRow, finess: str, line: int) -> list[RuleViolation]:
    problems = []
    problem = rules.finess_violation(finess)
    if problem:
        problems.append(RuleViolation(problem.code, f"Ligne {line} : {problem.message}", problem.reference, "finess"))
    if row.tranche not in {"A", "B", "C", "D", "E"}:
        problems.append(
            RuleViolation(
                "TRANCHE_INVALID", f"Ligne {line} : tranche « {row.tranche[:20]} » invalide (A à E).", "AF §5.3"
            )
        )
    if not isinstance(row.staff_count, int) or not 0 <= row.staff_count <= REFERENCE_STAFF_MAX:
        problems.append(
            RuleViolation(
                "STAFF_INVALID",
                f"Ligne {line} : effectif « {str(row.staff_count)[:20]} » invalide "
                f"(nombre entier de 0 à {REFERENCE_STAFF_MAX} attendu).",
                "SPEC §4",
            )
        )
    if len(row.name) > REFERENCE_NAME_MAX or "\x00" in row.name:
        problems.append(
            RuleViolation(
                "REFERENCE_NAME_INVALID",
                f"Ligne {line} : raison sociale invalide "
                f"({REFERENCE_NAME_MAX} caractères au plus, sans caractère nul).",
                "SPEC §4",
            )
        )
    return problems


def structures_refresh_tranche(*, base: ReferenceBase) -> int:
    """Give each structure the tranche and staff of ``base`` (the source of truth for ceilings, SPEC §4).

    By batches of structures: the memory used does not grow with the size of the Base de référence.
    """
    structures = Client.objects.filter(
        kind__in=[ClientKind.MSP, ClientKind.CDS], finess__in=base.entries.values("finess")
    ).order_by("pk")
    changed = 0
    for batch in _batches(structures.iterator(chunk_size=REFERENCE_BATCH_SIZE), REFERENCE_BATCH_SIZE):
        entries = {entry.finess: entry for entry in base.entries.filter(finess__in=[client.finess for client in batch])}
        for client in batch:
            entry = entries[client.finess]
            client.reference_entry, client.tranche, client.staff_count = entry, entry.tranche, entry.staff_count
        Client.objects.bulk_update(batch, ["reference_entry", "tranche", "staff_count"])
        changed += len(batch)
    return changed


def client_save(client: Client) -> Client:
    """Save a client whose data were already checked with ``client_violations`` (imports), with its tranche."""
    _apply_reference_entry(client)
    client.save()
    return client


def client_data(client: Client) -> dict[str, Any]:
    return {name: getattr(client, name) for name in CLIENT_FIELDS}


REFERENCE_COLUMNS = ("finess", "raison_sociale", "tranche", "effectif")
FINESS_LENGTH = 9


def reference_rows_from_table(
    headers: list[str], records: Iterable[list[Any]]
) -> tuple[list[ReferenceRow], list[RuleViolation]]:
    """The rows and the unreadable lines of a Base de référence table, as lists (``reference_rows_read`` streams)."""
    rows: list[ReferenceRow] = []
    violations: list[RuleViolation] = []
    for item in reference_rows_read(headers, records):
        if isinstance(item, RuleViolation):
            violations.append(item)
        else:
            rows.append(item)
    return rows, violations


def reference_rows_read(headers: list[Any], records: Iterable[list[Any]]) -> Iterator[ReferenceRow | RuleViolation]:
    """Read the Base de référence columns (finess, raison_sociale, tranche, effectif) row by row; line 1 is the header.

    A staff count must be a whole number: ``2,5``, ``inf`` or ``1e400`` are refused, never rounded.
    """
    normalised_headers = [str(header or "").strip().lower() for header in headers]
    missing = [column for column in ("finess", "tranche", "effectif") if column not in normalised_headers]
    if missing:
        yield RuleViolation(
            "REFERENCE_COLUMNS",
            f"Colonnes manquantes : {', '.join(missing)} (attendues : {', '.join(REFERENCE_COLUMNS)}).",
            "SPEC §4",
        )
        return
    index = {column: normalised_headers.index(column) for column in REFERENCE_COLUMNS if column in normalised_headers}
    for line, record in enumerate(records, start=2):

        def cell(column: str, record: list[Any] = record) -> Any:
            position = index.get(column)
            value = None if position is None or position >= len(record) else record[position]
            return value.strip() if isinstance(value, str) else value

        if all(value is None or str(value).strip() == "" for value in record):
            continue  # the blank lines a spreadsheet leaves at the end
        staff = cell("effectif")
        try:
            staff_count = whole_number(staff if staff not in (None, "") else "?")
        except ValueError:
            yield RuleViolation(
                "STAFF_INVALID",
                f"Ligne {line} : effectif « {str(staff if staff is not None else '')[:20]} » invalide "
                "(nombre entier attendu).",
                "SPEC §4",
            )
            continue
        yield ReferenceRow(
            finess=_finess_text(cell("finess")),
            tranche=str(cell("tranche") or "").upper(),
            staff_count=staff_count,
            name=str(cell("raison_sociale") or ""),
            line=line,
        )


def _finess_text(value: Any) -> str:
    """A spreadsheet stores a FINESS as a number and drops the leading 0 of départements 01 to 09: put it back."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(FINESS_LENGTH)
    return str(value or "")
