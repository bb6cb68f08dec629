"""Imports in bulk and on the worker (issue 13): look-ups once per file, the same rules and messages as one by one,
all or nothing, and big files checked then imported on the worker behind a progress page."""

import io
import time

import pytest
import tablib
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clients.models import Client
from clients.resources import DoctorResource
from orders import deadline_store, import_tasks, services
from orders.exceptions import BusinessRuleError
from orders.models import Order, OrderEvent, StoredDeadline
from orders.resources import OrderImportResource
from orders.roles import FINANCE_GROUP, SALES_GROUP
from segur_portal import pending_imports
from tests.factories import make_doctor, make_solution, make_user, valid_rpps

HEADERS = ["rpps_ou_finess", "solution", "prestation", "regime_tva", "montant_principal", "montant_secondaire"]
DOCTOR_HEADERS = ["nom", "rpps", "specialite", "patients_medecin_traitant", "email"]


def label(solution):
    return f"{solution.name} {solution.version}"


def orders_file(rows):
    dataset = tablib.Dataset(headers=HEADERS)
    for row in rows:
        dataset.append(row)
    return dataset


def doctors_file(seeds):
    dataset = tablib.Dataset(headers=DOCTOR_HEADERS)
    for seed in seeds:
        dataset.append([f"Dr Lot {seed}", valid_rpps(seed), "Médecine générale", "800", "cabinet@example.org"])
    return dataset


def stored_doctors(count, start=500_000):
    """``count`` doctors stored in one query (the rules do not care how they were created)."""
    return Client.objects.bulk_create(
        Client(kind="doctor", name=f"Dr Stock {seed}", rpps=valid_rpps(seed), treating_patient_count=800)
        for seed in range(start, start + count)
    )


def import_queries(resource, dataset, user):
    with CaptureQueriesContext(connection) as queries:
        result = resource.import_data(dataset, dry_run=False, user=user)
    assert not (result.has_errors() or result.has_validation_errors()), result.invalid_rows[:1]
    return len(queries)


# --- Bulk: queries per file, same rules, all or nothing -----------------------------------------------------------


@pytest.mark.postgres  # SQLite splits an insert every 999 parameters, so its count grows by one per ~40 rows
@pytest.mark.django_db
def test_an_order_import_makes_the_same_number_of_queries_for_3_and_60_rows():
    """Issue 13: clients, solutions, ceilings, users looked up once; orders, numbers and events in one insert each."""
    solution = make_solution()
    user = make_user("importeur")
    small = orders_file([[doctor.rpps, label(solution), "V2", "20", "", ""] for doctor in stored_doctors(3)])
    big = orders_file([[doctor.rpps, label(solution), "V2", "", "", ""] for doctor in stored_doctors(60, 600_000)])

    assert import_queries(OrderImportResource(), small, user) == import_queries(OrderImportResource(), big, user)
    orders = Order.objects.filter(client__name__startswith="Dr Stock ")
    assert orders.count() == 63
    assert {order.number for order in orders} == {f"BC-{order.programme.code}-{order.pk:06d}" for order in orders}
    assert OrderEvent.objects.filter(action="create", order__in=orders, actor_label="importeur").count() == 63


@pytest.mark.django_db
def test_imported_orders_have_their_stored_deadlines_as_order_create_writes_them():
    """Issue 13: the bulk insert writes the stored deadlines in the same transaction (``after_orders_created``),
    the same rows as ``rules.order_deadlines`` gives (the order must be signed before Date 4, AF §4.3)."""
    solution = make_solution()
    dataset = orders_file([[doctor.rpps, label(solution), "V2", "", "", ""] for doctor in stored_doctors(5)])

    import_queries(OrderImportResource(), dataset, make_user("importeur"))

    orders = Order.objects.filter(client__name__startswith="Dr Stock ").select_related("programme", "solution")
    assert orders.count() == 5
    for order in orders:
        stored = [
            tuple(getattr(row, name) for name in deadline_store.ROW_FIELDS)
            for row in StoredDeadline.objects.filter(order=order).order_by("due_at", "code")
        ]
        expected = sorted(deadline_store.open_deadlines(order), key=lambda row: (row[1], row[0]))
        assert stored == expected != []
        assert sum(1 for row in stored if row[-1]) == 1


