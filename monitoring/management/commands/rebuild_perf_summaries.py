"""Write the missing or out-of-date PERF summaries (AF §3.3, §4.5): the same job Celery beat runs every night."""

from django.core.management.base import BaseCommand

from monitoring import services


class Command(BaseCommand):
    help = (
        "Calcule les synthèses PERF manquantes ou périmées de la Prestation secondaire "
        "(--all : toutes les commandes en Prestation secondaire)."
    )

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--all", action="store_true", help="Recalculer toutes les synthèses.")

    def handle(self, *args: object, **options: object) -> None:
        count = services.rebuild_perf_summaries(everything=bool(options["all"]))
        self.stdout.write(f"Synthèses PERF recalculées : {count}.")
