"""Project middleware: what every request and response gets, whatever view answers it.

- ``ClientAddressMiddleware``: behind trusted reverse proxies, ``REMOTE_ADDR`` becomes the client's address, so the
  audit trails (client-space events), the login lock-out and the rate limits see the client, not the proxy.
- ``ControlCharacterMiddleware``: a NUL byte or another control character in the path or the query string is refused
  with a 400 before any view or query sees it (PostgreSQL cannot even compare a string holding NUL).
- ``OutOfRangeNumberMiddleware``: on the embedded SQLite, a number too large for a 64-bit integer in an id or a filter
  (``?programme__exact=99999999999999999999``) raises ``OverflowError`` when the query is sent; it is a 400, as
  PostgreSQL's backend already makes it (an out-of-range lookup matches nothing there).
- ``ResponseHeadersMiddleware``: a Content-Security-Policy on every response, and ``Cache-Control: no-store`` on the
  staff and client pages and downloads (personal data never stays in a shared cache or the browser's disk cache).
"""

import ipaddress
import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import get_resolver, reverse
from django.utils.cache import add_never_cache_headers

Middleware = Callable[[HttpRequest], HttpResponse]

# C0 controls and DEL. Tab, line feed and carriage return may come with a value pasted into a search box, so they
# pass in query values; nothing legitimate puts any control character in a path or a parameter name.
PATH_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
VALUE_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


security_logger = logging.getLogger("django.security.ControlCharacterInRequest")


class ControlCharacterInRequest(SuspiciousOperation):
    """A control character in the path or the query string (answered 400)."""


def forwarded_client_address(meta: dict[str, str], trusted_proxy_count: int) -> str | None:
    """The client's address that the ``trusted_proxy_count`` proxies in front of the app report, or None.

    Each proxy appends the address it received the request from to ``X-Forwarded-For``; only the last
    ``trusted_proxy_count`` entries were written by our proxies (anything left of them was sent by the client and
    proves nothing), so the client is the entry at that position from the right. None when there is no such entry
    (the request did not pass through every proxy, e.g. a health probe on the app's own port) or it is not an address.
    """
    if trusted_proxy_count <= 0:
        return None
    entries = [entry.strip() for entry in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    entries = [entry for entry in entries if entry]
    if len(entries) < trusted_proxy_count:
        return None
    try:
        return str(ipaddress.ip_address(entries[-trusted_proxy_count]))
    except ValueError:
        return None


class ClientAddressMiddleware:
    """Sets ``REMOTE_ADDR`` to the client's address when ``SEGUR_TRUSTED_PROXY_COUNT`` proxies stand in front.

    The proxy's own address is kept in ``META["SEGUR_PROXY_ADDR"]``. With no trusted proxy (the default outside
    production) ``X-Forwarded-For`` is ignored: anyone could write it.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        client = forwarded_client_address(request.META, settings.SEGUR_TRUSTED_PROXY_COUNT)
        if client is not None:
            request.META["SEGUR_PROXY_ADDR"] = request.META.get("REMOTE_ADDR", "")
            request.META["REMOTE_ADDR"] = client
        return self.get_response(request)


def control_character_refusal(request: HttpRequest) -> str:
    """Why the path or the query string of this request is refused, or "" when it holds no control character."""
    if PATH_CONTROL_CHARACTERS.search(request.path):
        return "control character in the request path"
    for name, values in request.GET.lists():
        if PATH_CONTROL_CHARACTERS.search(name) or any(VALUE_CONTROL_CHARACTERS.search(value) for value in values):
            return "control character in the query string"
    return ""


class ControlCharacterMiddleware:
    """Refuses (400, the French error page) a request whose path or query string holds a control character.

    Logged as a warning on ``django.security.ControlCharacterInRequest``, without a traceback: a probe sends many.
    """

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = control_character_refusal(request)
        if not refusal:
            return self.get_response(request)
        # Not the address itself: it may hold a personal link's token.
        security_logger.warning("Refused (400): %s, from %s", refusal, request.META.get("REMOTE_ADDR", "?"))
        return get_resolver().resolve_error_handler(400)(request, ControlCharacterInRequest(refusal))


class ResponseHeadersMiddleware:
    """Adds ``SEGUR_CONTENT_SECURITY_POLICY`` to every response (unless a view set its own) and forbids storing the
    staff pages (``/admin/``) and the client space (``/espace-client/``), their downloads included."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response
        self._private_prefixes: tuple[str, ...] | None = None

    def private_prefixes(self) -> tuple[str, ...]:
        if self._private_prefixes is None:
            self._private_prefixes = (reverse("admin:index"), reverse("portal:home"))
        return self._private_prefixes

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.SEGUR_CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.SEGUR_CONTENT_SECURITY_POLICY
        if request.path.startswith(self.private_prefixes()):
            add_never_cache_headers(response)
        return response


class OutOfRangeNumberMiddleware:
    """An ``OverflowError`` from a view is a number sent by the client that the database cannot hold: a 400."""

    def __init__(self, get_response: Middleware) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OverflowError):
            return None
        security_logger.warning("number out of range in %s: %s", request.path, exception)
        from segur_portal.errors import bad_request

        return bad_request(request, exception)
