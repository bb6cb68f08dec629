"""The order list: compact French columns, « mes commandes » for sales, totals of the filtered list, search that
ignores accents and case (PostgreSQL ``unaccent``; a Python ``UNACCENT`` on SQLite)."""

import sqlite3
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.admin.common import euros
from orders.models import Order
from orders.roles import ADMIN_GROUP, FINANCE_GROUP, SALES_GROUP
from segur_portal.search import sqlite_unaccent_register, unaccent
from tests.factories import advance, make_doctor, make_order, make_solution, make_structure, make_user, paris

TODAY = paris(2026, 11, 23, 10)
LIST_URL = reverse("admin:orders_order_changelist")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def listed_numbers(response) -> set[str]:
    return {order.number for order in response.context["cl"].result_list}


def test_a_salesperson_sees_his_own_orders_by_default_and_can_switch_to_all(client):
    seller = make_user("vendeur", SALES_GROUP)
    other = make_user("collegue", SALES_GROUP)
    solution = make_solution()
    mine = make_order(solution=solution, salesperson=seller)
    theirs = make_order(solution=solution, salesperson=other)
    nobody = make_order(solution=solution)
    client.force_login(seller)

    default = client.get(LIST_URL)
    everyone = client.get(LIST_URL, {"commercial": "tous"})
    back = client.get(LIST_URL, {"commercial": "moi"})

    assert listed_numbers(default) == {mine.number}
    assert listed_numbers(everyone) == {mine.number, theirs.number, nobody.number}
    assert listed_numbers(back) == {mine.number}
    assert listed_numbers(client.get(LIST_URL, {"_facets": "True"})) == {mine.number}  # the counts keep the default
    page = default.content.decode()
    assert "Par commercial : moi / tous" in page
    assert "?commercial=tous" in page  # the way back to every order is on the page
    assert "moi (mes commandes)" in page


def test_staff_outside_sales_see_every_order_by_default(client):
    seller = make_user("vendeur", SALES_GROUP)
    solution = make_solution()
    orders = {make_order(solution=solution, salesperson=seller).number, make_order(solution=solution).number}
    client.force_login(make_user("compta", FINANCE_GROUP))

    assert listed_numbers(client.get(LIST_URL)) == orders
    assert listed_numbers(client.get(LIST_URL, {"commercial": "moi"})) == set()


def test_totals_are_those_of_the_filtered_orders_in_french_format_in_one_query(client):
    solution = make_solution()
    paid = advance(make_order(solution=solution, principal_amount=Decimal("400.50")), "advance_paid")
    firm = advance(make_order(solution=solution, principal_amount=Decimal("300.25")), "firm")
    draft = make_order(solution=solution, principal_amount=Decimal("200.00"))
    client.force_login(make_user("chef", ADMIN_GROUP))

    response = client.get(LIST_URL, {"state__in": "firm,advance_paid"})

    assert listed_numbers(response) == {paid.number, firm.number}
    assert draft.state == "draft"
    page = response.content.decode()
    assert "2 commandes" in page
    assert euros(Decimal("700.75")) in page
    assert euros(paid.advance_amount) in page
    totals = response.context["order_totals"]
    assert totals["principal"] == "700,75\u00a0€"
    assert totals["advance"] == euros(paid.advance_amount) != euros(Decimal("0"))
    assert totals["balance"] == "0,00\u00a0€"

    one = client.get(LIST_URL, {"state__in": "firm"})
    assert one.context["order_totals"]["count"] == "1 commande"
    assert one.context["order_totals"]["principal"] == euros(Decimal("300.25"))


def test_totals_cost_one_query_whatever_the_number_of_orders(client):
    solution = make_solution()
    client.force_login(make_user("chef", ADMIN_GROUP))
    make_order(solution=solution)
    with CaptureQueriesContext(connection) as few:
        client.get(LIST_URL)
    for _index in range(4):
        make_order(solution=solution)
    with CaptureQueriesContext(connection) as more:
        response = client.get(LIST_URL)
    assert response.context["order_totals"]["count"] == "5 commandes"
    assert len(more) == len(few)
    assert sum("SUM(" in query["sql"].upper() for query in more.captured_queries) == 1


