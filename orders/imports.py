"""Draft order forms created in bulk (file imports): the rules of ``services.order_create``, a handful of queries per
file whatever its number of rows (issue 13).

``OrderBulkCreate`` is used in two steps: ``check`` each row (no query: every look-up was loaded once by
``OrderLookups``), then ``insert`` every accepted row at once — orders with their numbers, then their creation
events, each in one ``bulk_create``. The caller's transaction makes the whole all or nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from clients.models import Client
from orders import deadline_store, services
from orders.exceptions import RuleViolation
from orders.models import Order, OrderEvent, Programme, Solution
from segur_portal.bulk_insert import insert_instances, reserve_ids


@dataclass
class OrderLookups:
    """Everything the rows of one file refer to, each read in one query (clients, solutions, ceilings, users…)."""

    programme: Programme
    clients_by_rpps: dict[str, Client] = field(default_factory=dict)
    clients_by_finess: dict[str, Client] = field(default_factory=dict)
    solutions: dict[tuple[str, str], Solution] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    existing_numbers: set[str] = field(default_factory=set)
    ceilings: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    ordered_client_ids: set[int] = field(default_factory=set)  # clients with an order for this programme

    @classmethod
    def load(
        cls,
        programme: Programme,
        *,
        identifiers: Iterable[str],
        usernames: Iterable[str] = (),
        numbers: Iterable[str] = (),
    ) -> "OrderLookups":
        identifiers = {identifier for identifier in identifiers if identifier}
        lookups = cls(programme=programme, ceilings=services.ceiling_table(programme))
        clients = Client.objects.filter(Q(rpps__in=identifiers) | Q(finess__in=identifiers)) if identifiers else []
        for client in clients:
            if client.rpps:
                lookups.clients_by_rpps[client.rpps] = client
            if client.finess:
                lookups.clients_by_finess[client.finess] = client
        for solution in Solution.objects.filter(programme=programme).select_related("provider").order_by("pk"):
            lookups.solutions.setdefault((solution.name, solution.version), solution)
        usernames = {username for username in usernames if username}
        if usernames:
            user_model = get_user_model()
            lookups.users = {
                user.get_username(): user
                for user in user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__in": usernames})
            }
        numbers = {number for number in numbers if number}
        if numbers:
            lookups.existing_numbers = set(Order.objects.filter(number__in=numbers).values_list("number", flat=True))
        client_ids = [client.pk for client in clients]
        if client_ids:
            lookups.ordered_client_ids = set(
                Order.objects.filter(programme=programme, client_id__in=client_ids).values_list("client_id", flat=True)
            )
        return lookups

    def client(self, identifier: str) -> Client | None:
        """The client of this RPPS, else of this FINESS: as ``Client.objects.filter(rpps=…) or (finess=…)``."""
        return self.clients_by_rpps.get(identifier) or self.clients_by_finess.get(identifier)


@dataclass
class OrderBulkCreate:
    """Accepted rows waiting for their insertion; a client accepted once counts as ordered for the next rows."""

    lookups: OrderLookups
    acting_user: Any = None
    pending: list[Order] = field(default_factory=list)

    def check(
        self,
        *,
        client: Client,
        solution: Solution,
        prestation: str,
        vat_regime: str | None = None,
        principal_amount: Decimal | None = None,
        secondary_amount: Decimal | None = None,
        issued_at: datetime | None = None,
        salesperson: Any = None,
        is_pilot: bool = False,
    ) -> list[RuleViolation]:
        """The violations of ``services.order_create`` for this row (none: the row waits for ``insert``)."""
        programme = self.lookups.programme
        vat_regime, principal_amount, secondary_amount, violations = services.order_create_check(
            programme=programme,
            client=client,
            solution=solution,
            prestation=prestation,
            vat_regime=vat_regime,
            principal_amount=principal_amount,
            secondary_amount=secondary_amount,
            issued_at=issued_at,
            ceilings=self.lookups.ceilings,
            already_ordered=client.pk in self.lookups.ordered_client_ids,
        )
        if violations:
            return violations
        self.lookups.ordered_client_ids.add(client.pk)
        self.pending.append(
            Order(
                programme=programme,
                client=client,
                solution=solution,
                salesperson=salesperson,
                prestation=prestation,
                vat_regime=vat_regime,
                principal_amount=principal_amount,
                secondary_amount=secondary_amount,
                issued_at=issued_at,  # None: now, at insertion, as order_create does
                is_pilot=is_pilot,
            )
        )
        return []

    def insert(self) -> list[Order]:
        """Insert every pending order with its number and its creation event (a few queries: ids, then one ``COPY``
        per table on PostgreSQL), then the hook."""
        orders, self.pending = self.pending, []
        if not orders:
            return []
        now = timezone.now()
        for order in orders:
            order.issued_at = order.issued_at or now
        if connection.vendor == "postgresql":
            for order, pk in zip(orders, reserve_ids(Order, len(orders)), strict=True):
                order.pk = pk
                order.number = services.order_number(order)
            insert_instances(Order, orders)
        else:  # SQLite (development): numbers once the ids are known, one more query
            for position, order in enumerate(orders):
                order.number = f"TMP-{now.timestamp()}-{position}"
            Order.objects.bulk_create(orders)
            for order in orders:
                order.number = services.order_number(order)
            Order.objects.bulk_update(orders, ["number"])
        insert_instances(
            OrderEvent,
            [
                services.event_build(
                    order=order,
                    acting_user=self.acting_user,
                    action="create",
                    from_state="",
                    to_state=order.state,
                    payload={
                        "prestation": order.prestation,
                        "vat_regime": order.vat_regime,
                        "principal_amount": order.principal_amount,
                        "secondary_amount": order.secondary_amount,
                    },
                )
                for order in orders
            ],
        )
        after_orders_created([order.pk for order in orders])
        return orders


def after_orders_created(order_ids: list[int]) -> None:
    """Called once after every bulk insertion of orders, in the same transaction: what each ``order_create`` does
    per order, in bulk — their stored deadlines (``deadline_store``, issue 13)."""
    deadline_store.store_new_orders(order_ids)
