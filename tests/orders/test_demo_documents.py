"""The demo's documents as a vendor would send them (issue #11): invoices print the provider's legal identity, and the
pilot PV prints the days the deployment work was done, before the installation, not the day the demo was seeded."""

from datetime import date

import pytest
from django.utils import timezone

from orders import rules
from orders.demo import DEMO_PROVIDER_SIREN, checklist_days, seed_demo
from orders.documents.invoices import invoice_context
from orders.documents.rendering import provider_legal_info
from orders.models import Invoice, Order, Provider
from tests.factories import paris


@pytest.mark.django_db
def test_demo_invoices_print_rcs_and_share_capital_and_checklists_replay_real_days(frozen_today):
    seed_demo()
    provider = Provider.objects.get(siren=DEMO_PROVIDER_SIREN)
    assert (provider.legal_form, provider.rcs) == ("SAS", "Lyon 832 451 976")
    legal = provider_legal_info(provider)
    assert "au capital de 150" in legal and "RCS Lyon 832 451 976" in legal  # Code de commerce R123-237

    invoice = Invoice.objects.filter(order__solution__provider=provider).order_by("pk").first()
    assert invoice is not None
    assert invoice_context(invoice)["legal_info"] == legal

    seeded_on = rules.paris_date(timezone.now())
    installed = Order.objects.filter(installed_at__isnull=False)
    assert installed.count() > 20
    for order in installed:
        days = {date.fromisoformat(day) for day in order.deployment_checklist.values()}
        codes = {code for code, _label in rules.checklist_items_for(order.client)}
        assert set(order.deployment_checklist) == codes
        assert seeded_on not in days
        assert max(days) == rules.paris_date(order.installed_at), order.pk
        assert min(days) > rules.paris_date(order.advance_paid_at), order.pk
        assert len(days) > 1  # the work took several days


def test_checklist_days_spread_in_order_up_to_the_installation_day():
    class Doctor:
        is_structure = False

    class Order:
        client = Doctor()

    days = checklist_days(Order(), paris(2026, 3, 2), paris(2026, 3, 7))  # type: ignore[arg-type]
    assert list(days) == [code for code, _ in rules.checklist_items_for(Doctor())]  # type: ignore[arg-type]
    assert list(days.values()) == sorted(days.values())
    assert (min(days.values()), max(days.values())) == (date(2026, 3, 3), date(2026, 3, 7))