def test_the_columns_are_short_and_french(client):
    client.force_login(make_user("chef", ADMIN_GROUP))
    structure = make_structure(kind="msp", tranche="C", name="MSP du Port")
    make_order(client=structure)
    response = client.get(LIST_URL)
    headers = [str(header["text"]) for header in _headers(response)]
    assert headers == [
        "n°",
        "client",
        "état",
        "principal",
        "avance",
        "solde",
        "commercial",
        "échéance",
    ]  # an ASP return shows under the state
    page = response.content.decode()
    assert "MSP du Port" in page and "MSP · tranche C" in page


def _headers(response) -> list[dict]:
    from django.contrib.admin.templatetags.admin_list import result_headers

    return [header for header in result_headers(response.context["cl"]) if "<input" not in str(header["text"])]


def search(client, term: str) -> set[str]:
    response = client.get(LIST_URL, {"q": term, "commercial": "tous"})
    assert response.status_code == 200
    return listed_numbers(response)


def test_search_ignores_accents_and_case_on_the_database_in_use(client):
    """Runs on both: PostgreSQL's unaccent extension, or the Python UNACCENT registered on SQLite connections."""
    client.force_login(make_user("chef", ADMIN_GROUP))
    solution = make_solution()
    lemaitre = make_order(solution=solution, client=make_doctor(name="Dr Hélène Lemaître"))
    other = make_order(solution=solution, client=make_doctor(name="Dr Paul Martin"))

    assert search(client, "lemaitre") == {lemaitre.number}
    assert search(client, "LEMAÎTRE") == {lemaitre.number}
    assert search(client, "helene lemaitre") == {lemaitre.number}  # every word must match
    assert search(client, "helene martin") == set()
    assert search(client, lemaitre.client.rpps) == {lemaitre.number}
    assert search(client, other.number.lower()) == {other.number}


@pytest.mark.postgres
def test_postgresql_search_runs_the_unaccent_extension(client):
    client.force_login(make_user("chef", ADMIN_GROUP))
    order = make_order(client=make_structure(kind="cds", name="Centre de santé Éléonore"))
    with CaptureQueriesContext(connection) as queries:
        assert search(client, "eleonore sante") == {order.number}
    assert any("UNACCENT(" in query["sql"].upper() for query in queries.captured_queries)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'")
        assert cursor.fetchone() == (1,)


def test_sqlite_fallback_unaccents_like_postgresql():
    assert unaccent("Lemaître Éloïse Çà") == "Lemaitre Eloise Ca"
    assert unaccent(None) is None
    raw = sqlite3.connect(":memory:")
    sqlite_unaccent_register(raw)
    raw.execute("CREATE TABLE client (name TEXT)")
    raw.executemany("INSERT INTO client VALUES (?)", [("Dr Lemaître",), ("Dr Martin",)])
    found = raw.execute(
        "SELECT name FROM client WHERE UPPER(UNACCENT(name)) LIKE UPPER(UNACCENT(?))", ("%LEMAITRE%",)
    ).fetchall()
    assert found == [("Dr Lemaître",)]


def test_order_list_default_ordering_is_newest_first(client):
    client.force_login(make_user("chef", ADMIN_GROUP))
    solution = make_solution()
    with time_machine.travel(paris(2026, 11, 20, 10), tick=False):
        older = make_order(solution=solution)
    newer = make_order(solution=solution)
    response = client.get(LIST_URL, {"q": "bc"})
    numbers = [order.number for order in response.context["cl"].result_list]
    assert Order.objects.count() == 2
    assert numbers.index(newer.number) < numbers.index(older.number)
