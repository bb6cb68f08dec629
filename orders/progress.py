"""An order's progress told to its client: the steps of the pipeline, where it stands, and what the client must do.

Pure functions over one loaded order (``select_related("programme", "solution")``): the client space, the client
e-mails and a future API read the same steps, and the deadlines come from ``rules.order_deadlines`` (SPEC §10).
"""

from dataclasses import dataclass
from datetime import datetime

from orders import rules
from orders.models import DocumentKind, Order, OrderState

DONE, CURRENT, TODO = "done", "current", "todo"

S = OrderState
# What the order's state means for the client, in plain French (AF §4.3–§4.5, §VII; the client reads no section
# numbers). One name per document, as in the client space's list (issue #12): «Vérification d'aptitude»,
# «procès-verbal d'installation pilote».
CLIENT_STATE_TEXT: dict[str, str] = {
    S.DRAFT: "Votre bon de commande est prêt : il attend votre signature.",
    S.PRE_ORDER: (
        "Votre commande est conditionnelle : elle deviendra ferme dès le référencement de la solution par l'ANS."
    ),
    S.FIRM: "Votre commande est ferme : votre éditeur dépose la demande de prise en charge auprès de l'ASP.",
    S.ADVANCE_REQUESTED: "La demande de prise en charge par l'État a été déposée auprès de l'ASP.",
    S.ADVANCE_PAID: "La prise en charge est accordée : votre éditeur prépare l'installation de la mise à jour.",
    S.INSTALLED: "La mise à jour est installée : il reste à signer la Vérification d'aptitude.",
    S.PILOT_PV_SIGNED: (
        "Le procès-verbal d'installation pilote est signé : il reste à signer la Vérification d'aptitude."
    ),
    S.VA_SIGNED: "La Vérification d'aptitude est signée : la Prestation principale est réalisée.",
    S.BALANCE_REQUESTED: "La Prestation principale est réalisée ; le solde est demandé à l'ASP.",
    S.BALANCE_PAID: (
        "La Prestation principale est réalisée et payée. L'usage du logiciel est suivi pendant la Prestation "
        "secondaire."
    ),
    S.SECONDARY_REQUESTED: "Le suivi d'usage est terminé ; la Prestation secondaire est demandée à l'ASP.",
    S.SECONDARY_PAID: "La Prestation secondaire est payée. Votre commande Ségur est menée à son terme.",
    S.CLOSED: "Votre commande Ségur est close.",
    S.LAPSED: (
        "Votre commande conditionnelle est caduque : la solution n'a pas été référencée dans les délais. "
        "Aucune somme ne vous est demandée."
    ),
    S.REIMBURSEMENT_DUE: (
        "La Prestation principale n'a pas été réalisée dans les délais du programme : votre éditeur reverse "
        "l'avance à l'ASP. Aucune somme ne vous est demandée."
    ),
    S.REIMBURSED: "L'avance a été reversée à l'ASP : la commande est close.",
    S.TERMINATED: "Vous avez résilié la commande ; l'ASP en est informée.",
    S.CANCELLED: "Cette commande a été annulée.",
}
SIDE_EXITS = {S.LAPSED, S.REIMBURSEMENT_DUE, S.REIMBURSED, S.TERMINATED, S.CANCELLED, S.CLOSED}


@dataclass(frozen=True)
class Step:
    label: str
    status: str  # DONE, CURRENT or TODO
    at: datetime | None = None


def _milestones(order: Order) -> list[tuple[str, datetime | None]]:
    """The happy path of SPEC §7 as the client sees it, each with the moment it was reached (or None)."""
    signed_label = "Bon de commande signé" + (" (commande conditionnelle)" if order.state == S.PRE_ORDER else "")
    milestones: list[tuple[str, datetime | None]] = [
        (signed_label, order.signed_at),
        ("Commande ferme", order.firm_at),
        ("Prise en charge demandée à l'ASP", order.advance_requested_at),
        ("Avance versée par l'ASP à votre éditeur", order.advance_paid_at),
        ("Mise à jour installée", order.installed_at),
    ]
    if order.is_pilot:
        milestones.append(("Procès-verbal d'installation pilote signé", order.pilot_pv_signed_at))
    milestones += [
        ("Vérification d'aptitude signée", order.va_signed_at),
        ("Solde versé par l'ASP", order.balance_paid_at),
        ("Prestation secondaire (suivi d'usage) versée", order.secondary_paid_at),
    ]
    return milestones


def order_steps(order: Order) -> list[Step]:
    """Each milestone done (with its date), the next one current, the others to come.

    A side exit (lapsed, reimbursement due, terminated, cancelled) stops the path: nothing after is "current".
    """
    steps, current_given = [], order.state in SIDE_EXITS
    for label, at in _milestones(order):
        if at is not None:
            steps.append(Step(label, DONE, at))
        elif not current_given:
            steps.append(Step(label, CURRENT))
            current_given = True
        else:
            steps.append(Step(label, TODO))
    return steps


# The client's own deadlines (actor "client" in SPEC §10), in the client's words, with the document to sign.
CLIENT_ACTION_TEXT: dict[str, tuple[str, str]] = {
    "DATE_4_SIGNATURE": ("Signer le bon de commande", DocumentKind.ORDER_FORM),
    "PILOT_PV_SIGNATURE": ("Signer le procès-verbal d'installation pilote", DocumentKind.PILOT_PV),
    "VA_SIGNATURE": ("Signer la Vérification d'aptitude", DocumentKind.VA),
}


@dataclass(frozen=True)
class ClientAction:
    label: str
    due_at: datetime
    reference: str
    overdue: bool
    document_kind: str


def client_actions(order: Order, now: datetime) -> list[ClientAction]:
    """What the client itself must do, by due date: its deadlines from ``rules.order_deadlines`` not yet met."""
    actions = []
    for deadline in rules.order_deadlines(order, now):
        if deadline.actor != "client" or deadline.status == rules.MET:
            continue
        label, document_kind = CLIENT_ACTION_TEXT.get(deadline.code, (deadline.action, ""))
        overdue = deadline.status == rules.OVERDUE
        actions.append(ClientAction(label, deadline.due_at, deadline.reference, overdue, document_kind))
    return actions


def client_state_text(order: Order) -> str:
    """The state in the client's words; an installed pilot order signs its pilot PV before its VA (AF §6.3)."""
    if order.state == S.INSTALLED and order.is_pilot:
        return "La mise à jour est installée : il reste à signer le procès-verbal d'installation pilote."
    return CLIENT_STATE_TEXT.get(order.state, order.get_state_display())
