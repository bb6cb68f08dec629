"""Personal access links to the client space: signed, expiring, revocable, one per (client, e-mail address).

A link carries the client, the address it was sent to and when it was issued, signed with ``SECRET_KEY``: nothing
secret is stored, so the links written in the outbox (reminders, notices) need no table of their own. A link opens
the space only while it is younger than ``PORTAL_LINK_MAX_AGE_DAYS``, issued after the client's last revocation, and
sent to an address that still belongs to the client (its own e-mail or one of its contacts').
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from clients.models import Client

SALT = "portal.access"


class AccessRefused(Exception):
    """A link or a session that does not open the client space; ``message`` is shown to the client (French)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class ClientAccess:
    client: Client
    email: str
    issued_at: datetime


def link_max_age() -> timedelta:
    return timedelta(days=settings.PORTAL_LINK_MAX_AGE_DAYS)


def client_emails(client: Client) -> set[str]:
    """Addresses that may receive a link for this client: its own e-mail and its contacts' (lower case)."""
    addresses = {contact.email.lower() for contact in client.contacts.all() if contact.email}
    if client.email:
        addresses.add(client.email.lower())
    return addresses


def access_token(client: Client, email: str, *, now: datetime | None = None) -> str:
    issued_at = now or timezone.now()
    payload = {"c": client.pk, "e": email.lower(), "t": issued_at.timestamp()}
    return signing.dumps(payload, salt=SALT, compress=True)


def access_url(client: Client, email: str, *, now: datetime | None = None, order_number: str = "") -> str:
    """The absolute personal link written in e-mails to ``email`` (valid ``PORTAL_LINK_MAX_AGE_DAYS`` days);
    with ``order_number`` it lands on that order's page."""
    url = settings.SITE_URL + reverse("portal:access", args=[access_token(client, email, now=now)])
    if order_number:
        url += "?" + urlencode({"suite": reverse("portal:order", args=[order_number])})
    return url


def access_check(client: Client | None, email: str, issued_at: datetime) -> ClientAccess:
    """The rules a link and a session both obey: the client exists, was not revoked since, and owns the address."""
    if client is None:
        raise AccessRefused("Ce lien ne correspond à aucun client.", "unknown_client")
    revoked_at = client.portal_links_revoked_at
    if revoked_at is not None and issued_at < revoked_at:
        raise AccessRefused("Ce lien a été révoqué par votre éditeur. Demandez un nouveau lien ci-dessous.", "revoked")
    if email not in client_emails(client):
        raise AccessRefused(
            "L'adresse à laquelle ce lien a été envoyé n'est plus associée à ce client. "
            "Demandez un nouveau lien ci-dessous ou contactez votre éditeur.",
            "address_removed",
        )
    return ClientAccess(client, email, issued_at)


def access_verify(token: str) -> ClientAccess:
    """The access a link gives, or ``AccessRefused`` saying why (expired, altered, revoked, address removed)."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=link_max_age())
    except signing.SignatureExpired as error:
        raise AccessRefused(
            f"Ce lien a expiré : un lien d'accès est valable {settings.PORTAL_LINK_MAX_AGE_DAYS} jours. "
            "Demandez un nouveau lien ci-dessous.",
            "expired",
        ) from error
    except signing.BadSignature as error:
        raise AccessRefused(
            "Ce lien n'est pas valide (il a peut-être été tronqué en le copiant). Demandez un nouveau lien ci-dessous.",
            "invalid",
        ) from error
    client = Client.objects.filter(pk=payload["c"]).prefetch_related("contacts").first()
    return access_check(client, payload["e"], datetime.fromtimestamp(payload["t"], tz=UTC))
