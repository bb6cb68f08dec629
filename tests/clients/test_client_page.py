"""A client's page: its orders (number linked, state, amount, next deadline), « Nouvelle commande », fields by kind."""

import re

import pytest
from django.urls import reverse

from orders.admin.common import euros
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, SALES_GROUP
from tests.factories import make_doctor, make_order, make_solution, make_structure, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_today")]


def change_url(client_obj) -> str:
    return reverse("admin:clients_client_change", args=[client_obj.pk])


def test_the_client_page_lists_its_orders_and_links_a_new_order_outside_the_form(client):
    doctor = make_doctor(name="Dr Lemaître")
    order = make_order(client=doctor)
    other = make_order()  # another client's order is not listed
    client.force_login(make_user("vendeur", SALES_GROUP))

    page = client.get(change_url(doctor)).content.decode()

    section = page[page.index('class="module client-orders"') : page.index("</section>")]
    assert f'<a href="{reverse("admin:orders_order_change", args=[order.pk])}">{order.number}</a>' in section
    assert other.number not in section
    assert "Brouillon" in section
    assert euros(order.principal_amount) in section
    assert re.search(r"\d{2}/\d{2}/\d{4} · ", section)  # the next deadline, French date
    assert "1 commande" in section
    new_order = reverse("admin:orders_order_add") + f"?client={doctor.pk}"
    assert f'href="{new_order}"' in section
    before = page[: page.index('class="module client-orders"')]
    assert before.count("<form") == before.count("</form>")  # not nested in the admin's change form (nor any)
    assert "<form" not in section


def test_no_new_order_link_without_the_right_to_add_one(client):
    doctor = make_doctor()
    make_order(client=doctor)
    client.force_login(make_user("tech", DEPLOYMENT_GROUP))
    page = client.get(change_url(doctor)).content.decode()
    assert "Nouvelle commande" not in page
    assert "1 commande" in page


def test_doctor_and_structure_fields_are_in_fieldsets_by_kind_with_the_script(client):
    client.force_login(make_user("chef", ADMIN_GROUP))
    make_solution()
    page = client.get(reverse("admin:clients_client_add")).content.decode()

    doctor_fieldset = re.search(r'<fieldset class="module aligned client-kind-doctor".*?</fieldset>', page, re.S)
    structure_fieldset = re.search(r'<fieldset class="module aligned client-kind-structure".*?</fieldset>', page, re.S)
    assert doctor_fieldset and structure_fieldset
    for name in ("rpps", "specialty", "treating_patient_count"):
        assert f'name="{name}"' in doctor_fieldset.group(0)
        assert f'name="{name}"' not in structure_fieldset.group(0)
    for name in ("finess", "cds_kind", "aci_signatory", "staff_declared", "liberal_doctor_count"):
        assert f'name="{name}"' in structure_fieldset.group(0)
        assert f'name="{name}"' not in doctor_fieldset.group(0)
    assert "clients/client_kind.js" in page
    assert " hidden" not in doctor_fieldset.group(0)[:80]  # visible without JavaScript
    assert "1 commande" not in page and "Nouvelle commande" not in page  # nothing to list on a new client


def test_a_structure_page_shows_its_tranche_and_counts(client):
    structure = make_structure(kind="cds", tranche="C")
    client.force_login(make_user("chef", ADMIN_GROUP))
    page = client.get(change_url(structure)).content.decode()
    assert "Aucune commande" in page
    assert "Nouvelle commande" in page
    assert re.search(r'client-kind-structure".*?tranche', page, re.S)
