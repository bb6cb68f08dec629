"""Writes on clients and on the ANS *Base de référence*. Identifiers are normalised and checked here."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import islice
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import ngettext

from clients import rules
from clients.models import CdsKind, Client, ClientChange, ClientKind, ContactPerson, ReferenceBase, ReferenceEntry
from orders.exceptions import BusinessRuleError, RuleViolation, raise_if
from portal import services as portal_services

# What a person or a file may set; the tranche and staff come from the Base de référence, the revocation date from
# ``portal.services.access_links_revoke`` only (a form saved meanwhile must not bring revoked links back).
CLIENT_FIELDS = {field.name for field in Client._meta.get_fields() if getattr(field, "concrete", False)} - {
    "id",
    "created_at",
    "updated_at",
    "tranche",
    "staff_count",
    "reference_entry",
    "portal_links_revoked_at",
}
# Texts checked for control characters and for the model's length; identifiers, choices and e-mail have their rules.
CLIENT_TEXT_FIELDS = (
    "name",
    "specialty",
    "siren",
    "address",
    "postal_code",
    "city",
    "phone",
    "installed_version",
    "vat_regime_reason",
)
CLIENT_YES_NO_FIELDS = ("aci_signatory", "staff_declared", "wave1_benefited", "wave1_self_funded")
CLIENT_COUNT_MAXIMUMS = {
    "treating_patient_count": rules.TREATING_PATIENT_COUNT_MAX,
    "liberal_doctor_count": rules.STAFF_COUNT_MAX,
    "salaried_doctor_count": rules.STAFF_COUNT_MAX,
}
# Client data whose change is written to the client's journal: the client space is opened by links sent to it.
AUDITED_CLIENT_FIELDS = ("email",)
# The VAT regime staff chose instead of the département's, and why (AF §5.2): journaled, no link revoked.
VAT_CHOICE_FIELDS = ("vat_regime", "vat_regime_reason")


def latest_reference_entry(finess: str) -> ReferenceEntry | None:
    return ReferenceEntry.objects.filter(finess=finess).order_by("-base__imported_at", "-base_id").first()


def latest_reference_entries(finess: Iterable[str]) -> dict[str, ReferenceEntry]:
    """``latest_reference_entry`` of each FINESS, in one query."""
    entries: dict[str, ReferenceEntry] = {}
    for entry in ReferenceEntry.objects.filter(finess__in=list(finess)).order_by("base__imported_at", "base_id"):
        entries[entry.finess] = entry  # the latest base comes last and wins
    return entries


def field_label(model: type[models.Model], name: str) -> str:
    """The field's name as people read it on the form (« Nom », « E-mail »), for messages that name the field."""
    return _field_label(model, name, translation.get_language())


@lru_cache(maxsize=256)
def _field_label(model: type[models.Model], name: str, language: str | None) -> str:
    """Cached per language: the checks of a file's 20 000 rows ask for the same dozen labels (issue 13)."""
    return str(capfirst(model._meta.get_field(name).verbose_name))


def _max_length(model: type[models.Model], name: str) -> int | None:
    return model._meta.get_field(name).max_length  # type: ignore[union-attr]


def client_value_violations(data: dict[str, Any]) -> list[RuleViolation]:
    """Values no client may hold, whoever gives them (form, import, API): control characters and over-long texts,
    an invalid e-mail, a head count that is not a whole number within bounds, an unknown kind of centre."""
    language = translation.get_language()
    violations = [
        rules.text_violation(
            data.get(name),
            field=name,
            label=_field_label(Client, name, language),
            max_length=_max_length(Client, name),
        )
        for name in CLIENT_TEXT_FIELDS
    ]
    email_label = _field_label(Client, "email", language)
    violations.append(rules.email_violation(data.get("email"), field="email", label=email_label))
    violations += [
        rules.count_violation(data.get(name), field=name, label=_field_label(Client, name, language), maximum=maximum)
        for name, maximum in CLIENT_COUNT_MAXIMUMS.items()
    ]
    violations += [
        RuleViolation(
            "YES_NO_INVALID",
            f"{field_label(Client, name)} : « {rules.shown(data[name])} » ; répondez oui ou non.",
            "AF §4.2",
            field=name,
        )
        for name in CLIENT_YES_NO_FIELDS
        if name in data and not isinstance(data[name], bool)
    ]
    cds_kind = data.get("cds_kind") or ""
    if cds_kind and cds_kind not in CdsKind.values:
        violations.append(
            RuleViolation(
                "CDS_KIND_UNKNOWN",
                f"{field_label(Client, 'cds_kind')} : « {rules.shown(cds_kind)} » inconnu ; choisissez "
                f"{', '.join(CdsKind.values)} (AF §4.2).",
                "AF §4.2",
                field="cds_kind",
            )
        )
    return [violation for violation in violations if violation]


