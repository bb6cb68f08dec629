"""Demo data: a realistic provider, its solutions, ~200 clients and orders in every reachable state as of today.

Every state change goes through ``orders.services.perform`` with the date it happened, so the event log, the amounts
and the deadlines are those the rules produce. Deterministic (fixed seed) and idempotent (a marker provider).
"""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from clients import services as client_services
from clients.models import Client, ContactPerson
from clients.rules import luhn_check_digit
from monitoring.services import MonthReport, monitoring_record_months
from orders import invoices, rules, services
from orders.models import DocumentKind, Order, OrderState, Programme, Provider, Solution, SolutionVersion
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP

DEMO_PROVIDER_SIREN = "832451976"
DEMO_PASSWORD = "segur-demo-2026"  # noqa: S105 (demo logins, printed on purpose; never in production)
PROGRAMME_CODE = "MDV-LGC-Va2"

FIRST_NAMES = ["Camille", "Julien", "Sophie", "Nicolas", "Claire", "Thomas", "Isabelle", "Antoine", "Hélène", "Marc"]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Laurent",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guerin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clement",
    "Gauthier",
]
CITIES = [
    ("Lyon", "69003"),
    ("Marseille", "13006"),
    ("Toulouse", "31000"),
    ("Nantes", "44000"),
    ("Lille", "59000"),
    ("Rennes", "35000"),
    ("Bordeaux", "33000"),
    ("Dijon", "21000"),
    ("Brest", "29200"),
    ("Nancy", "54000"),
    ("Ajaccio", "20000"),
    ("Fort-de-France", "97200"),
]
SPECIALTIES = ["Médecine générale"] * 8 + ["Pédiatrie", "Cardiologie", "Dermatologie", "Gynécologie médicale"]
STAFF = [
    ("c.durand", "Claire", "Durand", SALES_GROUP),
    ("l.petit", "Lucas", "Petit", SALES_GROUP),
    ("m.bernard", "Marion", "Bernard", DEPLOYMENT_GROUP),
    ("s.moreau", "Samuel", "Moreau", FINANCE_GROUP),
    ("a.roux", "Agnès", "Roux", ADMIN_GROUP),
]

# How many orders end in each state (SPEC §7). "closed" cannot be reached honestly yet: the ANS has 6 months from the
# end of the month it received a journal, and no journal of this programme can have been received before mid-2026.
PLAN = {
    "draft": 30,
    "cancelled": 4,
    "pre_order": 12,
    "lapsed": 4,
    "firm": 38,
    "advance_requested": 20,
    "advance_paid": 14,
    "installed": 8,
    "pilot_pv_signed": 2,
    "va_signed": 8,
    "balance_requested": 6,
    "balance_paid": 8,
    "secondary_requested": 3,
    "secondary_paid": 2,
    "reimbursement_due": 2,
    "reimbursed": 1,
    "terminated": 2,
}


def paris(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=rules.PARIS)


