from celery import shared_task

from monitoring import reminders, services


@shared_task(name="monitoring.tasks.record_heartbeat")
def record_heartbeat(source: str) -> int:
    """Record that a worker consumed a task (beat sends one every 15 minutes; /healthz reads the last one)."""
    return services.heartbeat_record(source=source, hostname=record_heartbeat.request.hostname or "").pk


@shared_task(name="monitoring.tasks.scan_deadlines", bind=True, max_retries=5, default_retry_delay=300)
def scan_deadlines(self) -> dict:  # type: ignore[no-untyped-def]
    """The daily deadline scan (07:00 Paris). Safe to run twice: the second run of a day does nothing."""
    try:
        return reminders.deadlines_scan().as_dict()
    except Exception as exc:  # database hiccup: the transaction rolled back, try again later
        raise self.retry(exc=exc) from exc


@shared_task(name="monitoring.tasks.send_outbox")
def send_outbox() -> dict[str, int]:
    """Send what the outbox holds; failed e-mails come back with backoff (every 5 minutes from beat)."""
    return reminders.outbox_send_due()


@shared_task(name="monitoring.tasks.refresh_perf_summaries")
def refresh_perf_summaries() -> int:
    """Nightly (06:30 Paris): the PERF summaries missing or made stale by time (AF §3.3, §4.5, §7), and the client
    notices of the levels reached that a lost message left out."""
    from monitoring import notices

    refreshed = services.rebuild_perf_summaries()
    notices.notices_catch_up()
    return refreshed


@shared_task(name="monitoring.tasks.send_perf_notices")
def send_perf_notices(order_ids: list[int]) -> int:
    """After a big import: the client notices of the levels reached (AF §4.5), once a month per order."""
    from monitoring import notices

    return notices.notices_for(order_ids)
