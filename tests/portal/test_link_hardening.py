"""Client-space hardening: links that say nothing about whom they open, checked against their row (expiry, revocation,
address), sessions that end for good at logout, link requests that an attacker cannot turn against a client, pages
that answer 404 (never 500) to garbage and are never cached, and links masked where staff read the e-mails sent."""

import base64
import binascii
import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail, signing
from django.urls import reverse
from django.utils import timezone

from clients.models import ContactPerson
from monitoring.models import OutboxEmail
from monitoring.reminders import outbox_send_due
from orders.documents import document_generate
from orders.roles import ADMIN_GROUP, SALES_GROUP
from portal import services
from portal.access import access_token, access_url
from portal.models import PortalEvent, PortalEventKind, PortalLink
from tests.factories import advance, make_doctor, make_order, make_user

pytestmark = pytest.mark.django_db

ADDRESS = "dr.martin@cabinet.example"
LINK_SENT_ANSWER = reverse("portal:request_link") + "?envoye=1"


@pytest.fixture
def installed_order():
    return advance(make_order(client=make_doctor(email=ADDRESS)), "installed")


def open_with(browser, token):
    return browser.get(reverse("portal:access", args=[token]))


def text(response) -> str:
    return html.unescape(response.content.decode())


def decoded_pieces(token: str) -> str:
    """Everything the token's pieces say once base64-decoded (what anyone holding the URL can read)."""
    readable = [token]
    for piece in re.split(r"[.:]", token):
        try:
            readable.append(base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4)).decode("latin-1"))
        except (binascii.Error, ValueError):
            continue
    return " ".join(readable)


# --- Opaque links --------------------------------------------------------------------------------------------------


def test_a_link_says_nothing_about_the_client_and_its_key_is_stored_nowhere(installed_order):
    client = installed_order.client
    url = access_url(client, ADDRESS)
    token = url.split("/espace-client/acces/", 1)[1].rstrip("/")

    readable = decoded_pieces(token)
    assert "martin" not in readable.lower() and "cabinet" not in readable
    assert f'"c":{client.pk}' not in readable and '"e"' not in readable
    with pytest.raises(signing.BadSignature):
        signing.loads(token, salt="portal.access")
    link = PortalLink.objects.get()
    assert (link.client, link.email) == (client, ADDRESS)
    assert link.expires_at == link.issued_at + timedelta(days=settings.PORTAL_LINK_MAX_AGE_DAYS)
    key = token.split(".", 1)[0]
    assert key not in link.key_digest and token not in link.key_digest
    assert access_url(client, ADDRESS) != url  # every sending is a new random link


def test_a_well_signed_key_without_its_row_and_a_link_of_the_old_format_are_refused(client, installed_order):
    unknown = signing.Signer(salt="portal.access", sep=".").sign("A" * 32)
    old_format = signing.dumps(
        {"c": installed_order.client.pk, "e": ADDRESS, "t": timezone.now().timestamp()}, salt="portal.access"
    )

    for token in (unknown, old_format):
        response = open_with(client, token)
        assert response.status_code == 403 and "n'est pas valide" in text(response)
    assert client.get(reverse("portal:home")).status_code == 302


