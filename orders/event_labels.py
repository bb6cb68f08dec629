"""The order event log in French: one label for every ``OrderEvent.action`` code the services write.

Every code of ``services.ACTIONS`` plus the events written outside the state machine (creation, terms, checklist,
invoices). ``tests/orders/test_order_page_workspace.py`` fails when a service writes a code that has no label here.
"""

from typing import Any

from orders.models import OrderState
from orders.rules import DEPLOYMENT_CHECKLIST

EVENT_LABELS: dict[str, str] = {
    "create": "Bon de commande créé",
    "update_terms": "Montants du bon de commande modifiés",
    "update_checklist": "Liste de déploiement mise à jour",
    "invoice_issue": "Facture émise",
    "invoice_credit": "Avoir émis",
    "sign": "Signature du client enregistrée",
    "firm": "Commande conditionnelle affermie",
    "lapse": "Caducité constatée",
    "file_advance": "Demande d'avance déposée",
    "record_advance_paid": "Versement de l'avance enregistré",
    "return_advance": "Retour de l'ASP sur l'avance",
    "record_installation": "Installation enregistrée",
    "sign_pilot_pv": "PV d'installation pilote enregistré",
    "sign_va": "VA signée enregistrée",
    "attest_completion": "Attestation de fin de Prestation principale envoyée",
    "file_balance": "Demande de solde déposée",
    "record_balance_paid": "Versement du solde enregistré",
    "return_balance": "Retour de l'ASP sur le solde",
    "file_secondary": "Demande de Prestation secondaire déposée",
    "record_secondary_paid": "Versement de la Prestation secondaire enregistré",
    "close": "Commande clôturée",
    "declare_not_completed": "Non-réalisation déclarée",
    "record_referencing_withdrawal": "Retrait du référencement constaté",
    "record_reimbursement": "Reversement à l'ASP enregistré",
    "record_termination": "Résiliation par le client enregistrée",
    "cancel": "Commande annulée",
    "request_portability": "Demande de portabilité des données enregistrée",
    "deliver_portability": "Export de portabilité livré",
    "notify_date_2": "Client informé (pas de dossier complet à la Date 2)",
    "notify_termination": "ASP informée de la résiliation",
}
RETURN_KIND_LABELS = {"to_complete": "Demande à compléter ou modifier", "rejected": "Demande rejetée"}


def event_label(code: str, accepted: bool = True) -> str:
    """The French name of an event; a refused attempt is named by what was attempted ("Tentative refusée : Annuler").
    An unknown code is shown as is rather than hidden (the test keeps it from happening)."""
    if not accepted:
        from orders.services import ACTIONS

        attempted = ACTIONS[code].label if code in ACTIONS else EVENT_LABELS.get(code, code)
        return f"Tentative refusée : {attempted}"
    return EVENT_LABELS.get(code, code)


def state_label(state: str) -> str:
    return str(OrderState(state).label) if state in OrderState.values else state


def payload_details(action: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """The parts of an event's payload a person reads, as (French name, value) pairs; never the raw JSON."""
    details: list[tuple[str, str]] = []
    if payload.get("return_kind"):
        details.append(("Décision de l'ASP", RETURN_KIND_LABELS.get(payload["return_kind"], payload["return_kind"])))
    if payload.get("asp_message"):
        details.append(("Message de l'ASP", str(payload["asp_message"])))
    if payload.get("reason"):
        details.append(("Motif", str(payload["reason"])))
    if payload.get("asp_reference"):
        details.append(("Référence ASP", str(payload["asp_reference"])))
    if payload.get("signatory_name"):
        details.append(("Signataire", str(payload["signatory_name"])))
    if action.startswith("invoice_") and payload.get("number"):
        details.append(("Numéro", str(payload["number"])))
    if action == "invoice_credit" and payload.get("credits"):
        details.append(("Annule la facture", str(payload["credits"])))
    if action == "update_checklist":
        labels = dict(DEPLOYMENT_CHECKLIST)
        ticked = [labels.get(code, code) for code, value in payload.items() if value]
        unticked = [labels.get(code, code) for code, value in payload.items() if not value]
        if ticked:
            details.append(("Cochés", ", ".join(ticked)))
        if unticked:
            details.append(("Décochés", ", ".join(unticked)))
    return details
