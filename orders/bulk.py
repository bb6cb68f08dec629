"""Bulk actions on a selection of orders, kept as a record people can come back to (issue 10).

Each order goes through ``services.perform`` on its own (its own transaction, its own event-log row): one refused
order never stops the others. The run and its per-order outcomes are written once, at the end.
"""

import json
import logging
from typing import Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from orders import services
from orders.exceptions import BusinessRuleError
from orders.models import BulkRun, BulkRunItem, Order

logger = logging.getLogger(__name__)

UNEXPECTED_ERROR = (
    "Erreur technique inattendue : rien n'a été enregistré pour cette commande. Réessayez-la seule depuis sa page ; "
    "si l'erreur revient, signalez-la à l'équipe technique."
)


def bulk_run_perform(
    *, action_name: str, order_ids: list[int], params: dict[str, Any], acting_user: User | None
) -> BulkRun:
    """Run ``action_name`` with the same ``params`` on every order of ``order_ids``, then record the outcome of each.

    The rules are those of ``services.perform`` (state, role, AF dates): this function only loops and records.
    """
    action = services.ACTIONS[action_name]
    orders = {
        order.pk: order
        for order in Order.objects.filter(pk__in=order_ids)
        .select_related("client")
        .only("number", "state", "client__name")
    }
    outcomes: dict[int, tuple[str, str, str]] = {}  # order id -> (outcome, state after, reason)
    for order_id in sorted(orders):
        try:
            order = services.perform(action_name, order_id=order_id, acting_user=acting_user, params=dict(params))
        except BusinessRuleError as error:
            outcomes[order_id] = (BulkRunItem.REFUSED, "", error.message)
        except Exception:  # one order's bug must not lose the record of the others, already committed
            logger.exception("bulk %s: order %s failed unexpectedly", action_name, order_id)
            outcomes[order_id] = (BulkRunItem.REFUSED, "", UNEXPECTED_ERROR)
        else:
            outcomes[order_id] = (BulkRunItem.DONE, order.state, "")
    done = sum(1 for outcome, _state, _reason in outcomes.values() if outcome == BulkRunItem.DONE)
    with transaction.atomic():
        run = BulkRun.objects.create(
            action=action_name,
            label=services.french(action.label),
            params=json.loads(json.dumps(params, cls=DjangoJSONEncoder)),
            acting_user=acting_user,
            actor_label=services.actor_label(acting_user),
            done_count=done,
            refused_count=len(outcomes) - done,
        )
        BulkRunItem.objects.bulk_create(
            BulkRunItem(
                run=run,
                order=orders[order_id],
                number=orders[order_id].number,
                client_name=orders[order_id].client.name,
                outcome=outcome,
                state=state or orders[order_id].state,
                reason=reason,
            )
            for order_id, (outcome, state, reason) in outcomes.items()
        )
    logger.info("bulk %s by %s: %s done, %s refused", action_name, run.actor_label, done, run.refused_count)
    return run
