"""The API's typed payloads (Pydantic through django-ninja): the OpenAPI document is generated from these.

Inputs refuse unknown fields (``extra="forbid"``); dates and times must carry their time zone.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Schema
from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field

from clients.models import CdsKind, ClientKind, Tranche
from orders.models import OrderState, Prestation, VatRegime

YEAR_MIN, YEAR_MAX = 1900, 2200


def _plausible_year(value: datetime | date) -> datetime | date:
    """A year far outside any programme could overflow a time-zone conversion: refused as malformed (422)."""
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValueError(f"année {value.year} hors des bornes ({YEAR_MIN} à {YEAR_MAX})")
    return value


AwareMoment = Annotated[AwareDatetime, AfterValidator(_plausible_year)]
Day = Annotated[date, AfterValidator(_plausible_year)]
Amount = Annotated[Decimal, Field(max_digits=10, decimal_places=2, allow_inf_nan=False)]
ShortText = Annotated[str, Field(max_length=255)]
LongText = Annotated[str, Field(max_length=4000)]
Count = Annotated[int, Field(ge=0, le=2_000_000_000)]

ClientKindCode = Literal[tuple(ClientKind.values)]  # type: ignore[valid-type]
CdsKindCode = Literal[("", *CdsKind.values)]  # type: ignore[valid-type]
TrancheCode = Literal[tuple(Tranche.values)]  # type: ignore[valid-type]
PrestationCode = Literal["principal_v2", "principal_v1v2"]
VatRegimeCode = Literal[tuple(VatRegime.values)]  # type: ignore[valid-type]
StateCode = Literal[tuple(OrderState.values)]  # type: ignore[valid-type]
CeilingPrestationCode = Literal[tuple(Prestation.values)]  # type: ignore[valid-type]


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


# --- Errors ---------------------------------------------------------------------------------------------------------


class ErrorOut(Schema):
    detail: str
    code: str


class FieldError(Schema):
    location: str
    field: str
    code: str
    message: str


class InvalidOut(Schema):
    detail: str
    errors: list[FieldError]


class ViolationOut(Schema):
    code: str
    message: str
    reference: str
    field: str


class RefusalOut(Schema):
    detail: str
    violations: list[ViolationOut]


# --- Clients --------------------------------------------------------------------------------------------------------


class ClientFields(Input):
    name: ShortText | None = None
    rpps: Annotated[str, Field(max_length=32)] | None = None
    finess: Annotated[str, Field(max_length=32)] | None = None
    specialty: ShortText | None = None
    treating_patient_count: Count | None = None
    cds_kind: CdsKindCode | None = None
    aci_signatory: bool | None = None
    staff_declared: bool | None = None
    liberal_doctor_count: Count | None = None
    salaried_doctor_count: Count | None = None
    siren: ShortText | None = None
    address: ShortText | None = None
    postal_code: ShortText | None = None
    city: ShortText | None = None
    email: ShortText | None = None
    phone: ShortText | None = None
    installed_version: ShortText | None = None
    wave1_benefited: bool | None = None
    wave1_self_funded: bool | None = None


class ClientIn(ClientFields):
    kind: ClientKindCode
    name: ShortText


class ClientPatch(ClientFields):
    kind: ClientKindCode | None = None


class ClientOut(Schema):
    id: int
    kind: str
    kind_label: str
    name: str
    rpps: str | None
    finess: str | None
    tranche: str
    staff_count: int | None
    ceiling_category: str
    specialty: str
    treating_patient_count: int
    cds_kind: str
    aci_signatory: bool
    staff_declared: bool
    liberal_doctor_count: int
    salaried_doctor_count: int
    siren: str
    address: str
    postal_code: str
    city: str
    email: str
    phone: str
    installed_version: str
    wave1_benefited: bool
    wave1_self_funded: bool
    created_at: datetime
    updated_at: datetime


class ClientPage(Schema):
    items: list[ClientOut]
    next_cursor: str | None


# --- Orders ---------------------------------------------------------------------------------------------------------


class OrderIn(Input):
    programme: Annotated[str, Field(max_length=32)] = "MDV-LGC-Va2"
    client_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    solution_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    prestation: PrestationCode
    vat_regime: VatRegimeCode | None = None
    principal_amount: Amount | None = None
    secondary_amount: Amount | None = None
    issued_at: AwareMoment | None = None
    is_pilot: bool = False

    model_config = ConfigDict(extra="forbid", json_schema_extra={"description": "Un bon de commande en brouillon."})


class ClientRef(Schema):
    id: int
    name: str
    kind: str
    identifier: str


class AmountsOut(Schema):
    principal_amount: Decimal
    principal_ceiling: Decimal | None
    secondary_amount: Decimal
    secondary_ceiling: Decimal | None
    advance_amount: Decimal
    balance_amount: Decimal
    advance_paid_amount: Decimal | None
    balance_paid_amount: Decimal | None
    secondary_paid_amount: Decimal | None


class DeadlineOut(Schema):
    code: str
    due_at: datetime
    actor: str
    actor_label: str
    action: str
    reference: str
    status: str
    met_at: datetime | None


class ParamOut(Schema):
    name: str
    label: str
    kind: str
    required: bool
    choices: list[str]


class ActionOut(Schema):
    name: str
    label: str
    allowed: bool
    roles: list[str]
    params: list[ParamOut]
    violations: list[ViolationOut]


class OrderSummary(Schema):
    number: str
    state: str
    state_label: str
    programme: str
    client: ClientRef
    solution_id: int
    prestation: str
    vat_regime: str
    principal_amount: Decimal
    secondary_amount: Decimal
    is_pilot: bool
    issued_at: datetime
    next_deadline: DeadlineOut | None


class OrderOut(OrderSummary):
    solution_name: str
    amounts: AmountsOut
    dates: dict[str, datetime | None]
    deadlines: list[DeadlineOut]
    actions: list[ActionOut]


class OrderPage(Schema):
    items: list[OrderSummary]
    next_cursor: str | None


class ChecklistIn(Input):
    done: dict[Annotated[str, Field(max_length=64)], bool] = Field(max_length=50)


class InvoiceOut(Schema):
    number: str
    kind: str
    issued_at: datetime
    due_on: date
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal


# --- Ceilings and documents --------------------------------------------------------------------------------------


class CeilingOut(Schema):
    programme: str
    prestation: str
    category: str
    vat_regime: str
    amount: Decimal


class DocumentOut(Schema):
    id: int
    kind: str
    kind_label: str
    version: int
    sha256: str
    created_at: datetime
    download_url: str


# --- Monitoring -----------------------------------------------------------------------------------------------------


class MonthIn(Input):
    month: Day = Field(description="Le 1er jour du mois (AAAA-MM-01).")
    dt: Count = Field(description="Dt : documents à envoyer à MES")
    dm: Count = Field(description="Dm : documents envoyés à MES")
    t: Count = Field(description="T : patients uniques vus")
    tq: Count = Field(description="Tq : patients à l'INS qualifiée")
    ts: Count = Field(description="Ts : patients qualifiés par la procédure transitoire")


class MonthsIn(Input):
    months: list[MonthIn] = Field(min_length=1, max_length=60)
    reason: str = Field(
        default="",
        max_length=500,
        description="Motif d'une correction (obligatoire quand un mois déjà reçu change de chiffres).",
    )


class MonthOut(Schema):
    month: date
    dt: int
    dm: int
    t: int
    tq: int
    ts: int


class PushOut(Schema):
    created: list[date]
    unchanged: list[date]
    revised: list[date]


class PerfWindowOut(Schema):
    first_month: date
    last_month: date
    dt: int
    dm: int
    perf: Decimal


class PerfOut(Schema):
    order: str
    secondary_start: date | None
    months: list[MonthOut]
    best_window: PerfWindowOut | None
    perf: Decimal
    secondary_payable: Decimal