@pytest.mark.postgres  # as above: SQLite's inserts are split by its parameter limit
@pytest.mark.django_db
def test_a_doctor_import_makes_the_same_number_of_queries_for_3_and_60_rows():
    user = make_user("importeur")

    small = import_queries(DoctorResource(), doctors_file(range(700_000, 700_003)), user)
    big = import_queries(DoctorResource(), doctors_file(range(800_000, 800_060)), user)

    assert small == big
    assert Client.objects.filter(name__startswith="Dr Lot ").count() == 63


@pytest.mark.django_db
def test_a_bad_row_at_the_end_of_a_big_file_imports_nothing_and_names_its_line_and_column():
    solution = make_solution()
    rows = [[doctor.rpps, label(solution), "V2", "20", "", ""] for doctor in stored_doctors(800)]
    rows[-1][4] = "451,51"  # above the ceiling, on line 801 of the file (header = line 1)

    result = OrderImportResource().import_data(orders_file(rows), user=make_user("importeur"))

    assert [invalid.number + 1 for invalid in result.invalid_rows] == [801]
    assert "dépasse le prix plafond" in result.invalid_rows[0].error_dict["montant_principal"][0]
    assert Order.objects.count() == 0 and OrderEvent.objects.count() == 0


@pytest.mark.django_db
def test_the_import_refuses_with_the_same_message_as_order_create():
    """One rule, one message: the bulk path calls the same check (``services.order_create_check``)."""
    solution = make_solution()
    doctor = make_doctor(wave1_benefited=True)
    with pytest.raises(BusinessRuleError) as refused:
        services.order_create(
            programme=solution.programme, client=doctor, solution=solution, prestation="principal_v1v2"
        )

    result = OrderImportResource().import_data(
        orders_file([[doctor.rpps, label(solution), "V1V2", "", "", ""]]), user=make_user("importeur")
    )

    message = result.invalid_rows[0].error_dict["prestation"][0]
    assert message == f"{refused.value.violations[0].message} [{refused.value.violations[0].code}]"


@pytest.mark.django_db
def test_the_same_client_twice_in_a_big_file_is_refused_on_the_second_line_as_before():
    solution = make_solution()
    doctors = stored_doctors(30)
    rows = [[doctor.rpps, label(solution), "V2", "", "", ""] for doctor in doctors] + [
        [doctors[4].rpps, label(solution), "V2", "", "", ""]
    ]

    result = OrderImportResource().import_data(orders_file(rows), user=make_user("importeur"))

    assert [invalid.number + 1 for invalid in result.invalid_rows] == [32]
    assert "[DUPLICATE_ORDER]" in result.invalid_rows[0].error_dict["rpps_ou_finess"][0]
    assert Order.objects.count() == 0


# --- On the worker: the admin's pages -------------------------------------------------------------------------------


def csv_upload(dataset, name="commandes.csv"):
    upload = io.BytesIO(dataset.export("csv").encode())
    upload.name = name
    return upload


@pytest.fixture
def small_threshold(settings):
    settings.SEGUR_IMPORT_WORKER_ROWS = 5


@pytest.fixture
def eager_worker(monkeypatch):
    """The task run at once, in this process, as a worker would (same function, same status file)."""
    sent = []

    def apply_async(args, queue=None):
        sent.append(args)
        import_tasks.run_model_import(*args)

    monkeypatch.setattr(import_tasks.run_model_import, "apply_async", apply_async)
    return sent


def post_import(client, dataset, url="admin:orders_order_import"):
    return client.post(reverse(url), {"import_file": csv_upload(dataset), "format": "0", "resource": "0"})


