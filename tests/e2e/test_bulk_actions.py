"""Finance files advance requests in bulk in a real headless Chromium: tick orders on the list, choose the action,
see the confirmation, type the ASP's reception date, confirm, read the result page and find it again after a reload."""

import re

import pytest
import time_machine

from orders.models import BulkRun, Order
from orders.roles import FINANCE_GROUP, SALES_GROUP
from tests.e2e.browser import PASSWORD, screenshots
from tests.factories import advance, make_doctor, make_order, make_solution, make_user, paris

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.mark.usefixtures("programme_data")
def test_finance_files_advance_requests_in_bulk_with_a_confirmation_and_a_lasting_report(
    live_server, new_browser_page, assert_accessible
):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        solution = make_solution()
        firm = [
            advance(make_order(solution=solution, client=make_doctor(name=f"Dr Lemaître {i}")), "firm")
            for i in range(3)
        ]
        drafts = [make_order(solution=solution, client=make_doctor(name=f"Dr Brouillon {i}")) for i in range(2)]
    user = make_user("compta", FINANCE_GROUP)
    user.set_password(PASSWORD)
    user.save()
    page = new_browser_page(viewport={"width": 1440, "height": 900})

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "compta")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/orders/order/")
    for order in [*firm, *drafts]:
        page.locator("#result_list tr", has_text=order.number).locator("input.action-select").click()
    assert_accessible(page, "order list")
    page.select_option("select[name=action]", "bulk_file_advance")
    page.locator("button[name=index]").first.click()

    summary = page.locator(".bulk-summary")
    expect(summary).to_contain_text("3 demandes d'avance seront enregistrées comme reçues par l'ASP le")
    expect(summary).to_contain_text("2 commandes seront refusées")
    for order in drafts:
        row = page.locator(".bulk-table tr", has_text=order.number)
        expect(row).to_contain_text("Sera refusée")
        expect(row).to_contain_text("impossible depuis l'état « Brouillon »")
    assert set(Order.objects.values_list("state", flat=True)) == {"firm", "draft"}  # nothing done yet
    assert_accessible(page, "bulk confirmation")

    page.get_by_label("Reçue par l'ASP le : date (jj/mm/aaaa)").fill("20/11/2026")
    page.get_by_label("Reçue par l'ASP le : heure de Paris (HH:MM)").fill("14:00")
    page.get_by_label("Référence ASP").fill("ASP-LOT-E2E")
    page.get_by_role("button", name="Vérifier avec ces valeurs").click()
    expect(summary).to_contain_text(
        "3 demandes d'avance seront enregistrées comme reçues par l'ASP le 20/11/2026 à 14:00."
    )
    screenshots(page, "bulk-confirmation")
    assert_accessible(page, "bulk confirmation with the typed values")
    page.get_by_role("button", name=re.compile("Confirmer : enregistrer 3 commandes")).click()
    page.wait_for_url(re.compile(r"/admin/orders/bulkrun/\d+/change/"))

    expect(page.locator(".messagelist")).to_contain_text("5 traitées : 3 faites, 2 refusées — voir le compte rendu")
    page.reload()
    expect(page.locator(".messagelist")).to_have_count(0)
    expect(page.locator(".bulk-summary")).to_contain_text("5 commandes traitées : 3 faites, 2 refusées")
    expect(page.locator(".bulk-summary")).to_contain_text("Reçue par l'ASP le 20/11/2026 à 14:00")
    rows = page.locator(".bulk-table tbody tr")
    expect(rows).to_have_count(5)
    for index, order in enumerate(sorted(drafts, key=lambda o: o.number)):  # refused first, with the reason
        expect(rows.nth(index)).to_contain_text(order.number)
        expect(rows.nth(index)).to_contain_text(order.client.name)
        expect(rows.nth(index)).to_contain_text("impossible depuis l'état « Brouillon »")
    for order in firm:
        expect(page.locator(".bulk-table tr.bulk-done", has_text=order.number)).to_contain_text("Faite")
    screenshots(page, "bulk-result")
    assert_accessible(page, "bulk result")
    page.get_by_role("link", name="Refusées (2)").click()
    expect(rows).to_have_count(2)
    assert_accessible(page, "bulk result, refused only")

    page.get_by_role("link", name=drafts[0].number, exact=True).click()
    page.wait_for_url(f"**/admin/orders/order/{drafts[0].pk}/change/")
    assert_accessible(page, "refused order page")
    run = BulkRun.objects.get()
    assert (run.done_count, run.refused_count) == (3, 2)
    assert set(Order.objects.filter(pk__in=[o.pk for o in firm]).values_list("advance_asp_reference", flat=True)) == {
        "ASP-LOT-E2E"
    }


@pytest.mark.usefixtures("programme_data")
def test_the_salesperson_follows_the_batch_he_launched(live_server, new_browser_page, assert_accessible, monkeypatch):
    from orders import documents

    queued = []
    monkeypatch.setattr(documents.batches, "_queue_batch", queued.append)  # no worker here: the page is what is tested
    user = make_user("c.durand", SALES_GROUP)
    user.set_password(PASSWORD)
    user.save()
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        orders = [make_order(salesperson=user) for _ in range(2)]  # his list shows his own orders by default
    page = new_browser_page(viewport={"width": 1440, "height": 900})

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "c.durand")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/orders/order/")
    for order in orders:
        page.locator("#result_list tr", has_text=order.number).locator("input.action-select").click()
    assert_accessible(page, "order list")
    page.select_option("select[name=action]", "bulk_generate_order_forms")
    page.locator("button[name=index]").first.click()
    expect(page.locator(".messagelist")).to_contain_text("Lot de 2 bons de commande lancé")
    assert_accessible(page, "order list after launching the batch")
    page.get_by_role("link", name="suivre l'avancement").click()

    expect(page.locator("h1")).not_to_contain_text("403")
    expect(page.locator("progress")).to_have_attribute("max", "2")
    assert len(queued) == 1
    screenshots(page, "bulk-batch-salesperson")
    assert_accessible(page, "batch progress")

    documents.batch_run(batch_id=queued[0])  # the worker's part: the open page follows it without a reload
    expect(page.locator("progress")).to_have_attribute("value", "2", timeout=15_000)
    expect(page.locator(".batch-progress")).not_to_contain_text("la page se met à jour toute seule")
    assert_accessible(page, "batch progress, done")
