"""Online signature by the client (eIDAS simple electronic signature, AF §4.3 and §6.4; Code civil art. 1366–1367).

The client reads the exact PDF, types the signatory's name and capacity, ticks the consent box and confirms with a
one-time code e-mailed to the address its personal link was sent to (6 digits, 10 minutes, 5 tries, stored hashed).
Then the original plus an evidence page is sealed (``portal.sealing``), the matching transition runs through
``orders.services.perform`` and its guards (order form → pre-order or firm, pilot PV → pilot PV signed, VA → VA
signed) with the sealed copy as the signed document, and an evidence row is appended to the chain
(``portal.evidence``).
"""

import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from orders import rules, services
from orders.exceptions import BusinessRuleError
from orders.models import Document, Order, SignatureMethod
from portal.access import ClientAccess, access_url
from portal.evidence import evidence_append
from portal.models import PortalEventKind, SignatureEvidence, SignatureInvitation, SigningCode

logger = logging.getLogger(__name__)

CODE_VALIDITY = timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
NAME_MAX_LENGTH = 200


@dataclass(frozen=True)
class Signable:
    """A document the client signs online: the action it runs and the kind of its sealed copy."""

    action: str
    signed_kind: str
    label: str  # one name per document, as the client reads it


SIGNABLE = {
    "order_form": Signable("sign", "signed_order_form", "Bon de commande"),
    "pilot_pv": Signable("sign_pilot_pv", "signed_pilot_pv", "Procès-verbal d'installation pilote"),
    "va": Signable("sign_va", "signed_va", "Vérification d'aptitude"),
}


def consent_text(document: Document) -> str:
    """The exact text the signatory consents to (stored in the evidence)."""
    label = SIGNABLE[document.kind].label.lower()
    return (
        f"Je, soussigné(e), ai lu l'intégralité du document « {SIGNABLE[document.kind].label} » de la commande "
        f"{document.order.number} (version {document.version}) affiché ci-dessus, et je le signe électroniquement. "
        f"J'accepte que ma signature soit confirmée par un code à usage unique envoyé à mon adresse e-mail, et que "
        f"cette signature électronique simple m'engage comme une signature manuscrite du {label}."
    )


class SigningRefused(Exception):
    """Signing is not possible; ``message`` is shown to the client (French, no jargon); ``field`` names the input."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


def plain_text(message: str) -> str:
    """A rule's message without its section reference, as a client reads it."""
    return re.sub(r"\s*\((?:AF|SPEC|CCTP)[^)]*\)", "", message).strip()


def moment_text(value: datetime) -> str:
    """«16/12/2026 à 12 h» (Paris time), as clients read a deadline."""
    moment = value.astimezone(rules.PARIS)
    return f"{moment:%d/%m/%Y} à {moment.hour} h" + (f" {moment:%M}" if moment.minute else "")


def signable_documents(order: Order) -> dict[str, Document]:
    """The latest version of each signable document of the order, by kind."""
    latest: dict[str, Document] = {}
    for document in Document.objects.filter(order=order, kind__in=SIGNABLE).order_by("kind", "-version"):
        latest.setdefault(document.kind, document)
    return latest


def signing_refusal(document: Document, now: datetime | None = None) -> str | None:
    """Why ``document`` cannot be signed online now (French, for the client), or ``None`` when it can."""
    now = now or timezone.now()
    order = document.order
    signable = SIGNABLE.get(document.kind)
    if signable is None:
        return "Ce document ne se signe pas."
    newer = Document.objects.filter(order=order, kind=document.kind, version__gt=document.version).exists()
    if newer:
        return "Une version plus récente de ce document existe : c'est elle qu'il faut signer."
    if Document.objects.filter(order=order, kind=signable.signed_kind).exists():
        return "Ce document est déjà signé : sa copie signée est dans vos documents."
    if document.kind == "order_form" and now > order.programme.date_4:
        return (
            f"Le bon de commande ne peut plus être signé : la date limite de signature, fixée par le programme Ségur, "
            f"était le {moment_text(order.programme.date_4)}. Contactez votre éditeur."
        )
    action = services.ACTIONS[signable.action]
    violations = services.action_violations(order, action, _params(document, "", now), None, now)
    if violations:
        if any(v.code == "STATE_NOT_ALLOWED" for v in violations):
            return "Ce document ne peut pas être signé à cette étape de votre commande. Contactez votre éditeur."
        return "Signature impossible pour le moment : " + " ".join(plain_text(v.message) for v in violations)
    return None


def _params(document: Document, signatory_name: str, now: datetime) -> dict[str, object]:
    if document.kind == "order_form":
        return {
            "signed_at": now,
            "signature_method": SignatureMethod.EIDAS_SIMPLE.value,
            "signatory_name": signatory_name or "—",
        }
    return {"signed_at": now}


