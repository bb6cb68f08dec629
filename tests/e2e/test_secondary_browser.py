"""Déploiement opens the PERF portfolio, goes to the order closest to a level, reads its chart and what is missing,
corrects a month by hand, then imports a file (an error first, then the preview and the confirmation) — in a real
headless Chromium, at 1440 and 390 px, with axe-core (AF §3.3, §4.5)."""

import pytest
import time_machine

from monitoring.services import MonthReport, record_months
from orders import rules
from orders.models import Order
from orders.roles import DEPLOYMENT_GROUP
from tests.e2e.browser import SCREENSHOTS, log_in, screenshots, staff_user
from tests.factories import advance, make_order, paris

expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect


@pytest.mark.usefixtures("programme_data")
def test_portfolio_order_chart_correction_and_import(live_server, new_browser_page, assert_accessible, tmp_path):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        close, good = advance(make_order(), "va_signed"), advance(make_order(), "va_signed")
    Order.objects.filter(pk__in=[close.pk, good.pk]).update(va_signed_at=paris(2025, 12, 15))  # start: January 2026
    close.refresh_from_db()
    good.refresh_from_db()
    start = rules.secondary_start(close)
    record_months(close, [MonthReport(rules.add_months(start, i), 20, 11, 90, 70, 8) for i in range(8)])  # 55 %
    record_months(good, [MonthReport(rules.add_months(start, i), 20, 14, 90, 70, 8) for i in range(8)])
    staff_user("deploiement", DEPLOYMENT_GROUP)
    page = new_browser_page(viewport={"width": 1440, "height": 900})
    log_in(page, live_server.url, "deploiement")

    page.locator("#content-main").get_by_role("link", name="Portefeuille PERF (secondaire)").click()
    page.wait_for_url("**/portefeuille/")
    expect(page.locator(".perf-totals")).to_contain_text("Montant acquis")
    expect(page.locator("table.perf-closest tbody tr")).to_have_count(1)
    screenshots(page, "secondary-portfolio")
    assert_accessible(page, "PERF portfolio")
    page.set_viewport_size({"width": 390, "height": 900})  # on a phone the rows are stacked: nothing is clipped
    missing = page.locator("table.perf-closest td[data-label='Ce qui manque']")
    box = missing.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert_accessible(page, "PERF portfolio on a phone")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.get_by_role("link", name=close.number).click()
    section = page.locator("#suivi-secondaire")
    expect(section).to_contain_text(
        "Il manque 6 documents envoyés sur la fenêtre janvier–juin 2026 pour atteindre 60 %"
    )
    expect(section.locator("svg.perf-chart rect.band-best")).to_have_count(1)
    section.get_by_label("Mois (MM/AAAA)").fill("03/2026")
    for name, value in (("Dt", "20"), ("Dm", "17"), ("T", "90"), ("Tq", "70"), ("Ts", "8")):
        section.get_by_label(name, exact=True).fill(value)
    section.get_by_label("Motif (pour une correction)").fill("Envois de mars retrouvés")
    section.get_by_role("button", name="Enregistrer le mois").click()
    expect(page.locator(".messagelist")).to_contain_text("Correction enregistrée pour 03/2026.")
    section = page.locator("#suivi-secondaire")
    expect(section).to_contain_text("PERF 1 atteint sur la fenêtre")
    expect(section.locator("table.revision-history")).to_contain_text("Envois de mars retrouvés")
    section.scroll_into_view_if_needed()
    screenshots(page, "secondary-order-section")
    for width in (1440, 390):  # the section alone, to be looked at (the whole order page is long)
        page.set_viewport_size({"width": width, "height": 900})
        section.screenshot(path=str(SCREENSHOTS / f"secondary-order-section-only-{width}.png"))
    page.set_viewport_size({"width": 1440, "height": 900})
    assert_accessible(page, "order page with its secondary section")

    bad = tmp_path / "releves.csv"
    bad.write_text(f"commande;mois;Dt;Dm;T;Tq;Ts\n{good.number};09/2026;20;25;90;70;8\n", encoding="utf-8")
    page.goto(f"{live_server.url}/admin/monitoring/monitoringmonth/import/")
    page.get_by_label("Fichier").set_input_files(str(bad))
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.locator(".import-errors")).to_contain_text("Ligne 2, colonne « Dm » : 09/2026 : Dm (25) ne peut")
    screenshots(page, "secondary-import-errors")
    assert_accessible(page, "import with errors")

    bad.write_text(f"commande;mois;Dt;Dm;T;Tq;Ts\n{good.number};09/2026;20;15;90;70;8\n", encoding="utf-8")
    page.get_by_label("Fichier").set_input_files(str(bad))
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.locator(".import-preview")).to_contain_text("1 mois nouveau")
    screenshots(page, "secondary-import-preview")
    assert_accessible(page, "import preview")
    page.get_by_role("button", name="Confirmer l'import").click()
    page.wait_for_url("**/portefeuille/")
    expect(page.locator(".messagelist")).to_contain_text("Import enregistré : 1 mois nouveaux")
