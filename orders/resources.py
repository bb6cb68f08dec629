"""django-import-export resources for orders: import of draft order forms (the rules of ``services.order_create``, all
or nothing, in bulk: ``orders.imports``) and the export finance staff send with ASP batches."""

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from import_export import fields, resources

from clients.resources import AllOrNothingResourceMixin, SafeExportMixin, violations_as_errors
from clients.rules import normalise_identifier
from orders import imports, rules
from orders.models import Order, Prestation, Programme, VatRegime
from segur_portal.spreadsheets import FrenchDateTimeWidget, FrenchDecimalWidget

LGC_PROGRAMME_CODE = "MDV-LGC-Va2"
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
CLIENT_COLUMNS = ("rpps_ou_finess", "rpps", "finess")  # one of them names the client
CLIENT_FIELDS = ("client", "kind", "rpps", "finess", "specialty", "cds_kind", "aci_signatory", "staff_declared")
CLIENT_FIELDS += ("liberal_doctor_count", "salaried_doctor_count")
ORDER_COLUMNS = {
    "solution": "solution",
    "prestation": "prestation",
    "vat_regime": "regime_tva",
    "principal_amount": "montant_principal",
    "secondary_amount": "montant_secondaire",
    "issued_at": "date_emission",
    "salesperson": "commercial",
}
CENT = Decimal("0.01")
AMOUNT_PATTERN = re.compile(r"^-?\d+(?:\.\d+)?$")
# Day first, as written in France: never the US month/day of Django's default input formats (05/11 is 5 November).
ISSUE_DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
ISSUE_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
NOON = time(12, 0)  # a date without time is read as 12:00 Paris, the hour of every date of the programme (SPEC §2)


