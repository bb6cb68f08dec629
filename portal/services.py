"""Client-space services: send, request and revoke access links; record what clients do (audit trail).

The views, the staff admin and the reminders call these; the rules of a link itself live in ``portal.access``.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from clients.models import Client
from monitoring.models import OutboxEmail
from monitoring.reminders import outbox_add, outbox_send_soon
from orders.exceptions import BusinessRuleError
from portal.access import AccessRefused, ClientAccess, access_url, access_verify, client_emails
from portal.models import LinkRequestCounter, PortalEvent, PortalEventKind, PortalLink


@dataclass(frozen=True)
class RequestMeta:
    """Who is on the other end of a request, for the audit trail."""

    ip_address: str | None = None
    user_agent: str = ""


def event_record(
    kind: str,
    *,
    client: Client | None = None,
    email: str = "",
    meta: RequestMeta | None = None,
    actor: object | None = None,
    message: str = "",
    **related: object,
) -> PortalEvent:
    meta = meta or RequestMeta()
    return PortalEvent.objects.create(
        kind=kind,
        client=client,
        email=email,
        actor=actor,
        ip_address=meta.ip_address,
        user_agent=meta.user_agent[:255],
        message=message[:255],
        **related,
    )


def access_link_send(
    *, client: Client, email: str, acting_user: object | None = None, meta: RequestMeta | None = None
) -> OutboxEmail:
    """E-mail a personal link to the client space to one of the client's addresses (through the outbox)."""
    email = email.strip().lower()
    if email not in client_emails(client):
        raise BusinessRuleError.single(
            "PORTAL_ADDRESS_UNKNOWN",
            f"{email or '(vide)'} n'est ni l'e-mail du client ni celui d'un de ses contacts : "
            "un lien d'accès ne s'envoie qu'à eux.",
            "espace client",
            field="email",
        )
    with transaction.atomic():
        outbox, _created = outbox_add(
            key=f"portal_link:{client.pk}:{uuid.uuid4().hex}",  # every sending is an e-mail of its own
            kind="portal_link",
            to=email,
            subject="Votre accès à l'espace client Ségur",
            template="emails/portal_link",
            context={
                "client": client,
                "access_url": access_url(client, email),
                "max_age_days": settings.PORTAL_LINK_MAX_AGE_DAYS,
            },
        )
        event_record(PortalEventKind.LINK_SENT, client=client, email=email, actor=acting_user, meta=meta)
        transaction.on_commit(outbox_send_soon)
    return outbox


def access_link_send_to_client(*, client: Client, acting_user: object | None = None) -> OutboxEmail:
    """Staff send: to the client's own e-mail, or else to its first signatory contact (who signs its documents)."""
    signatories = [contact.email for contact in client.contacts.all() if contact.is_signatory and contact.email]
    address = client.email or next(iter(signatories), "")
    if not address:
        raise BusinessRuleError.single(
            "PORTAL_NO_ADDRESS",
            "aucune adresse e-mail (ni celle du client, ni celle d'un contact signataire) : ajoutez-en une.",
            "espace client",
            field="email",
        )
    return access_link_send(client=client, email=address, acting_user=acting_user)


REQUEST_WINDOW = timedelta(hours=1)


def request_counters_lock(scopes: list[str]) -> dict[str, LinkRequestCounter]:
    """The counters of ``scopes``, created if new and locked until the transaction ends.

    Locked in scope order, so two requests never wait for each other crosswise. SQLite ignores
    ``select_for_update`` but runs write transactions one at a time (``transaction_mode`` IMMEDIATE, settings), and
    the first statement here is a write anyway.
    """
    scopes = sorted(set(scopes))
    LinkRequestCounter.objects.bulk_create([LinkRequestCounter(scope=scope) for scope in scopes], ignore_conflicts=True)
    counters = LinkRequestCounter.objects.select_for_update().filter(scope__in=scopes).order_by("scope")
    return {counter.scope: counter for counter in counters}


