"""A 20 000-row draft-order file imported from the admin on a real worker, watched in headless Chromium (issue 13):
the progress bar of the check, the preview and its confirmation, the progress bar of the import, the result."""

import csv

import pytest

from clients.models import Client
from orders.models import Order
from orders.roles import SALES_GROUP
from tests.e2e.browser import log_in, screenshots, staff_user
from tests.factories import make_solution, valid_rpps

ROWS = 20_000
# The bar has moved and the work is not over (or, on a fast machine, the step is already finished).
BAR_MOVING = """() => {
  const bar = document.querySelector("progress");
  return (bar && bar.value > 0 && bar.value < bar.max) || !document.querySelector("[data-batch-refresh]");
}"""


@pytest.mark.postgres
@pytest.mark.redis
def test_a_20000_row_order_file_runs_on_the_worker_with_a_progress_bar(
    live_server, new_browser_page, assert_accessible, settings, real_celery_worker, programme_data, tmp_path
):
    settings.SEGUR_IMPORT_QUEUE = real_celery_worker
    solution = make_solution()
    doctors = Client.objects.bulk_create(
        Client(kind="doctor", name=f"Dr Fichier {seed}", rpps=valid_rpps(seed), treating_patient_count=800)
        for seed in range(1_000_000, 1_000_000 + ROWS)
    )
    path = tmp_path / "commandes-date-4.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["rpps_ou_finess", "solution", "prestation", "regime_tva", "montant_principal"])
        for doctor in doctors:
            writer.writerow([doctor.rpps, f"{solution.name} {solution.version}", "V2", "20", ""])
    staff_user("ventes", SALES_GROUP)
    page = new_browser_page()
    page.set_default_timeout(240_000)
    log_in(page, live_server.url, "ventes")

    page.goto(f"{live_server.url}/admin/orders/order/import/")
    page.set_input_files("#id_import_file", str(path))
    page.select_option("#id_format", label="csv")
    page.click("input[type=submit]")

    page.wait_for_selector("text=Étape 1 sur 2")
    page.wait_for_function(BAR_MOVING)  # the panel refreshes itself: no reload by the test
    assert "lignes lues sur 20\u202f000" in page.content()
    screenshots(page, "import-worker-check-running")
    assert_accessible(page, context="import on the worker, check running")

    page.wait_for_selector("text=Fichier vérifié")
    assert "20\u202f000 créations" in page.content()
    screenshots(page, "import-worker-checked")
    assert Order.objects.count() == 0

    page.click("text=Confirmer l’import")
    page.wait_for_selector("text=Étape 2 sur 2")
    page.wait_for_function(BAR_MOVING)
    screenshots(page, "import-worker-import-running")

    page.wait_for_selector("text=Import terminé")
    screenshots(page, "import-worker-done")
    assert_accessible(page, context="import on the worker, done")
    assert Order.objects.count() == ROWS
    assert page.get_attribute("text=Voir les commandes", "href") == "/admin/orders/order/"
