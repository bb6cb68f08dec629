"""How the client space writes a moment: «16/12/2026 à 12 h», «mercredi 16 décembre 2026 à 12 h 30» (French
typography, Paris time)."""

from datetime import datetime

from django import template
from django.utils import formats, timezone

register = template.Library()


def _hour(moment: datetime) -> str:
    return f"{moment.hour} h" + (f" {moment:%M}" if moment.minute else "")


@register.filter
def moment_short(value: datetime | None) -> str:
    if not value:
        return ""
    local = timezone.localtime(value)
    return f"{local:%d/%m/%Y} à {_hour(local)}"


@register.filter
def moment_long(value: datetime | None) -> str:
    if not value:
        return ""
    local = timezone.localtime(value)
    return f"{formats.date_format(local, 'l j F Y')} à {_hour(local)}"


# One name per document, as the client reads it (issue #12: the VA is «Vérification d'aptitude» everywhere).
DOCUMENT_NAMES = {
    "order_form": "Bon de commande",
    "signed_order_form": "Bon de commande signé",
    "va": "Vérification d'aptitude",
    "signed_va": "Vérification d'aptitude signée",
    "pilot_pv": "Procès-verbal d'installation pilote",
    "signed_pilot_pv": "Procès-verbal d'installation pilote signé",
    "invoice": "Facture",
    "completion_attestation": "Attestation de fin de la mise à jour",
    "monitoring_journal": "Journal de suivi de l'utilisation",
}


@register.filter
def document_name(kind: str) -> str:
    return DOCUMENT_NAMES.get(kind, kind)
