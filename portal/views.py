"""The client space (French): a client opens it with the personal link it received by e-mail and sees only its own
orders, their progress, what it must sign and by when, and its documents. A thin adapter: the progress, the deadlines
and the documents come from ``orders.progress`` and ``orders.selectors``; links and the audit trail from ``portal``.
"""

import logging
import mimetypes
from collections.abc import Callable
from functools import wraps
from pathlib import PurePath
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from orders import progress, rules, selectors
from orders.documents import document_download_name
from orders.exceptions import BusinessRuleError
from orders.models import Document, Order
from portal import client_requests, services, signing
from portal.access import AccessRefused, ClientAccess, session_link
from portal.models import PortalEventKind, PortalLink, SatisfactionAnswer, SigningCode, TrainingSession

logger = logging.getLogger(__name__)

SESSION_KEY = "portal_access"
NO_ACCESS_MESSAGE = (
    "Pour ouvrir votre espace client, utilisez le lien personnel reçu par e-mail ou demandez-en un nouveau."
)
PortalView = Callable[..., HttpResponse]
# A client session ends after 30 minutes without a page seen (issue #12); the personal link opens a new one.
IDLE_TIMEOUT_SECONDS = 30 * 60


class LinkRequestForm(forms.Form):
    email = forms.EmailField(
        label="Votre adresse e-mail",
        max_length=254,
        error_messages={
            "required": "Saisissez l'adresse e-mail à laquelle votre éditeur vous écrit.",
            "invalid": "Saisissez une adresse e-mail valide (par exemple : dr.martin@cabinet.fr).",
        },
    )


def request_meta(request: HttpRequest) -> services.RequestMeta:
    return services.RequestMeta(
        ip_address=request.META.get("REMOTE_ADDR") or None, user_agent=request.META.get("HTTP_USER_AGENT", "")
    )


def session_link_id(request: HttpRequest) -> int | None:
    """The link this browser opened the space with (sessions opened before links were opaque hold none)."""
    data = request.session.get(SESSION_KEY)
    link_id = data.get("link") if isinstance(data, dict) else None
    return link_id if isinstance(link_id, int) else None


def session_access(request: HttpRequest) -> ClientAccess | None:
    """The access this browser holds, re-checked on every page (a revoked link or removed address ends it)."""
    link_id = session_link_id(request)
    return None if link_id is None else session_link(link_id)


def in_french(view: PortalView) -> PortalView:
    """Clients read French whatever their browser asks for (dates, month names, messages); what a client sees is
    personal, so no browser or proxy keeps a copy of it."""

    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with translation.override("fr"):  # the views render their templates inside (``render``)
            response = view(request, *args, **kwargs)
        response["Content-Language"] = "fr"
        return response

    return wrapper


def client_required(view: PortalView) -> PortalView:
    @in_french
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            access = session_access(request)
        except AccessRefused as refused:
            request.session.pop(SESSION_KEY, None)
            messages.error(request, refused.message)
            return redirect("portal:request_link")
        if access is None:
            messages.info(request, NO_ACCESS_MESSAGE)
            return redirect("portal:request_link")
        request.session.set_expiry(IDLE_TIMEOUT_SECONDS)  # every page seen restarts the 30 minutes
        return view(request, access, *args, **kwargs)

    return wrapper


@in_french
def access(request: HttpRequest, token: str) -> HttpResponse:
    """Open the client space from a personal link, then leave the link out of the address bar (and out of the
    ``Referer`` of whatever the refusal page loads or submits)."""
    try:
        granted = services.access_link_open(token=token, meta=request_meta(request))
    except AccessRefused as refused:
        context = {"refusal": refused.message, "form": LinkRequestForm()}
        response = render(request, "portal/request_link.html", context, status=403)
    else:
        request.session.cycle_key()
        request.session[SESSION_KEY] = {"link": granted.link.pk}
        request.session.set_expiry(IDLE_TIMEOUT_SECONDS)
        response = redirect(landing_page(request))
    response["Referrer-Policy"] = "no-referrer"
    return response


def landing_page(request: HttpRequest) -> str:
    """Where a link lands: the page it names (``?suite=``) if it is a page of the client space, else the home."""
    home_path = reverse("portal:home")
    wanted = request.GET.get("suite", "")
    safe = url_has_allowed_host_and_scheme(wanted, allowed_hosts=None) and wanted.startswith(home_path)
    return wanted if safe else home_path


@in_french
def request_link(request: HttpRequest) -> HttpResponse:
    """Ask for a new personal link; the answer is the same whether the address is known or not."""
    form = LinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.access_link_request(email=form.cleaned_data["email"], meta=request_meta(request))
        return redirect(f"{request.path}?envoye=1")
    sent = request.GET.get("envoye") == "1"
    return render(request, "portal/request_link.html", {"form": form, "sent": sent})


