"""Demo data so the product shows something true on its first start. Running it twice changes nothing."""

import logging
from time import perf_counter

from django.core.management.base import BaseCommand

from orders.demo import DEMO_PASSWORD, seed_demo, showcase_client_order
from orders.models import OrderState
from portal.access import access_url


class Command(BaseCommand):
    help = "Crée les données de démonstration (idempotent) et affiche l'identifiant administrateur."

    def handle(self, *args: object, **options: object) -> None:
        started = perf_counter()
        # Hundreds of transitions are replayed: their audit is in the event log, not in the console.
        logging.getLogger("orders.services").setLevel(logging.WARNING)
        result = seed_demo()
        if result.created:
            self.stdout.write(f"Données de démonstration créées en {perf_counter() - started:.1f} s.")
        else:
            self.stdout.write("Données de démonstration déjà présentes : rien n'a été modifié.")
        for state in OrderState:
            if result.counts.get(state.value):
                self.stdout.write(f"  {state.label:<28} {result.counts[state.value]:>4}")
        self.stdout.write(f"Admin: http://127.0.0.1:8000/admin/  login admin / {DEMO_PASSWORD}")
        team = "c.durand, l.petit (commerciaux), m.bernard (déploiement), s.moreau (finance), a.roux (administratrice)"
        self.stdout.write(f"Équipe : {team} — mot de passe {DEMO_PASSWORD}")
        self._show_portal_link()

    def _show_portal_link(self) -> None:
        """A client's personal link, so the client space can be seen at once (a client with a VA to sign)."""
        order = showcase_client_order()
        if order is not None:
            self.stdout.write(f"Espace client de {order.client.name} : {access_url(order.client, order.client.email)}")
