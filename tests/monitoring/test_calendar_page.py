"""The deadline calendar: in every staff role's menu, "Tout afficher" for a crunch day, the rows the system would refuse
today marked with the reason (in a bounded number of queries), and its CSV export for French Excel."""

import csv
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from monitoring import views
from orders.models import Provider
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from tests.factories import advance, make_doctor, make_order, make_solution, make_user, paris

pytestmark = pytest.mark.django_db
NOW = paris(2026, 11, 23, 10)
CALENDAR = "/admin/calendrier/"


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield


def staff(client, group=DEPLOYMENT_GROUP):
    client.force_login(make_user(f"user-{group}", group))
    return client


def firm_orders(count, solution=None):
    solution = solution or make_solution()
    return [advance(make_order(solution=solution), "firm") for _ in range(count)]


def lapse_enrolment(solution):
    Provider.objects.filter(pk=solution.provider_id).update(asp_enrolment_validated_on=None)


# --- The menu --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("group", [SALES_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, ADMIN_GROUP])
def test_every_staff_role_finds_the_calendar_in_its_menu(client, group):
    staff(client, group)

    home = client.get(reverse("admin:index")).content.decode()
    order_list = client.get(reverse("admin:orders_order_changelist")).content.decode()  # the sidebar

    link = f'href="{CALENDAR}"'
    assert link in home and "Calendrier des échéances" in home
    assert link in order_list
    assert client.get(CALENDAR).status_code == 200


def test_a_staff_member_without_any_role_sees_no_calendar_entry(client):
    client.force_login(make_user("sans-role"))

    assert f'href="{CALENDAR}"' not in client.get(reverse("admin:index")).content.decode()
    assert client.get(CALENDAR).status_code == 403


# --- "Tout afficher" -------------------------------------------------------------------------------------------------


def test_a_crunch_day_lists_its_first_rows_and_tout_afficher_lists_them_all(client, monkeypatch):
    monkeypatch.setattr(views, "CALENDAR_ROWS_PER_DAY", 2)
    orders = firm_orders(3)
    staff(client)

    page = client.get(CALENDAR).content.decode()
    whole_day = client.get(CALENDAR, {"jour": "2026-12-16"})

    assert sum(order.number in page for order in orders) == 2
    assert "Tout afficher (3)" in page and "jour=2026-12-16" in page
    assert whole_day.status_code == 200
    assert all(order.number in whole_day.content.decode() for order in orders)
    assert "Tout afficher" not in whole_day.content.decode()
    assert client.get(CALENDAR, {"jour": "2026-12-17"}).status_code == 404


def test_a_whole_day_is_paginated_beyond_the_filtered_bound(client, monkeypatch):
    monkeypatch.setattr(views, "CALENDAR_ROWS_PER_DAY_FILTERED", 2)
    orders = firm_orders(3)
    staff(client)

    first = client.get(CALENDAR, {"jour": "2026-12-16"}).content.decode()
    second = client.get(CALENDAR, {"jour": "2026-12-16", "page": 2}).content.decode()

    assert sum(order.number in first for order in orders) == 2
    assert sum(order.number in second for order in orders) == 1
    assert "Page 1 sur 2" in first and "page=2" in first


# --- Blocked rows ----------------------------------------------------------------------------------------------------


def test_a_deadline_the_system_would_refuse_today_is_marked_blocked_with_its_reason(client):
    blocked_solution = make_solution()
    blocked = firm_orders(1, blocked_solution)[0]
    fine = firm_orders(1)[0]
    lapse_enrolment(blocked_solution)
    staff(client, FINANCE_GROUP)

    response = client.get(CALENDAR)

    rows = {row["order"].number: row for entry in response.context["days"] for row in entry["rows"]}
    assert "enrôlement du Fournisseur" in rows[blocked.number]["blocked"]
    assert rows[fine.number]["blocked"] == ""
    page = response.content.decode()
    assert f"Bloqué : {escape(rows[blocked.number]['blocked'])}" in page
    assert page.count("Bloqué :") == 1


def test_an_installation_without_its_checklist_is_blocked_for_the_date_5(client):
    order = advance(make_order(), "advance_paid")

    with time_machine.travel(paris(2027, 5, 1, 10), tick=False):
        staff(client)
        response = client.get(CALENDAR, {"echeance": "DATE_5_REALISATION"})

    row = response.context["days"][0]["rows"][0]
    assert row["order"].number == order.number
    assert row["blocked"].startswith("Prestation principale incomplète (AF §3)")
    assert "Bloqué :" in response.content.decode()


def count_queries(client, params=None):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(CALENDAR, params or {}).status_code == 200
    return len(queries)


def test_the_blocked_marks_cost_the_same_queries_for_2_or_8_rows(client):
    solution = make_solution()
    firm_orders(2, solution)
    make_order(solution=solution)  # a draft: the signature deadline of the same day
    lapse_enrolment(solution)
    staff(client)
    few = count_queries(client)

    firm_orders(6, solution)
    for _ in range(3):
        make_order(solution=solution, client=make_doctor())
    lapse_enrolment(solution)
    many = count_queries(client)

    assert many == few
    assert few <= 20


# --- CSV export ------------------------------------------------------------------------------------------------------


def test_the_csv_export_opens_in_columns_in_french_excel_and_keeps_the_filters(client):
    orders = firm_orders(2)
    evil = advance(make_order(client=make_doctor(name='=HYPERLINK("http://x")')), "firm")
    staff(client, FINANCE_GROUP)

    response = client.get(reverse("deadline_calendar_csv"), {"echeance": "DATE_4_ADVANCE"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    content = response.content
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == views.CSV_HEADERS
    by_number = {row[3]: row for row in rows[1:]}
    assert set(by_number) == {order.number for order in [*orders, evil]}
    row = by_number[orders[0].number]
    assert row[0] == "16/12/2026 12:00"
    assert row[2] == "Demande d'avance (Date 4)"
    amount = orders[0].principal_amount + orders[0].secondary_amount
    assert row[8] == f"{amount:.2f}".replace(".", ",") and "," in row[8]
    assert by_number[evil.number][4] == "'" + evil.client.name


def test_the_csv_export_link_carries_the_current_filters(client):
    firm_orders(1)
    staff(client)

    page = client.get(CALENDAR, {"echeance": "DATE_4_ADVANCE", "etat": "firm"}).content.decode()

    assert f"{reverse('deadline_calendar_csv')}?echeance=DATE_4_ADVANCE&amp;etat=firm" in page
