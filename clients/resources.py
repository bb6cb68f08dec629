"""django-import-export resources for clients: every row is checked by the domain rules (``clients.services``).

Imports are all or nothing (``AllOrNothingResourceMixin``): one invalid row, or one row a service refuses, rolls back
the whole file, and each error names the column and the rule. Line numbers are those of the file (header = line 1).

In bulk (issue 13): the stored clients and Base de référence entries a file names are read once, each row is checked
by the same rules as one by one, and the new clients are written together by ``services.clients_create_bulk``; a
query count that does not grow with the file (updates of stored clients still go through ``client_update``).
"""

import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from clients import rules, services
from clients.models import Client, ClientKind
from orders.exceptions import BusinessRuleError, RuleViolation
from segur_portal.spreadsheets import safe_cell, unescaped_cell, whole_number

YES = {"oui", "o", "yes", "y", "1", "true", "vrai", "x"}
NO = {"non", "n", "no", "0", "false", "faux", ""}
FINESS_LENGTH = 9
STORED_IDENTIFIER = re.compile(r"[0-9AB]{9}|[0-9]{11}", re.ASCII)  # FINESS (2A/2B for Corsica) or RPPS (AF §4.2)


def file_line(row_number: int) -> int:
    """django-import-export numbers data rows from 1; people read the file, whose line 1 is the header."""
    return row_number + 1


class AllOrNothingResourceMixin:
    """Every import of this resource runs in one transaction, rolled back on any invalid or refused row.

    Enforced here rather than left to each caller: the admin's confirm step does not ask for
    ``rollback_on_validation_errors``, so a row refused at that step would otherwise let the other rows through.
    """

    required_columns: tuple[str, ...] = ()

    def import_data(self, dataset: Any, dry_run: bool = False, raise_errors: bool = False, **kwargs: Any) -> Any:
        kwargs["use_transactions"] = True
        kwargs["rollback_on_validation_errors"] = True
        return super().import_data(dataset, dry_run=dry_run, raise_errors=raise_errors, **kwargs)  # type: ignore[misc]

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        if len(dataset) > settings.SEGUR_IMPORT_MAX_ROWS:
            raise ValueError(
                f"Fichier de {len(dataset)} lignes : {settings.SEGUR_IMPORT_MAX_ROWS} au plus par import. "
                "Découpez-le en plusieurs fichiers."
            )
        missing = [column for column in self.required_columns if column not in (dataset.headers or [])]
        if missing:
            raise ValueError(
                f"Colonnes manquantes : {', '.join(missing)} (colonnes attendues : "
                f"{', '.join(self.expected_columns())})."
            )
        super().before_import(dataset, **kwargs)  # type: ignore[misc]

    def expected_columns(self) -> list[str]:
        return [field.column_name for field in self.get_import_fields()]  # type: ignore[attr-defined]


class SafeExportMixin:
    """Every exported cell goes through ``safe_cell``: a name such as ``=HYPERLINK(…)`` is never a live formula.

    The file's headers are French (``export_headers``: column → header); an import of our own export reads them back
    (``import_column``), so the columns of a hand-made file keep their short names.
    """

    export_headers: dict[str, str] = {}

    @classmethod
    def export_header(cls, field: fields.Field) -> str:
        return cls.export_headers.get(field.column_name, field.column_name)

    @classmethod
    def import_column(cls, header: str) -> str:
        columns = {label.casefold(): column for column, label in cls.export_headers.items()}
        return columns.get(str(header).strip().casefold(), header)

    def get_export_headers(self, selected_fields: Any = None) -> list[str]:
        return [self.export_header(field) for field in self.get_export_fields(selected_fields)]  # type: ignore[attr-defined]

    def export_field(self, field: fields.Field, instance: Any, **kwargs: Any) -> Any:
        return safe_cell(super().export_field(field, instance, **kwargs))  # type: ignore[misc]


