"""What a broker outage or a dead worker leaves behind is picked up again, and never done twice: document batches
queued or stalled, invoices without their PDF, and the daily scan whose 07:00 message was lost."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from monitoring.models import JobRun
from monitoring.reminders import SCAN_JOB
from orders import documents, invoices, tasks
from orders.documents import queue
from orders.models import Document, DocumentBatch
from tests.factories import advance, make_order, paris

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The task messages that would go to the broker."""
    sent: list[tuple[str, int]] = []
    names = {tasks.generate_document_batch.name: "batch", tasks.render_invoice.name: "invoice"}
    monkeypatch.setattr(queue, "send", lambda task_name, object_id: sent.append((names[task_name], object_id)))
    return sent


def test_a_batch_asked_for_while_the_broker_was_down_is_queued_again_after_five_minutes(queued):
    batch = documents.batch_request(order_ids=[make_order().pk], kind="order_form", acting_user=None)

    assert documents.batches_resume(now=timezone.now() + timedelta(minutes=4)) == []
    assert documents.batches_resume(now=timezone.now() + timedelta(minutes=6)) == [batch.pk]
    assert queued == [("batch", batch.pk)]


def test_a_second_message_for_a_batch_does_nothing_once_a_worker_took_it():
    orders = [make_order(), make_order()]
    batch = documents.batch_request(order_ids=[o.pk for o in orders], kind="order_form", acting_user=None)

    first = documents.batch_run(batch_id=batch.pk)
    second = documents.batch_run(batch_id=batch.pk)

    assert (first.status, first.generated, second.generated) == (DocumentBatch.DONE, 2, 2)
    assert Document.objects.count() == 2


def test_a_batch_whose_worker_died_is_resumed_after_the_last_document_it_made(queued):
    orders = [make_order(), make_order(), make_order()]
    batch = documents.batch_request(order_ids=[o.pk for o in orders], kind="order_form", acting_user=None)
    documents.document_generate(order_id=orders[0].pk, kind="order_form", acting_user=None)
    died_at = timezone.now()
    DocumentBatch.objects.filter(pk=batch.pk).update(status=DocumentBatch.RUNNING, processed=1, progress_at=died_at)

    assert documents.batches_resume(now=died_at + timedelta(minutes=1)) == []  # still working, maybe
    assert documents.batches_resume(now=died_at + timedelta(minutes=3)) == [batch.pk]  # its 2-minute lease expired
    resumed = documents.batch_run(batch_id=batch.pk)

    assert (resumed.status, resumed.processed) == (DocumentBatch.DONE, 3)
    assert Document.objects.count() == 3  # one per order: the first was not made again


def test_an_error_puts_the_batch_back_in_the_queue_for_the_retry(monkeypatch):
    batch = documents.batch_request(order_ids=[make_order().pk], kind="order_form", acting_user=None)

    def broken(html, **options):
        raise OSError("disque plein")

    monkeypatch.setattr(documents.rendering, "render_pdf", broken)
    with pytest.raises(OSError):
        documents.batch_run(batch_id=batch.pk)

    assert DocumentBatch.objects.get(pk=batch.pk).status == DocumentBatch.QUEUED


def test_an_invoice_left_without_its_pdf_is_rendered_later_and_only_once(queued):
    order = advance(make_order(), "va_signed")
    invoice = invoices.invoice_issue(order_id=order.pk, kind="principal", acting_user=None)

    assert invoices.invoices_render_missing(now=invoice.issued_at + timedelta(minutes=4)) == []
    assert invoices.invoices_render_missing(now=invoice.issued_at + timedelta(minutes=6)) == [invoice.pk]
    first = invoices.invoice_render(invoice_id=invoice.pk)
    again = invoices.invoice_render(invoice_id=invoice.pk)  # the original task, delivered after the resume

    assert first.pk == again.pk and invoice.documents.count() == 1
    assert invoices.invoices_render_missing(now=invoice.issued_at + timedelta(hours=1)) == []


def test_the_beat_resumes_stalled_work_every_ten_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["resume-stalled-work"]

    assert entry["task"] == tasks.resume_stalled_work.name
    assert entry["schedule"].minute == {0, 10, 20, 30, 40, 50}


def test_a_lost_07_00_message_is_caught_up_later_in_the_day_and_only_once():
    entry = settings.CELERY_BEAT_SCHEDULE["deadline-scan-catch-up"]
    assert entry["task"] == "monitoring.tasks.scan_deadlines"
    assert 7 not in entry["schedule"].hour and 8 in entry["schedule"].hour
    from monitoring.tasks import scan_deadlines

    with time_machine.travel(paris(2026, 11, 23, 8, 30), tick=False):
        scan_deadlines.apply()
        scan_deadlines.apply()

    assert JobRun.objects.filter(job=SCAN_JOB).count() == 1
    assert JobRun.objects.get(job=SCAN_JOB).run_date.isoformat() == "2026-11-23"


def test_the_batch_page_shows_a_progress_bar_that_refreshes_until_done(client):
    from django.urls import reverse

    from tests.factories import make_user

    batch = documents.batch_request(order_ids=[make_order().pk, make_order().pk], kind="order_form", acting_user=None)
    client.force_login(make_user("root", is_superuser=True))
    url = reverse("admin:orders_documentbatch_change", args=[batch.pk])

    waiting = client.get(url).content.decode()
    documents.batch_run(batch_id=batch.pk)
    done = client.get(url).content.decode()

    assert (
        '<progress max="2" value="0"' in waiting
        and "data-batch-refresh" in waiting
        and "orders/batch_progress.js" in waiting
    )
    assert "relancé automatiquement" in waiting
    assert '<progress max="2" value="2"' in done and "data-batch-refresh" not in done
