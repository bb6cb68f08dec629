"""Run the daily deadline scan now (the same job Celery beat runs at 07:00 Paris), then send the outbox."""

import json

from django.core.management.base import BaseCommand

from monitoring import reminders


class Command(BaseCommand):
    help = "Applique les conséquences des échéances et prépare les rappels du jour (une seule fois par jour)."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--no-send", action="store_true", help="Ne pas envoyer la boîte d'envoi.")

    def handle(self, *args: object, **options: object) -> None:
        summary = reminders.deadlines_scan()
        if summary.skipped:
            self.stdout.write(f"Scan du {summary.run_date} déjà effectué : rien de nouveau.")
        else:
            self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
        if not options["no_send"]:
            counts = reminders.outbox_send_due()
            self.stdout.write(f"Boîte d'envoi : {counts['sent']} envoyé(s), {counts['failed']} en échec.")