def counter_recent(counter: LinkRequestCounter, now: datetime) -> list[float]:
    since = (now - REQUEST_WINDOW).timestamp()
    return [moment for moment in counter.recent if moment > since]


def counter_add(counter: LinkRequestCounter, now: datetime) -> None:
    counter.recent = [*counter_recent(counter, now), now.timestamp()]
    counter.save(update_fields=["recent", "updated_at"])


def access_link_request(*, email: str, meta: RequestMeta | None = None, now: datetime | None = None) -> int:
    """A visitor asks for a link: one is sent to each client that owns ``email``; returns how many.

    The visitor is always told the same thing, so the form does not reveal which addresses are known, nor whether a
    limit was reached. So that the form can neither flood a mailbox nor lock a client out:
    - an address receives links from at most ``PORTAL_LINK_REQUESTS_PER_HOUR`` requests an hour, and only requests
      that sent a link count (a refused request does not use up the address's quota);
    - one client IP makes at most ``PORTAL_LINK_REQUESTS_PER_IP_PER_HOUR`` requests an hour, whatever the addresses.
    Both counters are locked while a request is decided: requests made at the same instant cannot exceed them.
    """
    email, now, meta = email.strip().lower(), now or timezone.now(), meta or RequestMeta()
    address_scope = f"adresse:{email}"
    ip_scope = f"ip:{meta.ip_address}" if meta.ip_address else ""
    with transaction.atomic():
        counters = request_counters_lock([address_scope, ip_scope] if ip_scope else [address_scope])
        if ip_scope:
            if len(counter_recent(counters[ip_scope], now)) >= settings.PORTAL_LINK_REQUESTS_PER_IP_PER_HOUR:
                event_record(
                    PortalEventKind.LINK_REFUSED,
                    email=email,
                    meta=meta,
                    message="trop de demandes depuis cette adresse IP en une heure",
                )
                return 0
            counter_add(counters[ip_scope], now)
        event_record(PortalEventKind.LINK_REQUESTED, email=email, meta=meta)
        address_counter = counters[address_scope]
        if len(counter_recent(address_counter, now)) >= settings.PORTAL_LINK_REQUESTS_PER_HOUR:
            event_record(PortalEventKind.LINK_REFUSED, email=email, meta=meta, message="trop de demandes en une heure")
            return 0
        clients = Client.objects.filter(Q(email__iexact=email) | Q(contacts__email__iexact=email)).distinct()
        sent = 0
        for client in clients.prefetch_related("contacts"):
            access_link_send(client=client, email=email, meta=meta)
            sent += 1
        if sent:
            counter_add(address_counter, now)
    return sent


def access_link_open(*, token: str, meta: RequestMeta | None = None) -> ClientAccess:
    """A visitor follows a link: the access it gives (its use is recorded), or ``AccessRefused`` (recorded too).

    The audit trail names the link's client and address when the link is known, never the token.
    """
    now = timezone.now()
    try:
        granted = access_verify(token, now=now)
    except AccessRefused as refused:
        link = refused.link
        event_record(
            PortalEventKind.LINK_REFUSED,
            client=link.client if link else None,
            email=link.email if link else "",
            meta=meta,
            message=f"lien refusé : {refused.reason}",
        )
        raise
    PortalLink.objects.filter(pk=granted.link.pk).update(
        first_used_at=Coalesce("first_used_at", Value(now)), last_used_at=now
    )
    event_record(PortalEventKind.LOGIN, client=granted.client, email=granted.email, meta=meta)
    return granted


def access_links_revoke(*, client_id: int, acting_user: object) -> Client:
    """Every link sent so far stops working, and open sessions end at their next page (staff action)."""
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client_id)
        client.portal_links_revoked_at = timezone.now()
        client.save(update_fields=["portal_links_revoked_at", "updated_at"])
        client.portal_links.filter(revoked_at__isnull=True).update(revoked_at=client.portal_links_revoked_at)
        event_record(PortalEventKind.LINKS_REVOKED, client=client, actor=acting_user)
    return client
