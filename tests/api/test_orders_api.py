"""Orders and clients through the API: the same services as the admin (AF §4.2-§6), 409 with every violation."""

import pytest
import time_machine

from api.models import ApiAccess
from clients.models import Client
from orders.models import Order, OrderEvent
from tests.factories import advance, make_doctor, make_order, make_solution, make_structure, paris, valid_rpps


@pytest.fixture
def solution(db):
    return make_solution()


def test_create_a_client_then_an_order_and_read_it_like_the_order_page(api, admin_token, solution):
    response = api.post("/clients", admin_token, {"kind": "doctor", "name": "Dr Élise Çava", "rpps": valid_rpps()})
    assert response.status_code == 201, response.json()
    client = response.json()
    assert client["ceiling_category"] == "doctor"
    body = {"client_id": client["id"], "solution_id": solution.pk, "prestation": "principal_v2"}
    response = api.post("/orders", admin_token, body)
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["state"] == "draft"
    assert order["amounts"]["principal_amount"] == order["amounts"]["principal_ceiling"]
    assert order["amounts"]["advance_amount"] == "180.60"  # 40 % of 451,50 € (AF §5.3)
    assert [d["code"] for d in order["deadlines"]] == ["DATE_4_SIGNATURE"]
    assert order["deadlines"][0]["actor_label"] == "Client"
    sign = next(action for action in order["actions"] if action["name"] == "sign")
    assert sign["allowed"] and sign["roles"] == ["Commercial"]
    assert {param["name"] for param in sign["params"]} == {"signed_at", "signature_method", "signatory_name"}


def test_an_order_above_the_ceiling_is_409_with_each_violation_and_nothing_created(api, admin_token, solution):
    client = make_doctor()
    body = {
        "client_id": client.pk,
        "solution_id": solution.pk,
        "prestation": "principal_v2",
        "principal_amount": "99999.00",
        "secondary_amount": 999999,
    }
    response = api.post("/orders", admin_token, body)
    assert response.status_code == 409
    violations = response.json()["violations"]
    assert {v["code"] for v in violations} == {"AMOUNT_ABOVE_CEILING"}
    assert {v["field"] for v in violations} == {"principal_amount", "secondary_amount"}
    assert all(v["reference"].startswith("AF §5") and "plafond" in v["message"] for v in violations)
    assert not Order.objects.exists()


def test_an_action_refused_by_a_rule_is_409_and_only_the_refusal_is_logged(api, admin_token):
    order = make_order()
    sign = {"signed_at": "2020-01-01T10:00:00+01:00", "signature_method": "eidas_simple", "signatory_name": "Dr X"}
    response = api.post(f"/orders/{order.number}/actions/sign", admin_token, sign)
    assert response.status_code == 409, response.json()
    assert response.json()["violations"][0]["field"] == "signed_at"
    order.refresh_from_db()
    assert order.state == "draft"
    assert not OrderEvent.objects.filter(action="sign", accepted=True).exists()


