"""No input gives a 500: one hand-written test per class of bad input (issue #16, Robustness)."""

import json

import pytest
from django.test import override_settings

from clients.models import Client
from orders.models import Order
from tests.factories import make_doctor, make_order, make_solution, valid_rpps


@pytest.fixture
def order_body(db):
    solution = make_solution()
    return {"client_id": make_doctor().pk, "solution_id": solution.pk, "prestation": "principal_v2"}


def errors(response) -> dict[str, str]:
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["detail"].startswith("Données invalides")
    return {error["field"]: error["message"] for error in body["errors"]}


def test_malformed_json_is_422(api, admin_token):
    for raw in (b"{", b"{'kind': 'doctor'}", b"\xff\xfe", b"[1, 2", b'{"name": "\\ud800"}'):
        response = api.post("/clients", admin_token, raw=raw)
        assert response.status_code == 422, raw
        assert response.json()["errors"][0]["code"] == "json_invalid"


def test_a_json_value_that_is_not_an_object_is_422(api, admin_token):
    for value in ([], "texte", 12, None):
        response = api.post("/clients", admin_token, raw=json.dumps(value).encode())
        assert response.status_code == 422, value


def test_wrong_types_name_the_field(api, admin_token, order_body):
    found = errors(api.post("/orders", admin_token, {**order_body, "client_id": "abc", "is_pilot": "peut-être"}))
    assert "client_id" in found and "entier" in found["client_id"]
    assert "is_pilot" in found
    assert "limit" in errors(api.get("/orders?limit=abc", admin_token))
    assert "limit" in errors(api.get("/orders?limit=1000", admin_token))
    assert "client_id" in errors(api.post("/orders", admin_token, {**order_body, "client_id": 10**30}))
    assert api.get("/clients/99999999999999999999", admin_token).status_code in {404, 422}


def test_unknown_fields_are_refused(api, admin_token, order_body):
    found = errors(api.post("/orders", admin_token, {**order_body, "discount": "10"}))
    assert found == {"discount": "discount : champ inconnu."}
    assert not Order.objects.exists()


@override_settings(SEGUR_API_MAX_BODY_BYTES=1000)
def test_a_huge_body_is_413(api, admin_token):
    response = api.post("/clients", admin_token, {"kind": "doctor", "name": "x" * 5000, "rpps": valid_rpps()})
    assert response.status_code == 413
    assert "trop volumineux" in response.json()["detail"]
    assert not Client.objects.exists()


def test_naive_and_bad_dates(api, admin_token, order_body):
    assert (
        "fuseau"
        in errors(api.post("/orders", admin_token, {**order_body, "issued_at": "2026-09-01T10:00:00"}))["issued_at"]
    )
    assert "issued_at" in errors(api.post("/orders", admin_token, {**order_body, "issued_at": "2026-02-30T10:00:00Z"}))
    assert (
        "année"
        in errors(api.post("/orders", admin_token, {**order_body, "issued_at": "0001-01-01T00:00:00+14:00"}))[
            "issued_at"
        ]
    )
    order = make_order()
    response = api.post(f"/orders/{order.number}/actions/cancel", admin_token, {"reason": "x", "at": "hier"})
    assert response.status_code == 422
    month = {"month": "2027-13-01", "dt": 1, "dm": 1, "t": 1, "tq": 1, "ts": 1}
    assert "months.0.month" in errors(
        api.post(f"/orders/{order.number}/monitoring/months", admin_token, {"months": [month]})
    )
    # A date out of the programme's calendar is a rule (AF §II): 409, naming the field.
    response = api.post("/orders", admin_token, {**order_body, "issued_at": "2099-01-01T10:00:00Z"})
    assert response.status_code == 409 and response.json()["violations"][0]["field"] == "issued_at"


def test_amounts_as_strings_or_floats(api, admin_token, order_body):
    response = api.post("/orders", admin_token, {**order_body, "principal_amount": "400.50", "secondary_amount": 99.5})
    assert response.status_code == 201, response.json()
    assert response.json()["amounts"]["secondary_amount"] == "99.50"
    for bad in ("12,50", "NaN", "Infinity", 0.001, "1e400", True):
        found = errors(api.post("/orders", admin_token, {**order_body, "principal_amount": bad}))
        assert "principal_amount" in found, bad


def test_unicode_in_names_and_control_characters(api, admin_token):
    response = api.post("/clients", admin_token, {"kind": "doctor", "name": "Dr Ünïcødé 医者 🩺", "rpps": valid_rpps()})
    assert response.status_code == 201 and response.json()["name"] == "Dr Ünïcødé 医者 🩺"
    response = api.post("/clients", admin_token, {"kind": "doctor", "name": "Dr \x00 Nul", "rpps": valid_rpps()})
    assert response.status_code == 409 and response.json()["violations"][0]["field"] == "name"
    assert Client.objects.count() == 1
    assert api.get("/orders/%00", admin_token).status_code == 400  # the project's middleware, before any view
    assert api.get("/orders/BC-éàü-😀", admin_token).status_code == 404