def checklist_days(order: Order, after: datetime, installed: datetime) -> dict[str, bool | date]:
    """Each deployment checklist item done on its own day, from the day after ``after`` up to the installation day,
    in the checklist's order: the pilot PV then prints the days the work was done (issue #11, AF §3)."""
    items = [code for code, _label in rules.checklist_items_for(order.client)]
    first, last = rules.paris_date(after) + timedelta(days=1), rules.paris_date(installed)
    span = max((last - first).days, 0)
    return {code: first + timedelta(days=index * span // max(len(items) - 1, 1)) for index, code in enumerate(items)}


@dataclass
class DemoResult:
    created: bool
    counts: Counter[str]


class DemoBuilder:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.random = random.Random(2026)  # noqa: S311 (demo data, not security)
        self.programme = Programme.objects.get(code=PROGRAMME_CODE)
        self.sequence = 0

    # --- people and records ---

    def staff(self) -> dict[str, Any]:
        user_model = get_user_model()
        admin, created = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "first_name": "Admin"}
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save(update_fields=["password"])
        users = {"admin": admin}
        for username, first, last, group in STAFF:
            user = user_model.objects.create_user(
                username,
                password=DEMO_PASSWORD,
                first_name=first,
                last_name=last,
                is_staff=True,
                email=f"{username}@logimed.example",
            )
            user.groups.add(Group.objects.get(name=group))
            users[username] = user
        return users

    def provider(self) -> Provider:
        return Provider.objects.create(
            name="Logimed Santé SAS",
            kind="editor",
            siren=DEMO_PROVIDER_SIREN,
            vat_number="FR47832451976",
            address="18 rue des Tanneurs",
            postal_code="69007",
            city="Lyon",
            email="segur@logimed.example",
            vat_regime="vat_20",
            # Printed on every invoice and credit note (Code de commerce R123-237, issue #11).
            legal_form="SAS",
            rcs="Lyon 832 451 976",
            share_capital=Decimal("150000.00"),
            psc_habilitation_on=date(2025, 6, 2),
            asp_enrolment_requested_on=date(2025, 11, 20),
            asp_enrolment_validated_on=date(2025, 12, 1),
            hds_sworn_statement_on=date(2025, 12, 2),
            preserie_validated_on=date(2026, 1, 20),
            satisfaction_commitment=True,
        )

    def solutions(self, provider: Provider) -> tuple[Solution, Solution]:
        referenced = Solution.objects.create(
            provider=provider,
            programme=self.programme,
            name="Logimed Cabinet",
            version="12",
            ans_reference_number="LGC-VA2-2025-0117",
            has_structures_profile=True,
            has_treating_doctor_profile=True,
            administrative_file_submitted_at=paris(2025, 9, 18),
            complete_dossier_submitted_at=paris(2025, 11, 3),
            referenced_at=paris(2025, 12, 1, 12),
        )
        for label, released, end in (
            ("10", date(2021, 3, 1), date(2024, 9, 30)),
            ("11", date(2023, 4, 3), None),
            ("12", date(2025, 11, 24), None),
        ):
            SolutionVersion.objects.create(solution=referenced, label=label, released_on=released, end_announced_on=end)
        # A second product, still waiting for the ANS: its orders are conditional (AF §4.3).
        pending = Solution.objects.create(
            provider=provider,
            programme=self.programme,
            name="Logimed Maisons de santé",
            version="5",
            has_structures_profile=True,
            has_treating_doctor_profile=True,
            administrative_file_submitted_at=paris(2025, 10, 10),
        )
        return referenced, pending

    def clients(self) -> list[Client]:
        entries = []
        clients = []
        for index in range(150):
            first, last = self.random.choice(FIRST_NAMES), self.random.choice(LAST_NAMES)
            city, postal_code = self.random.choice(CITIES)
            payload = f"10{self.random.randrange(10**8):08d}"
            clients.append(
                client_services.client_create(
                    kind="doctor",
                    name=f"Dr {first} {last}",
                    rpps=payload + luhn_check_digit(payload),
                    specialty=self.random.choice(SPECIALTIES),
                    treating_patient_count=self.random.randrange(0, 1800),
                    email=f"{slugify(first)}.{slugify(last)}{index}@cabinet.example",  # ASCII: Hélène → helene
                    city=city,
                    postal_code=postal_code,
                    address=f"{self.random.randrange(1, 90)} avenue de la République",
                    siren=f"{self.random.randrange(300_000_000, 999_999_999)}",
                    wave1_benefited=index % 3 == 0,
                    wave1_self_funded=index % 7 == 0,
                )
            )
        rows = []
        for index in range(50):
            kind = "msp" if index < 30 else "cds"
            departement = f"{self.random.choice([13, 21, 29, 31, 33, 35, 44, 54, 59, 69]):02d}"
            payload = f"{departement}{self.random.randrange(10**6):06d}"
            finess = payload + luhn_check_digit(payload)
            tranche = "ABCDE"[index % 5]
            staff = {"A": 6, "B": 14, "C": 28, "D": 45, "E": 70}[tranche] + self.random.randrange(0, 5)
            rows.append(client_services.ReferenceRow(finess=finess, tranche=tranche, staff_count=staff))
            entries.append((kind, finess))
        client_services.reference_base_import(
            version="BDR-ANS-2026-09", rows=rows, published_on=date(2026, 9, 15), source_filename="bdr_lgc_va2.csv"
        )
        for index, (kind, finess) in enumerate(entries):
            city, postal_code = self.random.choice(CITIES)
            name = f"{'Maison de santé' if kind == 'msp' else 'Centre de santé'} {self.random.choice(LAST_NAMES)}"
            client = client_services.client_create(
                kind=kind,
                name=f"{name} de {city}",
                finess=finess,
                aci_signatory=True,
                staff_declared=True,
                liberal_doctor_count=self.random.randrange(2, 9) if kind == "msp" else 0,
                salaried_doctor_count=self.random.randrange(1, 6) if kind == "cds" else 0,
                cds_kind=("polyvalent" if index % 2 else "medical") if kind == "cds" else "",
                email=f"direction{index}@structure.example",
                siren=f"{self.random.randrange(300_000_000, 999_999_999)}",
                address=f"{self.random.randrange(1, 60)} rue de la Santé",
                city=city,
                postal_code=postal_code,
            )
            ContactPerson.objects.create(
                client=client,
                name=f"{self.random.choice(FIRST_NAMES)} {self.random.choice(LAST_NAMES)}",
                role="Coordinatrice",
                email=f"coordination{index}@structure.example",
                is_signatory=True,
            )
            clients.append(client)
        return clients

    # --- orders ---

    def act(self, action: str, order: Order, at: datetime, user: Any, **params: Any) -> Order:
        """Run an action as it happened at ``at`` (the rules see that moment as "now")."""
        return services.perform(action, order_id=order.pk, acting_user=user, params=params, now=at + timedelta(hours=1))

    def new_order(self, client: Client, solution: Solution, issued: datetime, salesperson: Any, **extra: Any) -> Order:
        prestation = "principal_v2" if client.wave1_benefited or client.wave1_self_funded else "principal_v1v2"
        if self.random.random() < 0.5:
            prestation = "principal_v2"
        vat_regime = rules.default_vat_regime(client, solution.provider)  # 8,5 % in Fort-de-France (AF §5.2)
        principal, secondary = services.default_amounts(
            programme=self.programme, client=client, prestation=prestation, vat_regime=vat_regime
        )
        if self.random.random() < 0.15:  # a lower amount agreed with the client (AF §5.1)
            principal = (principal * Decimal("0.9")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return services.order_create(
            programme=self.programme,
            client=client,
            solution=solution,
            prestation=prestation,
            vat_regime=vat_regime,
            principal_amount=principal,
            secondary_amount=secondary,
            issued_at=issued,
            salesperson=salesperson,
            acting_user=salesperson,
            **extra,
        )

    def secondary_monitoring(self, orders: list[Order], users: dict[str, Any]) -> None:
        """Monthly figures in every PERF situation (AF §3.3): 1, 0,5, 0, not enough data, and one order that reaches
        PERF 1 only once a mistyped month (Dt 400 for 40) is corrected — its history keeps both revisions."""
        from monitoring.services import record_months

        deployment = users["m.bernard"]
        profiles = [[(40, 28)] * 8, [(40, 19)] * 8, [(40, 10)] * 8, [(40, 24)] * 3]
        for order, figures in zip(orders, profiles, strict=False):
            start = rules.secondary_start(order)
            assert start is not None
            reports = [
                MonthReport(rules.add_months(start, i), dt, dm, 160, 130, 12) for i, (dt, dm) in enumerate(figures)
            ]
            assert not record_months(order, reports, user=deployment).rejected
        if len(orders) > len(profiles):
            order = orders[len(profiles)]
            start = rules.secondary_start(order)
            assert start is not None
            figures = [(40, 24)] * 6
            figures[2] = (400, 24)  # a zero too many in March: 144 sent of 600 → PERF 0
            reports = [
                MonthReport(rules.add_months(start, i), dt, dm, 160, 130, 12) for i, (dt, dm) in enumerate(figures)
            ]
            assert not record_months(order, reports, user=deployment).rejected
            correction = [MonthReport(rules.add_months(start, 2), 40, 24, 160, 130, 12)]
            assert not record_months(order, correction, user=deployment, reason="Dt saisi 400 au lieu de 40").rejected

    def walk(self, order: Order, target: str, start: datetime, users: dict[str, Any]) -> Order:
        """Take a firm-path order from draft to ``target``, each step a few days after the previous one."""
        sales, deployment, finance = users["c.durand"], users["m.bernard"], users["s.moreau"]
        finance_user = finance
        at = start
        path = [
            (
                "firm",
                "sign",
                sales,
                {
                    "signature_method": self.random.choice(["eidas_simple", "handwritten", "psc"]),
                    "signatory_name": order.client.name,
                },
            ),
            ("advance_requested", "file_advance", finance, {"asp_reference": f"ASP-AV-{order.pk:05d}"}),
            ("advance_paid", "record_advance_paid", finance, {}),
            ("installed", "record_installation", deployment, {}),
            ("pilot_pv_signed", "sign_pilot_pv", deployment, {}),
            ("va_signed", "sign_va", deployment, {}),
            ("balance_requested", "file_balance", finance, {"asp_reference": f"ASP-SO-{order.pk:05d}"}),
            ("balance_paid", "record_balance_paid", finance, {}),
        ]
        date_field = {
            "sign": "signed_at",
            "file_advance": "received_at",
            "record_advance_paid": "paid_at",
            "record_installation": "installed_at",
            "sign_pilot_pv": "signed_at",
            "sign_va": "signed_at",
            "file_balance": "received_at",
            "record_balance_paid": "paid_at",
        }
        states = ["draft"] + [state for state, *_rest in path]
        for state, action, user, params in path[states.index(order.state) :]:
            if order.state == target:
                break
            if action == "sign_pilot_pv" and not order.is_pilot:
                continue
            if action == "file_balance":
                invoices.invoice_issue(order_id=order.pk, kind="principal", acting_user=finance_user, now=at)
            previous, at = at, at + timedelta(days=self.random.randrange(3, 9))
            if action == "record_installation":
                services.order_update_checklist(
                    order_id=order.pk, done=checklist_days(order, previous, at), acting_user=deployment
                )
            order = self.act(action, order, at, user, **{date_field[action]: at}, **params)
            assert order.state == state
        return order

    def build(self) -> Counter[str]:
        users = self.staff()
        provider = self.provider()
        referenced, pending = self.solutions(provider)
        clients = self.clients()
        self.random.shuffle(clients)
        pool = iter(clients)
        sales = [users["c.durand"], users["l.petit"]]
        counts: Counter[str] = Counter()

        def next_order(solution: Solution, issued: datetime, **extra: Any) -> Order:
            while True:
                client = next(pool)
                if client.is_structure or solution.has_treating_doctor_profile or client.treating_patient_count < 10:
                    return self.new_order(client, solution, issued, self.random.choice(sales), **extra)

        # Early cohort (winter 2025-26): the 5 pilot clients, then the first VAs, balances and secondary requests.
        early_targets = ["pilot_pv_signed"] * 2 + ["balance_paid"] * 3
        early_targets += ["balance_paid"] * (
            PLAN["balance_paid"] + PLAN["secondary_requested"] + PLAN["secondary_paid"]
        )
        early_targets += ["va_signed"] * 2 + ["balance_requested"] * PLAN["balance_requested"]
        early_targets += ["va_signed"] * PLAN["terminated"]
        early = []
        for index, target in enumerate(early_targets):
            order = next_order(referenced, paris(2025, 12, 2), is_pilot=index < 5)
            first_stop = "pilot_pv_signed" if index < 5 else ("va_signed" if target != "va_signed" else target)
            early.append(self.walk(order, first_stop, paris(2025, 12, 2), users))
        # The ANS validated the 5 pilot PVs (AF §6.3): balance requests are open for every order.
        referenced.pilot_validated_at = paris(2026, 2, 10, 12)
        referenced.save(update_fields=["pilot_validated_at"])
        finance, deployment = users["s.moreau"], users["m.bernard"]
        for index, order in enumerate(early):
            target = early_targets[index]
            if index < 5:
                if index >= 2:
                    order = self.act("sign_va", order, paris(2026, 2, 12), deployment, signed_at=paris(2026, 2, 12))
                    order = self.walk(order, "balance_paid", paris(2026, 2, 16), users)
            elif target in {"balance_paid", "balance_requested"}:
                order = self.walk(order, target, paris(2026, 2, 16), users)
            early[index] = order
        secondary_orders = [order for order in early if order.state == "balance_paid"][
            : PLAN["secondary_requested"] + PLAN["secondary_paid"]
        ]
        for index, order in enumerate(secondary_orders):
            start = rules.secondary_start(order)
            assert start is not None
            reports = [
                MonthReport(rules.add_months(start, month), 30 + month, 21 + month - index * 2, 160, 130, 12)
                for month in range(6)
            ]
            journal = monitoring_record_months(order=order, reports=reports)
            assert not journal.rejected, journal.rejected
            received = paris(2026, 9, 8 + index)
            invoices.invoice_issue(order_id=order.pk, kind="secondary", acting_user=finance, now=received)
            order = self.act("file_secondary", order, received, finance, received_at=received)
            if index < PLAN["secondary_paid"]:
                order = self.act(
                    "record_secondary_paid",
                    order,
                    received + timedelta(days=30),
                    finance,
                    paid_at=received + timedelta(days=30),
                )
        self.secondary_monitoring([o for o in early if o.state == "balance_paid" and o not in secondary_orders], users)
        terminated = [order for order in early if order.state == "va_signed"][-PLAN["terminated"] :]
        for order in terminated:
            self.act(
                "record_termination",
                order,
                paris(2026, 10, 5),
                users["c.durand"],
                terminated_at=paris(2026, 10, 5),
                reason="Départ à la retraite du médecin, cabinet fermé",
            )

        # Spring-autumn 2026: advances paid, installations under way, VAs.
        for target, count, start in (
            ("va_signed", PLAN["va_signed"] - 2, paris(2026, 6, 1)),
            ("installed", PLAN["installed"], paris(2026, 8, 3)),
            ("advance_paid", PLAN["advance_paid"], paris(2026, 9, 7)),
            ("advance_paid", PLAN["reimbursement_due"] + PLAN["reimbursed"], paris(2026, 5, 4)),
            ("advance_requested", PLAN["advance_requested"], paris(2026, 10, 26)),
            ("firm", PLAN["firm"], paris(2026, 11, 2)),
        ):
            for _ in range(count):
                order = self.walk(next_order(referenced, start), target, start, users)
                counts[order.state] += 0
        # Advances paid in May for installations that will not happen: declared to the client and the ASP (AF §VII).
        undone = Order.objects.filter(state="advance_paid", advance_paid_at__lt=paris(2026, 7, 1)).order_by("pk")
        for index, order in enumerate(undone):
            notified = paris(2026, 10, 12)
            order = self.act(
                "declare_not_completed",
                order,
                notified,
                finance,
                notified_at=notified,
                reason="Le cabinet a changé de logiciel : prestation impossible à réaliser.",
            )
            if index < PLAN["reimbursed"]:
                self.act("record_reimbursement", order, paris(2026, 11, 9), finance, reimbursed_at=paris(2026, 11, 9))

        # Pre-orders on the product still waiting for the ANS: the early ones lapsed after 120 days (AF §4.3).
        for _ in range(PLAN["lapsed"]):
            order = next_order(pending, paris(2026, 1, 12))
            order = self.act(
                "sign",
                order,
                paris(2026, 1, 14),
                users["l.petit"],
                signed_at=paris(2026, 1, 14),
                signature_method="handwritten",
                signatory_name=order.client.name,
            )
            self.act("lapse", order, paris(2026, 5, 15), None)
        pending.complete_dossier_submitted_at = paris(2026, 7, 6, 16)
        pending.save(update_fields=["complete_dossier_submitted_at"])
        for index in range(PLAN["pre_order"]):
            signed = paris(2026, 9, 1) + timedelta(days=index * 6)
            order = next_order(pending, signed - timedelta(days=2))
            self.act(
                "sign",
                order,
                signed,
                users["l.petit"],
                signed_at=signed,
                signature_method="eidas_simple",
                signatory_name=order.client.name,
            )

        # This month: order forms out for signature before Date 4, a few cancelled.
        for index in range(PLAN["draft"] + PLAN["cancelled"]):
            order = next_order(referenced, paris(2026, 11, 9) + timedelta(days=index % 12))
            if index < PLAN["cancelled"]:
                self.act(
                    "cancel",
                    order,
                    paris(2026, 11, 20),
                    users["c.durand"],
                    reason="Le client a choisi de rester sur sa version actuelle.",
                )
        return Counter(Order.objects.values_list("state", flat=True))


def seed_demo(now: datetime | None = None) -> DemoResult:
    """Create the demo data once; a second call changes nothing and reports what is there."""
    from portal.sealing import demo_certificate_ensure

    demo_certificate_ensure()  # the self-signed sealing certificate of online signatures, under var/ (issue #12)
    if Provider.objects.filter(siren=DEMO_PROVIDER_SIREN).exists():
        return DemoResult(False, Counter(Order.objects.values_list("state", flat=True)))
    with transaction.atomic():
        counts = DemoBuilder(now or timezone.now()).build()
    return DemoResult(True, counts)


def showcase_client_order() -> Order | None:
    """The demo order shown in the client space: installed, its VA to sign, with its order form and VA generated
    once (a second call generates nothing)."""
    from orders.documents import document_generate

    order = (
        Order.objects.filter(state=OrderState.INSTALLED, is_pilot=False, solution__provider__siren=DEMO_PROVIDER_SIREN)
        .exclude(client__email="")
        .select_related("client")
        .order_by("pk")
        .first()
    )
    if order is not None and not order.documents.exists():
        from portal.signing import signature_request_send

        document_generate(order_id=order.pk, kind=DocumentKind.ORDER_FORM, acting_user=None)
        # The VA, offered to be signed online (issue #12); the demo mails nothing.
        signature_request_send(order_id=order.pk, acting_user=None, notify=False)
    return order
