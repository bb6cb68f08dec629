"""Every transition of SPEC §7, allowed and refused; a refusal names its rule and changes nothing."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from clients.services import client_create
from monitoring.models import MonitoringMonth
from orders import rules, services
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderEvent
from orders.roles import DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from tests.factories import (
    advance,
    lgc_programme,
    make_doctor,
    make_order,
    make_provider,
    make_solution,
    make_structure,
    make_user,
    paris,
    valid_rpps,
)

TODAY = paris(2026, 11, 23, 10)
SIGNATURE = {"signature_method": "eidas_simple", "signatory_name": "Dr Martin"}

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def invoice(order, kind="principal"):
    from orders.invoices import invoice_issue

    return invoice_issue(order_id=order.pk, kind=kind, acting_user=None)


def refused(action, order, *, params=None, user=None, now=None):
    """Run an action expected to be refused; return the rule codes and check nothing changed but the log."""
    before = Order.objects.values().get(pk=order.pk)
    events_before = OrderEvent.objects.filter(order=order).count()
    with pytest.raises(BusinessRuleError) as error:
        services.perform(action, order_id=order.pk, acting_user=user, params=params or {}, now=now)
    assert Order.objects.values().get(pk=order.pk) == before
    last = OrderEvent.objects.filter(order=order).last()
    assert OrderEvent.objects.filter(order=order).count() == events_before + 1
    assert last.accepted is False and last.action == action and last.message == error.value.message
    return error.value.codes, error.value.message


# --- Draft: the order form's terms (AF §4.2, §4.3, §5) -----------------------------------------------------------


def test_amounts_default_to_the_ceiling_of_the_client_category():
    structure = make_structure(kind="msp", tranche="C")

    order = make_order(client=structure, prestation="principal_v1v2")

    assert order.principal_amount == Decimal("9868.50")
    assert order.secondary_amount == Decimal("2125.00")


def test_duplicate_order_for_a_client_is_refused():
    order = make_order()

    with pytest.raises(BusinessRuleError) as error:
        make_order(client=order.client, solution=order.solution)

    assert error.value.codes == ["DUPLICATE_ORDER"]
    assert "une seule commande par client" in error.value.message
    assert Order.objects.count() == 1


def test_uniqueness_is_enforced_by_the_database_too():
    from django.db import IntegrityError, transaction

    order = make_order()
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(
            number="X",
            programme=order.programme,
            client=order.client,
            solution=order.solution,
            prestation="principal_v2",
            vat_regime="vat_20",
            principal_amount=1,
            secondary_amount=1,
            issued_at=TODAY,
        )


@pytest.mark.parametrize(
    ("principal", "secondary", "code"),
    [
        (Decimal("451.51"), Decimal("125.00"), "AMOUNT_ABOVE_CEILING"),
        (Decimal("400.00"), Decimal("125.01"), "AMOUNT_ABOVE_CEILING"),
        (Decimal("0"), Decimal("125.00"), "AMOUNT_NOT_POSITIVE"),
        (Decimal("451.50"), Decimal("0.00"), "AMOUNT_NOT_POSITIVE"),
    ],
)
def test_amount_above_the_ceiling_or_zero_is_refused(principal, secondary, code):
    with pytest.raises(BusinessRuleError) as error:
        make_order(principal_amount=principal, secondary_amount=secondary)

    assert error.value.codes == [code]
    assert "AF §" in error.value.message
    assert Order.objects.count() == 0


def test_a_lower_amount_agreed_with_the_client_is_accepted():
    order = make_order(principal_amount=Decimal("400.00"), secondary_amount=Decimal("100.00"))

    assert order.principal_amount == Decimal("400.00")


@pytest.mark.parametrize("history", [{"wave1_benefited": True}, {"wave1_self_funded": True}])
def test_v1v2_for_a_client_with_wave1_history_is_refused(history):
    client = make_doctor(**history)

    with pytest.raises(BusinessRuleError) as error:
        make_order(client=client, prestation="principal_v1v2")

    assert error.value.codes == ["V1V2_NOT_ALLOWED"]
    assert "AF §4.2" in error.value.message
    assert make_order(client=client, prestation="principal_v2").state == "draft"


def test_a_solution_lacking_a_required_profile_is_refused():
    solution = make_solution(has_structures_profile=False)

    with pytest.raises(BusinessRuleError) as error:
        make_order(client=make_structure(), solution=solution)

    assert error.value.codes == ["SOLUTION_PROFILE_MISSING"]
    assert "Structures d'exercice coordonné" in error.value.message


def test_a_doctor_below_ten_treating_patients_needs_no_profile():
    solution = make_solution(has_structures_profile=False, has_treating_doctor_profile=False)

    assert make_order(client=make_doctor(treating_patient_count=9), solution=solution).state == "draft"
    with pytest.raises(BusinessRuleError) as error:
        make_order(client=make_doctor(treating_patient_count=10), solution=solution)
    assert error.value.codes == ["SOLUTION_PROFILE_MISSING"]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"rpps": "12345678901"}, "RPPS_CHECK_DIGIT"),
        ({"rpps": "1234"}, "RPPS_FORMAT"),
        ({"specialty": "Médecine nucléaire"}, "EXCLUDED_SPECIALTY"),
    ],
)
def test_invalid_or_ineligible_doctor_is_not_created(data, code):
    fields = {"kind": "doctor", "name": "Dr X", "rpps": valid_rpps(), "specialty": "Médecine générale"} | data
    if code == "RPPS_CHECK_DIGIT" and rules_luhn_ok(fields["rpps"]):
        fields["rpps"] = fields["rpps"][:-1] + str((int(fields["rpps"][-1]) + 1) % 10)

    with pytest.raises(BusinessRuleError) as error:
        client_create(**fields)

    assert error.value.codes == [code]
    from clients.models import Client

    assert Client.objects.count() == 0


def rules_luhn_ok(value):
    from clients.rules import luhn_is_valid

    return value.isdigit() and luhn_is_valid(value)


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"kind": "cds", "cds_kind": "dentaire", "salaried_doctor_count": 2}, "CDS_KIND_EXCLUDED"),
        ({"kind": "cds", "cds_kind": "infirmier", "salaried_doctor_count": 2}, "CDS_KIND_EXCLUDED"),
        ({"kind": "msp", "liberal_doctor_count": 0}, "MSP_WITHOUT_LIBERAL_DOCTOR"),
        ({"kind": "msp", "finess": "750001235"}, "FINESS_CHECK_DIGIT"),
    ],
)
def test_ineligible_or_invalid_structure_is_not_created(overrides, code):
    from clients.models import Client

    kind = overrides.pop("kind")
    with pytest.raises(BusinessRuleError) as error:
        make_structure(kind=kind, **overrides)

    assert code in error.value.codes
    assert Client.objects.count() == 0


# --- Signature (AF §4.3) ------------------------------------------------------------------------------------------


def test_signing_after_referencing_makes_a_firm_order():
    order = make_order()

    order = services.perform("sign", order_id=order.pk, acting_user=None, params={"signed_at": TODAY} | SIGNATURE)

    assert order.state == "firm"
    assert order.signed_at == TODAY and order.firm_at == TODAY


def test_signature_at_date_4_noon_is_accepted_and_one_second_later_is_refused():
    programme = lgc_programme()
    late = make_order()
    on_time = make_order()
    after = programme.date_4 + timedelta(hours=1)

    codes, message = refused(
        "sign", late, params={"signed_at": programme.date_4 + timedelta(seconds=1)} | SIGNATURE, now=after
    )
    signed = services.perform(
        "sign", order_id=on_time.pk, acting_user=None, params={"signed_at": programme.date_4} | SIGNATURE, now=after
    )

    assert codes == ["SIGNED_AFTER_DATE_4"]
    assert "16/12/2026 12:00" in message and "AF §2, §4.3" in message
    assert signed.state == "firm"


def test_signature_needs_its_method():
    codes, _ = refused("sign", make_order(), params={"signed_at": TODAY})

    assert codes == ["SIGNATURE_METHOD_MISSING"]


def test_signing_before_referencing_makes_a_pre_order_that_is_firmed_once_referenced():
    solution = make_solution(complete_dossier_submitted_at=None, referenced_at=None)
    order = make_order(solution=solution, issued_at=paris(2026, 5, 1))

    order = services.perform(
        "sign",
        order_id=order.pk,
        acting_user=None,
        params={"signed_at": paris(2026, 5, 2)} | SIGNATURE,
        now=paris(2026, 5, 2, 13),
    )
    assert order.state == "pre_order"
    codes, _ = refused("firm", order)
    assert codes == ["COMPLETE_DOSSIER_LATE", "SOLUTION_NOT_REFERENCED"]

    solution.complete_dossier_submitted_at = paris(2026, 7, 20)  # before Date 2 (22/07/2026 12:00)
    solution.referenced_at = paris(2026, 11, 20)
    solution.save()
    order = services.perform("firm", order_id=order.pk, acting_user=None)

    assert order.state == "firm"


@pytest.mark.parametrize(
    ("dossier_at", "firmed"),
    [(paris(2026, 7, 22, 12), True), (paris(2026, 7, 22, 12, 0, 1), False), (paris(2026, 8, 10), False)],
)
def test_date_2_caps_the_120_days_of_a_pre_order(dossier_at, firmed):
    """AF §II, §4.3: signed 02/07/2026, its 120 days run to 30/10/2026, but the complete dossier must reach the ANS
    before Date 2 (22/07/2026 12:00): one filed on 10/08, within the 120 days, does not firm the order."""
    solution = make_solution(complete_dossier_submitted_at=None, referenced_at=None)
    order = make_order(solution=solution, issued_at=paris(2026, 7, 1))
    order = services.perform(
        "sign",
        order_id=order.pk,
        acting_user=None,
        params={"signed_at": paris(2026, 7, 2)} | SIGNATURE,
        now=paris(2026, 7, 2, 13),
    )
    solution.complete_dossier_submitted_at, solution.referenced_at = dossier_at, paris(2026, 11, 2)
    solution.save()

    if firmed:
        assert services.perform("firm", order_id=order.pk, acting_user=None).state == "firm"
    else:
        codes, message = refused("firm", order)
        assert codes == ["COMPLETE_DOSSIER_LATE"]
        assert "avant la Date 2 (22/07/2026 12:00)" in message


def test_a_pre_order_cannot_be_signed_after_date_2_without_a_complete_dossier():
    """AF §4.3: after Date 2 with no complete dossier on file, a pre-order could never be firmed."""
    solution = make_solution(complete_dossier_submitted_at=None, referenced_at=None)
    order = make_order(solution=solution, issued_at=paris(2026, 7, 1))

    codes, message = refused("sign", order, params={"signed_at": paris(2026, 7, 22, 12, 0, 1)} | SIGNATURE)

    assert codes == ["PRE_ORDER_AFTER_DATE_2"]
    assert "Date 2" in message and "AF §II, §4.3" in message
    signed = services.perform(
        "sign",
        order_id=order.pk,
        acting_user=None,
        params={"signed_at": paris(2026, 7, 22, 12)} | SIGNATURE,
        now=paris(2026, 7, 22, 12),
    )
    assert signed.state == "pre_order"


def test_a_pre_order_can_be_signed_after_date_2_when_the_complete_dossier_was_filed_before_it():
    solution = make_solution(complete_dossier_submitted_at=paris(2026, 7, 20), referenced_at=None)
    order = make_order(solution=solution, issued_at=paris(2026, 10, 1))

    signed = services.perform(
        "sign", order_id=order.pk, acting_user=None, params={"signed_at": paris(2026, 10, 2)} | SIGNATURE
    )

    assert signed.state == "pre_order"


def test_pre_order_signed_more_than_120_days_before_the_complete_dossier_is_refused():
    """AF §4.3, counted in Paris calendar days: a dossier filed at 15:00 on day 120 is on time, on day 121 late."""
    solution = make_solution(complete_dossier_submitted_at=paris(2026, 7, 20, 15), referenced_at=None)
    order = make_order(solution=solution, issued_at=paris(2026, 3, 1))

    codes, message = refused("sign", order, params={"signed_at": paris(2026, 3, 21, 9)} | SIGNATURE)

    assert codes == ["PRE_ORDER_SIGNED_TOO_EARLY"]
    assert "120 jours" in message and "AF §4.3" in message and "19/07/2026" in message
    # 21/03 + 120 days = 19/07: a dossier on 20/07 is on day 121; signed on 22/03 (at 18:00, after the dossier's
    # hour) the 20/07 is day 120.
    assert (
        services.perform(
            "sign", order_id=order.pk, acting_user=None, params={"signed_at": paris(2026, 3, 22, 18)} | SIGNATURE
        ).state
        == "pre_order"
    )


def test_a_pre_order_lapses_after_120_days_without_complete_dossier():
    solution = make_solution(complete_dossier_submitted_at=None, referenced_at=None)
    order = make_order(solution=solution, issued_at=paris(2026, 3, 1))
    order = services.perform(
        "sign",
        order_id=order.pk,
        acting_user=None,
        params={"signed_at": paris(2026, 3, 2, 10)} | SIGNATURE,
        now=paris(2026, 3, 2, 11),
    )
    last_day = paris(2026, 6, 30, 23, 59, 59)  # 02/03 + 120 calendar days = 30/06, the whole day (Paris)

    codes, _ = refused("lapse", order, now=last_day)
    order = services.perform("lapse", order_id=order.pk, acting_user=None, now=paris(2026, 7, 1, 0))

    assert codes == ["PRE_ORDER_STILL_VALID"]
    assert order.state == "lapsed"
    assert "120 jours" in order.closing_reason
    assert OrderEvent.objects.filter(order=order).last().actor_label == "system"


# --- Advance (AF §6.2) --------------------------------------------------------------------------------------------


def test_advance_request_without_validated_enrolment_is_refused():
    solution = make_solution(provider=make_provider(asp_enrolment_validated_on=None))
    order = advance(make_order(solution=solution), "firm")

    codes, message = refused("file_advance", order, params={"received_at": TODAY})

    assert codes == ["ENROLMENT_NOT_VALIDATED"]
    assert "AF §6.1, §6.2" in message


def test_advance_request_after_date_4_is_refused():
    order = advance(make_order(), "firm")
    date_4 = lgc_programme().date_4

    codes, message = refused(
        "file_advance", order, params={"received_at": date_4 + timedelta(seconds=1)}, now=date_4 + timedelta(days=1)
    )

    assert codes == ["DATE_4_PASSED"]
    assert message == (
        "Date 4 dépassée : la demande d'avance doit être reçue par l'ASP avant le 16/12/2026 12:00 (AF §2, §6.2)."
    )


def test_advance_exception_when_the_ans_has_not_decided_15_days_before_date_4():
    solution = make_solution(complete_dossier_submitted_at=paris(2026, 7, 1), referenced_at=None)
    order = make_order(solution=solution, issued_at=paris(2026, 10, 1))
    order = services.perform(
        "sign", order_id=order.pk, acting_user=None, params={"signed_at": paris(2026, 10, 2)} | SIGNATURE
    )

    too_early, _ = refused("file_advance", order, params={"received_at": paris(2026, 11, 23, 9)})
    filed = services.perform(
        "file_advance",
        order_id=order.pk,
        acting_user=None,
        params={"received_at": paris(2026, 12, 2)},
        now=paris(2026, 12, 2, 13),
    )

    assert too_early == ["SOLUTION_NOT_REFERENCED"]
    assert filed.state == "advance_requested"


def test_asp_return_loops_back_and_keeps_the_message():
    order = advance(make_order(), "advance_requested")

    order = services.perform(
        "return_advance",
        order_id=order.pk,
        acting_user=None,
        params={"return_kind": "to_complete", "asp_message": "Bon de commande illisible, merci de le renvoyer."},
    )

    assert order.state == "firm"
    event = OrderEvent.objects.filter(order=order).last()
    assert event.payload["asp_message"] == "Bon de commande illisible, merci de le renvoyer."
    assert (
        services.perform("file_advance", order_id=order.pk, acting_user=None, params={"received_at": TODAY}).state
        == "advance_requested"
    )


def test_advance_paid_is_40_percent_and_never_rewritten():
    order = advance(make_order(client=make_structure(tranche="A")), "advance_paid")

    assert order.advance_amount == Decimal("1264.20")  # 40 % of 3 160.50
    codes, _ = refused("record_advance_paid", order)
    assert codes == ["STATE_NOT_ALLOWED"]


# --- Realisation, pilot, VA (AF §3, §4.4, §6.3) -------------------------------------------------------------------


def test_installation_needs_the_whole_checklist():
    order = advance(make_order(), "advance_paid")
    services.order_update_checklist(
        order_id=order.pk, done={"installation": True, "training_session": True}, acting_user=None
    )

    codes, message = refused("record_installation", order, params={"installed_at": TODAY})

    assert codes == ["CHECKLIST_INCOMPLETE"]
    assert "Documentation livrée" in message
    assert "certificat" not in message  # structure-only item, not asked of a doctor


def test_installation_after_date_5_is_refused():
    order = advance(make_order(), "advance_paid")
    services.order_update_checklist(
        order_id=order.pk, done={code: True for code, _ in rules.DEPLOYMENT_CHECKLIST}, acting_user=None
    )
    date_5 = lgc_programme().date_5

    codes, _ = refused(
        "record_installation", order, params={"installed_at": date_5 + timedelta(seconds=1)}, now=date_5 + timedelta(1)
    )

    assert codes == ["DATE_5_PASSED"]


def test_va_before_installation_is_refused():
    order = advance(make_order(), "advance_paid")

    codes, message = refused("sign_va", order, params={"signed_at": TODAY})

    assert codes == ["STATE_NOT_ALLOWED"]
    assert "Avance versée" in message


def test_va_dated_before_the_installation_is_refused():
    order = advance(make_order(), "installed")

    codes, _ = refused("sign_va", order, params={"signed_at": order.installed_at - timedelta(days=1)})

    assert codes == ["VA_BEFORE_INSTALLATION"]


def test_pilot_order_needs_its_pv_before_the_va_and_the_pilot_holds_five():
    solution = make_solution()
    orders = [advance(make_order(solution=solution, is_pilot=True), "installed") for _ in range(6)]

    codes, _ = refused("sign_va", orders[0], params={"signed_at": TODAY})
    assert codes == ["PILOT_PV_MISSING"]
    for order in orders[:5]:
        assert services.perform("sign_pilot_pv", order_id=order.pk, acting_user=None).state == "pilot_pv_signed"
    codes, _ = refused("sign_pilot_pv", orders[5])

    assert codes == ["PILOT_FULL"]
    assert services.perform("sign_va", order_id=orders[0].pk, acting_user=None).state == "va_signed"


# --- Balance (AF §6.4) --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("solution_fields", "provider_fields", "code"),
    [
        ({"pilot_validated_at": None}, {}, "PILOT_NOT_VALIDATED"),
        ({}, {"preserie_validated_on": None}, "PRESERIE_NOT_VALIDATED"),
    ],
)
def test_balance_request_without_pilot_validation_or_preserie_is_refused(solution_fields, provider_fields, code):
    solution = make_solution(provider=make_provider(**provider_fields), **solution_fields)
    order = advance(make_order(solution=solution), "va_signed")
    invoice(order)

    codes, message = refused("file_balance", order, params={"received_at": TODAY})

    assert codes == [code]
    assert "§6.4)" in message


def test_balance_request_after_date_6_is_refused():
    order = advance(make_order(), "va_signed")
    invoice(order)
    date_6 = lgc_programme().date_6

    codes, message = refused(
        "file_balance", order, params={"received_at": date_6 + timedelta(seconds=1)}, now=date_6 + timedelta(days=1)
    )

    assert codes == ["DATE_6_PASSED"]
    assert "13/10/2027 12:00" in message


def test_balance_paid_is_the_remainder():
    order = advance(make_order(client=make_structure(tranche="A"), vat_regime="vat_8_5"), "balance_paid")

    assert order.principal_amount == Decimal("2857.62")
    assert order.advance_amount == Decimal("1143.05")
    assert order.balance_amount == Decimal("1714.57")


# --- Secondary (AF §4.5, §6.5) ------------------------------------------------------------------------------------


def add_monitoring(order, first_month, months, dt, dm):
    for index in range(months):
        MonitoringMonth.objects.create(
            order=order,
            month=rules.add_months(first_month, index),
            documents_expected=dt,
            documents_sent=dm,
            patients_seen=50,
            patients_qualified=40,
            patients_transitional=5,
        )


def test_secondary_request_at_the_reached_perf_then_paid():
    order = advance(make_order(), "balance_paid")
    start = rules.secondary_start(order)
    add_monitoring(order, start, 6, 20, 9)  # 120 documents, 54 sent = 45 % → PERF 0.5
    later = paris(2027, 6, 15)
    secondary_invoice = invoice(order, "secondary")
    assert secondary_invoice.total_ttc == Decimal("62.50")

    order = services.perform(
        "file_secondary", order_id=order.pk, acting_user=None, params={"received_at": later}, now=later
    )
    order = services.perform("record_secondary_paid", order_id=order.pk, acting_user=None, now=later)

    assert order.secondary_perf == Decimal("0.5")
    assert order.secondary_paid_amount == Decimal("62.50")


def test_secondary_request_without_significant_perf_is_refused():
    order = advance(make_order(), "balance_paid")
    add_monitoring(order, rules.secondary_start(order), 6, 20, 5)
    later = paris(2027, 6, 15)

    codes, _ = refused("file_secondary", order, params={"received_at": later}, now=later)

    assert codes == ["INVOICE_MISSING", "PERF_NOT_REACHED"]
    with pytest.raises(BusinessRuleError) as error:
        invoice(order, "secondary")  # never an invoice at zero (AF §4.5)
    assert error.value.codes == ["INVOICE_SECONDARY_NOT_DUE"]


def test_secondary_request_after_20_months_is_refused():
    order = advance(make_order(), "balance_paid")
    start = rules.secondary_start(order)
    add_monitoring(order, start, 6, 20, 15)
    invoice(order, "secondary")
    last_day = rules.add_months(start, 20)  # «au plus tard 20 mois après le démarrage» (AF §4.5): a Paris day
    on_time = datetime.combine(last_day, time(23, 0), tzinfo=rules.PARIS)
    too_late = datetime.combine(last_day + timedelta(days=1), time(0, 0), tzinfo=rules.PARIS)

    codes, message = refused("file_secondary", order, params={"received_at": too_late}, now=too_late)

    assert codes == ["SECONDARY_REQUEST_LATE"]
    assert f"le {last_day:%d/%m/%Y} (AF §4.5)" in message
    filed = services.perform(
        "file_secondary", order_id=order.pk, acting_user=None, params={"received_at": on_time}, now=on_time
    )
    assert filed.state == "secondary_requested"


# --- Side exits (AF §VII, SPEC §7) --------------------------------------------------------------------------------


def test_not_completed_at_date_5_makes_the_advance_undue_then_reimbursed():
    order = advance(make_order(), "advance_paid")

    order = services.perform(
        "declare_not_completed",
        order_id=order.pk,
        acting_user=None,
        params={"notified_at": TODAY, "reason": "Client injoignable pour l'installation"},
    )
    order = services.perform("record_reimbursement", order_id=order.pk, acting_user=None)

    assert order.state == "reimbursed"
    assert order.advance_amount == Decimal("180.60")  # amounts already paid are never rewritten


def test_cancel_needs_a_reason_and_is_impossible_after_an_asp_request():
    draft = make_order()
    requested = advance(make_order(), "advance_requested")

    assert refused("cancel", draft, params={"reason": " "})[0] == ["REASON_MISSING"]
    assert refused("cancel", requested, params={"reason": "Erreur"})[0] == ["STATE_NOT_ALLOWED"]
    assert services.perform("cancel", order_id=draft.pk, acting_user=None, params={"reason": "Erreur"}).state == (
        "cancelled"
    )


def test_termination_opens_the_12_month_asp_notice_deadline():
    order = advance(make_order(), "va_signed")

    order = services.perform(
        "record_termination", order_id=order.pk, acting_user=None, params={"terminated_at": TODAY, "reason": "Départ"}
    )

    deadline = next(d for d in rules.order_deadlines(order, TODAY) if d.code == "TERMINATION_NOTICE")
    assert deadline.due_at == rules.end_of_day_paris(date(2027, 11, 23))  # 12 months: the whole Paris day
    assert deadline.actor == "finance"
    assert deadline.status == "upcoming"
    assert (
        next(d for d in rules.order_deadlines(order, paris(2027, 11, 23, 23)) if d.code == deadline.code).status
        == "upcoming"
    )
    assert (
        next(d for d in rules.order_deadlines(order, paris(2027, 11, 24, 0)) if d.code == deadline.code).status
        == "overdue"
    )


# --- Permissions (SPEC §1) ----------------------------------------------------------------------------------------


def test_each_role_may_only_run_its_own_transitions():
    sales, finance, deployment = (
        make_user("sales", SALES_GROUP),
        make_user("fin", FINANCE_GROUP),
        make_user("dep", DEPLOYMENT_GROUP),
    )
    order = advance(make_order(), "firm")

    codes, message = refused("file_advance", order, params={"received_at": TODAY}, user=sales)
    assert codes == ["PERMISSION_DENIED"]
    assert "Déposer la demande d'avance" in message
    assert refused("file_advance", order, params={"received_at": TODAY}, user=deployment)[0] == ["PERMISSION_DENIED"]

    order = services.perform("file_advance", order_id=order.pk, acting_user=finance, params={"received_at": TODAY})

    assert order.state == "advance_requested"
    event = OrderEvent.objects.filter(order=order).last()
    assert event.actor == finance and event.actor_label == "fin"


# --- Event log (SPEC §7) ------------------------------------------------------------------------------------------


def test_the_event_log_is_immutable():
    event = OrderEvent.objects.filter(order=make_order()).get()

    with pytest.raises(ValueError, match="ne se modifie jamais"):
        event.save()
    with pytest.raises(ValueError, match="ne se supprime jamais"):
        event.delete()


def test_the_state_field_cannot_be_written_directly():
    order = make_order()

    with pytest.raises(AttributeError):
        order.state = "balance_paid"


# --- Deadlines (SPEC §10) -----------------------------------------------------------------------------------------


def test_deadlines_of_a_firm_order_and_their_status():
    order = advance(make_order(), "firm")

    upcoming = rules.order_deadlines(order, TODAY)
    overdue = rules.order_deadlines(order, lgc_programme().date_4 + timedelta(seconds=1))

    assert [(d.code, d.status, d.actor) for d in upcoming] == [("DATE_4_ADVANCE", "upcoming", "finance")]
    assert upcoming[0].due_at == paris(2026, 12, 16)
    assert overdue[0].status == "overdue"


def test_deadlines_after_the_va_include_date_5_date_6_and_the_secondary_window():
    order = advance(make_order(), "va_signed")
    start = rules.secondary_start(order)

    deadlines = {d.code: d for d in rules.order_deadlines(order, TODAY)}

    assert deadlines["DATE_5_REALISATION"].status == "met"
    assert deadlines["DATE_5_ATTESTATION"].status == "upcoming"
    assert deadlines["DATE_6_BALANCE"].due_at == paris(2027, 10, 13)
    assert deadlines["SECONDARY_OBSERVATION"].due_at == rules.end_of_day_paris(rules.add_months(start, 18))
    assert deadlines["SECONDARY_REQUEST"].due_at == rules.end_of_day_paris(rules.add_months(start, 20))
    assert start == date(2026, 11, 1)
    assert rules.next_deadline(order, TODAY).code == "DATE_5_ATTESTATION"


def test_portability_request_opens_a_15_day_deadline_met_by_the_delivery():
    order = advance(make_order(), "va_signed")

    order = services.perform("request_portability", order_id=order.pk, acting_user=None, params={"at": TODAY})
    deadline = next(d for d in rules.order_deadlines(order, TODAY) if d.code == "PORTABILITY")
    assert (deadline.due_at, deadline.status) == (rules.end_of_day_paris(date(2026, 12, 8)), "upcoming")
    assert rules.format_deadline(deadline.due_at) == "08/12/2026"  # «15 jours calendaires» (AF §4.4): a day
    day_15 = next(d for d in rules.order_deadlines(order, paris(2026, 12, 8, 23)) if d.code == "PORTABILITY")
    day_16 = next(d for d in rules.order_deadlines(order, paris(2026, 12, 9, 0)) if d.code == "PORTABILITY")
    assert (day_15.status, day_16.status) == ("upcoming", "overdue")
    assert refused("request_portability", order, params={"at": TODAY})[0] == ["ALREADY_RECORDED"]

    order = services.perform("deliver_portability", order_id=order.pk, acting_user=None, params={"at": TODAY})

    assert next(d for d in rules.order_deadlines(order, TODAY) if d.code == "PORTABILITY").status == "met"
    assert order.state == "va_signed"


def test_informing_the_asp_of_a_termination_meets_its_deadline():
    order = advance(make_order(), "va_signed")
    order = services.perform(
        "record_termination", order_id=order.pk, acting_user=None, params={"terminated_at": TODAY, "reason": "Départ"}
    )

    order = services.perform("notify_termination", order_id=order.pk, acting_user=None, params={"at": TODAY})

    assert next(d for d in rules.order_deadlines(order, TODAY) if d.code == "TERMINATION_NOTICE").status == "met"


def test_an_obsolete_declaration_breaking_af_4_3_is_refused_and_nothing_saved():
    from orders.models import SolutionVersion

    programme = lgc_programme()
    programme.date_0 = paris(2025, 6, 1)
    programme.save()
    solution = make_solution()
    SolutionVersion.objects.create(solution=solution, label="10", released_on=date(2021, 1, 1))

    with pytest.raises(BusinessRuleError) as error:
        services.solution_versions_check(
            solution=solution,
            pending=[rules.VersionFacts("10", date(2021, 1, 1), None, False, True)],
        )

    assert error.value.codes == ["OBSOLETE_NOT_ANNOUNCED_BEFORE_DATE_0", "OBSOLETE_MOST_RECENT_AT_DATE_0"]
    assert not SolutionVersion.objects.get(label="10").declared_obsolete


def test_balance_request_without_the_principal_invoice_is_refused():
    order = advance(make_order(), "va_signed")

    codes, message = refused("file_balance", order, params={"received_at": TODAY})

    assert codes == ["INVOICE_MISSING"]
    assert "AF §6.4" in message


def test_the_checklist_is_frozen_once_the_installation_is_recorded():
    order = advance(make_order(), "installed")

    with pytest.raises(BusinessRuleError) as error:
        services.order_update_checklist(order_id=order.pk, done={"installation": False}, acting_user=None)

    assert error.value.codes == ["CHECKLIST_CLOSED"]
    order.refresh_from_db()
    assert order.deployment_checklist.get("installation")