def _row_value(row: Any, column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def _amount(text: str) -> Decimal | None:
    """A French or English amount (``1 234,50 €``, ``1234.50``); empty means "the ceiling".

    Digits only: ``NaN``, ``inf`` or ``1e3`` raise ``InvalidOperation`` rather than becoming the ceiling or a number
    nobody typed. The precision is kept as written: the order rules decide about cents.
    """
    cleaned = text.replace("€", "").replace(" ", "").replace("\u202f", "").replace("\xa0", "").replace(",", ".")
    if not cleaned:
        return None
    if not AMOUNT_PATTERN.match(cleaned):
        raise InvalidOperation(cleaned)
    return Decimal(cleaned)


def paris_datetime(value: Any) -> datetime:
    """An issue date from a CSV text or an XLSX date cell, in Europe/Paris time; ``ValueError`` when unreadable."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, NOON)
    else:
        moment = _parse_text(str(value).strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=rules.PARIS)


def _parse_text(text: str) -> datetime:
    for pattern in ISSUE_DATETIME_FORMATS:
        try:
            return datetime.strptime(text, pattern)  # noqa: DTZ007 — made aware in Paris time by the caller
        except ValueError:
            continue
    for pattern in ISSUE_DATE_FORMATS:
        try:
            return datetime.combine(datetime.strptime(text, pattern).date(), NOON)  # noqa: DTZ007 — same
        except ValueError:
            continue
    raise ValueError(text)


class OrderImportResource(AllOrNothingResourceMixin, resources.ModelResource):
    """One row = one draft order form; every rule of ``services.order_create`` applies, the file is all or nothing.

    The client is named by an RPPS or a FINESS (column ``rpps_ou_finess``, or ``rpps`` / ``finess``); the solution by
    its name and version (``MediCab 12``); empty amounts take the ceiling.
    """

    number = fields.Field(attribute="number", column_name="numero", readonly=True)

    class Meta:
        model = Order
        name = "Bons de commande (brouillons)"
        fields = ("number",)
        import_id_fields = ()
        use_transactions = True
        clean_model_instances = False
        skip_diff = True
        use_bulk = True  # no savepoint per row: the file is one transaction, inserted at the end

    def __init__(self, programme_code: str = LGC_PROGRAMME_CODE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.programme_code = programme_code
        self.progress: Any = None  # called with the row number, when the import runs on the worker
        self.bulk: imports.OrderBulkCreate | None = None  # set by before_import, once the file is readable

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        headers = dataset.headers or []
        if not any(column in headers for column in CLIENT_COLUMNS):
            raise ValueError(f"Colonne client manquante : {' ou '.join(CLIENT_COLUMNS)}.")
        missing = [column for column in ("solution", "prestation") if column not in headers]
        if missing:
            raise ValueError(f"Colonnes manquantes : {', '.join(missing)}.")
        super().before_import(dataset, **kwargs)  # the number of rows (SEGUR_IMPORT_MAX_ROWS)
        self.programme = Programme.objects.prefetch_related("ceilings").filter(code=self.programme_code).first()
        if self.programme is None:
            raise ValueError(f"Programme {self.programme_code} introuvable.")
        self.client_column = next(column for column in CLIENT_COLUMNS if column in headers)

        def cells(column: str) -> list[str]:
            return [_text(value) for value in dataset[column]] if column in headers else []

        lookups = imports.OrderLookups.load(
            self.programme,
            identifiers=[normalise_identifier(cell) for cell in cells(self.client_column)],
            usernames=cells("commercial"),
            numbers=cells("numero"),
        )
        self.bulk = imports.OrderBulkCreate(lookups=lookups, acting_user=kwargs.get("user"))
        self.progress = kwargs.get("progress")

    def expected_columns(self) -> list[str]:
        return [*CLIENT_COLUMNS, *ORDER_COLUMNS.values()]

    def get_instance(self, instance_loader: Any, row: Any) -> None:
        return None  # every row is a new order form

    def import_row(self, row: Any, instance_loader: Any, **kwargs: Any) -> Any:
        if self.progress is not None:
            self.progress(kwargs.get("row_number", 0))
        return super().import_row(row, instance_loader, **kwargs)

    def import_instance(self, instance: Order, row: Any, **kwargs: Any) -> None:
        """Read the row into the arguments of ``order_create``; each problem names its column. No query: every
        look-up was loaded once for the file (``orders.imports.OrderLookups``)."""
        errors: dict[str, str] = {
            str(column): "Caractère nul dans la cellule : enregistrez à nouveau le fichier depuis votre tableur."
            for column, value in row.items()
            if isinstance(value, str) and "\x00" in value
        }
        if errors:
            raise ValidationError(errors)
        if self.bulk is None:
            raise ValidationError(_FILE_REFUSED)
        lookups = self.bulk.lookups
        number = _row_value(row, "numero")
        if number:
            errors["numero"] = (
                f"Le bon de commande {number} existe déjà : il n'est pas réimporté."
                if number in lookups.existing_numbers
                else f"Numéro « {number} » : le numéro est attribué à la création, laissez la colonne vide."
            )
        identifier = normalise_identifier(_row_value(row, self.client_column))
        client = lookups.client(identifier)
        if client is None:
            errors[self.client_column] = f"Aucun client avec le RPPS ou FINESS « {identifier} » : importez-le d'abord."
        solution_label = _row_value(row, "solution")
        name, _space, version = solution_label.rpartition(" ")
        solution = lookups.solutions.get((name, version))
        if solution is None:
            errors["solution"] = (
                f"Solution « {solution_label} » inconnue pour {self.programme_code} "
                "(nom puis version, ex. « MediCab 12 »)."
            )
        prestation = PRESTATION_CODES.get(_row_value(row, "prestation").lower().replace(" ", ""))
        if prestation is None:
            errors["prestation"] = "Prestation attendue : V2 ou V1V2 (AF §3)."
        vat_text = _row_value(row, "regime_tva").lower().replace(" ", "")
        vat_regime = VAT_CODES.get(vat_text) if vat_text else None
        if vat_text and vat_regime is None:
            errors["regime_tva"] = "Régime de TVA attendu : 20, 8,5 ou HT (AF §5.2)."
        amounts: dict[str, Decimal | None] = {}
        for column in ("montant_principal", "montant_secondaire"):
            try:
                amounts[column] = _amount(_row_value(row, column))
            except InvalidOperation:
                errors[column] = f"Montant « {str(row.get(column))[:40]} » illisible : un nombre attendu (ex. 451,50)."
        issued_at = None
        if _row_value(row, "date_emission"):
            try:
                issued_at = paris_datetime(row.get("date_emission"))
            except ValueError:
                errors["date_emission"] = "Date d'émission illisible (JJ/MM/AAAA HH:MM ou AAAA-MM-JJ HH:MM)."
        username = _row_value(row, "commercial")
        salesperson = lookups.users.get(username) if username else None
        if username and salesperson is None:
            errors["commercial"] = f"Utilisateur « {username} » inconnu."
        if errors:
            raise ValidationError(errors)
        self.pending_order = {
            "client": client,
            "solution": solution,
            "prestation": prestation,
            "vat_regime": vat_regime,
            "principal_amount": amounts["montant_principal"],
            "secondary_amount": amounts["montant_secondaire"],
            "issued_at": issued_at,
            "salesperson": salesperson,
        }

    def save_instance(self, instance: Order, is_create: bool, row: Any, **kwargs: Any) -> None:
        """The rules of ``order_create`` decide (eligibility, prestation, ceilings, one order per client, also
        against the rows above); the accepted rows are inserted together at the end (``after_import``)."""
        assert self.bulk is not None  # import_instance refused the row otherwise
        violations = self.bulk.check(**self.pending_order)
        if violations:
            columns = {**ORDER_COLUMNS, **dict.fromkeys(CLIENT_FIELDS, self.client_column)}
            raise violations_as_errors(violations, columns)

    def after_import(self, dataset: Any, result: Any, **kwargs: Any) -> None:
        """Every row accepted: insert them all at once, even in the preview (rolled back), so the preview meets the
        database's constraints too. One refused row: nothing is inserted (all or nothing)."""
        if result.has_errors() or result.has_validation_errors():
            return
        if self.progress is not None:
            self.progress(len(dataset))
        orders = self.bulk.insert() if self.bulk is not None else []
        for row_result, order in zip((row for row in result.rows if row.import_type == "new"), orders, strict=True):
            row_result.object_id, row_result.object_repr = order.pk, order.number
            if row_result.instance is not None:  # kept for the admin's history (LogEntry of each new order)
                row_result.instance = order


_FILE_REFUSED = "Fichier refusé (voir l'erreur ci-dessus) : la ligne n'est pas lue."


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


class ComputedField(fields.Field):
    """An export column computed from the order, rendered by its widget (native value in XLSX, text in CSV)."""

    def __init__(self, compute: Callable[[Order], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.compute = compute

    def get_value(self, instance: Order) -> Any:
        return self.compute(instance)


def advance_amount(order: Order) -> Decimal:
    """The advance paid, or the one to request: 40 % of the principal, half-up to the cent (AF §VI)."""
    if order.advance_amount is not None:
        return order.advance_amount.quantize(CENT)
    return rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)[0]


def balance_amount(order: Order) -> Decimal:
    """The balance paid, or the remainder of the principal after the advance (AF §VI)."""
    if order.balance_amount is not None:
        return order.balance_amount.quantize(CENT)
    return rules.advance_and_balance(order.principal_amount, order.programme.advance_rate)[1]


def money(attribute: str, column_name: str) -> fields.Field:
    """An amount: ``3160,50`` in CSV, a number in XLSX."""
    return fields.Field(attribute=attribute, column_name=column_name, widget=FrenchDecimalWidget())


def paris_moment(attribute: str, column_name: str) -> fields.Field:
    """A timestamp in Europe/Paris: ``16/12/2026 12:00`` in CSV, a date cell in XLSX."""
    return fields.Field(attribute=attribute, column_name=column_name, widget=FrenchDateTimeWidget())


class OrderExportResource(SafeExportMixin, resources.ModelResource):
    """The columns finance staff need for ASP batches: amounts as Decimal to the cent, dates in Paris time.

    One query whatever the number of orders: every column reads the order and its ``select_related`` rows.
    """

    number = fields.Field(attribute="number", column_name="numero")
    client_name = fields.Field(attribute="client__name", column_name="client")
    identifier = ComputedField(lambda order: order.client.identifier, column_name="rpps_ou_finess")
    client_kind = ComputedField(lambda order: str(order.client.get_kind_display()), column_name="type_client")
    tranche = fields.Field(attribute="client__tranche", column_name="tranche")
    solution = ComputedField(lambda order: f"{order.solution.name} {order.solution.version}", column_name="solution")
    ans_reference = fields.Field(attribute="solution__ans_reference_number", column_name="referencement_ans")
    prestation_label = ComputedField(lambda order: str(order.get_prestation_display()), column_name="prestation")
    vat = ComputedField(lambda order: str(order.get_vat_regime_display()), column_name="regime_tva")
    principal_amount = money("principal_amount", "montant_principal")
    secondary_amount = money("secondary_amount", "montant_secondaire")
    advance = ComputedField(advance_amount, column_name="avance", widget=FrenchDecimalWidget())
    balance = ComputedField(balance_amount, column_name="solde", widget=FrenchDecimalWidget())
    state_label = ComputedField(lambda order: str(order.get_state_display()), column_name="etat")
    signed = paris_moment("signed_at", "signe_le")
    advance_requested = paris_moment("advance_requested_at", "avance_demandee_le")
    advance_reference = fields.Field(attribute="advance_asp_reference", column_name="reference_asp_avance")
    va_signed = paris_moment("va_signed_at", "va_signee_le")
    balance_requested = paris_moment("balance_requested_at", "solde_demande_le")
    balance_reference = fields.Field(attribute="balance_asp_reference", column_name="reference_asp_solde")
    export_headers = {
        "numero": "N° de commande",
        "client": "Client",
        "rpps_ou_finess": "RPPS ou FINESS",
        "type_client": "Type de client",
        "tranche": "Tranche",
        "solution": "Solution",
        "referencement_ans": "Référencement ANS",
        "prestation": "Prestation",
        "regime_tva": "Régime de TVA",
        "montant_principal": "Montant principal (€)",
        "montant_secondaire": "Montant secondaire (€)",
        "avance": "Avance (€)",
        "solde": "Solde (€)",
        "etat": "État",
        "signe_le": "Signé le",
        "avance_demandee_le": "Avance demandée le",
        "reference_asp_avance": "Référence ASP de l'avance",
        "va_signee_le": "VA signée le",
        "solde_demande_le": "Solde demandé le",
        "reference_asp_solde": "Référence ASP du solde",
    }

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
        return queryset.select_related("client", "programme", "solution").order_by("number")
