"""Rewrite the stored deadlines of every order (or of one programme) from ``rules.order_deadlines``: run it after a
programme's dates changed outside the admin, or after orders were inserted in bulk (SPEC §10)."""

from django.core.management.base import BaseCommand

from orders import deadline_store
from orders.models import Order


class Command(BaseCommand):
    help = "Recalcule les échéances enregistrées de toutes les commandes (ou d'un programme) depuis les règles."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--programme", help="Code du programme (par défaut : tous).")

    def handle(self, *args: object, **options: object) -> None:
        orders = Order.objects.all()
        if options["programme"]:
            orders = orders.filter(programme__code=options["programme"])
        written = deadline_store.rebuild(orders)
        self.stdout.write(f"Échéances enregistrées recalculées : {written} échéances ouvertes.")
