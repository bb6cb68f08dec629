"""Who calls: the bearer token, its throttle, and what each kind of token may do (issue #16, Security).

A personal token acts as its owner: the owner's role permissions decide, as in the admin. An installation token
belongs to one client's installed software: it may only push and read the monitoring of that client's orders.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer

from api.models import ApiAccess, ApiToken, TokenKind, token_hash
from orders.models import Order

DEFAULT_THROTTLE_PER_MINUTE = 120


class ApiError(HttpError):
    """An error answered as JSON ``{"detail": message, "code": code}`` (French message)."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, message)
        self.code = code


class InvalidInput(ApiError):
    """Malformed input found by the API itself (422), each error naming its field."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(422, "INVALID", " ".join(error["message"] for error in errors))
        self.errors = errors


def invalid(field: str, message: str, *, location: str = "body", code: str = "invalid") -> InvalidInput:
    return InvalidInput([{"location": location, "field": field, "code": code, "message": f"{field} : {message}"}])


class Throttled(ApiError):
    def __init__(self) -> None:
        super().__init__(429, "THROTTLED", "Trop d'appels avec ce jeton : réessayez dans une minute.")


def throttle_per_minute() -> int:
    return int(getattr(settings, "SEGUR_API_THROTTLE_PER_MINUTE", DEFAULT_THROTTLE_PER_MINUTE))


class TokenAuth(HttpBearer):
    """``Authorization: Bearer sgr_…``: an unknown or revoked key, or an inactive owner, is a 401."""

    openapi_description = "Jeton d'API (créé dans le back-office, affiché une seule fois)."

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        if not token or len(token) > 200:
            return None
        found = ApiToken.objects.select_related("user", "client").filter(key_hash=token_hash(token)).first()
        if found is None:
            return None
        request.api_token_id = found.pk  # the access log names the token, revoked or not
        if not found.is_active or (found.user is not None and not (found.user.is_active and found.user.is_staff)):
            return None
        since = timezone.now() - timedelta(minutes=1)
        if ApiAccess.objects.filter(token=found, created_at__gte=since).count() >= throttle_per_minute():
            raise Throttled()
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        if found.user is not None:
            request.user = found.user
        return found


def token_of(request: HttpRequest) -> ApiToken:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def require_staff(request: HttpRequest, *permissions: str) -> Any:
    """The token's owner, when the token is personal and its owner holds every permission; else 403."""
    token = token_of(request)
    if token.kind != TokenKind.PERSONAL or token.user is None:
        raise ApiError(
            403, "INSTALLATION_TOKEN", "Un jeton d'installation ne sert qu'au monitoring des commandes de son client."
        )
    missing = [permission for permission in permissions if not token.user.has_perm(permission)]
    if missing:
        raise ApiError(403, "PERMISSION_DENIED", "Votre rôle ne permet pas cette opération.")
    return token.user


def require_monitoring_access(request: HttpRequest, order: Order, permission: str) -> Any:
    """Staff with ``permission``, or the installation token of the order's own client; returns the staff user or
    ``None`` (the installation, acting as the system)."""
    token = token_of(request)
    if token.kind == TokenKind.INSTALLATION:
        if token.client_id != order.client_id:
            raise ApiError(403, "OTHER_CLIENT", "Ce jeton d'installation n'est pas celui du client de cette commande.")
        return None
    return require_staff(request, permission)