def test_an_action_with_a_missing_or_foreign_field_is_422_naming_it(api, admin_token):
    order = make_order()
    response = api.post(f"/orders/{order.number}/actions/sign", admin_token, {"signed_at": "2026-09-02T10:00:00Z"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"signature_method", "signatory_name"}
    response = api.post(f"/orders/{order.number}/actions/cancel", admin_token, {"reason": "x", "paid_at": None})
    assert response.status_code == 422  # paid_at belongs to other actions, even empty
    response = api.post(
        f"/orders/{order.number}/actions/cancel", admin_token, {"reason": "x", "installed_at": "2026-09-02T10:00:00Z"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "installed_at"
    assert api.post(f"/orders/{order.number}/actions/fly", admin_token, {}).status_code == 404
    assert Order.objects.get().state == "draft"


def test_sign_then_file_advance_through_perform(api, admin_token):
    order = make_order()
    sign = {"signed_at": "2026-09-02T10:00:00+02:00", "signature_method": "eidas_simple", "signatory_name": "Dr X"}
    assert api.post(f"/orders/{order.number}/actions/sign", admin_token, sign).json()["state"] == "firm"
    file_advance = {"received_at": "2026-09-03T10:00:00+02:00", "asp_reference": "ASP-42"}
    response = api.post(f"/orders/{order.number}/actions/file_advance", admin_token, file_advance)
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "advance_requested"
    assert response.json()["dates"]["advance_requested_at"] == "2026-09-03T08:00:00Z"


def test_listing_100_orders_costs_the_same_queries_whatever_the_total(api, admin_token, django_assert_max_num_queries):
    solution = make_solution()
    orders = [make_order(solution=solution) for _ in range(105)]
    with django_assert_max_num_queries(8):
        response = api.get("/orders?limit=100", admin_token)
    page = response.json()
    assert len(page["items"]) == 100 and page["next_cursor"]
    assert page["items"][0]["next_deadline"]["code"] == "DATE_4_SIGNATURE"
    with django_assert_max_num_queries(8):
        rest = api.get(f"/orders?limit=100&cursor={page['next_cursor']}", admin_token).json()
    assert [o["number"] for o in page["items"] + rest["items"]] == [o.number for o in orders]
    assert rest["next_cursor"] is None
    assert (
        api.get(f"/orders?client_id={orders[3].client_id}", admin_token).json()["items"][0]["number"]
        == orders[3].number
    )
    assert api.get("/orders?state=firm", admin_token).json()["items"] == []
    assert api.get("/orders?cursor=nonsense", admin_token).status_code == 422
    assert ApiAccess.objects.count() == 5


def test_clients_filters_update_and_same_validation_as_the_admin(api, admin_token):
    doctor = make_doctor()
    structure = make_structure(tranche="C")
    assert [c["id"] for c in api.get("/clients?kind=doctor", admin_token).json()["items"]] == [doctor.pk]
    assert [c["id"] for c in api.get("/clients?tranche=C", admin_token).json()["items"]] == [structure.pk]
    spaced = " ".join([structure.finess[:3], structure.finess[3:]])
    assert [c["id"] for c in api.get(f"/clients?finess={spaced}", admin_token).json()["items"]] == [structure.pk]
    assert [c["id"] for c in api.get(f"/clients?rpps={doctor.rpps}", admin_token).json()["items"]] == [doctor.pk]
    response = api.patch(f"/clients/{doctor.pk}", admin_token, {"city": "Nantes", "email": "nouveau@example.org"})
    assert response.status_code == 200 and response.json()["city"] == "Nantes"
    assert doctor.changes.get().new_value == "nouveau@example.org"  # journaled as in the admin
    response = api.post("/clients", admin_token, {"kind": "doctor", "name": "Dr Double", "rpps": doctor.rpps})
    assert response.status_code == 409
    assert response.json()["violations"][0]["code"] == "CLIENT_DUPLICATE"
    response = api.post("/clients", admin_token, {"kind": "msp", "name": "MSP", "finess": "123"})
    assert response.status_code == 409 and response.json()["violations"][0]["field"] == "finess"
    assert Client.objects.count() == 2


def test_ceilings_lookup(api, admin_token):
    response = api.get("/ceilings?prestation=principal_v2&client_kind=doctor&vat_regime=vat_20", admin_token)
    assert response.status_code == 200 and response.json()["amount"] == "451.50"
    response = api.get("/ceilings?prestation=principal_v2&client_kind=msp&tranche=B&vat_regime=vat_20", admin_token)
    assert response.status_code == 200 and response.json()["category"] == "tranche_b"
    response = api.get("/ceilings?prestation=principal_v2&client_kind=msp&vat_regime=vat_20", admin_token)
    assert response.status_code == 404 and "tranche inconnue" in response.json()["detail"]


def test_documents_are_listed_and_downloaded_after_the_permission_check(api, admin_token):
    from orders.documents import document_generate

    order = make_order()
    document = document_generate(order_id=order.pk, kind="order_form", acting_user=None)
    listed = api.get(f"/orders/{order.number}/documents", admin_token).json()
    assert [d["id"] for d in listed] == [document.pk]
    response = api.get(listed[0]["download_url"], admin_token)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert api.get(listed[0]["download_url"], None).status_code == 401


@time_machine.travel(paris(2027, 6, 15, 10), tick=False)  # the months pushed are over (AF §3.3)
def test_monitoring_push_same_twice_changes_nothing_and_perf_is_read(api, admin_token):
    order = advance(make_order(), "balance_paid")
    months = [
        {
            "month": f"2026-{m:02d}-01" if m <= 12 else f"2027-{m - 12:02d}-01",
            "dt": 20,
            "dm": 15,
            "t": 9,
            "tq": 5,
            "ts": 1,
        }
        for m in range(11, 17)
    ]
    response = api.post(f"/orders/{order.number}/monitoring/months", admin_token, {"months": months})
    assert response.status_code == 200, response.json()
    assert len(response.json()["created"]) == 6
    again = api.post(f"/orders/{order.number}/monitoring/months", admin_token, {"months": months}).json()
    assert again == {"created": [], "unchanged": [m["month"] for m in months], "revised": []}
    perf = api.get(f"/orders/{order.number}/monitoring", admin_token).json()
    assert perf["perf"] == "1" and perf["best_window"]["dt"] == 120
    bad = [{"month": "2027-05-01", "dt": 10, "dm": 50, "t": 1, "tq": 1, "ts": 1}, {**months[0], "month": "2027-06-01"}]
    response = api.post(f"/orders/{order.number}/monitoring/months", admin_token, {"months": bad})
    assert response.status_code == 409
    assert response.json()["violations"][0]["code"] == "MONITORING_INCONSISTENT"
    assert len(api.get(f"/orders/{order.number}/monitoring", admin_token).json()["months"]) == 6  # all or nothing


@time_machine.travel(paris(2027, 6, 15, 10), tick=False)  # the months pushed are over (AF §3.3)
def test_an_installation_pushes_and_reads_its_own_clients_monitoring(api, db):
    from tests.api.conftest import make_token

    order = advance(make_order(), "balance_paid")
    installation = make_token(client=order.client)
    month = {"month": "2026-11-01", "dt": 70, "dm": 50, "t": 30, "tq": 20, "ts": 2}
    response = api.post(f"/orders/{order.number}/monitoring/months", installation, {"months": [month]})
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == ["2026-11-01"]
    assert api.get(f"/orders/{order.number}/monitoring", installation).json()["months"][0]["dm"] == 50
    assert order.events.filter(actor__isnull=False).count() == 0  # the installation acts as the system


@time_machine.travel(paris(2027, 6, 15, 10), tick=False)
def test_a_changed_month_pushed_again_is_a_revision_with_its_reason(api, admin_token):
    """Issue 16 and 15: a month already received with other figures is a correction, kept as a new revision whose
    source is the API; without a reason it is refused (409) and nothing changes."""
    from monitoring.models import MonitoringMonth, MonitoringRevision

    order = advance(make_order(), "balance_paid")
    month = {"month": "2027-01-01", "dt": 70, "dm": 20, "t": 30, "tq": 20, "ts": 2}
    url = f"/orders/{order.number}/monitoring/months"
    assert api.post(url, admin_token, {"months": [month]}).json()["created"] == ["2027-01-01"]

    corrected = {**month, "dm": 50}
    refused = api.post(url, admin_token, {"months": [corrected]})
    assert refused.status_code == 409
    assert refused.json()["violations"][0]["field"] == "reason"
    assert MonitoringMonth.objects.get(order=order).documents_sent == 20

    response = api.post(url, admin_token, {"months": [corrected], "reason": "Dm recompté par l'éditeur"})
    assert response.status_code == 200, response.json()
    assert response.json() == {"created": [], "unchanged": [], "revised": ["2027-01-01"]}
    assert MonitoringMonth.objects.get(order=order).documents_sent == 50
    revisions = MonitoringRevision.objects.filter(order=order).order_by("recorded_at", "pk")
    assert [(r.documents_sent, r.source) for r in revisions] == [(20, "api"), (50, "api")]
    assert revisions.last().reason == "Dm recompté par l'éditeur"
