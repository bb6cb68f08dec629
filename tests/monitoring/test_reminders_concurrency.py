"""Two scans at the same moment, and a real worker on Redis: each reminder is written and sent once."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from monitoring import reminders
from monitoring.models import JobRun, OutboxEmail, ReminderDispatch
from monitoring.tasks import scan_deadlines, send_outbox
from orders import rules
from orders.roles import SALES_GROUP
from tests.factories import make_order, make_user, paris
from tests.orders.test_concurrency import run_concurrently


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("programme_data")
def test_two_concurrent_scans_write_each_reminder_once():
    sales = make_user("vente", SALES_GROUP, email="vente@logimed.example")
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        for _ in range(3):
            make_order(salesperson=sales, issued_at=paris(2026, 10, 30))

    with time_machine.travel(paris(2026, 12, 9, 7), tick=False):
        results = run_concurrently(reminders.deadlines_scan, reminders.deadlines_scan)

    assert sorted(result.skipped for result in results) == [False, True], results
    assert ReminderDispatch.objects.count() == 6  # 3 orders × (salesperson + client)
    assert OutboxEmail.objects.filter(kind="staff_digest").count() == 1
    assert JobRun.objects.get().status == JobRun.DONE


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.usefixtures("programme_data")
def test_a_real_worker_runs_the_scan_twice_and_sends_each_reminder_once(real_celery_worker, settings):
    sales = make_user("vente", SALES_GROUP, email="vente@logimed.example")
    with time_machine.travel(paris(2026, 11, 1, 9), tick=False):
        order = make_order(salesperson=sales, issued_at=paris(2026, 10, 30))
    # The worker runs at the real date: move Date 4 (programme data) ten days ahead of it, so the J-14 reminder is due.
    programme = order.programme
    programme.date_4 = rules.noon_paris(rules.paris_date(timezone.now()) + timedelta(days=10))
    programme.save(update_fields=["date_4"])

    scan_deadlines.apply_async(queue=real_celery_worker)
    scan_deadlines.apply_async(queue=real_celery_worker)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not JobRun.objects.filter(status=JobRun.DONE).exists():
        time.sleep(0.25)
    send_outbox.apply_async(queue=real_celery_worker)
    while time.monotonic() < deadline and OutboxEmail.objects.filter(status="pending").exists():
        time.sleep(0.25)
    time.sleep(1)  # let the second scan finish (it must find the day done)

    assert JobRun.objects.count() == 1
    assert ReminderDispatch.objects.count() == 2
    assert list(OutboxEmail.objects.values_list("status", flat=True)) == ["sent", "sent"]
