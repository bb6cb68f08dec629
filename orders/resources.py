"""django-import-export resources for orders: import of draft order forms (through ``services.order_create``, all
or nothing) and the export finance staff send with ASP batches."""

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from import_export import fields, resources, widgets

from clients.models import Client
from clients.resources import violations_as_errors
from clients.rules import normalise_identifier
from orders import rules, services
from orders.exceptions import BusinessRuleError
from orders.models import Order, Prestation, Programme, Solution, VatRegime

PRESTATION_CODES = {
    "v2": Prestation.PRINCIPAL_V2,
    "v1v2": Prestation.PRINCIPAL_V1V2,
    "v1+v2": Prestation.PRINCIPAL_V1V2,
}
VAT_CODES = {
    "20": VatRegime.VAT_20,
    "20%": VatRegime.VAT_20,
    "8,5": VatRegime.VAT_8_5,
    "8.5": VatRegime.VAT_8_5,
    "8,5%": VatRegime.VAT_8_5,
    "8.5%": VatRegime.VAT_8_5,
    "ht": VatRegime.HT,
}
IMPORT_COLUMNS = {
    "client": "rpps_ou_finess",
    "solution": "solution",
    "prestation": "prestation",
    "vat_regime": "regime_tva",
    "principal_amount": "montant_principal",
    "secondary_amount": "montant_secondaire",
    "issued_at": "date_emission",
    "salesperson": "commercial",
}


