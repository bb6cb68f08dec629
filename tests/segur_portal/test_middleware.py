"""Project middleware and error pages: client address behind proxies, control characters refused with a 400, security
headers and no-store, the French error pages with their link back."""

import html

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from django.urls import reverse

from monitoring import selectors as monitoring_selectors
from portal.models import PortalEvent, PortalEventKind
from segur_portal import errors
from segur_portal.middleware import forwarded_client_address
from tests.factories import make_doctor, make_user


def page(response) -> str:
    return html.unescape(response.content.decode())


# --- client address behind proxies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        ("203.0.113.7", 1, "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7", 1, "203.0.113.7"),  # the left entry was written by the client: not trusted
        ("198.51.100.1, 203.0.113.7, 10.0.0.2", 2, "203.0.113.7"),
        ("203.0.113.7", 2, None),  # fewer entries than proxies: the request did not come through all of them
        ("", 1, None),
        ("not-an-address", 1, None),
        ("203.0.113.7", 0, None),  # no trusted proxy: X-Forwarded-For is ignored
        (" 2001:db8::1 ", 1, "2001:db8::1"),
    ],
)
def test_the_client_address_is_read_from_the_trusted_end_of_x_forwarded_for(forwarded, proxies, expected):
    assert forwarded_client_address({"HTTP_X_FORWARDED_FOR": forwarded}, proxies) == expected


@pytest.mark.django_db
def test_behind_one_proxy_the_client_space_audit_trail_records_the_client_address(client, settings):
    settings.SEGUR_TRUSTED_PROXY_COUNT = 1
    make_doctor(email="dr.martin@cabinet.example")

    client.post(
        reverse("portal:request_link"),
        {"email": "dr.martin@cabinet.example"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7",
    )

    assert PortalEvent.objects.get(kind=PortalEventKind.LINK_SENT).ip_address == "203.0.113.7"


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_x_forwarded_for_is_ignored(client, settings):
    settings.SEGUR_TRUSTED_PROXY_COUNT = 0
    make_doctor(email="dr.martin@cabinet.example")

    client.post(
        reverse("portal:request_link"),
        {"email": "dr.martin@cabinet.example"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )

    assert PortalEvent.objects.get(kind=PortalEventKind.LINK_SENT).ip_address == "10.0.0.2"


@pytest.mark.django_db
def test_behind_a_proxy_the_login_lock_out_counts_per_client_not_per_proxy(client, settings):
    settings.SEGUR_TRUSTED_PROXY_COUNT = 1
    get_user_model().objects.create_user("alice", password="correct-horse-battery", is_staff=True)
    login_url = reverse("admin:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            login_url,
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="203.0.113.7",
        )

    attacker = client.post(
        login_url,
        {"username": "alice", "password": "correct-horse-battery"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    colleague = Client().post(
        login_url,
        {"username": "alice", "password": "correct-horse-battery"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )

    assert attacker.status_code == 429
    assert colleague.status_code == 302


# --- control characters ------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/espace-client/commandes/%00/",
        "/admin/orders/order/%00/change/",
        "/admin/orders/order/?state__exact=%00",
        "/admin/orders/order/?q=abc%00",
        "/admin/orders/order/?%00=1",
        "/espace-client/connexion/?suite=%1b",
        "/admin/calendrier/?echeance=%7f",
    ],
)
def test_a_control_character_in_the_path_or_query_string_is_a_400_in_french(url):
    staff = make_user("c.durand", "Commercial")
    browser = Client(raise_request_exception=False)
    browser.force_login(staff)

    response = browser.get(url)

    assert response.status_code == 400
    assert "Requête invalide" in page(response)


@pytest.mark.django_db
def test_a_tab_in_a_search_value_is_not_refused(admin_client):
    response = admin_client.get("/admin/orders/order/", {"q": "Martin\tLyon"})

    assert response.status_code == 200


# --- headers -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/login/", "/espace-client/connexion/", "/healthz", "/nulle-part/"])
def test_every_response_carries_the_content_security_policy(client, url, settings):
    response = client.get(url)

    assert response["Content-Security-Policy"] == settings.SEGUR_CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/espace-client/connexion/", "/espace-client/", "/espace-client/documents/1/"])
def test_client_space_pages_and_downloads_are_never_stored(client, url):
    response = client.get(url)

    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_staff_calendar_is_never_stored(admin_client):
    response = admin_client.get(reverse("deadline_calendar"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_pages_outside_the_staff_and_client_spaces_keep_their_own_caching(client):
    response = client.get("/nulle-part/")

    assert "Cache-Control" not in response


# --- French error pages ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_missing_client_page_is_a_french_404_leading_back_to_the_client_space(client):
    response = client.get("/espace-client/nulle-part/")

    assert response.status_code == 404
    assert "Page introuvable" in page(response)
    assert 'href="/espace-client/"' in page(response)
    assert response["Content-Language"] == "fr"


@pytest.mark.django_db
def test_a_missing_staff_page_is_a_french_404_leading_back_to_the_back_office(admin_client):
    response = admin_client.get("/admin/nulle-part/")

    assert response.status_code == 404
    assert "Page introuvable" in page(response)
    assert 'href="/admin/"' in page(response)


@pytest.mark.django_db
def test_a_refused_staff_page_is_a_french_403(client):
    client.force_login(make_user("sans.role"))

    response = client.get(reverse("deadline_calendar"))

    assert response.status_code == 403
    assert "Accès refusé" in page(response)
    assert 'href="/admin/"' in page(response)


@pytest.mark.django_db
def test_a_form_sent_without_its_csrf_token_gets_the_french_csrf_page():
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(reverse("portal:request_link"), {"email": "dr.martin@cabinet.example"})

    assert response.status_code == 403
    assert "Formulaire expiré" in page(response)
    assert 'href="/espace-client/"' in page(response)


@pytest.mark.django_db
def test_an_unexpected_error_is_a_french_500_page(monkeypatch):
    def broken() -> dict:
        raise RuntimeError("boom")

    monkeypatch.setattr(monitoring_selectors, "database_status", broken)
    browser = Client(raise_request_exception=False)

    response = browser.get("/healthz")

    assert response.status_code == 500
    assert "Erreur du serveur" in page(response)
    assert "boom" not in page(response)


def test_the_500_page_renders_without_the_database_or_context_processors():
    # No django_db mark: any query would raise.
    response = errors.server_error(RequestFactory().get("/espace-client/commandes/X/"))

    assert response.status_code == 500
    assert 'href="/espace-client/"' in page(response)
