"""django-import-export resources for clients: every row is checked by the domain rules (``clients.services``).

Imports are all or nothing: with ``use_transactions`` and ``rollback_on_validation_errors`` one bad row rolls back
the whole file, and each error names the column and the rule.
"""

from typing import Any

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from clients import rules, services
from clients.models import Client, ClientKind

YES = {"oui", "o", "yes", "y", "1", "true", "vrai", "x"}
NO = {"non", "n", "no", "0", "false", "faux", ""}


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


class IdentifierWidget(widgets.CharWidget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> str:
        return rules.normalise_identifier(str(value or ""))


def violations_as_errors(violations: list[Any], columns: dict[str, str]) -> ValidationError:
    """Map rule violations to the import's columns (French column names) so the row error names the column."""
    errors: dict[str, list[str]] = {}
    for violation in violations:
        column = columns.get(violation.field, violation.field) or "__all__"
        errors.setdefault(column, []).append(f"{violation.message} [{violation.code}]")
    return ValidationError(errors)


class ClientResourceBase(resources.ModelResource):
    """Shared import logic: rule check after the row is read, tranche from the Base de référence on save."""

    kind: str = ""
    name = fields.Field(attribute="name", column_name="nom")
    email = fields.Field(attribute="email", column_name="email")
    phone = fields.Field(attribute="phone", column_name="telephone")
    address = fields.Field(attribute="address", column_name="adresse")
    postal_code = fields.Field(attribute="postal_code", column_name="code_postal")
    city = fields.Field(attribute="city", column_name="ville")
    installed_version = fields.Field(attribute="installed_version", column_name="version_installee")

    class Meta:
        model = Client
        use_transactions = True
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = False  # the domain rules check the row (below), with their French messages

    def column_of(self) -> dict[str, str]:
        return {field.attribute: field.column_name for field in self.fields.values() if field.attribute}

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
        if violations:
            raise violations_as_errors(violations, self.column_of())
        for name, value in data.items():
            setattr(instance, name, value)

    def do_instance_save(self, instance: Client, is_create: bool) -> None:
        services.client_save(instance)

    def get_export_queryset(self, request: Any = None) -> Any:
        return Client.objects.filter(kind__in=self.export_kinds()).order_by("name")

    def export_kinds(self) -> list[str]:
        return [self.kind]


class DoctorResource(ClientResourceBase):
    kind = ClientKind.DOCTOR
    rpps = fields.Field(attribute="rpps", column_name="rpps", widget=IdentifierWidget())
    specialty = fields.Field(attribute="specialty", column_name="specialite")
    treating_patient_count = fields.Field(
        attribute="treating_patient_count", column_name="patients_medecin_traitant", widget=widgets.IntegerWidget()
    )
    wave1_benefited = fields.Field(
        attribute="wave1_benefited", column_name="vague1_beneficiaire", widget=OuiNonWidget()
    )
    wave1_self_funded = fields.Field(
        attribute="wave1_self_funded", column_name="vague1_autofinance", widget=OuiNonWidget()
    )

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
    kind_column = fields.Field(attribute="kind", column_name="type")
    finess = fields.Field(attribute="finess", column_name="finess", widget=IdentifierWidget())
    cds_kind = fields.Field(attribute="cds_kind", column_name="type_cds")
    aci_signatory = fields.Field(attribute="aci_signatory", column_name="signataire_aci", widget=OuiNonWidget())
    staff_declared = fields.Field(attribute="staff_declared", column_name="effectifs_declares", widget=OuiNonWidget())
    liberal_doctor_count = fields.Field(
        attribute="liberal_doctor_count", column_name="medecins_liberaux", widget=widgets.IntegerWidget()
    )
    salaried_doctor_count = fields.Field(
        attribute="salaried_doctor_count", column_name="medecins_salaries", widget=widgets.IntegerWidget()
    )
    siren = fields.Field(attribute="siren", column_name="siren")
    tranche = fields.Field(attribute="tranche", column_name="tranche", readonly=True)
    staff_count = fields.Field(attribute="staff_count", column_name="effectif", readonly=True)

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
        kind = str(row.get("type", "")).strip().lower()
        if kind not in {ClientKind.MSP, ClientKind.CDS}:
            raise ValidationError({"type": f"« {row.get('type')} » : type attendu msp ou cds (AF §4.2)."})
        super().import_instance(instance, row, **kwargs)

    def export_kinds(self) -> list[str]:
        return [ClientKind.MSP, ClientKind.CDS]
