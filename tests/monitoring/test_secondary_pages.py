"""Secondary prestation pages: the order's section (PERF explained, chart, history), manual entry, the import with its
preview, the portfolio (AF §3.3, §4.5, §5.4)."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from monitoring.models import MonitoringMonth, MonitoringRevision, PerfSummary
from monitoring.services import MonthReport, record_months
from orders import rules
from orders.roles import DEPLOYMENT_GROUP
from tests.factories import advance, make_order, make_user, paris

pytestmark = pytest.mark.django_db
START = date(2026, 11, 1)


@pytest.fixture
def order():
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        return advance(make_order(), "va_signed")


@pytest.fixture(autouse=True)
def later():
    with time_machine.travel(paris(2027, 12, 10, 10), tick=False):
        yield


@pytest.fixture
def staff(client):
    client.force_login(make_user("deploiement", DEPLOYMENT_GROUP))
    return client


def six_months(order, dm=12):
    record_months(order, [MonthReport(rules.add_months(START, i), 20, dm, 100, 80, 10) for i in range(6)])


def test_the_order_page_explains_perf_and_shows_the_chart_and_the_history(staff, order):
    six_months(order, dm=7)  # 42/120 = 35 % → PERF 0
    record_months(order, [MonthReport(START, 20, 12, 100, 80, 10)], reason="Relevé LGC corrigé")

    page = staff.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()

    assert 'id="suivi-secondaire"' in page and '<svg class="perf-chart"' in page
    assert "il manque 1 document envoyé sur la fenêtre novembre 2026–avril 2027 pour atteindre 40 %" in page.lower()
    assert "Relevé LGC corrigé" in page and "revision-old" in page
    assert "Historique des relevés (1 correction)" in page


def test_manual_entry_records_a_month_and_a_correction_needs_a_reason(staff, order):
    url = reverse("admin:monitoring_secondary_record", args=[order.pk])
    figures = {"month": "11/2026", "dt": "20", "dm": "12", "t": "100", "tq": "80", "ts": "10"}

    staff.post(url, figures)
    refused = staff.post(url, {**figures, "dm": "15"}, follow=True).content.decode()
    staff.post(url, {**figures, "dm": "15", "reason": "Erreur de saisie"})

    assert "indiquez le motif de la correction" in refused
    assert list(MonitoringRevision.objects.values_list("documents_sent", "source", "reason")) == [
        (12, "manual", ""),
        (15, "manual", "Erreur de saisie"),
    ]


def test_manual_entry_refuses_text_where_a_number_is_expected(staff, order):
    url = reverse("admin:monitoring_secondary_record", args=[order.pk])

    page = staff.post(url, {"month": "novembre", "dt": "vingt"}, follow=True).content.decode()

    assert "Mois : indiquez le mois au format MM/AAAA" in page and "Dt : indiquez un nombre entier." in page
    assert not MonitoringMonth.objects.exists()


def test_the_import_shows_a_preview_then_imports_on_confirmation(staff, order):
    url = reverse("admin:monitoring_secondary_import")
    lines = ["commande;mois;Dt;Dm;T;Tq;Ts"] + [f"{order.number};{m:02d}/2027;20;12;100;80;10" for m in range(1, 7)]
    upload = SimpleUploadedFile("releves.csv", "\n".join(lines).encode())

    preview = staff.post(url, {"file": upload})

    assert "6 mois nouveaux" in preview.content.decode() and not MonitoringMonth.objects.exists()
    done = staff.post(url, {"token": preview.context["token"], "filename": "releves.csv"})
    assert done.status_code == 302 and MonitoringMonth.objects.count() == 6


def test_the_import_lists_the_errors_and_imports_nothing(staff, order):
    upload = SimpleUploadedFile(
        "releves.csv", f"commande;mois;Dt;Dm;T;Tq;Ts\n{order.number};01/2027;5;6;1;1;1".encode()
    )

    page = staff.post(reverse("admin:monitoring_secondary_import"), {"file": upload}).content.decode()

    assert "Ligne 2, colonne « Dm » : 01/2027 : Dm (6) ne peut dépasser Dt (5)" in page
    assert "1 erreur : rien n" in page and not MonitoringMonth.objects.exists()


def test_the_portfolio_counts_levels_and_lists_the_closest_in_a_bounded_number_of_queries(
    staff, order, django_assert_max_num_queries
):
    with time_machine.travel(paris(2026, 11, 23, 10), tick=False):
        half, none = advance(make_order(), "va_signed"), advance(make_order(), "va_signed")
    six_months(order)  # PERF 1
    six_months(half, dm=9)  # 54/120 = 45 % → PERF 0,5
    assert PerfSummary.objects.get(order=half).missing_count == 18

    with django_assert_max_num_queries(12):
        response = staff.get(reverse("admin:monitoring_secondary_portfolio"))

    totals = response.context["totals"]
    assert (totals["perf_1"], totals["perf_half"], totals["perf_0"], totals["no_data"]) == (1, 1, 0, 1)
    assert totals["secured"] == order.secondary_amount + rules.secondary_payable(half.secondary_amount, Decimal("0.5"))
    assert [row["summary"].order_id for row in response.context["rows"]] == [half.pk]
    assert none.pk not in [row["summary"].order_id for row in response.context["rows"]]


def test_a_revision_cannot_be_edited_from_the_admin(client, order):
    """AF §4.5: history is never overwritten — the admin shows a revision, it does not save one (no 500 either)."""
    from orders.roles import ADMIN_GROUP

    record_months(order, [MonthReport(START, 20, 12, 100, 80, 10)])
    revision = MonitoringRevision.objects.get()
    client.force_login(make_user("chef", ADMIN_GROUP))

    response = client.post(reverse("admin:monitoring_monitoringrevision_change", args=[revision.pk]), {"reason": "x"})

    assert response.status_code == 403
    assert MonitoringRevision.objects.get().reason == ""
