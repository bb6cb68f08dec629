from celery import shared_task

from monitoring import services


@shared_task(name="monitoring.tasks.record_heartbeat")
def record_heartbeat(source: str) -> int:
    """Record that a worker consumed a task (beat sends one every 15 minutes; /healthz reads the last one)."""
    return services.heartbeat_record(source=source, hostname=record_heartbeat.request.hostname or "").pk
