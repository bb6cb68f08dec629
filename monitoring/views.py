from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import selectors


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker both answer, 503 otherwise; the body says which failed."""
    database = selectors.database_status()
    broker = selectors.broker_status()
    healthy = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if healthy else "error",
        "database": database,
        "broker": broker,
        "last_worker_heartbeat": selectors.last_worker_heartbeat() if database["ok"] else None,
    }
    return JsonResponse(body, status=200 if healthy else 503)
