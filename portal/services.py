"""Client-space services: send, request and revoke access links; record what clients do (audit trail).

The views, the staff admin and the reminders call these; the rules of a link itself live in ``portal.access``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clients.models import Client
from monitoring.models import OutboxEmail
from monitoring.reminders import outbox_add, outbox_send_soon
from orders.exceptions import BusinessRuleError
from portal.access import access_url, client_emails
from portal.models import PortalEvent, PortalEventKind


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
    now = timezone.now()
    with transaction.atomic():
        outbox, _created = outbox_add(
            key=f"portal_link:{client.pk}:{email}:{now.timestamp()}",
            kind="portal_link",
            to=email,
            subject="Votre accès à l'espace client Ségur",
            template="emails/portal_link",
            context={
                "client": client,
                "access_url": access_url(client, email, now=now),
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


def access_link_request(*, email: str, meta: RequestMeta | None = None, now: datetime | None = None) -> int:
    """A visitor asks for a link: one is sent to each client that owns ``email``; returns how many.

    The visitor is always told the same thing, so the form does not reveal which addresses are known. Requests are
    limited to ``PORTAL_LINK_REQUESTS_PER_HOUR`` per address, so the form cannot be used to flood a mailbox.
    """
    email, now = email.strip().lower(), now or timezone.now()
    recent = PortalEvent.objects.filter(
        kind=PortalEventKind.LINK_REQUESTED, email=email, created_at__gte=now - timedelta(hours=1)
    ).count()
    event_record(PortalEventKind.LINK_REQUESTED, email=email, meta=meta)
    if recent >= settings.PORTAL_LINK_REQUESTS_PER_HOUR:
        event_record(PortalEventKind.LINK_REFUSED, email=email, meta=meta, message="trop de demandes en une heure")
        return 0
    clients = Client.objects.filter(Q(email__iexact=email) | Q(contacts__email__iexact=email)).distinct()
    sent = 0
    for client in clients.prefetch_related("contacts"):
        access_link_send(client=client, email=email, meta=meta)
        sent += 1
    return sent


def access_links_revoke(*, client_id: int, acting_user: object) -> Client:
    """Every link sent so far stops working, and open sessions end at their next page (staff action)."""
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client_id)
        client.portal_links_revoked_at = timezone.now()
        client.save(update_fields=["portal_links_revoked_at", "updated_at"])
        event_record(PortalEventKind.LINKS_REVOKED, client=client, actor=acting_user)
    return client
