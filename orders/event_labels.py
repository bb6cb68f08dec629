"""The order event log (French source, through gettext): one label for every ``OrderEvent.action`` code.

Every code of ``services.ACTIONS`` plus the events written outside the state machine (creation, terms, checklist,
invoices). ``tests/orders/test_order_page_workspace.py`` fails when a service writes a code that has no label here.
"""

from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from orders.models import OrderState
from orders.rules import DEPLOYMENT_CHECKLIST

EVENT_LABELS: dict[str, Any] = {
    "create": _("Bon de commande créé"),
    "update_terms": _("Montants du bon de commande modifiés"),
    "update_checklist": _("Liste de déploiement mise à jour"),
    "invoice_issue": _("Facture émise"),
    "invoice_credit": _("Avoir émis"),
    "sign": _("Signature du client enregistrée"),
    "firm": _("Commande conditionnelle affermie"),
    "lapse": _("Caducité constatée"),
    "file_advance": _("Demande d'avance déposée"),
    "record_advance_paid": _("Versement de l'avance enregistré"),
    "return_advance": _("Retour de l'ASP sur l'avance"),
    "record_installation": _("Installation enregistrée"),
    "sign_pilot_pv": _("PV d'installation pilote enregistré"),
    "sign_va": _("VA signée enregistrée"),
    "attest_completion": _("Attestation de fin de Prestation principale envoyée"),
    "file_balance": _("Demande de solde déposée"),
    "record_balance_paid": _("Versement du solde enregistré"),
    "return_balance": _("Retour de l'ASP sur le solde"),
    "file_secondary": _("Demande de Prestation secondaire déposée"),
    "record_secondary_paid": _("Versement de la Prestation secondaire enregistré"),
    "close": _("Commande clôturée"),
    "declare_not_completed": _("Non-réalisation déclarée"),
    "record_referencing_withdrawal": _("Retrait du référencement constaté"),
    "record_reimbursement": _("Reversement à l'ASP enregistré"),
    "record_termination": _("Résiliation par le client enregistrée"),
    "cancel": _("Commande annulée"),
    "request_portability": _("Demande de portabilité des données enregistrée"),
    "deliver_portability": _("Export de portabilité livré"),
    "notify_date_2": _("Client informé (pas de dossier complet à la Date 2)"),
    "notify_termination": _("ASP informée de la résiliation"),
}
RETURN_KIND_LABELS = {"to_complete": _("Demande à compléter ou modifier"), "rejected": _("Demande rejetée")}


def event_label(code: str, accepted: bool = True) -> str:
    """The French name of an event; a refused attempt is named by what was attempted ("Tentative refusée : Annuler").
    An unknown code is shown as is rather than hidden (the test keeps it from happening)."""
    if not accepted:
        from orders.services import ACTIONS

        attempted = ACTIONS[code].label if code in ACTIONS else EVENT_LABELS.get(code, code)
        return gettext("Tentative refusée : %(action)s") % {"action": attempted}
    return str(EVENT_LABELS.get(code, code))


def state_label(state: str) -> str:
    return str(OrderState(state).label) if state in OrderState.values else state


def payload_details(action: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The parts of an event's payload a person reads, as (French name, value) pairs; never the raw JSON."""
    details: list[tuple[str, str]] = []
    if payload.get("return_kind"):
        decision = RETURN_KIND_LABELS.get(payload["return_kind"], payload["return_kind"])
        details.append((gettext("Décision de l'ASP"), str(decision)))
    if payload.get("asp_message"):
        details.append((gettext("Message de l'ASP"), str(payload["asp_message"])))
    if payload.get("reason"):
        details.append((gettext("Motif"), str(payload["reason"])))
    if payload.get("asp_reference"):
        details.append((gettext("Référence ASP"), str(payload["asp_reference"])))
    if payload.get("signatory_name"):
        details.append((gettext("Signataire"), str(payload["signatory_name"])))
    if action.startswith("invoice_") and payload.get("number"):
        details.append((gettext("Numéro"), str(payload["number"])))
    if action == "invoice_credit" and payload.get("credits"):
        details.append((gettext("Annule la facture"), str(payload["credits"])))
    if action == "update_checklist":
        labels = dict(DEPLOYMENT_CHECKLIST)
        ticked = [labels.get(code, code) for code, value in payload.items() if value]
        unticked = [labels.get(code, code) for code, value in payload.items() if not value]
        if ticked:
            details.append((gettext("Cochés"), ", ".join(ticked)))
        if unticked:
            details.append((gettext("Décochés"), ", ".join(unticked)))
    return details
