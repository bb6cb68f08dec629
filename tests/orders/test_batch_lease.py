"""A worker killed mid-batch: the message the broker redelivers at once (acks_late) resumes the batch immediately,
another message only once the lease expired, and no order ever gets its document twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import documents, tasks
from orders.models import Document, DocumentBatch
from tests.factories import make_doctor, make_order

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """The worker process dies: no ``except Exception`` runs, nothing is written after this point."""


@pytest.fixture
def batch():
    orders = [make_order(), make_order(client=make_doctor(address="")), make_order(), make_order()]
    return documents.batch_request(order_ids=[order.pk for order in orders], kind="order_form", acting_user=None)


def kill_the_worker_at_the_third_order(monkeypatch, batch):
    """Run the task as message ``task-1`` and kill its worker while it renders the third order's document."""
    render = documents.document_render
    doomed = batch.order_ids[2]

    def render_or_die(*, order_id, kind):
        rendered = render(order_id=order_id, kind=kind)
        if order_id == doomed:
            raise WorkerKilled
        return rendered

    monkeypatch.setattr(documents.rendering, "document_render", render_or_die)
    with pytest.raises(WorkerKilled):
        tasks.generate_document_batch.apply(args=[batch.pk], task_id="task-1", throw=True)
    monkeypatch.setattr(documents.rendering, "document_render", render)


def documents_per_order(batch) -> dict[int, list[int]]:
    versions: dict[int, list[int]] = {order_id: [] for order_id in batch.order_ids}
    for order_id, version in Document.objects.filter(kind="order_form").values_list("order_id", "version"):
        versions[order_id].append(version)
    return versions


def test_the_redelivered_message_resumes_a_dead_workers_batch_at_once_without_a_second_document(monkeypatch, batch):
    kill_the_worker_at_the_third_order(monkeypatch, batch)
    stalled = DocumentBatch.objects.get(pk=batch.pk)
    assert (stalled.status, stalled.claimed_by, stalled.processed, stalled.generated) == ("running", "task-1", 2, 1)

    generated = tasks.generate_document_batch.apply(args=[batch.pk], task_id="task-1", throw=True).get()

    done = DocumentBatch.objects.get(pk=batch.pk)
    assert (done.status, done.processed, done.generated, generated) == ("done", 4, 3, 3)
    assert [refusal["order_id"] for refusal in done.refusals] == [batch.order_ids[1]]
    assert documents_per_order(batch) == {
        batch.order_ids[0]: [1],
        batch.order_ids[1]: [],  # refused (no address), once
        batch.order_ids[2]: [1],  # the document being rendered when the worker died, made once
        batch.order_ids[3]: [1],
    }


def test_another_message_waits_for_the_lease_to_expire(monkeypatch, batch, settings):
    settings.SEGUR_DOCUMENT_BATCH_LEASE_SECONDS = 60
    kill_the_worker_at_the_third_order(monkeypatch, batch)
    died_at = DocumentBatch.objects.get(pk=batch.pk).progress_at

    assert documents.batch_claim(batch.pk, "task-2", died_at + timedelta(seconds=59)) is None
    assert documents.batches_resume(now=died_at + timedelta(seconds=59)) == []
    resumed = documents.batch_claim(batch.pk, "task-2", died_at + timedelta(seconds=61))

    assert resumed is not None and (resumed.claimed_by, resumed.processed) == ("task-2", 2)


def test_a_run_that_lost_its_lease_stops_and_leaves_no_document(monkeypatch, batch):
    """The first worker was only slow: once another run took the batch over, its next document is not kept."""
    render = documents.document_render
    taken_over = []

    def slow_render(*, order_id, kind):
        rendered = render(order_id=order_id, kind=kind)
        if order_id == batch.order_ids[2] and not taken_over:
            later = timezone.now() + documents.batch_lease() + timedelta(seconds=1)
            taken_over.append(documents.batch_claim(batch.pk, "task-2", later))
        return rendered

    monkeypatch.setattr(documents.rendering, "document_render", slow_render)
    slow = documents.batch_run(batch_id=batch.pk, run_id="task-1")

    assert taken_over[0] is not None
    assert (slow.status, slow.claimed_by, slow.processed) == ("running", "task-2", 2)
    assert documents_per_order(batch)[batch.order_ids[2]] == []
    finished = documents.batch_run(batch_id=batch.pk, run_id="task-2")
    assert (finished.status, finished.processed, finished.generated) == ("done", 4, 3)
    assert all(len(versions) <= 1 for versions in documents_per_order(batch).values())


def test_a_live_batch_is_not_taken_by_another_message(batch):
    assert documents.batch_claim(batch.pk, "task-1", timezone.now()) is not None

    assert documents.batch_claim(batch.pk, "task-2", timezone.now()) is None
    assert documents.batch_run(batch_id=batch.pk, run_id="task-2").processed == 0
    assert not Document.objects.exists()