@pytest.mark.django_db
def test_a_big_order_file_is_previewed_then_imported_on_the_worker(client, small_threshold, eager_worker):
    solution = make_solution()
    user = make_user("ventes", SALES_GROUP)
    client.force_login(user)
    dataset = orders_file([[doctor.rpps, label(solution), "V2", "20", "", ""] for doctor in stored_doctors(12)])

    queued = post_import(client, dataset)

    assert queued.status_code == 302 and "/importer/suivi/" in queued["Location"]
    assert Order.objects.count() == 0
    preview = client.get(queued["Location"])
    assert preview.status_code == 200
    assert preview.context["status"]["state"] == "checked"
    assert "Fichier vérifié" in preview.content.decode()
    assert "12 créations" in preview.context["totals_text"]

    confirmed = client.post(preview.context["confirm_url"])
    client.post(preview.context["confirm_url"])  # a second click: nothing more is queued
    done = client.get(confirmed["Location"])

    assert done.context["status"]["state"] == "done"
    assert "Import terminé" in done.content.decode()
    assert Order.objects.count() == 12
    assert [args[2] for args in eager_worker] == ["preview", "import"]
    assert LogEntry.objects.filter(user=user).count() == 12  # the admin's history, as for a small file


@pytest.mark.django_db
def test_a_big_file_refused_on_the_worker_lists_its_lines_and_cannot_be_confirmed(
    client, small_threshold, eager_worker
):
    solution = make_solution()
    client.force_login(make_user("ventes", SALES_GROUP))
    rows = [[doctor.rpps, label(solution), "V2", "20", "", ""] for doctor in stored_doctors(12)]
    rows[-1][1] = "Inconnue 1"

    queued = post_import(client, orders_file(rows))
    page = client.get(queued["Location"])

    assert page.context["status"]["state"] == "refused"
    assert page.context["status"]["error_lines"][0].startswith(
        "Ligne 13, colonne « solution » : Solution « Inconnue 1 »"
    )
    client.post(page.context["confirm_url"])
    assert [args[2] for args in eager_worker] == ["preview"]
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_big_doctor_file_goes_to_the_worker_too(client, small_threshold, eager_worker):
    client.force_login(make_user("root", is_superuser=True))

    queued = post_import(client, doctors_file(range(900_000, 900_010)), url="admin:clients_client_import")
    client.post(reverse("admin:clients_client_import_confirm_worker", args=[token_of(queued)]))

    assert Client.objects.filter(name__startswith="Dr Lot ").count() == 10


def token_of(response):
    return response["Location"].rstrip("/").split("/")[-1]


@pytest.mark.django_db
def test_a_small_file_stays_in_the_request(client, eager_worker):
    solution = make_solution()
    client.force_login(make_user("root", is_superuser=True))

    preview = post_import(client, orders_file([[make_doctor().rpps, label(solution), "V2", "20", "", ""]]))

    assert preview.status_code == 200 and preview.context["confirm_form"] is not None
    assert eager_worker == []


