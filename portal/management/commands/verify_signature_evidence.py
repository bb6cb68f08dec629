"""Check the whole chain of signature evidence (AF §4.3): exit status 1 and each broken row listed if any."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.evidence import evidence_chain_verify
from portal.models import SignatureEvidence


class Command(BaseCommand):
    help = "Vérifie la chaîne des preuves de signature (chaque preuve contient l'empreinte de la précédente)."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = evidence_chain_verify()
        if problems:
            for problem in problems:
                self.stderr.write(f"Preuve n° {problem.evidence_id} : {problem.message}")
            raise CommandError("Chaîne des preuves rompue : voir les preuves ci-dessus.")
        count = SignatureEvidence.objects.count()
        self.stdout.write(self.style.SUCCESS(f"Chaîne des preuves intacte ({count} preuves vérifiées)."))