def client_violations(data: dict[str, Any]) -> list[RuleViolation]:
    """Everything wrong with these client data (values, identifiers, eligibility — AF §4.2); empty when acceptable.

    Takes the values as given (raw file cells too: « 2,5 » patients is refused here, not read as 2).
    """
    violations = client_value_violations(data)
    kind = data.get("kind", "")
    if kind not in ClientKind.values:
        kind_violation = RuleViolation(
            "CLIENT_KIND", f"Type de client « {rules.shown(kind)} » inconnu.", "AF §4.2", field="kind"
        )
        return [kind_violation, *violations]
    counts = {name: rules.parse_count(data.get(name)) or 0 for name in CLIENT_COUNT_MAXIMUMS}
    facts = rules.ClientFacts(
        kind=kind,
        rpps=data.get("rpps") or "",
        finess=data.get("finess") or "",
        specialty=str(data.get("specialty") or ""),
        cds_kind=data.get("cds_kind") or "",
        aci_signatory=bool(data.get("aci_signatory")),
        staff_declared=bool(data.get("staff_declared")),
        liberal_doctor_count=counts["liberal_doctor_count"],
        salaried_doctor_count=counts["salaried_doctor_count"],
    )
    refused_fields = {violation.field for violation in violations}  # one message per field: the value's own
    violations += [v for v in rules.eligibility_violations(facts) if v.field not in refused_fields]
    if not str(data.get("name") or "").strip():
        violations.append(RuleViolation("CLIENT_NAME", "Le nom du client est obligatoire.", "AF §4.3", field="name"))
    suggested = rules.default_vat_regime(
        rules.departement(postal_code=str(data.get("postal_code") or ""), finess=str(data.get("finess") or ""))
    )
    violations += [
        violation
        for violation in rules.vat_regime_choice_violations(
            vat_regime=data.get("vat_regime"), reason=data.get("vat_regime_reason"), suggested=suggested
        )
        if violation.field not in refused_fields
    ]
    return violations


def normalised_client_data(data: dict[str, Any]) -> dict[str, Any]:
    """The values as stored: identifiers in ASCII (``rules.normalise_identifier``), texts trimmed, counts as int.

    A value that cannot be normalised (« 2,5 » patients) stays as given, for ``client_violations`` to refuse.
    """
    cleaned = {key: value for key, value in data.items() if key in CLIENT_FIELDS}
    if cleaned.get("kind") == ClientKind.DOCTOR:
        cleaned["rpps"] = rules.normalise_identifier(cleaned.get("rpps"))
        cleaned["finess"] = None
    else:
        cleaned["finess"] = rules.normalise_identifier(cleaned.get("finess"))
        cleaned["rpps"] = None
    cleaned["name"] = str(cleaned.get("name") or "").strip()
    for name in (*CLIENT_TEXT_FIELDS, "email"):
        if name in cleaned:
            cleaned[name] = str(cleaned[name] if cleaned[name] is not None else "").strip()
    for name in ("cds_kind", "vat_regime", *CLIENT_YES_NO_FIELDS):
        if name in cleaned and cleaned[name] is None:  # an empty cell: the model's empty value
            cleaned[name] = "" if name in ("cds_kind", "vat_regime") else False
    for name in CLIENT_COUNT_MAXIMUMS:
        count = rules.parse_count(cleaned.get(name)) if name in cleaned else None
        if count is not None:
            cleaned[name] = count
    return cleaned


def contact_violations(data: dict[str, Any]) -> list[RuleViolation]:
    """A client's contact person: a name and one valid e-mail (it may receive client-space links and documents)."""
    violations = [
        rules.text_violation(
            data.get(name),
            field=name,
            label=field_label(ContactPerson, name),
            max_length=_max_length(ContactPerson, name),
        )
        for name in ("name", "role", "phone")
    ]
    email = str(data.get("email") or "").strip()
    violations.append(rules.email_violation(email, field="email", label=field_label(ContactPerson, "email")))
    if not email:
        violations.append(RuleViolation("EMAIL_MISSING", "E-mail du contact : obligatoire.", "AF §4.2", field="email"))
    return [violation for violation in violations if violation]