@pytest.mark.django_db
def test_the_progress_page_is_only_for_its_uploader_with_the_import_permission(client, small_threshold, eager_worker):
    solution = make_solution()
    client.force_login(make_user("ventes", SALES_GROUP))
    queued = post_import(client, orders_file([[d.rpps, label(solution), "V2", "", "", ""] for d in stored_doctors(8)]))
    token = token_of(queued)

    client.force_login(make_user("finance", FINANCE_GROUP))  # may not import orders
    assert client.get(queued["Location"]).status_code == 403
    assert client.post(reverse("admin:orders_order_import_confirm_worker", args=[token])).status_code == 403
    client.force_login(make_user("collegue", SALES_GROUP))  # may import, but did not upload this file
    assert client.get(queued["Location"]).status_code == 404
    assert client.post(reverse("admin:orders_order_import_confirm_worker", args=[token])).status_code == 404
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_while_the_worker_runs_the_page_shows_the_progress_and_a_reload_link(client, small_threshold, monkeypatch):
    monkeypatch.setattr(import_tasks.run_model_import, "apply_async", lambda args, queue=None: None)
    solution = make_solution()
    client.force_login(make_user("ventes", SALES_GROUP))
    queued = post_import(client, orders_file([[d.rpps, label(solution), "V2", "", "", ""] for d in stored_doctors(8)]))
    pending_imports.pending_import_status_set(
        token_of(queued), {"stage": "preview", "state": "running", "done": 4, "total": 8}
    )

    page = client.get(queued["Location"])

    content = page.content.decode()
    assert '<progress max="8" value="4">' in content and "4 lignes lues sur 8 (50 %)" in content
    assert "data-batch-refresh" in content and ">Actualiser</a>" in content


# --- With a real worker ------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.redis
def test_a_big_order_file_is_imported_by_a_real_worker(client, settings, real_celery_worker, programme_data):
    settings.SEGUR_IMPORT_WORKER_ROWS = 5
    settings.SEGUR_IMPORT_QUEUE = real_celery_worker
    solution = make_solution()
    client.force_login(make_user("ventes", SALES_GROUP))
    queued = post_import(client, orders_file([[d.rpps, label(solution), "V2", "", "", ""] for d in stored_doctors(40)]))

    status = wait_for(client, queued["Location"], "checked")
    assert Order.objects.count() == 0
    client.post(reverse("admin:orders_order_import_confirm_worker", args=[token_of(queued)]))
    status = wait_for(client, queued["Location"], "done")

    assert status["totals"]["new"] == 40
    assert Order.objects.count() == 40


def wait_for(client, url, state, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.get(url).context["status"]
        if status.get("state") in import_tasks.FINISHED:
            assert status["state"] == state, status
            return status
        time.sleep(0.3)
    raise AssertionError(f"still {status} after {seconds} s")


@pytest.mark.django_db
def test_clients_create_bulk_refuses_a_stored_or_repeated_identifier_as_client_create_does():
    """AF §4.2, one client per identifier: the bulk service says it with ``client_create``'s own message."""
    from clients import services as client_services

    stored = make_doctor()
    row = {"kind": "doctor", "name": "Dr Double", "rpps": stored.rpps, "treating_patient_count": 10}
    with pytest.raises(BusinessRuleError) as one_by_one:
        client_services.client_create(**row)
    with pytest.raises(BusinessRuleError) as in_bulk:
        client_services.clients_create_bulk([row])
    fresh = {**row, "rpps": valid_rpps(990_001)}
    with pytest.raises(BusinessRuleError) as repeated:
        client_services.clients_create_bulk([fresh, fresh])

    assert in_bulk.value.message == one_by_one.value.message
    assert [violation.code for violation in repeated.value.violations] == ["CLIENT_DUPLICATE"]
    assert Client.objects.count() == 1


@pytest.mark.django_db
def test_the_preview_keeps_the_diff_of_the_rows_it_shows():
    """The admin's preview lists the first 100 rows: they keep their diff; new rows further down skip it."""
    result = DoctorResource().import_data(doctors_file(range(950_000, 950_120)), dry_run=True)

    assert not result.has_validation_errors()
    assert "Dr Lot 950099" in "".join(result.rows[99].diff)
    assert result.rows[100].diff == []


@pytest.mark.django_db
def test_a_big_doctor_file_imported_again_changes_nothing_and_says_so():
    """Beyond the previewed rows, stored clients still get their comparison: unchanged rows are skipped."""
    user = make_user("importeur")
    DoctorResource().import_data(doctors_file(range(960_000, 960_120)), user=user)

    again = DoctorResource().import_data(doctors_file(range(960_000, 960_120)), user=user)

    assert again.totals["skip"] == 120 and again.totals["new"] == 0
