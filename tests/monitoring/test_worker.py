import time
import uuid

import pytest

from monitoring.models import WorkerHeartbeat
from monitoring.tasks import record_heartbeat


@pytest.mark.postgres
@pytest.mark.redis
def test_a_real_worker_consumes_a_task_from_redis_and_writes_to_postgresql(real_celery_worker):
    source = f"test-{uuid.uuid4().hex[:8]}"

    record_heartbeat.apply_async(args=[source], queue=real_celery_worker)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not WorkerHeartbeat.objects.filter(source=source).exists():
        time.sleep(0.25)
    heartbeat = WorkerHeartbeat.objects.get(source=source)
    assert heartbeat.hostname.startswith("celery@")
