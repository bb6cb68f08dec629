"""Personal access links to the client space: opaque, expiring, revocable, sent to one address of one client.

A link's URL carries a random key and its signature (``SECRET_KEY``), nothing else: whom it was sent to and until
when it works are in its ``PortalLink`` row, found by the key's SHA-256 (the key itself is stored nowhere). A link
opens the space only before it expires (``PORTAL_LINK_MAX_AGE_DAYS``), if neither it nor all the client's links were
revoked since it was issued, and while the address still belongs to the client (its own e-mail or one of its
contacts'). The session it opens obeys the same rules on every page.
"""

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from clients.models import Client
from portal.models import PortalLink

SALT = "portal.access"
KEY_BYTES = 24  # 192 random bits
# "." is outside the key's alphabet and, unlike the default ":", never escaped nor cut by mail clients.
SIGNER_SEPARATOR = "."


class AccessRefused(Exception):
    """A link or a session that does not open the client space; ``message`` is shown to the client (French)."""

    def __init__(self, message: str, reason: str, link: PortalLink | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.link = link


@dataclass(frozen=True)
class ClientAccess:
    link: PortalLink

    @property
    def client(self) -> Client:
        return self.link.client

    @property
    def email(self) -> str:
        return self.link.email


def link_max_age() -> timedelta:
    return timedelta(days=settings.PORTAL_LINK_MAX_AGE_DAYS)


def client_emails(client: Client) -> set[str]:
    """Addresses that may receive a link for this client: its own e-mail and its contacts' (lower case)."""
    addresses = {contact.email.lower() for contact in client.contacts.all() if contact.email}
    if client.email:
        addresses.add(client.email.lower())
    return addresses


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT, sep=SIGNER_SEPARATOR)


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_links_batch: ContextVar[list[PortalLink] | None] = ContextVar("portal_links_batch", default=None)


@contextmanager
def access_links_batch() -> Iterator[None]:
    """Inside, the links issued are written together when the block ends (one query for a batch of e-mails)."""
    if _links_batch.get() is not None:  # already inside a batch: it writes them
        yield
        return
    batch: list[PortalLink] = []
    reset = _links_batch.set(batch)
    try:
        yield
    finally:
        _links_batch.reset(reset)
    PortalLink.objects.bulk_create(batch, batch_size=1000)


def access_token(client: Client, email: str, *, now: datetime | None = None) -> str:
    """Issue a new link to ``email`` for ``client``: its row is written (or queued in the current
    ``access_links_batch``), its token (key + signature) returned."""
    key = secrets.token_urlsafe(KEY_BYTES)
    issued_at = now or timezone.now()
    link = PortalLink(
        key_digest=_key_digest(key),
        client=client,
        email=email.lower(),
        issued_at=issued_at,
        expires_at=issued_at + link_max_age(),
    )
    batch = _links_batch.get()
    if batch is None:
        link.save()
    else:
        batch.append(link)
    return _signer().sign(key)


def access_url(client: Client, email: str, *, now: datetime | None = None, order_number: str = "") -> str:
    """The absolute personal link written in e-mails to ``email`` (valid ``PORTAL_LINK_MAX_AGE_DAYS`` days);
    with ``order_number`` it lands on that order's page."""
    url = settings.SITE_URL + reverse("portal:access", args=[access_token(client, email, now=now)])
    if order_number:
        url += "?" + urlencode({"suite": reverse("portal:order", args=[order_number])})
    return url


def access_check(link: PortalLink | None) -> ClientAccess:
    """The rules a link and a session both obey: the link exists, was not revoked, alone or with all the client's
    links, and was sent to an address that still belongs to the client."""
    if link is None:
        raise AccessRefused("Ce lien ne correspond à aucun client.", "unknown_link")
    client_revoked_at = link.client.portal_links_revoked_at
    if link.revoked_at is not None or (client_revoked_at is not None and link.issued_at < client_revoked_at):
        raise AccessRefused(
            "Ce lien a été révoqué par votre éditeur. Demandez un nouveau lien ci-dessous.", "revoked", link
        )
    if link.email not in client_emails(link.client):
        raise AccessRefused(
            "L'adresse à laquelle ce lien a été envoyé n'est plus associée à ce client. "
            "Demandez un nouveau lien ci-dessous ou contactez votre éditeur.",
            "address_removed",
            link,
        )
    return ClientAccess(link)


def links_with_client() -> QuerySet[PortalLink]:
    return PortalLink.objects.select_related("client").prefetch_related("client__contacts")


def access_verify(token: str, *, now: datetime | None = None) -> ClientAccess:
    """The access a link gives, or ``AccessRefused`` saying why (altered, expired, revoked, address removed)."""
    invalid = AccessRefused(
        "Ce lien n'est pas valide (il a peut-être été tronqué en le copiant). Demandez un nouveau lien ci-dessous.",
        "invalid",
    )
    try:
        key = _signer().unsign(token)
    except signing.BadSignature as error:
        raise invalid from error
    link = links_with_client().filter(key_digest=_key_digest(key)).first()
    if link is None:
        raise invalid
    if (now or timezone.now()) >= link.expires_at:
        raise AccessRefused(
            f"Ce lien a expiré : un lien d'accès est valable {settings.PORTAL_LINK_MAX_AGE_DAYS} jours. "
            "Demandez un nouveau lien ci-dessous.",
            "expired",
            link,
        )
    return access_check(link)


def session_link(link_id: int) -> ClientAccess:
    """The access an open session still gives (the link's row is read again: a revocation ends the session)."""
    return access_check(links_with_client().filter(pk=link_id).first())