def _duplicate_violations(
    cleaned: dict[str, Any], *, exclude_pk: int | None = None, known: set[tuple[str, str]] | None = None
) -> list[RuleViolation]:
    """One client per RPPS / FINESS (AF §4.2), compared once both are normalised to ASCII. ``known``: the
    (field, identifier) pairs already taken, when the caller loaded them (no query then)."""
    identifier_field = "rpps" if cleaned.get("kind") == ClientKind.DOCTOR else "finess"
    identifier = cleaned[identifier_field]
    if known is not None:
        if (identifier_field, identifier) not in known:
            return []
    elif not Client.objects.filter(**{identifier_field: identifier}).exclude(pk=exclude_pk).exists():
        return []
    return [
        RuleViolation(
            "CLIENT_DUPLICATE",
            f"Un client existe déjà avec le {identifier_field.upper()} {identifier} : un seul client par identifiant "
            "(AF §4.2).",
            "AF §4.2",
            field=identifier_field,
        )
    ]


def apply_reference_entry(client: Client, entries: dict[str, ReferenceEntry] | None = None) -> None:
    """The tranche and staff of the latest Base de référence (AF §4.2); ``entries`` (by FINESS) when preloaded."""
    if client.kind == ClientKind.DOCTOR or not client.finess:
        return
    entry = latest_reference_entry(client.finess) if entries is None else entries.get(client.finess)
    client.reference_entry = entry
    client.tranche = entry.tranche if entry else ""
    client.staff_count = entry.staff_count if entry else None


def client_create(**data: Any) -> Client:
    """Create a client after checking its values, identifier and eligibility (AF §4.2); tranche from the Base de
    référence."""
    cleaned = normalised_client_data(data)
    violations = client_violations(cleaned)
    if not violations:
        violations = _duplicate_violations(cleaned)
    raise_if(violations)
    client = Client(**cleaned)
    apply_reference_entry(client)
    try:
        with transaction.atomic():
            client.save()
            if client.vat_regime:
                _vat_choice_record(client, old={}, actor=None)
    except IntegrityError:
        # Created meanwhile by someone else: the unique constraint decided; say so, as above.
        raise_if(_duplicate_violations(cleaned))
        raise
    return client


def clients_create_bulk(rows: list[dict[str, Any]]) -> list[Client]:
    """``client_create`` for many clients at once (file imports), all or nothing: the same checks (values,
    identifiers, eligibility, one client per identifier — AF §4.2) and the same tranche from the Base de référence,
    in three queries whatever the number of rows (issue 13)."""
    cleaned_rows = [normalised_client_data(row) for row in rows]
    raise_if([violation for cleaned in cleaned_rows for violation in client_violations(cleaned)])
    return clients_create_checked(cleaned_rows)


def clients_create_checked(cleaned_rows: list[dict[str, Any]]) -> list[Client]:
    """The end of ``clients_create_bulk``, for rows already normalised and checked by ``client_violations`` one by
    one (a file import checks each row as it reads it, to name its line): one client per identifier, against the
    stored clients and within the rows (AF §4.2), then the tranche and the insertion."""
    violations: list[RuleViolation] = []
    seen: set[tuple[str, str]] = set()
    for cleaned in cleaned_rows:
        identifier_field = "rpps" if cleaned.get("kind") == ClientKind.DOCTOR else "finess"
        key = (identifier_field, cleaned[identifier_field])
        if key in seen:  # twice in these rows: the second is a duplicate of the first, as one by one
            violations += _duplicate_violations(cleaned, known={key})
        seen.add(key)
    rpps = [identifier for field, identifier in seen if field == "rpps"]
    finess = [identifier for field, identifier in seen if field == "finess"]
    stored = {("rpps", value) for value in Client.objects.filter(rpps__in=rpps).values_list("rpps", flat=True)}
    stored |= {("finess", value) for value in Client.objects.filter(finess__in=finess).values_list("finess", flat=True)}
    for cleaned in cleaned_rows:
        violations += _duplicate_violations(cleaned, known=stored) if stored else []
    raise_if(violations)
    entries = latest_reference_entries(finess)
    clients = [Client(**cleaned) for cleaned in cleaned_rows]
    for client in clients:
        apply_reference_entry(client, entries)
    return Client.objects.bulk_create(clients)


def client_update(*, client: Client, acting_user: Any = None, **data: Any) -> Client:
    """Change a client's data after the same checks as at creation.

    A change of the client's e-mail is written to the client's journal (who, when, old → new) and revokes every
    client-space link sent so far: whoever holds one must ask again, at an address the client still has.
    ``acting_user`` is the staff member (``None``: the system).
    """
    merged = client_data(client) | data
    cleaned = normalised_client_data(merged)
    violations = client_violations(cleaned)
    if not violations:
        violations = _duplicate_violations(cleaned, exclude_pk=client.pk)
    raise_if(violations)
    with transaction.atomic():
        # The stored row, not ``client``: a form or an import has already written the new values onto the instance.
        stored = Client.objects.select_for_update().get(pk=client.pk)
        for name, value in cleaned.items():
            setattr(client, name, value)
        apply_reference_entry(client)
        client.save(update_fields=[*cleaned, "tranche", "staff_count", "reference_entry", "updated_at"])
        changed = [name for name in AUDITED_CLIENT_FIELDS if getattr(stored, name) != getattr(client, name)]
        actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
        for name in changed:
            ClientChange.objects.create(
                client=client, field=name, old_value=getattr(stored, name), new_value=getattr(client, name), actor=actor
            )
        if changed:
            revoked = portal_services.access_links_revoke(client_id=client.pk, acting_user=actor)
            client.portal_links_revoked_at = revoked.portal_links_revoked_at
        _vat_choice_record(client, old={name: getattr(stored, name) for name in VAT_CHOICE_FIELDS}, actor=actor)
    return client