class TextWidget(widgets.CharWidget):
    """A text cell: an empty cell (``None`` in XLSX) is an empty string; our own export's ``'`` prefix is undone.

    Longer than the column stores, or holding a NUL character (which the database refuses): an error, in French.
    """

    def __init__(self, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        cleaned = super().clean(unescaped_cell(value), row, **kwargs)
        if isinstance(cleaned, str) and "\x00" in cleaned:
            raise ValueError("Caractère nul dans la cellule : enregistrez à nouveau le fichier depuis votre tableur.")
        if self.max_length and isinstance(cleaned, str) and len(cleaned.strip()) > self.max_length:
            raise ValueError(f"{len(cleaned.strip())} caractères : {self.max_length} au plus.")
        return cleaned


class OuiNonWidget(widgets.BooleanWidget):
    """French yes/no columns; anything else is an error, not a silent "no"."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> bool:
        text = str(value if value is not None else "").strip().lower()
        if text in YES:
            return True
        if text in NO:
            return False
        raise ValueError(f"« {value} » : répondez oui ou non.")

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return "oui" if value else "non"


class CountWidget(widgets.IntegerWidget):
    """A head count: empty means 0; anything but a whole number ≥ 0 is an error, in French (``2,5`` is never 2).

    The number goes as it is to the domain rules, which refuse absurd counts.
    """

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> int:
        if value is None or str(value).strip() == "":
            return 0
        return whole_number(value)


class IdentifierWidget(widgets.CharWidget):
    """RPPS / FINESS cells, normalised the way the services do (spaces, dots, dashes; 2a → 2A).

    Spreadsheets store all-digit identifiers as numbers: a FINESS of départements 01 to 09 then loses its leading
    zero, which ``zero_pad_to`` puts back for numeric cells only (a typed text is never altered).
    """

    def __init__(self, zero_pad_to: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.zero_pad_to = zero_pad_to

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value).zfill(self.zero_pad_to)
        return rules.normalise_identifier(str(value if value is not None else ""))


DIFF_ROWS = 100  # the admin's preview shows the first 100 rows (clients.admin.PREVIEW_ROWS): only they need a diff


class FirstRowsDiff(resources.Diff):
    """The preview's diff, computed for the first ``DIFF_ROWS`` rows and for every update; a new client further down
    the file is never shown, so its diff (two reads of every column and an HTML diff per cell) is skipped."""

    def __init__(self, resource: Any, instance: Any, new: bool) -> None:
        self.light = new and getattr(resource, "row_number", 0) > DIFF_ROWS
        if self.light:
            self.left, self.right, self.new = [], [], new
        else:
            super().__init__(resource, instance, new)

    def compare_with(self, resource: Any, instance: Any) -> None:
        if not self.light:
            super().compare_with(resource, instance)

    def as_html(self) -> list[str]:
        return [] if self.light else super().as_html()


def _no_copy(memo: Any) -> None:
    return None


def violations_as_errors(violations: Iterable[RuleViolation], columns: dict[str, str]) -> ValidationError:
    """Map rule violations to the file's columns, so each row error names the column, the rule and its reference.

    ``columns`` maps a violation's ``field`` (model field or service argument) to the column of the file; a
    violation with no column of its own is a row-level error.
    """
    errors: dict[str, list[str]] = {}
    for violation in violations:
        column = columns.get(violation.field) or "__all__"
        errors.setdefault(column, []).append(f"{violation.message} [{violation.code}]")
    return ValidationError(errors)


def text(attribute: str, column_name: str) -> fields.Field:
    """A text column: an empty cell (``None`` in XLSX) is an empty string, as the model stores it."""
    max_length = Client._meta.get_field(attribute).max_length
    return fields.Field(
        attribute=attribute, column_name=column_name, widget=TextWidget(max_length=max_length, allow_blank=True)
    )


class ClientResourceBase(SafeExportMixin, AllOrNothingResourceMixin, resources.ModelResource):
    """Shared import logic: the domain rules check each row; ``client_create`` / ``client_update`` write it."""

    kind: str = ""
    identifier_field: str = ""
    name = text("name", "nom")
    email = text("email", "email")
    phone = text("phone", "telephone")
    address = text("address", "adresse")
    postal_code = text("postal_code", "code_postal")
    city = text("city", "ville")
    installed_version = text("installed_version", "version_installee")
    export_headers = {
        "nom": "Nom",
        "email": "E-mail",
        "telephone": "Téléphone",
        "adresse": "Adresse",
        "code_postal": "Code postal",
        "ville": "Ville",
        "version_installee": "Version installée",
    }

    class Meta:
        model = Client
        use_transactions = True
        use_bulk = True  # no savepoint per row: the file is one transaction, new clients inserted at the end
        skip_unchanged = True  # re-importing the same file changes nothing, and the preview says so
        report_skipped = True
        clean_model_instances = False  # the domain rules check the row (below), with their French messages

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.progress: Any = None  # called with the row number, when the import runs on the worker
        self.acting_user: Any = None
        self.pending_creations: list[tuple[Client, dict[str, Any]]] = []
        self.stored_clients: dict[str, Client] = {}
        self.reference_entries: dict[str, Any] = {}

    def column_of(self) -> dict[str, str]:
        return {field.attribute: field.column_name for field in self.fields.values() if field.attribute}

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        self.lines_by_identifier: dict[str, int] = {}
        if dataset.headers:  # our own export, re-imported: its French headers name the columns
            dataset.headers = [self.import_column(header) for header in dataset.headers]
        super().before_import(dataset, **kwargs)
        self.acting_user = kwargs.get("user")  # who imports: written to the client's journal (e-mail changes)
        self.progress = kwargs.get("progress")
        self.pending_creations = []
        # The look-ups of the whole file, one query each (issue 13): the stored clients the rows name, and the
        # Base de référence entries of their FINESS (the tranche a new structure takes).
        id_field = self.fields[self._meta.import_id_fields[0]]
        identifiers = {id_field.widget.clean(value) for value in dataset[id_field.column_name]}
        identifiers = {identifier for identifier in identifiers if STORED_IDENTIFIER.fullmatch(identifier or "")}
        self.stored_clients = {
            getattr(client, self.identifier_field): client
            for client in Client.objects.filter(**{f"{self.identifier_field}__in": identifiers})
        }
        self.reference_entries = (
            services.latest_reference_entries(identifiers) if self.identifier_field == "finess" else {}
        )

    def import_row(self, row: Any, instance_loader: Any, **kwargs: Any) -> Any:
        self.row_number = kwargs.get("row_number", 0)
        if self.progress is not None:
            self.progress(self.row_number)
        return super().import_row(row, instance_loader, **kwargs)

    def get_diff_class(self) -> type[resources.Diff]:
        return FirstRowsDiff

    def init_instance(self, row: Any = None) -> Client:
        """A new client. Beyond the rows the preview shows, django-import-export's deep copy of it (kept for the
        diff, which ``FirstRowsDiff`` skips there) is not made: about a sixth of the time of a big file."""
        instance = super().init_instance(row)
        if getattr(self, "row_number", 0) > DIFF_ROWS:
            instance.__deepcopy__ = _no_copy  # type: ignore[attr-defined]
        return instance

    def get_instance(self, instance_loader: Any, row: Any) -> Client | None:
        """The stored client this row updates, from the clients loaded for the whole file. A cell that cannot be an
        identifier (a NUL byte, letters, 40 digits) matches no stored client, whose identifiers are all valid: the row
        is then checked as a new client, and the rules refuse it naming the column."""
        identifier = self.fields[self._meta.import_id_fields[0]].clean(row)
        if not STORED_IDENTIFIER.fullmatch(identifier or ""):
            return None
        return self.stored_clients.get(identifier)

    def import_instance(self, instance: Client, row: Any, **kwargs: Any) -> None:
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            # Name the column of the file, as the person sees it, not the model attribute.
            columns = self.column_of()
            raise ValidationError(
                {columns.get(name, name): messages for name, messages in error.message_dict.items()}
            ) from error
        if self.kind:
            instance.kind = self.kind
        data = services.normalised_client_data(services.client_data(instance))
        violations = services.client_violations(data)
        violations += self._repeated_identifier(data[self.identifier_field] or "", kwargs.get("row_number", 0))
        if violations:
            raise violations_as_errors(violations, self.column_of())
        for name, value in data.items():
            setattr(instance, name, value)
        self.checked_data = data  # normalised and checked: a new client is created from it (save_instance)

    def _repeated_identifier(self, identifier: str, row_number: int) -> list[RuleViolation]:
        """The same client twice in one file is ambiguous (which line wins?): refuse it rather than guess."""
        line = file_line(row_number)
        first_line = self.lines_by_identifier.setdefault(identifier, line)
        if not identifier or first_line == line:
            return []
        return [
            RuleViolation(
                "CLIENT_REPEATED_IN_FILE",
                f"{self.identifier_field.upper()} {identifier} déjà présent ligne {first_line} du fichier : "
                "une seule ligne par client (AF §4.2).",
                "AF §4.2",
                field=self.identifier_field,
            )
        ]

    def save_instance(self, instance: Client, is_create: bool, row: Any, **kwargs: Any) -> None:
        """A new client waits for ``after_import`` (all created at once by ``services.clients_create_bulk``, which
        checks the rules again); a stored one is changed now by ``services.client_update`` (journal, links)."""
        if is_create:
            services.apply_reference_entry(instance, self.reference_entries)  # the preview shows the tranche
            self.pending_creations.append((instance, self.checked_data))
            return
        try:
            services.client_update(client=instance, acting_user=self.acting_user, **services.client_data(instance))
        except BusinessRuleError as error:
            raise violations_as_errors(error.violations, self.column_of()) from error

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        """Every row accepted: create the new clients at once, even in the preview (rolled back). One refused row:
        nothing is written (all or nothing)."""
        if result.has_errors() or result.has_validation_errors() or not self.pending_creations:
            return
        created = services.clients_create_checked([data for _instance, data in self.pending_creations])
        for (instance, _data), client in zip(self.pending_creations, created, strict=True):
            instance.pk = client.pk
            instance._state.adding = False

    def filter_export(self, queryset: Any, **kwargs: Any) -> Any:
        return queryset.filter(kind__in=self.export_kinds()).order_by("name")

    def export_kinds(self) -> list[str]:
        return [self.kind]


class DoctorResource(ClientResourceBase):
    kind = ClientKind.DOCTOR
    identifier_field = "rpps"
    required_columns = ("nom", "rpps")
    rpps = fields.Field(attribute="rpps", column_name="rpps", widget=IdentifierWidget())
    specialty = text("specialty", "specialite")
    treating_patient_count = fields.Field(
        attribute="treating_patient_count", column_name="patients_medecin_traitant", widget=CountWidget()
    )
    wave1_benefited = fields.Field(
        attribute="wave1_benefited", column_name="vague1_beneficiaire", widget=OuiNonWidget()
    )
    wave1_self_funded = fields.Field(
        attribute="wave1_self_funded", column_name="vague1_autofinance", widget=OuiNonWidget()
    )

    export_headers = {
        **ClientResourceBase.export_headers,
        "rpps": "RPPS",
        "specialite": "Spécialité",
        "patients_medecin_traitant": "Patients (médecin traitant)",
        "vague1_beneficiaire": "Bénéficiaire de la vague 1",
        "vague1_autofinance": "Autofinancé en vague 1",
    }

    class Meta(ClientResourceBase.Meta):
        name = "Médecins libéraux"
        import_id_fields = ("rpps",)
        fields = (
            "name",
            "rpps",
            "specialty",
            "treating_patient_count",
            "email",
            "phone",
            "address",
            "postal_code",
            "city",
            "installed_version",
            "wave1_benefited",
            "wave1_self_funded",
        )


class StructureResource(ClientResourceBase):
    """MSP and centres de santé. Their tranche and staff come from the Base de référence, never from the file."""

    identifier_field = "finess"
    required_columns = ("nom", "type", "finess")
    kind_column = text("kind", "type")
    finess = fields.Field(attribute="finess", column_name="finess", widget=IdentifierWidget(zero_pad_to=FINESS_LENGTH))
    cds_kind = text("cds_kind", "type_cds")
    aci_signatory = fields.Field(attribute="aci_signatory", column_name="signataire_aci", widget=OuiNonWidget())
    staff_declared = fields.Field(attribute="staff_declared", column_name="effectifs_declares", widget=OuiNonWidget())
    liberal_doctor_count = fields.Field(
        attribute="liberal_doctor_count", column_name="medecins_liberaux", widget=CountWidget()
    )
    salaried_doctor_count = fields.Field(
        attribute="salaried_doctor_count", column_name="medecins_salaries", widget=CountWidget()
    )
    siren = text("siren", "siren")
    tranche = fields.Field(attribute="tranche", column_name="tranche", readonly=True)
    staff_count = fields.Field(attribute="staff_count", column_name="effectif", readonly=True)

    export_headers = {
        **ClientResourceBase.export_headers,
        "type": "Type (msp ou cds)",
        "finess": "FINESS",
        "type_cds": "Type de centre de santé",
        "signataire_aci": "Signataire de l'ACI",
        "effectifs_declares": "Effectifs déclarés",
        "medecins_liberaux": "Médecins libéraux",
        "medecins_salaries": "Médecins salariés",
        "siren": "SIREN",
        "tranche": "Tranche",
        "effectif": "Effectif",
    }

    class Meta(ClientResourceBase.Meta):
        name = "Structures (MSP, centres de santé)"
        import_id_fields = ("finess",)
        fields = (
            "name",
            "kind_column",
            "finess",
            "cds_kind",
            "aci_signatory",
            "staff_declared",
            "liberal_doctor_count",
            "salaried_doctor_count",
            "siren",
            "email",
            "phone",
            "address",
            "postal_code",
            "city",
            "installed_version",
            "tranche",
            "staff_count",
        )

    def import_instance(self, instance: Client, row: Any, **kwargs: Any) -> None:
        kind = str(row.get("type") or "").strip().lower()
        if kind not in {ClientKind.MSP, ClientKind.CDS}:
            raise ValidationError({"type": f"« {row.get('type')} » : type attendu msp ou cds (AF §4.2)."})
        row["type"] = kind
        if "type_cds" in row:
            row["type_cds"] = str(row["type_cds"] or "").strip().lower()
        super().import_instance(instance, row, **kwargs)

    def export_kinds(self) -> list[str]:
        return [ClientKind.MSP, ClientKind.CDS]
