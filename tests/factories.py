"""Test data built through the real services (STYLE.md: build test data the way the product does)."""

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from clients import services as client_services
from clients.models import Client, ReferenceBase, ReferenceEntry
from clients.rules import luhn_check_digit
from orders import services
from orders.models import Order, Programme, Provider, Solution
from orders.rules import PARIS

_sequence = count(1)


def paris(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=PARIS)


def valid_rpps(seed: int | None = None) -> str:
    payload = f"1{(seed if seed is not None else next(_sequence)):09d}"
    return payload + luhn_check_digit(payload)


def valid_finess(seed: int | None = None, departement: str = "75") -> str:
    payload = f"{departement}{(seed if seed is not None else next(_sequence)):06d}"
    return payload + luhn_check_digit(payload)


def lgc_programme() -> Programme:
    return Programme.objects.get(code="MDV-LGC-Va2")


def make_provider(**overrides: Any) -> Provider:
    fields: dict[str, Any] = {
        "name": "Logimed SAS",
        "siren": "123456789",
        "vat_number": "FR32123456789",
        "address": "12 rue de la Santé",
        "postal_code": "75013",
        "city": "Paris",
        "vat_regime": "vat_20",
        "asp_enrolment_requested_on": datetime(2026, 1, 10).date(),
        "asp_enrolment_validated_on": datetime(2026, 2, 1).date(),
        "hds_sworn_statement_on": datetime(2026, 1, 10).date(),
        "preserie_validated_on": datetime(2026, 6, 1).date(),
        "satisfaction_commitment": True,
    }
    fields.update(overrides)
    return Provider.objects.create(**fields)


def make_solution(
    *, provider: Provider | None = None, programme: Programme | None = None, **overrides: Any
) -> Solution:
    fields: dict[str, Any] = {
        "name": f"MediCab {next(_sequence)}",
        "version": "12",
        "ans_reference_number": "LGC-VA2-0042",
        "has_structures_profile": True,
        "has_treating_doctor_profile": True,
        "administrative_file_submitted_at": paris(2025, 9, 1),
        "complete_dossier_submitted_at": paris(2026, 3, 2),
        "referenced_at": paris(2026, 5, 4),
        "pilot_validated_at": paris(2026, 9, 1),
    }
    fields.update(overrides)
    return Solution.objects.create(
        provider=provider or make_provider(), programme=programme or lgc_programme(), **fields
    )


def make_doctor(**overrides: Any) -> Client:
    fields: dict[str, Any] = {
        "kind": "doctor",
        "name": f"Dr Martin {next(_sequence)}",
        "rpps": valid_rpps(),
        "specialty": "Médecine générale",
        "treating_patient_count": 800,
        "siren": "512345678",
        "email": "cabinet@example.org",
        "address": "3 place du Marché",
        "postal_code": "69002",
        "city": "Lyon",
    }
    fields.update(overrides)
    return client_services.client_create(**fields)


def make_structure(*, kind: str = "msp", tranche: str = "B", staff_count: int = 14, **overrides: Any) -> Client:
    finess = overrides.pop("finess", None) or valid_finess()
    base, _created = ReferenceBase.objects.get_or_create(version="test-base")
    ReferenceEntry.objects.update_or_create(
        base=base, finess=finess, defaults={"tranche": tranche, "staff_count": staff_count}
    )
    fields: dict[str, Any] = {
        "kind": kind,
        "name": f"{kind.upper()} des Lilas {next(_sequence)}",
        "finess": finess,
        "aci_signatory": True,
        "staff_declared": True,
        "liberal_doctor_count": 3 if kind == "msp" else 0,
        "salaried_doctor_count": 2 if kind == "cds" else 0,
        "cds_kind": "polyvalent" if kind == "cds" else "",
        "email": "contact@example.org",
        "siren": "498765432",
        "address": "1 place de la Mairie",
        "postal_code": "35000",
        "city": "Rennes",
    }
    fields.update(overrides)
    return client_services.client_create(**fields)


def make_user(username: str, *groups: str, **extra: Any) -> Any:
    user = get_user_model().objects.create_user(username, password="not-a-real-password", is_staff=True, **extra)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    return user


def make_order(
    *, client: Client | None = None, solution: Solution | None = None, prestation: str = "principal_v2", **extra: Any
) -> Order:
    solution = solution or make_solution()
    return services.order_create(
        programme=solution.programme,
        client=client or make_doctor(),
        solution=solution,
        prestation=prestation,
        issued_at=extra.pop("issued_at", paris(2026, 9, 1, 9)),
        **extra,
    )


def advance(order: Order, to_state: str, *, now: datetime | None = None) -> Order:
    """Walk an order through the real services up to ``to_state`` on the main path, as the system actor."""
    now = now or timezone.now()
    base = order.issued_at
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (
            "firm",
            "sign",
            {"signed_at": base + timedelta(days=1), "signature_method": "eidas_simple", "signatory_name": "X"},
        ),
        ("advance_requested", "file_advance", {"received_at": base + timedelta(days=2), "asp_reference": "ASP-1"}),
        ("advance_paid", "record_advance_paid", {"paid_at": base + timedelta(days=20)}),
        ("installed", "record_installation", {"installed_at": base + timedelta(days=40)}),
        ("va_signed", "sign_va", {"signed_at": base + timedelta(days=45)}),
        ("balance_requested", "file_balance", {"received_at": base + timedelta(days=50)}),
        ("balance_paid", "record_balance_paid", {"paid_at": base + timedelta(days=70)}),
    ]
    reached = ["draft"] + [state for state, _action, _params in steps]
    for state, action, params in steps[reached.index(order.state) :]:
        if order.state == to_state:
            break
        if action == "file_balance":
            from orders.invoices import invoice_issue

            invoice_issue(order_id=order.pk, kind="principal", acting_user=None, now=params["received_at"])
        if action == "record_installation":
            services.order_update_checklist(
                order_id=order.pk,
                done={code: True for code, _ in services.rules.DEPLOYMENT_CHECKLIST},
                acting_user=None,
            )
        order = services.perform(
            action, order_id=order.pk, acting_user=None, params=params, now=max(now, params_max(params))
        )
        assert order.state == state, (order.state, state)
    return order


def params_max(params: dict[str, Any]) -> datetime:
    moments = [value for value in params.values() if isinstance(value, datetime)]
    return max(moments) + timedelta(hours=1)


ZERO = Decimal("0")
