"""Every endpoint refuses without a valid token, with a revoked one, with a role lacking the permission, and with
another client's installation token: 401/403 and nothing changed (issue #16, Security)."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from api.models import ApiAccess, ApiToken
from clients.models import Client
from monitoring.models import MonitoringMonth
from orders.models import Order, OrderEvent
from tests.api.conftest import make_token
from tests.factories import advance, make_doctor, make_order, make_user


@pytest.fixture
def order(db):
    return make_order()


def endpoints(order: Order) -> list[tuple[str, str, dict | None]]:
    number = order.number
    return [
        ("GET", "/clients", None),
        ("POST", "/clients", {"kind": "doctor", "name": "Dr Nouveau", "rpps": "10000000108"}),
        ("GET", f"/clients/{order.client_id}", None),
        ("PATCH", f"/clients/{order.client_id}", {"city": "Nantes"}),
        ("GET", "/orders", None),
        (
            "POST",
            "/orders",
            {"client_id": order.client_id, "solution_id": order.solution_id, "prestation": "principal_v2"},
        ),
        ("GET", f"/orders/{number}", None),
        ("POST", f"/orders/{number}/actions/cancel", {"reason": "essai"}),
        ("POST", f"/orders/{number}/checklist", {"done": {"installation": True}}),
        ("POST", f"/orders/{number}/invoices/principal", None),
        ("GET", "/ceilings?prestation=principal_v2&client_kind=doctor&vat_regime=vat_20", None),
        ("GET", f"/orders/{number}/documents", None),
        ("GET", "/documents/1", None),
        ("GET", f"/orders/{number}/monitoring", None),
        (
            "POST",
            f"/orders/{number}/monitoring/months",
            {"months": [{"month": "2027-01-01", "dt": 100, "dm": 70, "t": 10, "tq": 5, "ts": 1}]},
        ),
    ]


MONITORING_PATHS = ("/monitoring",)


def snapshot() -> tuple:
    return (
        Client.objects.count(),
        list(Client.objects.values_list("city", flat=True)),
        Order.objects.count(),
        list(Order.objects.values_list("state", flat=True)),
        OrderEvent.objects.count(),
        MonitoringMonth.objects.count(),
    )


def test_no_token_unknown_token_and_revoked_token_are_401_and_change_nothing(api, order):
    revoked = make_token(user=make_user("revoked", "Administrateur"), revoked=True)
    inactive_user = make_user("gone", "Administrateur")
    inactive = make_token(user=inactive_user)
    inactive_user.is_active = False
    inactive_user.save()
    before = snapshot()
    for method, path, body in endpoints(order):
        for token in (None, "sgr_not-a-real-key", revoked, inactive):
            response = api.call(method, path, token, body)
            assert response.status_code == 401, (method, path, token, response.content)
            assert response.json()["code"] == "UNAUTHENTICATED"
    assert snapshot() == before


def test_a_role_without_the_permission_is_403_and_changes_nothing(api, order):
    nobody = make_token(user=make_user("no-role"))  # staff, no group: no permission at all
    before = snapshot()
    for method, path, body in endpoints(order):
        response = api.call(method, path, nobody, body)
        assert response.status_code == 403, (method, path, response.content)
    assert snapshot() == before


def test_deployment_cannot_create_clients_nor_sign_and_sales_cannot_push_monitoring(
    api, order, deployment_token, sales_token
):
    before = snapshot()
    assert (
        api.post("/clients", deployment_token, {"kind": "doctor", "name": "X", "rpps": "10000000108"}).status_code
        == 403
    )
    sign = {"signed_at": "2026-09-02T10:00:00+02:00", "signature_method": "eidas_simple", "signatory_name": "Dr X"}
    response = api.post(f"/orders/{order.number}/actions/sign", deployment_token, sign)
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"
    month = {"month": "2027-01-01", "dt": 100, "dm": 70, "t": 10, "tq": 5, "ts": 1}
    assert api.post(f"/orders/{order.number}/monitoring/months", sales_token, {"months": [month]}).status_code == 403
    assert snapshot() == before


def test_installation_tokens_reach_only_their_own_clients_monitoring(api, order):
    own = make_token(client=order.client)
    other = make_token(client=make_doctor())
    before = snapshot()
    for method, path, body in endpoints(order):
        response = api.call(method, path, other, body)
        assert response.status_code == 403, (method, path, response.content)
        if not path.endswith(MONITORING_PATHS) and "/monitoring" not in path:
            assert api.call(method, path, own, body).status_code == 403, (method, path)
    assert snapshot() == before
    assert api.get(f"/orders/{order.number}/monitoring", own).status_code == 200


def test_every_call_is_logged_with_the_token_id_never_the_key(api, order, admin_token):
    api.get(f"/orders/{order.number}", admin_token)
    api.get("/orders", None)
    api.get("/orders/BC-UNKNOWN", admin_token)
    rows = list(ApiAccess.objects.order_by("pk").values("token_id", "endpoint", "status", "method"))
    token = ApiToken.objects.get(key_start=admin_token[:12])
    assert rows == [
        {"token_id": token.pk, "endpoint": f"/api/v1/orders/{order.number}", "status": 200, "method": "GET"},
        {"token_id": None, "endpoint": "/api/v1/orders", "status": 401, "method": "GET"},
        {"token_id": token.pk, "endpoint": "/api/v1/orders/BC-UNKNOWN", "status": 404, "method": "GET"},
    ]
    stored = " ".join(str(value) for row in ApiToken.objects.values() for value in row.values())
    assert admin_token not in stored
    assert admin_token[12:] not in stored


@override_settings(SEGUR_API_THROTTLE_PER_MINUTE=3)
def test_throttling_is_per_token(api, admin_token, sales_token):
    statuses = [api.get("/orders", admin_token).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert api.get("/orders", sales_token).status_code == 200  # another token has its own budget
    assert "minute" in api.get("/orders", admin_token).json()["detail"]
    ApiAccess.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert api.get("/orders", admin_token).status_code == 200


def test_tokens_are_created_in_the_admin_shown_once_and_revoked_there(db, client):
    admin = make_user("boss", "Administrateur", is_superuser=True)
    client.force_login(admin)
    response = client.post(
        "/admin/api/apitoken/add/", {"kind": "personal", "name": "CRM", "user": admin.pk, "client": ""}, follow=True
    )
    assert response.status_code == 200
    message = next(str(m) for m in response.context["messages"] if "sgr_" in str(m))
    key = "sgr_" + message.split("sgr_", 1)[1].strip()
    token = ApiToken.objects.get()
    assert key not in str(ApiToken.objects.values().get())
    assert token.key_start == key[:12]
    page = client.get(f"/admin/api/apitoken/{token.pk}/change/")
    assert key not in page.content.decode()
    from tests.api.conftest import Api

    assert Api().get("/orders", key).status_code == 200
    client.post("/admin/api/apitoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]})
    assert Api().get("/orders", key).status_code == 401


def test_the_admin_refuses_a_personal_token_without_staff_member(db, client):
    admin = make_user("boss", "Administrateur", is_superuser=True)
    client.force_login(admin)
    response = client.post("/admin/api/apitoken/add/", {"kind": "personal", "name": "CRM", "user": "", "client": ""})
    assert response.status_code == 200
    assert "membre du personnel" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_advance_helper_still_works_with_api_created_orders(api, admin_token, order):
    advance(order, "firm")
    assert api.get(f"/orders/{order.number}", admin_token).json()["state"] == "firm"
