"""What staff see and do about online signatures on the order page and the order list: send a document for
signature (single and bulk) and read the evidence of each signature (AF §4.3, §6.4)."""

from dataclasses import dataclass
from typing import Any

from orders.exceptions import BusinessRuleError
from orders.models import Order
from portal.models import SignatureEvidence, SignatureInvitation
from portal.signing import SIGNABLE, kind_to_sign, signature_request_send

SEND_PERMISSION = "orders.sign_order"


def signature_panel(order: Order, user: Any) -> dict[str, Any]:
    """The order page's "online signature" panel: what can be sent, what was sent, and the evidence."""
    kind = kind_to_sign(order)
    return {
        "kind_to_sign": SIGNABLE[kind].label if kind else "",
        "can_send": bool(kind) and user.has_perm(SEND_PERMISSION),
        "invitations": list(
            SignatureInvitation.objects.filter(order=order).select_related("document", "sent_by").order_by("-sent_at")
        ),
        "evidence": [
            {"row": row, "label": SIGNABLE[row.document.kind].label}
            for row in SignatureEvidence.objects.filter(order=order).select_related("document", "signed_document")
        ],
    }


@dataclass(frozen=True)
class BulkSendResult:
    sent: int
    refused: list[tuple[str, str]]  # (order number, reason)


def signature_requests_send_bulk(*, order_ids: list[int], acting_user: Any) -> BulkSendResult:
    """Send each selected order's document for signature; an order that cannot be sent is listed with why, the
    others are still sent."""
    sent, refused = 0, []
    for order in Order.objects.filter(pk__in=order_ids).order_by("pk").only("pk", "number"):
        try:
            signature_request_send(order_id=order.pk, acting_user=acting_user)
        except BusinessRuleError as error:
            refused.append((order.number, error.message))
        else:
            sent += 1
    return BulkSendResult(sent, refused)