def _vat_choice_record(client: Client, *, old: dict[str, str], actor: Any) -> None:
    """Write to the client's journal a change of the VAT regime chosen by staff and of its reason (AF §5.2)."""
    for name in VAT_CHOICE_FIELDS:
        if old.get(name, "") != getattr(client, name):
            ClientChange.objects.create(
                client=client, field=name, old_value=old.get(name, ""), new_value=getattr(client, name), actor=actor
            )


@dataclass(frozen=True)
class ReferenceRow:
    finess: str
    tranche: str
    staff_count: int
    name: str = ""
    line: int = 0  # line in the source file, for error messages


REFERENCE_BATCH_SIZE = 2000
REFERENCE_LISTED_VIOLATIONS = 100
REFERENCE_NAME_MAX = ReferenceEntry._meta.get_field("name").max_length


def reference_base_import(
    *,
    version: str,
    rows: Iterable[ReferenceRow | RuleViolation],
    published_on: date | None = None,
    source_filename: str = "",
) -> ReferenceBase:
    """Import one version of the Base de référence, all or nothing, and refresh every structure's tranche (AF §4.2).

    ``rows`` is read once, as a stream (a file of 450 000 lines is never held in memory): each row is checked and
    written in batches in one transaction, rolled back when any row is refused. A ``RuleViolation`` in ``rows`` is a
    line the reader could not read: it refuses the import like any other. The refusal lists the first
    ``REFERENCE_LISTED_VIOLATIONS`` problems and counts the others.
    """
    text_problems = [
        problem
        for problem in (
            rules.text_violation(
                version, field="version", label="Version", max_length=_max_length(ReferenceBase, "version")
            ),
            rules.text_violation(
                source_filename,
                field="source_filename",
                label="Fichier source",
                max_length=_max_length(ReferenceBase, "source_filename"),
            ),
        )
        if problem
    ]
    raise_if(text_problems)  # a refused text is never queried
    if ReferenceBase.objects.filter(version=version).exists():
        raise BusinessRuleError(
            [
                RuleViolation(
                    "REFERENCE_VERSION_EXISTS", f"La version « {version} » est déjà importée.", "AF §4.2", "version"
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
            violations.append(RuleViolation("REFERENCE_EMPTY", "Le fichier ne contient aucune ligne.", "AF §4.2"))
        if unlisted:
            violations.append(
                RuleViolation(
                    "REFERENCE_MORE_ERRORS",
                    ngettext(
                        "… et %(count)d autre erreur non listée.",
                        "… et %(count)d autres erreurs non listées.",
                        unlisted,
                    )
                    % {"count": unlisted},
                    "AF §4.2",
                )
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
                RuleViolation("FINESS_DUPLICATE", f"Ligne {line} : FINESS {finess} en double.", "AF §4.2", "finess")
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
    for problem in (
        rules.count_violation(row.staff_count, field="staff_count", label="Effectif", maximum=rules.STAFF_COUNT_MAX),
        rules.text_violation(row.name, field="name", label="Raison sociale", max_length=REFERENCE_NAME_MAX),
    ):
        if problem:
            problems.append(
                RuleViolation(problem.code, f"Ligne {line} : {problem.message}", problem.reference, problem.field)
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
            "AF §4.2",
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
        problem = (
            rules.count_violation(staff, field="staff_count", label="Effectif", maximum=rules.STAFF_COUNT_MAX)
            if staff not in (None, "")
            else RuleViolation("STAFF_INVALID", "Effectif : obligatoire.", "AF §5.3", field="staff_count")
        )
        if problem:
            yield RuleViolation("STAFF_INVALID", f"Ligne {line} : {problem.message}", "AF §5.3", field="staff_count")
            continue
        yield ReferenceRow(
            finess=_finess_text(cell("finess")),
            tranche=str(cell("tranche") or "").upper(),
            staff_count=rules.parse_count(staff) or 0,
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
