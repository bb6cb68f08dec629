"""Twenty link requests at the same instant cannot beat the hourly limits (PostgreSQL row locks on the counters):
the address gets at most ``PORTAL_LINK_REQUESTS_PER_HOUR`` links, one IP at most its own limit."""

import pytest
from django.conf import settings

from monitoring.models import OutboxEmail
from portal import services
from portal.models import PortalEvent, PortalEventKind
from tests.concurrency import run_concurrently
from tests.factories import make_doctor

PARALLEL_REQUESTS = 20


def request_from(email: str, ip_address: str):
    return lambda: services.access_link_request(email=email, meta=services.RequestMeta(ip_address=ip_address))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_requests_for_one_address_send_no_more_links_than_the_limit():
    make_doctor(email="dr.race@cabinet.example")

    results = run_concurrently(
        *[request_from("dr.race@cabinet.example", f"203.0.113.{index}") for index in range(PARALLEL_REQUESTS)]
    )

    assert all(isinstance(result, int) for result in results), results
    limit = settings.PORTAL_LINK_REQUESTS_PER_HOUR
    assert sum(results) == limit
    assert OutboxEmail.objects.filter(kind="portal_link", to="dr.race@cabinet.example").count() == limit
    refused = PortalEvent.objects.filter(kind=PortalEventKind.LINK_REFUSED, message="trop de demandes en une heure")
    assert refused.count() == PARALLEL_REQUESTS - limit


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_requests_from_one_ip_for_many_addresses_stay_within_the_ip_limit():
    addresses = [f"dr.{index}@cabinet.example" for index in range(PARALLEL_REQUESTS)]
    for address in addresses:
        make_doctor(email=address)

    results = run_concurrently(*[request_from(address, "198.51.100.9") for address in addresses])

    assert all(isinstance(result, int) for result in results), results
    limit = settings.PORTAL_LINK_REQUESTS_PER_IP_PER_HOUR
    assert limit < PARALLEL_REQUESTS
    assert sum(results) == limit
    assert OutboxEmail.objects.filter(kind="portal_link").count() == limit