def _code_hash(code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()
    return f"{salt}${digest}"


def _code_matches(code: str, stored: str) -> bool:
    salt, _sep, _digest = stored.partition("$")
    return hmac.compare_digest(_code_hash(code, salt), stored)


def _clean_text(value: str, label: str, field: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise SigningRefused(f"{label} : ce champ est obligatoire.", field)
    if len(value) > NAME_MAX_LENGTH:
        raise SigningRefused(f"{label} : {NAME_MAX_LENGTH} caractères au plus.", field)
    return value


def document_bytes(document: Document) -> bytes:
    with document.file.open("rb") as handle:
        return handle.read()


def code_send(
    *,
    granted: ClientAccess,
    document: Document,
    signatory_name: str,
    signatory_capacity: str,
    consent: bool,
    now: datetime | None = None,
) -> SigningCode:
    """Check what the signatory typed, then e-mail a fresh one-time code (earlier codes for the document stop
    working). Refused with ``SigningRefused`` naming the field."""
    from monitoring.reminders import outbox_add, outbox_send_soon

    now = now or timezone.now()
    refusal = signing_refusal(document, now)
    if refusal:
        raise SigningRefused(refusal)
    name = _clean_text(signatory_name, "Nom et prénom du signataire", "signatory_name")
    capacity = _clean_text(signatory_capacity, "Qualité du signataire", "signatory_capacity")
    if not consent:
        raise SigningRefused("Cochez la case de consentement pour signer.", "consent")
    code = f"{secrets.randbelow(10**6):06d}"
    with transaction.atomic():
        SigningCode.objects.filter(
            document=document, client=granted.client, used_at__isnull=True, cancelled_at__isnull=True
        ).update(cancelled_at=now)
        signing_code = SigningCode.objects.create(
            client=granted.client,
            document=document,
            link=granted.link,
            email=granted.email,
            code_hash=_code_hash(code),
            signatory_name=name,
            signatory_capacity=capacity,
            consent_text=consent_text(document),
            document_sha256=document.sha256,
            sent_at=now,
            expires_at=now + CODE_VALIDITY,
        )
        outbox_add(
            key=f"signing_code:{signing_code.pk}",
            kind="signing_code",
            to=granted.email,
            subject=f"Votre code pour signer : {SIGNABLE[document.kind].label.lower()} {document.order.number}",
            template="emails/signing_code",
            context={
                "code": code,
                "label": SIGNABLE[document.kind].label,
                "order": document.order,
                "minutes": int(CODE_VALIDITY.total_seconds() // 60),
                "name": name,
            },
        )
        transaction.on_commit(outbox_send_soon)
    return signing_code


def code_check(*, granted: ClientAccess, signing_code_id: int, typed: str, now: datetime | None = None) -> SigningCode:
    """The code typed is the right one, unused, in time, within its tries: it is used up and returned. Otherwise a
    wrong try is counted and ``SigningRefused`` says what to do."""
    now = now or timezone.now()
    typed = "".join((typed or "").split())
    with transaction.atomic():
        signing_code = (
            SigningCode.objects.select_for_update()
            .filter(pk=signing_code_id, client=granted.client, link=granted.link)
            .first()
        )
        if signing_code is None:
            raise SigningRefused("Ce code ne correspond à aucune demande de signature : demandez un nouveau code.")
        if signing_code.used_at is not None:
            raise SigningRefused("Ce code a déjà servi : demandez un nouveau code pour signer.")
        if signing_code.cancelled_at is not None:
            raise SigningRefused("Un code plus récent vous a été envoyé : saisissez le dernier code reçu.")
        if now >= signing_code.expires_at:
            raise SigningRefused("Ce code a expiré (il est valable 10 minutes) : demandez un nouveau code.")
        if signing_code.attempts >= CODE_MAX_ATTEMPTS:
            raise SigningRefused("Trop d'essais (5 au plus) : demandez un nouveau code.")
        if not re.fullmatch(r"\d{6}", typed) or not _code_matches(typed, signing_code.code_hash):
            signing_code.attempts += 1
            signing_code.save(update_fields=["attempts"])
            left = CODE_MAX_ATTEMPTS - signing_code.attempts
            wrong = "Code incorrect : saisissez les 6 chiffres reçus par e-mail"
            if left:
                message = f"{wrong} (encore {left} essai{'s' if left > 1 else ''})."
            else:
                message = "Code incorrect, et c'était le dernier essai : demandez un nouveau code."
            refused = SigningRefused(message, "code")
        else:
            signing_code.used_at = now
            signing_code.save(update_fields=["used_at"])
            refused = None
    if refused is not None:
        raise refused
    return signing_code


def sign(
    *,
    granted: ClientAccess,
    signing_code_id: int,
    typed: str,
    ip_address: str | None,
    user_agent: str,
    now: datetime | None = None,
) -> SignatureEvidence:
    """Confirm a signature with its code: seal the signed copy, run the transition, append the evidence, e-mail
    the signed copy. Refused with ``SigningRefused`` (nothing signed)."""
    from portal.sealing import evidence_page_pdf, seal, with_evidence_page
    from portal.services import event_record

    now = now or timezone.now()
    signing_code = code_check(granted=granted, signing_code_id=signing_code_id, typed=typed, now=now)
    document = Document.objects.select_related("order__client", "order__solution__provider", "order__programme").get(
        pk=signing_code.document_id
    )
    refusal = signing_refusal(document, now)
    if refusal:
        raise SigningRefused(refusal)
    original = document_bytes(document)
    if hashlib.sha256(original).hexdigest() != document.sha256 or document.sha256 != signing_code.document_sha256:
        logger.error("document %s: stored file does not match its SHA-256; online signature refused", document.pk)
        raise SigningRefused("Ce document ne peut pas être signé en ligne : contactez votre éditeur.")
    signable = SIGNABLE[document.kind]
    order = document.order
    page_context = {
        "order": order,
        "document": document,
        "document_label": signable.label,
        "signatory_name": signing_code.signatory_name,
        "signatory_capacity": signing_code.signatory_capacity,
        "email": signing_code.email,
        "code_sent_at": signing_code.sent_at.astimezone(rules.PARIS),
        "code_verified_at": now.astimezone(rules.PARIS),
        "ip_address": ip_address,
        "user_agent": user_agent[:255],
        "consent_text": signing_code.consent_text,
        "document_sha256": document.sha256,
        "provider_name": order.solution.provider.name,
    }
    sealed = seal(
        with_evidence_page(original, evidence_page_pdf(page_context)),
        reason=f"{signable.label} {order.number} signé par {signing_code.signatory_name} (eIDAS simple)",
    )
    upload = ContentFile(sealed, name=f"{order.number}-{signable.signed_kind}.pdf")
    try:
        with transaction.atomic():
            services.perform(
                signable.action,
                order_id=order.pk,
                acting_user=None,
                params=_params(document, signing_code.signatory_name, now) | {"signed_document": upload},
                now=now,
                actor_name=f"{signing_code.signatory_name} (signature en ligne)",  # not «Système» (issue #12)
            )
            signed_document = Document.objects.filter(order=order, kind=signable.signed_kind).order_by("-version")[0]
            evidence = evidence_append(
                order=order,
                document=document,
                signed_document=signed_document,
                client=granted.client,
                signatory_name=signing_code.signatory_name,
                signatory_capacity=signing_code.signatory_capacity,
                email=signing_code.email,
                code_sent_at=signing_code.sent_at,
                code_verified_at=now,
                ip_address=ip_address,
                user_agent=user_agent[:255],
                consent_text=signing_code.consent_text,
                document_sha256=document.sha256,
                signed_sha256=signed_document.sha256,
                signed_at=now,
            )
            event_record(
                PortalEventKind.SIGNED,
                client=granted.client,
                email=signing_code.email,
                order=order,
                document=signed_document,
                message=f"{signable.label} signé par {signing_code.signatory_name} ({signing_code.signatory_capacity})",
            )
            transaction.on_commit(lambda: signed_copy_send(evidence.pk))
    except BusinessRuleError as error:
        raise SigningRefused(
            "Signature impossible : " + " ".join(plain_text(v.message) for v in error.violations)
        ) from error
    return evidence


def signed_copy_send(evidence_id: int) -> None:
    """E-mail the sealed copy to the signatory, attached; if the mail server refuses, a link goes through the
    outbox instead (retried until sent)."""
    from monitoring.reminders import outbox_add, outbox_email, outbox_send_soon

    evidence = SignatureEvidence.objects.select_related("order", "signed_document", "document", "client").get(
        pk=evidence_id
    )
    label = SIGNABLE[evidence.document.kind].label
    context = {
        "evidence": evidence,
        "label": label,
        "order": evidence.order,
        "portal_url": access_url(evidence.client, evidence.email, order_number=evidence.order.number),
    }
    subject = f"{label} {evidence.order.number} : votre copie signée"
    rendered = outbox_email(
        key=f"signed_copy:{evidence.pk}",
        kind="signed_copy",
        to=evidence.email,
        subject=subject,
        template="emails/signed_copy",
        context=context,
    )
    message = EmailMessage(subject, rendered.body_text, settings.DEFAULT_FROM_EMAIL, [evidence.email])
    message.attach(
        f"{evidence.order.number}-{evidence.signed_document.kind}.pdf",
        document_bytes(evidence.signed_document),
        "application/pdf",
    )
    try:
        message.send()
    except Exception:  # the mail server is down: the outbox retries, with the link to the client space
        logger.warning("signed copy %s: direct e-mail failed, queued in the outbox", evidence.pk, exc_info=True)
        outbox_add(
            key=f"signed_copy:{evidence.pk}",
            kind="signed_copy",
            to=evidence.email,
            subject=subject,
            template="emails/signed_copy",
            context=context,
        )
        outbox_send_soon()


# --- Send for signature (staff) -------------------------------------------------------------------------------------

# The client reminders of the deadline engine that ask the client to sign, by the document they ask for.
REMINDER_DOCUMENT = {"DATE_4_SIGNATURE": "order_form", "PILOT_PV_SIGNATURE": "pilot_pv", "VA_SIGNATURE": "va"}


def kind_to_sign(order: Order) -> str | None:
    """The document the client has to sign at the order's state (AF §4.3, §6.3, §4.4), or ``None``."""
    if order.state == "draft":
        return "order_form"
    if order.state == "installed" and order.is_pilot:
        return "pilot_pv"
    if order.state in {"installed", "pilot_pv_signed"}:
        return "va"
    return None


def signature_request_send(*, order_id: int, acting_user: object, notify: bool = True) -> SignatureInvitation:
    """Staff "send for signature": the document to sign is generated if it does not exist yet (latest version
    otherwise), and the client is e-mailed a personal link to read and sign it (``notify=False``: recorded only, for
    the demo data). From then on the deadline engine reminds the client (``invited_order_kinds``). Refused with
    ``BusinessRuleError`` (nothing sent)."""
    from monitoring.reminders import client_email_context, outbox_add, outbox_send_soon
    from orders.documents import document_generate
    from orders.exceptions import RuleViolation
    from portal.services import event_record

    order = Order.objects.select_related("client", "programme", "solution").get(pk=order_id)
    kind = kind_to_sign(order)
    if kind is None:
        raise BusinessRuleError.single(
            "NOTHING_TO_SIGN",
            f"Rien à faire signer au client à l'état « {order.get_state_display()} ».",
            "AF §4.3",
        )
    address = order.client.email or next(
        (c.email for c in order.client.contacts.all() if c.is_signatory and c.email), ""
    )
    if not address:
        raise BusinessRuleError.single(
            "PORTAL_NO_ADDRESS",
            "aucune adresse e-mail (ni celle du client, ni celle d'un contact signataire) : ajoutez-en une.",
            "espace client",
            field="email",
        )
    document = signable_documents(order).get(kind) or document_generate(
        order_id=order.pk, kind=kind, acting_user=acting_user
    )
    refusal = signing_refusal(document)
    if refusal:
        raise BusinessRuleError([RuleViolation("NOT_SIGNABLE", refusal, "AF §4.3")])
    now = timezone.now()
    deadline = order.programme.date_4 if kind == "order_form" else order.programme.date_5
    with transaction.atomic():
        invitation = SignatureInvitation.objects.create(
            order=order,
            document=document,
            email=address.lower(),
            sent_at=now,
            sent_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        )
        if notify:
            outbox_add(
                key=f"signature_invitation:{invitation.pk}",
                kind="signature_invitation",
                to=address,
                subject=f"{SIGNABLE[kind].label} de votre commande Ségur {order.number} : à signer en ligne",
                template="emails/signature_invitation",
                context={
                    **client_email_context(order, address),
                    "label": SIGNABLE[kind].label,
                    "deadline_text": moment_text(deadline),
                },
            )
            transaction.on_commit(outbox_send_soon)
        event_record(
            PortalEventKind.SENT_FOR_SIGNATURE,
            client=order.client,
            email=address.lower(),
            actor=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            order=order,
            document=document,
        )
    return invitation


def reminders_follow_sending() -> bool:
    """Clients are reminded only of documents sent to them for signature (issue #12), unless the deployment switches
    it off (``SEGUR_CLIENT_REMINDERS_AFTER_SENDING=0``: a provider that does not use online signing)."""
    return os.environ.get("SEGUR_CLIENT_REMINDERS_AFTER_SENDING", "1") != "0"


def invited_order_kinds(order_ids: list[int]) -> set[tuple[int, str]]:
    """(order, document kind) pairs already sent to the client for signature (one query)."""
    pairs = SignatureInvitation.objects.filter(order_id__in=order_ids).values_list("order_id", "document__kind")
    return set(pairs)
