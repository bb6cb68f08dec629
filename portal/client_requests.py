"""What a client asks for from its space: a data portability request (AF §4.4) — recorded through the order's
existing action ``request_portability``, which starts the programme's 15-day clock for the export, and confirmed by
e-mail."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from orders import rules, services
from orders.models import Order
from portal.access import ClientAccess


def portability_open(order: Order) -> bool:
    """The button is offered once the main prestation is realised, until a request is recorded (AF §4.4)."""
    return (
        order.portability_requested_at is None
        and order.state in services.STATELESS_ACTION_STATES["request_portability"]
    )


def portability_due(order: Order) -> datetime | None:
    """When the export is due: ``portability_days`` days after the request, at noon (Paris)."""
    if order.portability_requested_at is None:
        return None
    requested = rules.paris_date(order.portability_requested_at)
    return rules.noon_paris(requested + timedelta(days=order.programme.portability_days))


def portability_request(*, granted: ClientAccess, order_id: int, now: datetime | None = None) -> Order:
    """Record the client's portability request and e-mail the confirmation; ``BusinessRuleError`` if refused."""
    from monitoring.reminders import outbox_add, outbox_send_soon

    now = now or timezone.now()
    with transaction.atomic():
        order = services.perform(
            "request_portability", order_id=order_id, acting_user=None, params={"at": now}, now=now
        )
        due = portability_due(order)
        outbox_add(
            key=f"portability_confirmation:{order.pk}",
            kind="portability_confirmation",
            to=granted.email,
            subject=f"Commande Ségur {order.number} : votre demande de portabilité des données est enregistrée",
            template="emails/portability_confirmation",
            context={"order": order, "due": due, "days": order.programme.portability_days, "requested_at": now},
        )
        transaction.on_commit(outbox_send_soon)
    return order
