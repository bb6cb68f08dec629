"""The OpenAPI document validates, the docs page uses only local static files, and schemathesis (bounded: a few
examples per operation, positive and negative data) finds no 500 and no response outside the schema (issue #16)."""

import json
import re

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.api import api as ninja_api
from tests.api.conftest import make_token
from tests.factories import make_order, make_user

RAW_SCHEMA = json.loads(json.dumps(ninja_api.get_openapi_schema(), default=str))
schema = schemathesis.openapi.from_dict(RAW_SCHEMA)
schema.app = get_wsgi_application()
# Bounded: a dozen examples per operation, valid and invalid data, no NUL byte (the project's middleware answers a NUL
# in the address with its French 400 page before the API sees it; tests/api/test_robustness.py covers it).
schema.config.generation.update(modes=["positive", "negative"], max_examples=12, allow_x00=False, deterministic=True)


def no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A key twice in one object (``200`` and ``"200"`` once were) breaks the docs page's parser."""
    keys = [key for key, _value in pairs]
    assert len(keys) == len(set(keys)), keys
    return dict(pairs)


def test_openapi_json_is_served_and_valid(api, db):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content, object_pairs_hook=no_duplicate_keys)
    validate(document)
    assert document["info"]["version"] == "1"
    assert "/api/v1/orders/{number}/actions/{name}" in document["paths"]


def test_the_docs_page_loads_only_local_static_files(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/static/") for source in sources), sources
    assert "cdn" not in html.lower()
    assert "<script>" not in html  # no inline script: the CSP allows scripts from our origin only
    for source in sources:
        assert finders.find(source.removeprefix("/static/")), source


@pytest.fixture
def staff_key(db):
    """A staff token and an order; the WSGI app keeps the test's database connection (as Django's test client)."""
    make_order()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield make_token(user=make_user("fuzz", "Administrateur"))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@override_settings(SEGUR_API_THROTTLE_PER_MINUTE=100_000)
def test_schemathesis_finds_no_500_and_no_response_outside_the_schema(case, staff_key):
    response = case.call(headers={"Authorization": f"Bearer {staff_key}"})
    case.validate_response(
        response,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )
