"""``/api/v1/``: every call is size-checked, answered ``no-store``, and written to the access log (token id,
endpoint, status — never the key itself)."""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.utils.cache import add_never_cache_headers

from api.api import api
from api.models import ApiAccess

DEFAULT_MAX_BODY_BYTES = 256 * 1024


def max_body_bytes() -> int:
    return int(getattr(settings, "SEGUR_API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def too_large(limit: int) -> HttpResponse:
    body = {"detail": f"Corps de la requête trop volumineux (au plus {limit} octets).", "code": "BODY_TOO_LARGE"}
    return HttpResponse(json.dumps(body, ensure_ascii=False), status=413, content_type="application/json")


def logged(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = max_body_bytes()
        response = too_large(limit) if length > limit else view(request, *args, **kwargs)
        add_never_cache_headers(response)  # personal data: never kept by a shared cache
        ApiAccess.objects.create(
            token_id=getattr(request, "api_token_id", None),
            method=request.method[:8] if request.method else "",
            endpoint=request.path[:255].encode("utf-8", "replace").decode("utf-8"),
            status=response.status_code,
            remote_addr=request.META.get("REMOTE_ADDR", "")[:45],
        )
        return response

    return wrapper


def docs_policy(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The site's Content-Security-Policy, plus the ``data:`` images Swagger UI draws its icons with (docs only)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        policy = settings.SEGUR_CONTENT_SECURITY_POLICY
        if policy:
            response["Content-Security-Policy"] = policy.replace("img-src 'self'", "img-src 'self' data:")
        return response

    return wrapper


def _wrap(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            callback = docs_policy(pattern.callback) if pattern.name == "openapi-view" else pattern.callback
            pattern.callback = logged(callback)
    return patterns


_patterns, _app_name, _namespace = api.urls
app_name = api.urls_namespace  # "api-1": the docs page reverses "api-1:openapi-json"
urlpatterns = _wrap(list(_patterns))
