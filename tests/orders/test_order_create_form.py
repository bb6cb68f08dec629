"""The new order page: client by autocomplete (accents ignored), programme, solution and salesperson pre-filled."""

import pytest
from django.urls import reverse

from orders.admin.order_create import OrderCreateForm
from orders.models import Order
from orders.roles import ADMIN_GROUP, SALES_GROUP
from tests.factories import lgc_programme, make_doctor, make_solution, make_user

ADD_URL = reverse("admin:orders_order_add")
AUTOCOMPLETE_URL = reverse("admin:autocomplete")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def initial_of(response) -> dict:
    form = response.context["form"]
    return {name: form[name].value() for name in ("programme", "solution", "salesperson", "client")}


def test_a_salesperson_finds_programme_solution_and_himself_pre_filled(client):
    seller = make_user("vendeur", SALES_GROUP)
    solution = make_solution()
    client.force_login(seller)

    initial = initial_of(client.get(ADD_URL))

    assert initial == {
        "programme": lgc_programme().pk,
        "solution": solution.pk,
        "salesperson": seller.pk,
        "client": None,
    }


def test_someone_outside_sales_is_not_made_the_salesperson_and_no_solution_means_none(client):
    client.force_login(make_user("chef", ADMIN_GROUP))
    initial = initial_of(client.get(ADD_URL))
    assert initial["programme"] == lgc_programme().pk
    assert initial["solution"] is None
    assert initial["salesperson"] is None


def test_the_referenced_solution_is_preferred_to_one_not_yet_referenced(client):
    referenced = make_solution()
    make_solution(referenced_at=None)
    client.force_login(make_user("vendeur", SALES_GROUP))
    assert initial_of(client.get(ADD_URL))["solution"] == referenced.pk


def test_client_in_the_address_is_pre_selected_and_rendered_in_the_autocomplete(client):
    doctor = make_doctor(name="Dr Hélène Lemaître")
    client.force_login(make_user("vendeur", SALES_GROUP))

    response = client.get(ADD_URL, {"client": doctor.pk})
    unknown = client.get(ADD_URL, {"client": "999999"})
    garbage = client.get(ADD_URL, {"client": "abc"})

    assert initial_of(response)["client"] == doctor.pk
    page = response.content.decode()
    assert "admin-autocomplete" in page
    assert f'<option value="{doctor.pk}" selected>' in page
    assert "Lemaître" in page
    assert initial_of(unknown)["client"] is None
    assert garbage.status_code == 200 and initial_of(garbage)["client"] is None


def test_a_pre_filled_form_saves_a_draft_with_nothing_else_chosen(client):
    seller = make_user("vendeur", SALES_GROUP)
    solution = make_solution()
    doctor = make_doctor()
    client.force_login(seller)
    form = client.get(ADD_URL, {"client": doctor.pk}).context["form"]
    data = {name: form[name].value() for name in ("programme", "client", "solution", "salesperson", "prestation")}
    data.update({"issued_at_0": "23/11/2026", "issued_at_1": "10:00", "prestation": "principal_v2"})

    response = client.post(ADD_URL, data)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:orders_order_change", args=[order.pk])
    assert (order.client, order.solution, order.salesperson, order.state) == (doctor, solution, seller, "draft")


def autocomplete(client, term: str) -> list[str]:
    response = client.get(
        AUTOCOMPLETE_URL, {"term": term, "app_label": "orders", "model_name": "order", "field_name": "client"}
    )
    assert response.status_code == 200
    return [result["text"] for result in response.json()["results"]]


def test_the_client_autocomplete_ignores_accents_and_case(client):
    lemaitre = make_doctor(name="Dr Hélène Lemaître")
    make_doctor(name="Dr Paul Martin")
    client.force_login(make_user("vendeur", SALES_GROUP))

    assert autocomplete(client, "lemaitre") == [str(lemaitre)]
    assert autocomplete(client, "HELENE") == [str(lemaitre)]
    assert autocomplete(client, lemaitre.rpps) == [str(lemaitre)]
    assert autocomplete(client, "dupont") == []


def test_the_form_field_uses_the_admin_autocomplete_widget():
    widget = OrderCreateForm.base_fields["client"].widget
    assert widget.__class__.__name__ == "AutocompleteSelect"
    assert widget.field.name == "client"
