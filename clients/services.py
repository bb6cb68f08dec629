"""Writes on clients and on the ANS *Base de référence*. Identifiers are normalised and checked here."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils.text import capfirst

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
CLIENT_TEXT_FIELDS = ("name", "specialty", "siren", "address", "postal_code", "city", "phone", "installed_version")
CLIENT_YES_NO_FIELDS = ("aci_signatory", "staff_declared", "wave1_benefited", "wave1_self_funded")
CLIENT_COUNT_MAXIMUMS = {
    "treating_patient_count": rules.TREATING_PATIENT_COUNT_MAX,
    "liberal_doctor_count": rules.STAFF_COUNT_MAX,
    "salaried_doctor_count": rules.STAFF_COUNT_MAX,
}
# Client data whose change is written to the client's journal: the client space is opened by links sent to it.
AUDITED_CLIENT_FIELDS = ("email",)


def latest_reference_entry(finess: str) -> ReferenceEntry | None:
    return ReferenceEntry.objects.filter(finess=finess).order_by("-base__imported_at", "-base_id").first()


def field_label(model: type[models.Model], name: str) -> str:
    """The field's name as people read it on the form (« Nom », « E-mail »), for messages that name the field."""
    return str(capfirst(model._meta.get_field(name).verbose_name))


def _max_length(model: type[models.Model], name: str) -> int | None:
    return model._meta.get_field(name).max_length  # type: ignore[union-attr]


def client_value_violations(data: dict[str, Any]) -> list[RuleViolation]:
    """Values no client may hold, whoever gives them (form, import, API): control characters and over-long texts,
    an invalid e-mail, a head count that is not a whole number within bounds, an unknown kind of centre."""
    violations = [
        rules.text_violation(
            data.get(name), field=name, label=field_label(Client, name), max_length=_max_length(Client, name)
        )
        for name in CLIENT_TEXT_FIELDS
    ]
    violations.append(rules.email_violation(data.get("email"), field="email", label=field_label(Client, "email")))
    violations += [
        rules.count_violation(data.get(name), field=name, label=field_label(Client, name), maximum=maximum)
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
    for name in ("cds_kind", *CLIENT_YES_NO_FIELDS):
        if name in cleaned and cleaned[name] is None:  # an empty cell: the model's empty value
            cleaned[name] = "" if name == "cds_kind" else False
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


def _duplicate_violations(cleaned: dict[str, Any], *, exclude_pk: int | None = None) -> list[RuleViolation]:
    """One client per RPPS / FINESS (AF §4.2), compared once both are normalised to ASCII."""
    identifier_field = "rpps" if cleaned.get("kind") == ClientKind.DOCTOR else "finess"
    identifier = cleaned[identifier_field]
    if not Client.objects.filter(**{identifier_field: identifier}).exclude(pk=exclude_pk).exists():
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


def _apply_reference_entry(client: Client) -> None:
    if client.kind == ClientKind.DOCTOR or not client.finess:
        return
    entry = latest_reference_entry(client.finess)
    client.reference_entry = entry
    client.tranche = entry.tranche if entry else ""
    client.staff_count = entry.staff_count if entry else None


def client_create(**data: Any) -> Client:
    """Create a client after checking its values, identifier and eligibility (SPEC §4); tranche from the Base de
    référence."""
    cleaned = normalised_client_data(data)
    violations = client_violations(cleaned)
    if not violations:
        violations = _duplicate_violations(cleaned)
    raise_if(violations)
    client = Client(**cleaned)
    _apply_reference_entry(client)
    try:
        with transaction.atomic():
            client.save()
    except IntegrityError:
        # Created meanwhile by someone else: the unique constraint decided; say so, as above.
        raise_if(_duplicate_violations(cleaned))
        raise
    return client


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
        _apply_reference_entry(client)
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
    """Import one version of the Base de référence, all or nothing, and refresh every structure's tranche."""
    rows = list(rows)
    violations: list[RuleViolation] = [
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
    seen: set[str] = set()
    if not violations and ReferenceBase.objects.filter(version=version).exists():  # a refused text is never queried
        violations.append(
            RuleViolation(
                "REFERENCE_VERSION_EXISTS", f"La version « {version} » est déjà importée.", "AF §4.2", "version"
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
                RuleViolation("FINESS_DUPLICATE", f"Ligne {line} : FINESS {finess} en double.", "AF §4.2")
            )
        seen.add(finess)
        for problem in (
            rules.count_violation(
                row.staff_count, field="staff_count", label="Effectif", maximum=rules.STAFF_COUNT_MAX
            ),
            rules.text_violation(
                row.name, field="name", label="Raison sociale", max_length=_max_length(ReferenceEntry, "name")
            ),
        ):
            if problem:
                violations.append(
                    RuleViolation(problem.code, f"Ligne {line} : {problem.message}", problem.reference, problem.field)
                )
    if not rows:
        violations.append(RuleViolation("REFERENCE_EMPTY", "Le fichier ne contient aucune ligne.", "AF §4.2"))
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
                "AF §4.2",
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
        problem = (
            rules.count_violation(staff, field="staff_count", label="Effectif", maximum=rules.STAFF_COUNT_MAX)
            if staff
            else RuleViolation("STAFF_INVALID", "Effectif : obligatoire.", "AF §5.3", field="staff_count")
        )
        if problem:
            violations.append(
                RuleViolation("STAFF_INVALID", f"Ligne {line} : {problem.message}", "AF §5.3", field="staff_count")
            )
            continue
        staff_count = rules.parse_count(staff) or 0
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
