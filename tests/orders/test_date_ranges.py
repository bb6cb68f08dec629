"""Every date a person or a file gives lies in a window around the programme's calendar (AF §II).

A year 1 or 9999 date stored once made the order list, the order page and the daily scan fail for every order: the
services refuse it (and naive or non-date values) before any rule computes with it, and nothing is stored.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import tablib
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse

from orders import rules, services
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderEvent
from orders.resources import OrderImportResource
from tests.factories import advance, lgc_programme, make_doctor, make_order, make_solution, make_user, paris

pytestmark = pytest.mark.django_db

YEAR_1 = datetime(1, 1, 1, tzinfo=rules.PARIS)  # 0000-12-31 in UTC: PostgreSQL stores it, Python cannot read it
YEAR_9999 = datetime(9999, 12, 31, 23, 59, tzinfo=rules.PARIS)
DATE_PARAMS = [
    (action.name, spec.name)
    for action in services.ACTIONS.values()
    for spec in action.params
    if spec.kind == "datetime"
]


def violations(value, with_time=False):
    return rules.date_range_violations(
        programme=lgc_programme(), field="signed_at", label="Signé le", value=value, with_time=with_time
    )


# --- The rule -----------------------------------------------------------------------------------------------------


def test_the_window_comes_from_the_programme_calendar():
    programme = lgc_programme()  # Date 1 15/10/2025 (no Date 0), Date 6 13/10/2027

    assert rules.date_window(programme) == (date(2023, 10, 15), date(2033, 10, 13))
    programme.date_0 = paris(2025, 3, 1)
    programme.date_6 = paris(2028, 1, 31)
    assert rules.date_window(programme) == (date(2023, 3, 1), date(2034, 1, 31))


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (datetime(2023, 10, 15, 0, 0, tzinfo=rules.PARIS), True),  # first day, Paris time
        (datetime(2023, 10, 14, 23, 59, tzinfo=rules.PARIS), False),
        (datetime(2023, 10, 14, 22, 30, tzinfo=ZoneInfo("UTC")), True),  # already 15/10 in Paris
        (datetime(2033, 10, 13, 23, 59, tzinfo=rules.PARIS), True),  # last day
        (datetime(2033, 10, 14, 0, 0, tzinfo=rules.PARIS), False),
        (paris(2026, 11, 23), True),
        (date(2023, 10, 15), True),
        (date(2023, 10, 14), False),
        (date(2033, 10, 13), True),
        (date(2033, 10, 14), False),
    ],
)
def test_both_edges_of_the_window(value, accepted):
    assert (violations(value) == []) is accepted


@pytest.mark.parametrize(
    "value", [YEAR_1, YEAR_9999, datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("Pacific/Kiritimati")), date.min]
)
def test_absurd_years_are_refused_with_the_field_and_the_window(value):
    (violation,) = violations(value)

    assert violation.code == "DATE_OUT_OF_RANGE" and violation.field == "signed_at"
    assert violation.message.startswith("« Signé le » : le ")
    assert f"/{value.year:04d} est hors du calendrier du programme MDV-LGC-Va2" in violation.message
    assert "du 15/10/2023 au 13/10/2033" in violation.message


def test_naive_and_non_date_values_are_refused():
    naive = violations(datetime(2026, 11, 23, 9, 0))  # noqa: DTZ001 — the value under test
    text = violations("23/11/2026", with_time=True)
    day_only = violations(date(2026, 11, 23), with_time=True)

    assert [v.code for v in naive + text + day_only] == ["DATE_WITHOUT_TIME_ZONE", "DATE_INVALID", "DATE_INVALID"]
    assert "fuseau horaire" in naive[0].message and "n'est pas une date et heure" in text[0].message
    assert violations(None) == []


# --- The services ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("issued_at", [YEAR_1, YEAR_9999, datetime(2026, 9, 1, 9, 0)])  # noqa: DTZ001
def test_an_order_form_with_an_absurd_issue_date_is_refused_and_nothing_is_stored(issued_at):
    solution = make_solution()
    client = make_doctor()

    with pytest.raises(BusinessRuleError) as refused:
        services.order_create(
            programme=solution.programme,
            client=client,
            solution=solution,
            prestation="principal_v2",
            issued_at=issued_at,
        )

    assert refused.value.violations[0].field == "issued_at"
    assert refused.value.codes[0] in {"DATE_OUT_OF_RANGE", "DATE_WITHOUT_TIME_ZONE"}
    assert not Order.objects.exists()


@pytest.mark.parametrize(("action_name", "param"), DATE_PARAMS)
@pytest.mark.parametrize("value", [YEAR_1, YEAR_9999])
def test_every_date_of_every_action_is_range_checked_before_the_rules(action_name, param, value):
    order = make_order()
    before = Order.objects.values().get(pk=order.pk)

    with pytest.raises(BusinessRuleError) as refused:
        services.perform(action_name, order_id=order.pk, acting_user=None, params={param: value})

    assert refused.value.codes == ["DATE_OUT_OF_RANGE"]
    assert refused.value.violations[0].field == param
    assert Order.objects.values().get(pk=order.pk) == before
    event = OrderEvent.objects.filter(order=order).last()
    assert (event.action, event.accepted, event.payload["codes"]) == (action_name, False, ["DATE_OUT_OF_RANGE"])


def test_the_action_list_covers_the_dates_the_issue_named():
    assert {name for _action, name in DATE_PARAMS} == {
        "signed_at",
        "received_at",
        "paid_at",
        "installed_at",
        "sent_at",
        "notified_at",
        "reimbursed_at",
        "terminated_at",
        "at",
    }


def test_a_reimbursement_dated_year_1_is_refused_and_one_in_the_window_recorded():
    with time_machine.travel(paris(2027, 7, 20, 10), tick=False):
        order = advance(make_order(issued_at=paris(2026, 11, 2, 9)), "advance_paid")
        services.perform(
            "declare_not_completed",
            order_id=order.pk,
            acting_user=None,
            params={"notified_at": paris(2027, 7, 14), "reason": "Installation impossible"},
        )
        with pytest.raises(BusinessRuleError) as refused:
            services.perform(
                "record_reimbursement", order_id=order.pk, acting_user=None, params={"reimbursed_at": YEAR_1}
            )
        order.refresh_from_db()
        assert (order.state, order.reimbursed_at) == ("reimbursement_due", None)

        order = services.perform(
            "record_reimbursement", order_id=order.pk, acting_user=None, params={"reimbursed_at": paris(2027, 7, 19)}
        )

    assert "« Reversé le » : le 01/01/0001 est hors du calendrier" in refused.value.message
    assert (order.state, order.reimbursed_at) == ("reimbursed", paris(2027, 7, 19))


@pytest.mark.parametrize("value", [datetime(2026, 11, 23, 9, 0), "2026-11-23", date(2026, 11, 23)])  # noqa: DTZ001
def test_a_naive_or_non_datetime_action_date_is_refused_not_replaced_by_now(value):
    order = advance(make_order(), "firm")

    with pytest.raises(BusinessRuleError) as refused:
        services.perform("file_advance", order_id=order.pk, acting_user=None, params={"received_at": value})

    assert refused.value.codes[0] in {"DATE_WITHOUT_TIME_ZONE", "DATE_INVALID"}
    order.refresh_from_db()
    assert (order.state, order.advance_requested_at) == ("firm", None)


# --- The adapters: the admin forms and the order import --------------------------------------------------------------


def test_the_admin_forms_show_the_refusal_instead_of_storing_year_1(admin_client):
    solution = make_solution()
    client = make_doctor()
    order = advance(make_order(solution=solution), "advance_paid")

    created = admin_client.post(
        reverse("admin:orders_order_add"),
        {
            "programme": lgc_programme().pk,
            "client": client.pk,
            "solution": solution.pk,
            "prestation": "principal_v2",
            "issued_at_0": "01/01/0001",
            "issued_at_1": "00:00",
        },
    )
    installed = admin_client.post(
        reverse("admin:orders_order_action", args=[order.pk, "record_installation"]),
        {"installed_at_0": "31/12/9999", "installed_at_1": "23:59"},
    )

    assert created.status_code == installed.status_code == 200
    assert "« Émis le » : le 01/01/0001 est hors du calendrier" in created.content.decode()
    assert "« Installée le » : le 31/12/9999 est hors du calendrier" in installed.content.decode()
    assert not Order.objects.filter(client=client).exists()
    order.refresh_from_db()
    assert (order.state, order.installed_at) == ("advance_paid", None)
    assert admin_client.get(reverse("admin:orders_order_changelist")).status_code == 200


def test_the_order_import_refuses_a_year_1_issue_date_in_its_column():
    solution = make_solution(name="MediCab", version="12")
    make_doctor(rpps="10009000018")
    dataset = tablib.Dataset(
        headers=["rpps_ou_finess", "solution", "prestation", "date_emission"],
    )
    dataset.append(["10009000018", f"{solution.name} {solution.version}", "V2", "0001-01-01 00:00"])
    user = User.objects.filter(username="importeur").first() or make_user("importeur")

    result = OrderImportResource().import_data(dataset, dry_run=False, user=user)

    errors = {invalid.number + 1: invalid.error_dict for invalid in result.invalid_rows}
    assert "hors du calendrier du programme MDV-LGC-Va2" in " ".join(errors[2]["date_emission"])
    assert not Order.objects.exists()