def _row_value(row: Any, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


class OrderImportResource(resources.ModelResource):
    """One row = one draft order form; every rule of ``services.order_create`` applies, the file is all or nothing."""

    number = fields.Field(attribute="number", column_name="numero", readonly=True)

    class Meta:
        model = Order
        name = "Bons de commande (brouillons)"
        fields = ("number",)
        import_id_fields = ()
        use_transactions = True
        clean_model_instances = False
        skip_diff = True

    def __init__(self, programme_code: str = "MDV-LGC-Va2", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.programme_code = programme_code

    def get_instance(self, instance_loader: Any, row: Any) -> None:
        return None  # every row is a new order form

    def import_instance(self, instance: Order, row: Any, **kwargs: Any) -> None:
        """Read the row into the arguments of ``order_create``; problems name their column."""
        errors: dict[str, str] = {}
        if _row_value(row, "numero"):
            errors["numero"] = "Un bon de commande déjà numéroté ne se réimporte pas : laissez la colonne vide."
        programme = Programme.objects.filter(code=self.programme_code).first()
        identifier = normalise_identifier(_row_value(row, "rpps_ou_finess"))
        client = Client.objects.filter(rpps=identifier).first() or Client.objects.filter(finess=identifier).first()
        if client is None:
            errors["rpps_ou_finess"] = f"Aucun client avec le RPPS ou FINESS « {identifier} » : importez-le d'abord."
        solution_label = _row_value(row, "solution")
        solution = next(
            (s for s in Solution.objects.filter(programme=programme) if f"{s.name} {s.version}" == solution_label), None
        )
        if solution is None:
            errors["solution"] = f"Solution « {solution_label} » inconnue pour {self.programme_code} (nom et version)."
        prestation = PRESTATION_CODES.get(_row_value(row, "prestation").lower().replace(" ", ""))
        if prestation is None:
            errors["prestation"] = "Prestation attendue : V2 ou V1V2 (AF §3)."
        vat_text = _row_value(row, "regime_tva").lower().replace(" ", "")
        vat_regime = VAT_CODES.get(vat_text) if vat_text else None
        if vat_text and vat_regime is None:
            errors["regime_tva"] = "Régime de TVA attendu : 20, 8,5 ou HT (AF §5.2)."
        amounts = {}
        for column in ("montant_principal", "montant_secondaire"):
            text = _row_value(row, column).replace("€", "").replace(" ", "").replace("\u202f", "").replace(",", ".")
            try:
                amounts[column] = Decimal(text) if text else None
            except ArithmeticError:
                errors[column] = f"Montant « {row.get(column)} » illisible."
        issued_at = None
        if _row_value(row, "date_emission"):
            try:
                issued_at = widgets.DateTimeWidget().clean(row.get("date_emission"))
            except ValueError:
                errors["date_emission"] = "Date d'émission illisible (JJ/MM/AAAA HH:MM ou AAAA-MM-JJ HH:MM)."
        username = _row_value(row, "commercial")
        salesperson = get_user_model().objects.filter(username=username).first() if username else None
        if username and salesperson is None:
            errors["commercial"] = f"Utilisateur « {username} » inconnu."
        if errors:
            raise ValidationError(errors)
        self._pending = {
            "programme": programme,
            "client": client,
            "solution": solution,
            "prestation": prestation,
            "vat_regime": vat_regime,
            "principal_amount": amounts["montant_principal"],
            "secondary_amount": amounts["montant_secondaire"],
            "issued_at": issued_at,
            "salesperson": salesperson,
        }

    def validate_instance(
        self, instance: Order, import_validation_errors: Any = None, validate_unique: bool = True
    ) -> None:
        if import_validation_errors:
            raise ValidationError(import_validation_errors)

    def save_instance(self, instance: Order, is_create: bool, row: Any, **kwargs: Any) -> None:
        user = kwargs.get("user")
        try:
            order = services.order_create(**self._pending, acting_user=user)
        except BusinessRuleError as error:
            raise violations_as_errors(error.violations, IMPORT_COLUMNS) from error
        instance.pk, instance.number = order.pk, order.number


def paris(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M") if moment else ""


class OrderExportResource(resources.ModelResource):
    """The columns finance staff need for ASP batches; amounts as Decimal, dates in Paris time."""

    number = fields.Field(attribute="number", column_name="numero")
    client_name = fields.Field(attribute="client__name", column_name="client")
    identifier = fields.Field(column_name="rpps_ou_finess")
    client_kind = fields.Field(column_name="type_client")
    tranche = fields.Field(attribute="client__tranche", column_name="tranche")
    solution = fields.Field(column_name="solution")
    ans_reference = fields.Field(attribute="solution__ans_reference_number", column_name="referencement_ans")
    prestation_label = fields.Field(column_name="prestation")
    vat = fields.Field(column_name="regime_tva")
    principal_amount = fields.Field(
        attribute="principal_amount", column_name="montant_principal", widget=widgets.DecimalWidget()
    )
    secondary_amount = fields.Field(
        attribute="secondary_amount", column_name="montant_secondaire", widget=widgets.DecimalWidget()
    )
    advance = fields.Field(column_name="avance")
    balance = fields.Field(column_name="solde")
    state_label = fields.Field(column_name="etat")
    signed = fields.Field(column_name="signe_le")
    advance_requested = fields.Field(column_name="avance_demandee_le")
    advance_reference = fields.Field(attribute="advance_asp_reference", column_name="reference_asp_avance")
    va_signed = fields.Field(column_name="va_signee_le")
    balance_requested = fields.Field(column_name="solde_demande_le")
    balance_reference = fields.Field(attribute="balance_asp_reference", column_name="reference_asp_solde")

    class Meta:
        model = Order
        name = "Commandes (lots ASP)"
        fields = (
            "number",
            "client_name",
            "identifier",
            "client_kind",
            "tranche",
            "solution",
            "ans_reference",
            "prestation_label",
            "vat",
            "principal_amount",
            "secondary_amount",
            "advance",
            "balance",
            "state_label",
            "signed",
            "advance_requested",
            "advance_reference",
            "va_signed",
            "balance_requested",
            "balance_reference",
        )
        export_order = fields

    def filter_export(self, queryset: Any, **kwargs: Any) -> Any:
        return queryset.select_related("client", "programme", "solution")

    def dehydrate_identifier(self, order: Order) -> str:
        return order.client.identifier

    def dehydrate_client_kind(self, order: Order) -> str:
        return str(order.client.get_kind_display())

    def dehydrate_solution(self, order: Order) -> str:
        return f"{order.solution.name} {order.solution.version}"

    def dehydrate_prestation_label(self, order: Order) -> str:
        return str(order.get_prestation_display())

    def dehydrate_vat(self, order: Order) -> str:
        return str(order.get_vat_regime_display())

    def _split(self, order: Order) -> tuple[Decimal, Decimal]:
        advance, balance = rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)
        return order.advance_amount or advance, order.balance_amount or balance

    def dehydrate_advance(self, order: Order) -> str:
        return widgets.DecimalWidget().render(self._split(order)[0])

    def dehydrate_balance(self, order: Order) -> str:
        return widgets.DecimalWidget().render(self._split(order)[1])

    def dehydrate_state_label(self, order: Order) -> str:
        return str(order.get_state_display())

    def dehydrate_signed(self, order: Order) -> str:
        return paris(order.signed_at)

    def dehydrate_advance_requested(self, order: Order) -> str:
        return paris(order.advance_requested_at)

    def dehydrate_va_signed(self, order: Order) -> str:
        return paris(order.va_signed_at)

    def dehydrate_balance_requested(self, order: Order) -> str:
        return paris(order.balance_requested_at)
