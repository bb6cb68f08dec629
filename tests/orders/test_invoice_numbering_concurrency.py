"""Invoice numbers and issue times of a series sort the same way, even when invoices are issued at the same moment
(chronological, continuous numbering: CGI ann. II art. 242 nonies A)."""

import importlib
import time

import pytest
import time_machine
from django.apps import apps

from orders import invoices
from orders.exceptions import BusinessRuleError
from orders.models import Invoice, InvoiceSeries
from tests.factories import advance, make_order, make_solution, paris
from tests.orders.test_concurrency import run_concurrently

TODAY = paris(2026, 11, 23, 10)
STEP = 0.1  # seconds


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("programme_data")
def test_concurrent_invoices_get_numbers_in_the_order_of_their_issue_times(monkeypatch):
    importlib.import_module("orders.migrations.0005_invoices").create_series(apps, None)
    with time_machine.travel(TODAY, tick=False):
        solution = make_solution()
        orders = [advance(make_order(solution=solution), "va_signed") for _ in range(5)]
    position = {order.pk: index for index, order in enumerate(orders)}
    checks = invoices.invoice_violations

    def slow_checks(order, kind):
        # The first to start is the last to reach the series: whoever reads the clock before taking the series'
        # lock gets a later number with an earlier time.
        time.sleep((len(orders) - position[order.pk]) * 2 * STEP)
        return checks(order, kind)

    def issue_later(index, order):
        time.sleep(index * STEP)
        return invoices.invoice_issue(order_id=order.pk, kind="principal", acting_user=None)

    monkeypatch.setattr(invoices, "invoice_violations", slow_checks)
    results = run_concurrently(*[lambda i=i, order=order: issue_later(i, order) for i, order in enumerate(orders)])

    assert all(isinstance(result, Invoice) for result in results), results
    issued = list(Invoice.objects.filter(kind="principal").order_by("sequence"))
    assert [invoice.number for invoice in issued] == [f"FP-{n:06d}" for n in range(1, 6)]  # no gap, no duplicate
    assert [invoice.issued_at for invoice in issued] == sorted(invoice.issued_at for invoice in issued)
    assert issued[0].order_id == orders[-1].pk  # the race happened: the last to start got the first number
    assert InvoiceSeries.objects.get(kind="principal").last_number == 5


@pytest.mark.django_db
def test_an_invoice_dated_before_the_previous_one_of_its_series_is_refused_and_takes_no_number():
    with time_machine.travel(TODAY, tick=False):
        first, same_time, earlier = (advance(make_order(), "va_signed") for _ in range(3))
    invoices.invoice_issue(order_id=first.pk, kind="principal", acting_user=None, now=TODAY)

    invoices.invoice_issue(order_id=same_time.pk, kind="principal", acting_user=None, now=TODAY)  # same instant: fine
    with pytest.raises(BusinessRuleError) as error:
        invoices.invoice_issue(
            order_id=earlier.pk, kind="principal", acting_user=None, now=paris(2026, 11, 23, 9, 59, 59)
        )

    assert error.value.codes == ["INVOICE_DATE_BEFORE_PREVIOUS"]
    assert "FP-000002" in error.value.message and "23/11/2026 à 10:00:00" in error.value.message
    assert InvoiceSeries.objects.get(kind="principal").last_number == 2
    assert not Invoice.objects.filter(order=earlier).exists()


@pytest.mark.django_db
def test_each_series_keeps_its_own_chronology():
    """A credit note (series AV) may be dated before the last principal invoice (series FP)."""
    with time_machine.travel(TODAY, tick=False):
        first, second = (advance(make_order(), "va_signed") for _ in range(2))
    invoice = invoices.invoice_issue(order_id=first.pk, kind="principal", acting_user=None, now=TODAY)
    invoices.invoice_issue(order_id=second.pk, kind="principal", acting_user=None, now=paris(2026, 11, 24))

    credit = invoices.invoice_credit(
        invoice_id=invoice.pk, reason="Erreur", acting_user=None, now=paris(2026, 11, 23, 11)
    )

    assert credit.number == "AV-000001" and credit.issued_at == paris(2026, 11, 23, 11)
