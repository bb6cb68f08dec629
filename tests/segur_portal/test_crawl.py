"""Crawler: every URL pattern of the project, with garbage and real values for each parameter and garbage filters on
the lists, requested as every role (the demo team, the superuser, anonymous, a client session), GET and an empty
POST: no answer may be a 500.

Garbage: ``abc``, ``0``, ``999999999``, an encoded NUL, 300 digits, a negative number; real: an existing object of
the pattern's model (the client's own order and document in the client space).
"""

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin import SimpleListFilter
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from orders import demo, services
from orders.asp_packages import REQUESTS
from orders.models import Document, Invoice, Order
from portal.access import access_token

pytestmark = pytest.mark.django_db

GARBAGE = ["abc", "0", "999999999", "%00", "9" * 300, "-1"]
# Garbage for the admin lists (ordering, pagination, search, unknown filters, popups) and the other list pages.
LIST_QUERIES = [
    "o=zz",
    "o=999",
    "p=-1",
    "p=abc",
    "q=%00",
    "q=" + "x" * 300,
    "unknown_filter=1",
    "next_deadline=garbage",
    "e=1",
    "all=abc",
    "_popup=1&_to_field=zz",
]
PAGE_QUERIES = {
    "deadline_calendar": ["echeance=%00", "echeance=garbage", "commercial=abc", "commercial=" + "9" * 30, "etat=zz"],
    "portal:home": ["page=abc", "page=-1", "page=999999999"],
    "portal:request_link": ["suite=//evil.example/", "envoye=%00", "envoye=" + "x" * 300],
    "portal:access": ["suite=//evil.example/", "suite=%00"],
}
FILTER_LOOKUPS = [
    ("exact", "abc"),
    ("exact", "%00"),
    ("exact", "9" * 30),
    ("id__exact", "abc"),
    ("isnull", "zz"),
    ("gte", "garbage"),
]
LOGOUT_NAMES = {"admin:logout", "portal:logout"}

STAFF = ["admin", "c.durand", "m.bernard", "s.moreau", "a.roux"]
# 500s found in views this crawler's author does not own, left for their owners: (role, method, url). The test fails
# when one of them is fixed, so that its entry is removed here.
KNOWN_FAILURES: set[tuple[str, str, str]] = set()  # a 500 found and not fixed yet goes here, with its cause

ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_PARAMETER = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*)\)")


@dataclass(frozen=True)
class Pattern:
    template: str  # the path with {name} in place of each parameter
    name: str  # "namespace:name" or "" for unnamed patterns
    parameters: tuple[str, ...]
    alternatives: dict[str, tuple[str, ...]]  # regex groups that are a plain alternation (admin app labels)
    model: type | None  # the admin model whose pages these are


def pattern_template(pattern: URLPattern | URLResolver) -> tuple[str, list[str], dict[str, tuple[str, ...]]]:
    """A pattern's path with ``{name}`` placeholders, its parameter names, and the values a regex group allows."""
    text = str(pattern.pattern)
    names: list[str] = []
    alternatives: dict[str, tuple[str, ...]] = {}
    if hasattr(pattern.pattern, "_route"):

        def route_placeholder(match: re.Match) -> str:
            names.append(match["name"])
            return "{" + match["name"] + "}"

        return ROUTE_PARAMETER.sub(route_placeholder, text), names, alternatives

    def regex_placeholder(match: re.Match) -> str:
        names.append(match["name"])
        if re.fullmatch(r"[\w|]+", match["body"]):
            alternatives[match["name"]] = tuple(match["body"].split("|"))
        return "{" + match["name"] + "}"

    text = REGEX_PARAMETER.sub(regex_placeholder, text).lstrip("^").rstrip("$").replace("\\", "")
    return text, names, alternatives


def walk(patterns: list, prefix: str = "", namespace: str = "", model: type | None = None) -> Iterator[Pattern]:
    for pattern in patterns:
        template, names, alternatives = pattern_template(pattern)
        if isinstance(pattern, URLResolver):
            inner_namespace = ":".join(part for part in (namespace, pattern.namespace) if part)
            inner_model = model
            if inner_namespace == "admin" and template.count("/") == 2 and not names:
                app_label, model_name, _rest = template.split("/")
                inner_model = apps.get_model(app_label, model_name)
            yield from walk(pattern.url_patterns, prefix + template, inner_namespace, inner_model)
            continue
        name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name or ""
        yield Pattern(prefix + template, name, tuple(names), alternatives, model)


@dataclass
class Demo:
    order: Order
    client_order: Order
    client_document: Document
    invoice: Invoice | None
    access_path: str


