"""A salesperson in a real headless Chromium: his own orders by default, a search without accents, a new doctor
through the client form (structure fields hidden), then a draft order from the doctor's page, all pre-filled.

Screenshots at 1440 and 390 px land in var/screenshots/ (CI artifacts)."""

import pytest

from clients.models import Client
from orders.models import Order
from orders.roles import SALES_GROUP
from tests.e2e.browser import PASSWORD, SCREENSHOTS, log_in
from tests.factories import make_doctor, make_order, make_solution, make_user, valid_rpps

WIDE = {"width": 1440, "height": 1000}
NARROW = {"width": 390, "height": 844}


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.usefixtures("programme_data")
def test_a_salesperson_finds_his_orders_creates_a_doctor_and_a_draft_order(
    live_server, new_browser_page, assert_accessible
):
    seller = make_user("vendeuse", SALES_GROUP, first_name="Claire", last_name="Vendeuse")
    seller.set_password(PASSWORD)
    seller.save()
    solution = make_solution()
    mine = make_order(solution=solution, client=make_doctor(name="Dr Hélène Lemaître"), salesperson=seller)
    theirs = make_order(solution=solution, salesperson=make_user("collegue", SALES_GROUP))
    page = new_browser_page(viewport=WIDE)
    log_in(page, live_server.url, "vendeuse")

    # His own orders by default, and the way to every order is on the page.
    page.goto(f"{live_server.url}/admin/orders/order/")
    results = page.locator("#result_list").inner_text()
    assert mine.number in results and theirs.number not in results
    assert page.locator("#changelist-filter li.selected", has_text="moi (mes commandes)").count() == 1
    assert "1 commande" in page.locator(".order-totals").inner_text()
    shoot(page, "order_list_1440")
    assert_accessible(page, "order list")

    # The drafts to sign before Date 4 (16/12/2026): state « Brouillon », next deadline within 30 days, by clicks.
    page.click("#changelist-filter a:text-is('Brouillon')")
    page.wait_for_load_state()
    page.click("#changelist-filter a:text-is('Sous 30 jours')")
    page.wait_for_load_state()
    assert "Brouillon" in page.locator("#result_list").inner_text()
    assert mine.number in page.locator("#result_list").inner_text().replace("\n", "")
    assert_accessible(page, "drafts to sign before Date 4")

    # A search typed without accents finds « Lemaître ».
    page.fill("#searchbar", "lemaitre")
    page.press("#searchbar", "Enter")
    page.wait_for_load_state()
    assert "Lemaître" in page.locator("#result_list").inner_text()
    assert_accessible(page, "search results")

    # A new doctor: once the kind is « Médecin libéral », the structure's fields are hidden.
    page.goto(f"{live_server.url}/admin/clients/client/add/")
    assert page.locator("fieldset.client-kind-structure").is_visible()
    page.select_option("#id_kind", "doctor")
    assert not page.locator("fieldset.client-kind-structure").is_visible()
    assert page.locator("fieldset.client-kind-doctor").is_visible()
    assert_accessible(page, "new doctor form")
    page.fill("#id_name", "Dr Étienne Dupré")
    rpps = valid_rpps(777)
    page.fill("#id_rpps", rpps)
    page.fill("#id_specialty", "Médecine générale")
    page.fill("#id_treating_patient_count", "650")
    page.fill("#id_email", "cabinet.dupre@example.org")
    page.fill("#id_address", "4 rue Mercière")
    page.fill("#id_postal_code", "69002")
    page.fill("#id_city", "Lyon")
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    doctor = Client.objects.get(rpps=rpps)
    assert page.url.endswith(f"/admin/clients/client/{doctor.pk}/change/")
    assert not page.locator("fieldset.client-kind-structure").is_visible()
    shoot(page, "client_page_1440")
    assert_accessible(page, "client page")

    # From the doctor's page, « Nouvelle commande »: everything pre-filled, nothing else chosen.
    page.click("a.button:has-text('Nouvelle commande')")
    page.wait_for_load_state()
    assert "Dr Étienne Dupré" in page.locator(".select2-selection__rendered").first.inner_text()
    shoot(page, "order_create_1440")
    assert_accessible(page, "new order form")
    page.click("input[type=submit][value='Créer le bon de commande']")
    page.wait_for_load_state()

    order = Order.objects.get(client=doctor)
    assert (order.state, order.solution, order.salesperson) == ("draft", solution, seller)
    assert page.url.endswith(f"/admin/orders/order/{order.pk}/change/")
    assert order.number in page.locator(".messagelist").inner_text()
    assert_accessible(page, "new draft order page")

    # Its order form, generated from the order page, ready to be signed.
    page.select_option("form.order-generate select", "order_form")
    page.click("form.order-generate button")
    page.wait_for_load_state()
    assert order.documents.filter(kind="order_form").count() == 1
    assert "Bon de commande" in page.locator(".messagelist").inner_text()
    assert_accessible(page, "order form generated")

    # The same pages on a phone.
    phone = new_browser_page(viewport=NARROW)
    log_in(phone, live_server.url, "vendeuse")
    for name, path in [
        ("order_list_390", "/admin/orders/order/"),
        ("client_page_390", f"/admin/clients/client/{doctor.pk}/change/"),
        ("order_create_390", f"/admin/orders/order/add/?client={doctor.pk}"),
    ]:
        phone.goto(live_server.url + path)
        shoot(phone, name)
        assert_accessible(phone, name)
