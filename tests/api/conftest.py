"""Tokens and an HTTP client for the API tests: tokens are made the way the admin makes them (hashed key)."""

import json
from typing import Any

import pytest
from django.test import Client as HttpClient

from api.models import ApiToken, TokenKind, new_key, token_hash
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP, FINANCE_GROUP, SALES_GROUP
from tests.factories import make_user


def make_token(*, user: Any = None, client: Any = None, revoked: bool = False) -> str:
    key = new_key()
    kind = TokenKind.PERSONAL if user is not None else TokenKind.INSTALLATION
    token = ApiToken.objects.create(
        kind=kind, name="test", user=user, client=client, key_hash=token_hash(key), key_start=key[:12]
    )
    if revoked:
        token.revoke()
    return key


class Api:
    """``api.get("/orders", token)`` → the Django test response (``.json()``)."""

    def __init__(self) -> None:
        self.http = HttpClient()

    def call(self, method: str, path: str, token: str | None = None, body: Any = None, raw: bytes | None = None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        return self.http.generic(method, url, data=data, content_type="application/json", **headers)

    def get(self, path: str, token: str | None = None, **kwargs: Any):
        return self.call("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, body: Any = None, **kwargs: Any):
        return self.call("POST", path, token, body, **kwargs)

    def patch(self, path: str, token: str | None = None, body: Any = None, **kwargs: Any):
        return self.call("PATCH", path, token, body, **kwargs)


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture
def admin_token(db) -> str:
    return make_token(user=make_user("api-admin", ADMIN_GROUP))


@pytest.fixture
def sales_token(db) -> str:
    return make_token(user=make_user("api-sales", SALES_GROUP))


@pytest.fixture
def deployment_token(db) -> str:
    return make_token(user=make_user("api-deploy", DEPLOYMENT_GROUP))


@pytest.fixture
def finance_token(db) -> str:
    return make_token(user=make_user("api-finance", FINANCE_GROUP))