def real_values(pattern: Pattern, parameter: str, role: str, data: Demo) -> list[str]:
    """Values that name something that exists, for this parameter of this pattern, as this role sees it."""
    if parameter in pattern.alternatives:
        return list(pattern.alternatives[parameter])
    client = role == "client"
    values = {
        "order_id": [str(data.order.pk)],
        "document_id": [str(data.client_document.pk)],
        "invoice_id": [str(data.invoice.pk)] if data.invoice else [],
        "action_name": sorted(services.ACTIONS),
        "name": sorted(services.ACTIONS),  # the API's /orders/{number}/actions/{name}
        "client_id": [str(data.order.client_id)],
        "kind": ["principal", "secondary"],
        "request_kind": sorted(REQUESTS),
        "number": [data.client_order.number if client else data.order.number],
        "token": [data.access_path.rstrip("/").rsplit("/", 1)[-1]],
        "content_type_id": [str(ContentType.objects.get_for_model(Order).pk)],
        "url": ["nulle-part/"],
    }.get(parameter)
    if values is not None:
        return values
    if parameter in {"object_id", "id"}:
        model = pattern.model or Order
        first = model._default_manager.order_by("pk").first()
        return [str(first.pk)] if first else []
    raise AssertionError(f"no real value known for <{parameter}> in {pattern.template}: add one to the crawler")


def pattern_urls(pattern: Pattern, role: str, data: Demo) -> Iterator[tuple[str, bool]]:
    """The pattern with each parameter in turn garbage or real (the others real), and whether to POST it too: an
    empty POST goes to the real values and to one garbage value of each parameter."""
    reals = {parameter: real_values(pattern, parameter, role, data) for parameter in pattern.parameters}
    base = {parameter: (values[0] if values else "1") for parameter, values in reals.items()}
    seen: set[str] = set()
    for parameter in pattern.parameters:
        for value in [*GARBAGE, *reals[parameter]]:
            url = "/" + pattern.template.format(**{**base, parameter: value})
            if url not in seen:
                seen.add(url)
                yield url, value in (GARBAGE[0], *reals[parameter][:1])
    if not pattern.parameters:
        yield "/" + pattern.template, True


def list_queries(pattern: Pattern) -> list[str]:
    """Garbage for the list filters, the search, the ordering and the pagination of an admin list page."""
    queries = list(LIST_QUERIES)
    model_admin = admin.site._registry.get(pattern.model)
    for spec in model_admin.list_filter:
        if isinstance(spec, type) and issubclass(spec, SimpleListFilter):
            queries += [f"{spec.parameter_name}={value}" for value in ("garbage", "%00", "9" * 30)]
            continue
        field = spec if isinstance(spec, str) else spec[0]
        queries += [f"{field}__{lookup}={value}" for lookup, value in FILTER_LOOKUPS]
    if model_admin.date_hierarchy:
        queries += [f"{model_admin.date_hierarchy}__year=abc", f"{model_admin.date_hierarchy}__month=13"]
    return queries


def crawl_requests(data: Demo, role: str) -> Iterator[tuple[str, str, str]]:
    """(method, url, pattern name) for every pattern: GET and an empty POST of each URL, GET of each garbage query."""
    for pattern in walk(get_resolver().url_patterns):
        urls = list(pattern_urls(pattern, role, data))
        for url, post in urls:
            yield "GET", url, pattern.name
            if post:
                yield "POST", url, pattern.name
        queries = list_queries(pattern) if pattern.name.endswith("_changelist") else PAGE_QUERIES.get(pattern.name, [])
        for query in queries:
            yield "GET", f"{urls[-1][0]}?{query}", pattern.name


def browser_for(role: str, data: Demo) -> Client:
    browser = Client(raise_request_exception=False)
    if role == "client":
        assert browser.get(data.access_path).status_code == 302
    elif role != "anonymous":
        browser.force_login(get_user_model().objects.get(username=role))
    return browser


@pytest.fixture
def demo_data() -> Demo:
    demo.seed_demo()
    client_order = demo.showcase_client_order()
    invoice = Invoice.objects.select_related("order").order_by("pk").first()
    return Demo(
        order=invoice.order if invoice else client_order,
        client_order=client_order,
        client_document=client_order.documents.order_by("pk").first(),
        invoice=invoice,
        access_path=reverse("portal:access", args=[access_token(client_order.client, client_order.client.email)]),
    )


def test_no_url_of_the_project_answers_500_whatever_the_role_the_ids_and_the_filters(demo_data):
    started = time.monotonic()
    failures: list[str] = []
    known: set[tuple[str, str, str]] = set()
    answered: Counter[str] = Counter()
    count = 0
    for role in [*STAFF, "anonymous", "client"]:
        browser = browser_for(role, demo_data)
        for method, url, name in crawl_requests(demo_data, role):
            response = browser.post(url) if method == "POST" else browser.get(url)
            count += 1
            answered[role] += response.status_code == 200
            if response.status_code >= 500:
                key = (role, method, url)
                if key in KNOWN_FAILURES:
                    known.add(key)
                else:
                    error = response.exc_info[1] if response.exc_info else None
                    failures.append(
                        f"{response.status_code} {role} {method} {quote(url, safe='/?=&%')} ({name}): "
                        f"{type(error).__name__}: {str(error)[:200]}"
                    )
            if name in LOGOUT_NAMES:
                browser = browser_for(role, demo_data)

    elapsed = time.monotonic() - started
    assert not failures, f"{len(failures)} of {count} requests answered 500 ({elapsed:.0f} s):\n" + "\n".join(failures)
    assert known == KNOWN_FAILURES, f"fixed, remove from KNOWN_FAILURES: {sorted(KNOWN_FAILURES - known)}"
    assert count > 5000
    assert answered["client"] > 5 and all(answered[role] > 50 for role in STAFF), answered  # the logins held