def test_a_session_opened_before_links_were_opaque_asks_for_a_new_link(client, installed_order):
    session = client.session
    session["portal_access"] = {"client": installed_order.client.pk, "email": ADDRESS, "issued": 0.0}
    session.save()

    response = client.get(reverse("portal:home"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("portal:request_link")
    assert "utilisez le lien personnel reçu par e-mail" in text(response)


def test_a_link_works_until_its_expiry_and_not_a_second_later(client, installed_order):
    token = access_token(installed_order.client, ADDRESS)
    expires_at = PortalLink.objects.get().expires_at

    with time_machine.travel(expires_at - timedelta(seconds=1), tick=False):
        assert open_with(client, token).status_code == 302
    client.post(reverse("portal:logout"))
    with time_machine.travel(expires_at, tick=False):
        response = open_with(client, token)
    assert response.status_code == 403 and "Ce lien a expiré" in text(response)
    refused = PortalEvent.objects.get(kind=PortalEventKind.LINK_REFUSED)
    assert (refused.client, refused.email, refused.message) == (
        installed_order.client,
        ADDRESS,
        "lien refusé : expired",
    )


def test_revoking_marks_every_sent_link_and_a_revoked_link_ends_its_session(client, installed_order):
    first = access_token(installed_order.client, ADDRESS)
    second = access_token(installed_order.client, ADDRESS)
    assert open_with(client, first).status_code == 302

    PortalLink.objects.filter(pk=PortalLink.objects.order_by("pk").first().pk).update(revoked_at=timezone.now())

    assert "Ce lien a été révoqué" in text(client.get(reverse("portal:home"), follow=True))
    assert open_with(client, first).status_code == 403
    assert open_with(client, second).status_code == 302  # only that link was revoked
    services.access_links_revoke(client_id=installed_order.client.pk, acting_user=make_user("c", SALES_GROUP))
    assert not PortalLink.objects.filter(revoked_at__isnull=True).exists()
    assert open_with(client, second).status_code == 403


def test_a_link_to_an_address_the_client_no_longer_has_is_refused(client, installed_order):
    contact = ContactPerson.objects.create(client=installed_order.client, name="Accueil", email="accueil@cab.example")
    token = access_token(installed_order.client, contact.email)
    assert open_with(client, token).status_code == 302

    contact.email = "autre@cab.example"
    contact.save()

    assert "n'est plus associée à ce client" in text(client.get(reverse("portal:home"), follow=True))
    assert open_with(client, token).status_code == 403


def test_a_link_records_its_first_and_last_use(client, installed_order):
    token = access_token(installed_order.client, ADDRESS)
    assert PortalLink.objects.get().first_used_at is None

    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        open_with(client, token)
        first_use = timezone.now()
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        open_with(client, token)
        second_use = timezone.now()

    link = PortalLink.objects.get()
    assert (link.first_used_at, link.last_used_at) == (first_use, second_use)


# --- Logout --------------------------------------------------------------------------------------------------------


def test_logging_out_discards_the_session_key_so_the_old_cookie_opens_nothing(client, installed_order):
    open_with(client, access_token(installed_order.client, ADDRESS))
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get(reverse("portal:home")).status_code == 200

    client.post(reverse("portal:logout"))

    assert client.cookies[settings.SESSION_COOKIE_NAME].value != old_key
    client.cookies[settings.SESSION_COOKIE_NAME] = old_key
    response = client.get(reverse("portal:home"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:request_link")


# --- Link requests: limits that hold for the client, not against it ------------------------------------------------


def ask(browser, address=ADDRESS, ip="203.0.113.7"):
    return browser.post(reverse("portal:request_link"), {"email": address}, REMOTE_ADDR=ip)


def without_csrf_token(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def links_sent(address=ADDRESS) -> int:
    return OutboxEmail.objects.filter(kind="portal_link", to=address).count()


def test_refused_requests_do_not_use_up_the_address_quota(client, installed_order):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(3):
            ask(client)
    for minutes in (10, 20, 40, 59):  # someone keeps asking for this address: refused, and not counted
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            ask(client, ip=f"198.51.100.{minutes}")
    assert links_sent() == 3

    with time_machine.travel(start + timedelta(minutes=60, seconds=1), tick=False):
        response = ask(client)

    assert response["Location"] == LINK_SENT_ANSWER
    assert links_sent() == 4
    assert PortalEvent.objects.filter(kind=PortalEventKind.LINK_REFUSED).count() == 4


def test_one_ip_cannot_ask_for_more_than_its_limit_whatever_the_addresses(client, settings):
    settings.PORTAL_LINK_REQUESTS_PER_IP_PER_HOUR = 4
    addresses = [f"dr.{index}@cabinet.example" for index in range(6)]
    for address in addresses:
        make_doctor(email=address)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        answers = [ask(client, address)["Location"] for address in addresses]
        assert [links_sent(address) for address in addresses] == [1, 1, 1, 1, 0, 0]
        ask(client, addresses[4], ip="192.0.2.1")  # the same address from elsewhere: served
        assert links_sent(addresses[4]) == 1
    with time_machine.travel(start + timedelta(hours=1, seconds=1), tick=False):
        ask(client, addresses[5])
        assert links_sent(addresses[5]) == 1

    assert set(answers) == {LINK_SENT_ANSWER}
    refused = PortalEvent.objects.filter(kind=PortalEventKind.LINK_REFUSED)
    assert [event.message for event in refused] == ["trop de demandes depuis cette adresse IP en une heure"] * 2


def test_the_answer_is_the_same_whether_a_link_was_sent_refused_or_the_address_unknown(
    client, installed_order, settings
):
    settings.PORTAL_LINK_REQUESTS_PER_IP_PER_HOUR = 5
    outcomes = [ask(client) for _ in range(4)]  # sent, sent, sent, refused for the address
    outcomes.append(ask(client, "nobody@nowhere.example"))  # unknown address
    outcomes.append(ask(client))  # refused for the IP
    pages = {without_csrf_token(text(client.get(outcome["Location"]))) for outcome in outcomes}

    assert {outcome.status_code for outcome in outcomes} == {302}
    assert {outcome["Location"] for outcome in outcomes} == {LINK_SENT_ANSWER}
    assert len(pages) == 1
    assert links_sent() == 3


def test_a_shared_address_gets_one_link_per_client_and_one_request_counts_once(client, settings):
    settings.PORTAL_LINK_REQUESTS_PER_HOUR = 2
    make_doctor(email="secretariat@msp.example")
    make_doctor(email="secretariat@msp.example")

    for _ in range(3):
        ask(client, "secretariat@msp.example")

    assert links_sent("secretariat@msp.example") == 4


# --- Garbage in the URL is a 404, never a 500; client pages are never cached ------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/espace-client/commandes/%00/",
        "/espace-client/commandes/BC-%00-1/",
        "/espace-client/commandes/" + "9" * 33 + "/",
        "/espace-client/commandes/%0A/",
        "/espace-client/documents/abc/",
        "/espace-client/documents/%00/",
        "/espace-client/documents/99999999999999999999999999/",
        "/espace-client/acces/%00/",
        "/espace-client/acces/" + "x" * 201 + "/",
    ],
)
def test_garbage_ids_are_not_found(client, installed_order, path):
    """A control character never reaches the views (the middleware answers 400); any other garbage id is a 404."""
    open_with(client, access_token(installed_order.client, ADDRESS))

    assert client.get(path).status_code == (400 if "%0" in path else 404)


@pytest.mark.parametrize("token", ["garbage", "a.b", "%C3%A9t%C3%A9", "x" * 200, "..."])
def test_a_garbage_token_is_refused_with_an_explanation(client, token):
    response = client.get(f"/espace-client/acces/{token}/")

    assert response.status_code == 403 and "n'est pas valide" in text(response)


@pytest.mark.parametrize("query", [{"page": "abc"}, {"page": "-1"}, {"page": "9" * 40}])
def test_garbage_pages_of_the_order_list_show_a_page(client, installed_order, query):
    open_with(client, access_token(installed_order.client, ADDRESS))

    assert client.get(reverse("portal:home"), query).status_code == 200


def test_a_garbage_landing_page_lands_on_the_home(client, installed_order):
    token = access_token(installed_order.client, ADDRESS)

    response = client.get(reverse("portal:access", args=[token]), {"suite": "https://elsewhere.example/"})

    assert response.status_code == 302 and response["Location"].startswith("/espace-client/")


def test_client_pages_documents_and_links_are_never_cached_and_links_leave_no_referer(client, installed_order):
    document = document_generate(order_id=installed_order.pk, kind="va", acting_user=None)
    token = access_token(installed_order.client, ADDRESS)
    refused = client.get(reverse("portal:access", args=["garbage"]))
    opened = open_with(client, token)
    pages = [
        refused,
        opened,
        client.get(reverse("portal:home")),
        client.get(reverse("portal:order", args=[installed_order.number])),
        client.get(reverse("portal:document", args=[document.pk])),
        client.get(reverse("portal:request_link")),
    ]

    for response in pages:
        assert "no-store" in response["Cache-Control"], response
    assert refused["Referrer-Policy"] == opened["Referrer-Policy"] == "no-referrer"


# --- The outbox admin shows no live link ----------------------------------------------------------------------------


def test_the_outbox_admin_masks_client_space_links_and_the_e_mail_sent_keeps_it(client, installed_order):
    services.access_link_send(client=installed_order.client, email=ADDRESS)
    email = OutboxEmail.objects.get(kind="portal_link")
    link = re.search(r"http://\S+/espace-client/acces/[^\s\"]+", email.body_text).group(0)
    token = link.split("/acces/", 1)[1].strip("/")
    client.force_login(make_user("admin", ADMIN_GROUP))

    page = text(client.get(reverse("admin:monitoring_outboxemail_change", args=[email.pk])))
    listing = text(client.get(reverse("admin:monitoring_outboxemail_changelist")))

    assert "…/espace-client/acces/•••" in page
    assert page.count("…/espace-client/acces/•••") == 2  # in the text body and in the HTML body
    assert token not in page and token not in listing
    assert "Ouvrir mon espace client" in page  # the rest of the e-mail is shown
    outbox_send_due()
    assert link in mail.outbox[0].body


def test_staff_see_the_links_sent_and_their_use_but_never_a_key(client, installed_order):
    token = access_token(installed_order.client, ADDRESS)
    open_with(client, token)
    link = PortalLink.objects.get()
    client.force_login(make_user("admin", ADMIN_GROUP))

    listing = text(client.get(reverse("admin:portal_portallink_changelist")))
    detail = text(client.get(reverse("admin:portal_portallink_change", args=[link.pk])))

    assert ADDRESS in listing and installed_order.client.name in listing
    for page in (listing, detail):
        assert token.split(".")[0] not in page and link.key_digest not in page
    assert client.post(reverse("admin:portal_portallink_change", args=[link.pk]), {}).status_code == 403


def test_a_document_whose_file_is_lost_is_not_found_logged_and_not_counted_as_downloaded(
    client, installed_order, caplog
):
    document = document_generate(order_id=installed_order.pk, kind="va", acting_user=None)
    document.file.storage.delete(document.file.name)
    open_with(client, access_token(installed_order.client, ADDRESS))

    response = client.get(reverse("portal:document", args=[document.pk]))

    assert response.status_code == 404
    assert f"Document {document.pk} : fichier {document.file.name} illisible" in caplog.text
    assert not PortalEvent.objects.filter(kind=PortalEventKind.DOWNLOAD).exists()


@pytest.mark.parametrize("address", ["dr\x00@cabinet.example", "a@b.fr\nBcc: x@y.fr", "x" * 250 + "@b.fr"])
def test_a_garbage_address_in_the_request_form_is_refused_on_the_field(client, address):
    response = ask(client, address)

    assert response.status_code == 200 and "field-error" in text(response)
    assert not PortalEvent.objects.exists()