@require_POST
@in_french
def logout(request: HttpRequest) -> HttpResponse:
    """End the session for good: its data and its key are discarded (the old session cookie opens nothing)."""
    link_id = session_link_id(request)
    link = PortalLink.objects.select_related("client").filter(pk=link_id).first() if link_id else None
    if link is not None:
        services.event_record(PortalEventKind.LOGOUT, client=link.client, email=link.email, meta=request_meta(request))
    request.session.flush()
    messages.success(request, "Vous êtes déconnecté de votre espace client.")
    return redirect("portal:request_link")


@client_required
def home(request: HttpRequest, granted: ClientAccess) -> HttpResponse:
    now = timezone.now()
    page = Paginator(selectors.client_orders(granted.client.pk), settings.PORTAL_ORDERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = [
        {"order": order, "text": progress.client_state_text(order), "actions": progress.client_actions(order, now)}
        for order in page.object_list
    ]
    return render(request, "portal/home.html", {"access": granted, "page": page, "rows": rows})


@client_required
def order_detail(request: HttpRequest, granted: ClientAccess, number: str) -> HttpResponse:
    """One order's status page; another client's order does not exist here (404, never 403)."""
    order = selectors.client_orders(granted.client.pk).filter(number=number).first()
    if order is None:
        raise Http404("Commande introuvable dans votre espace client.")
    now = timezone.now()
    documents = selectors.client_documents(order)
    actions = progress.client_actions(order, now)
    latest_by_kind = {document.kind: document for document in documents if document.invoice_id is None}
    context = {
        "access": granted,
        "order": order,
        "pre_order_deadline": rules.pre_order_deadline(order, order.programme) if order.state == "pre_order" else None,
        "portability_open": client_requests.portability_open(order),
        "portability_due": client_requests.portability_due(order),
        "usage_months": usage_months(order),
        "perf_words": perf_words(order),
        "satisfaction_open": order.va_signed_at is not None
        and not SatisfactionAnswer.objects.filter(order=order).exists(),
        "text": progress.client_state_text(order),
        "steps": progress.order_steps(order),
        "actions": [(action, latest_by_kind.get(action.document_kind)) for action in actions],
        "documents": documents,
        "provider": order.solution.provider,
    }
    return render(request, "portal/order_detail.html", context)


def perf_words(order: Order) -> list[str]:
    """The level the best six months reach and what is missing, as in the client's monthly e-mail (AF §4.5)."""
    from monitoring.notices import client_perf_words
    from monitoring.services import order_analysis

    if rules.secondary_start(order) is None:
        return []
    return client_perf_words(order_analysis(order), window_months=order.programme.secondary_window_months)


def usage_months(order: Order) -> list[dict[str, Any]]:
    """After the secondary prestation starts (AF §4.5), each month's share of documents sent, in words (PERF: at
    least 60 % sent for the full level, 40 % for half, over six months, AF §3.3)."""
    if rules.secondary_start(order) is None:
        return []
    rows = []
    for month in order.monitoring_months.order_by("month"):
        share = round(100 * month.documents_sent / month.documents_expected) if month.documents_expected else None
        if share is None:
            words = "aucun document à envoyer ce mois-là"
        elif share >= 60:
            words = "objectif atteint (60 % au moins : niveau plein)"
        elif share >= 40:
            words = "objectif atteint à moitié (entre 40 % et 60 %)"
        else:
            words = "objectif non atteint (moins de 40 %)"
        rows.append(
            {
                "month": month.month,
                "sent": month.documents_sent,
                "expected": month.documents_expected,
                "share": share,
                "words": words,
            }
        )
    return rows


@client_required
@require_POST
def portability_request(request: HttpRequest, granted: ClientAccess, number: str) -> HttpResponse:
    """The client asks for its data (AF §4.4): recorded through the order's action, confirmed by e-mail."""
    order = selectors.client_orders(granted.client.pk).filter(number=number).first()
    if order is None:
        raise Http404("Commande introuvable dans votre espace client.")
    try:
        order = client_requests.portability_request(granted=granted, order_id=order.pk)
    except BusinessRuleError as error:
        messages.error(request, "Demande impossible : " + signing.plain_text(error.message))
    else:
        messages.success(
            request,
            "Votre demande de portabilité est enregistrée ; une confirmation vous a été envoyée par e-mail. "
            f"L'export de vos données vous sera remis au plus tard le "
            f"{client_requests.portability_due(order):%d/%m/%Y} à 12 h.",
        )
    return redirect("portal:order", number=order.number)


@client_required
def document_download(request: HttpRequest, granted: ClientAccess, document_id: int) -> FileResponse:
    """A document of the client's own orders only; each download is recorded."""
    document = (
        Document.objects.select_related("order", "invoice")
        .filter(pk=document_id, order__client_id=granted.client.pk)
        .first()
    )
    if document is None:
        raise Http404("Document introuvable dans votre espace client.")
    try:
        content = document.file.open("rb")
    except OSError as error:  # the row is there but its file is lost: staff must know, the client gets a 404
        logger.error("Document %s : fichier %s illisible (%s)", document.pk, document.file.name, error)
        raise Http404("Document introuvable dans votre espace client.") from error
    services.event_record(
        PortalEventKind.DOWNLOAD,
        client=granted.client,
        email=granted.email,
        meta=request_meta(request),
        order=document.order,
        document=document,
    )
    suffix = PurePath(document.file.name).suffix or ".pdf"
    content_type = mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream"
    return FileResponse(
        content,
        as_attachment=True,
        filename=document_download_name(document).removesuffix(".pdf") + suffix,  # French names (issue 11)
        content_type=content_type,
    )


# --- Online signature (AF §4.3, §6.4) --------------------------------------------------------------------------------

SIGNING_SESSION_KEY = "portal_signing"


class SignatoryForm(forms.Form):
    signatory_name = forms.CharField(
        label="Nom et prénom du signataire",
        max_length=signing.NAME_MAX_LENGTH,
        error_messages={"required": "Nom et prénom du signataire : ce champ est obligatoire."},
    )
    signatory_capacity = forms.CharField(
        label="Qualité du signataire",
        max_length=signing.NAME_MAX_LENGTH,
        help_text="Par exemple : médecin titulaire du cabinet, gérant de la SELARL, directeur de l'établissement.",
        error_messages={"required": "Qualité du signataire : ce champ est obligatoire."},
    )
    consent = forms.BooleanField(
        required=True, error_messages={"required": "Cochez la case de consentement pour signer."}
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code reçu par e-mail (6 chiffres)",
        max_length=12,
        error_messages={"required": "Saisissez le code à 6 chiffres reçu par e-mail."},
    )


def client_document(granted: ClientAccess, document_id: int) -> Document:
    """A document of the client's own orders; any other is not found (404, never 403)."""
    document = (
        Document.objects.select_related("order__programme", "order__solution__provider", "order__client")
        .filter(pk=document_id, order__client_id=granted.client.pk)
        .first()
    )
    if document is None:
        raise Http404("Document introuvable dans votre espace client.")
    return document


@client_required
@xframe_options_sameorigin
def document_preview(request: HttpRequest, granted: ClientAccess, document_id: int) -> FileResponse:
    """The exact PDF to sign, shown inside the signing page (inline, framed by our own pages only)."""
    document = client_document(granted, document_id)
    if document.kind not in signing.SIGNABLE:
        raise Http404("Document introuvable dans votre espace client.")
    response = FileResponse(document.file.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{document.order.number}-{document.kind}.pdf"'
    response["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
    return response


def signing_context(granted: ClientAccess, document: Document, **extra: Any) -> dict[str, Any]:
    return {
        "access": granted,
        "order": document.order,
        "document": document,
        "label": signing.SIGNABLE[document.kind].label,
        "consent_text": signing.consent_text(document),
        "refusal": signing.signing_refusal(document),
        **extra,
    }


@client_required
def sign_document(request: HttpRequest, granted: ClientAccess, document_id: int) -> HttpResponse:
    """Step 1: read the PDF, say who signs and in what capacity, consent; a code is then e-mailed."""
    document = client_document(granted, document_id)
    if document.kind not in signing.SIGNABLE:
        raise Http404("Document introuvable dans votre espace client.")
    form = SignatoryForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            signing_code = signing.code_send(
                granted=granted,
                document=document,
                signatory_name=form.cleaned_data["signatory_name"],
                signatory_capacity=form.cleaned_data["signatory_capacity"],
                consent=form.cleaned_data["consent"],
            )
        except signing.SigningRefused as refused:
            form.add_error(refused.field or None, refused.message)
            status = 400
        else:
            services.event_record(
                PortalEventKind.CODE_SENT,
                client=granted.client,
                email=granted.email,
                meta=request_meta(request),
                order=document.order,
                document=document,
            )
            pending = request.session.get(SIGNING_SESSION_KEY) or {}
            pending[str(document.pk)] = signing_code.pk
            request.session[SIGNING_SESSION_KEY] = pending
            return redirect("portal:sign_code", document_id=document.pk)
    elif request.method == "POST":
        status = 400
    return render(request, "portal/sign.html", signing_context(granted, document, form=form), status=status)


@client_required
def sign_code(request: HttpRequest, granted: ClientAccess, document_id: int) -> HttpResponse:
    """Step 2: the one-time code confirms the signature; the sealed copy is then in the client's documents."""
    document = client_document(granted, document_id)
    pending = request.session.get(SIGNING_SESSION_KEY) or {}
    signing_code_id = pending.get(str(document.pk))
    if document.kind not in signing.SIGNABLE:
        raise Http404("Document introuvable dans votre espace client.")
    if not isinstance(signing_code_id, int):
        messages.info(request, "Pour signer, indiquez d'abord le signataire : un code vous sera envoyé par e-mail.")
        return redirect("portal:sign", document_id=document.pk)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            signing.sign(
                granted=granted,
                signing_code_id=signing_code_id,
                typed=form.cleaned_data["code"],
                ip_address=request_meta(request).ip_address,
                user_agent=request_meta(request).user_agent,
            )
        except signing.SigningRefused as refused:
            form.add_error("code", refused.message)
            status = 400
        else:
            pending.pop(str(document.pk), None)
            request.session[SIGNING_SESSION_KEY] = pending
            messages.success(
                request,
                f"C'est signé : « {signing.SIGNABLE[document.kind].label} » est signé électroniquement. "
                "Votre copie signée est dans vos documents et vous a été envoyée par e-mail.",
            )
            return redirect("portal:order", number=document.order.number)
    elif request.method == "POST":
        status = 400
    code = SigningCode.objects.filter(pk=signing_code_id).only("email", "expires_at").first()
    context = signing_context(granted, document, form=form, signing_code=code)
    return render(request, "portal/sign_code.html", context, status=status)


# --- Satisfaction questionnaire (AF §6.1) and training sessions (AF §3.2) ---------------------------------------------

SCORE_CHOICES = [(str(score), str(score)) for score in range(1, 6)]


def score_field(label: str, name: str) -> forms.TypedChoiceField:
    """A 1-to-5 note of the satisfaction questionnaire (AF §6.1), its error naming the question."""
    return forms.TypedChoiceField(
        label=label,
        choices=SCORE_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": f"{name} : choisissez une note de 1 à 5."},
    )


class SatisfactionForm(forms.Form):
    overall = score_field("Dans l'ensemble, êtes-vous satisfait de la mise à jour ?", "Satisfaction générale")
    installation = score_field("Comment s'est passée l'installation ?", "Installation")
    support = score_field("Avez-vous été bien accompagné et formé ?", "Accompagnement")
    recommend = forms.TypedChoiceField(
        label="Recommanderiez-vous cette mise à jour à un confrère ?",
        choices=[("oui", "Oui"), ("non", "Non")],
        coerce=lambda value: value == "oui",
        widget=forms.RadioSelect,
        error_messages={"required": "Recommandation : répondez oui ou non."},
    )
    comment = forms.CharField(
        label="Un commentaire ? (facultatif)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"max_length": "Commentaire : 2000 caractères au plus."},
    )


@client_required
def satisfaction(request: HttpRequest, granted: ClientAccess, number: str) -> HttpResponse:
    """The short questionnaire, offered once the VA is signed, answered once per order."""
    order = selectors.client_orders(granted.client.pk).filter(number=number).first()
    if order is None:
        raise Http404("Commande introuvable dans votre espace client.")
    if order.va_signed_at is None or SatisfactionAnswer.objects.filter(order=order).exists():
        messages.info(
            request, "Le questionnaire est proposé une fois la vérification d'aptitude signée, une seule fois."
        )
        return redirect("portal:order", number=order.number)
    form = SatisfactionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        SatisfactionAnswer.objects.get_or_create(order=order, defaults={"client": granted.client, **form.cleaned_data})
        messages.success(request, "Merci pour vos réponses : elles aident votre éditeur à s'améliorer.")
        return redirect("portal:order", number=order.number)
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/satisfaction.html", {"access": granted, "order": order, "form": form}, status=status)


@client_required
def trainings(request: HttpRequest, granted: ClientAccess) -> HttpResponse:
    """Training sessions offered by the provider (AF §3.2): upcoming first, then recordings and past sessions."""
    now = timezone.now()
    sessions = list(TrainingSession.objects.all())
    upcoming = sorted((s for s in sessions if s.starts_at and s.starts_at >= now), key=lambda s: s.starts_at)
    others = [s for s in sessions if not (s.starts_at and s.starts_at >= now)]
    return render(request, "portal/trainings.html", {"access": granted, "upcoming": upcoming, "others": others})
