from monitoring.models import WorkerHeartbeat


def heartbeat_record(*, source: str, hostname: str) -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(source=source[:64], hostname=hostname[:255])
