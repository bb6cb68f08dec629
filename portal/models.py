"""The client space's records: the personal links sent (opaque, expiring, revocable), the link-request counters
that rate-limit the public form, and the audit trail of every link sent or refused, every visit and every download
(immutable)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from segur_portal.records import WriteOnceQuerySet, WriteOnceRecord


class PortalEventKind(models.TextChoices):
    LINK_REQUESTED = "link_requested", _("Lien demandé")
    LINK_SENT = "link_sent", _("Lien envoyé")
    LINK_REFUSED = "link_refused", _("Lien refusé")
    LOGIN = "login", _("Connexion")
    LOGOUT = "logout", _("Déconnexion")
    DOWNLOAD = "download", _("Téléchargement")
    LINKS_REVOKED = "links_revoked", _("Liens révoqués")
    CODE_SENT = "code_sent", _("Code de signature envoyé")
    SIGNED = "signed", _("Document signé en ligne")
    SENT_FOR_SIGNATURE = "sent_to_sign", _("Envoyé pour signature")


class PortalEvent(WriteOnceRecord, models.Model):
    edit_refusal = "Un événement du journal de l'espace client ne se modifie jamais."
    delete_refusal = "Un événement du journal de l'espace client ne se supprime jamais."

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, null=True, blank=True, related_name="portal_events"
    )
    kind = models.CharField(_("événement"), max_length=16, choices=PortalEventKind.choices)
    email = models.EmailField(_("e-mail"), blank=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, null=True, blank=True)
    document = models.ForeignKey("orders.Document", on_delete=models.PROTECT, null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("membre du personnel")
    )
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    user_agent = models.CharField(_("navigateur"), max_length=255, blank=True)
    message = models.CharField(_("détail"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("le"), auto_now_add=True, db_index=True)

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        verbose_name = _("événement de l'espace client")
        verbose_name_plural = _("journal de l'espace client")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["email", "kind", "created_at"], name="portal_event_email_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.email or self.client_id}"


class PortalLink(models.Model):
    """One personal link sent to one address of a client.

    The link's URL carries only a random key and its signature; the key itself is never stored, only its SHA-256,
    so neither the URL nor a copy of this table tells who the link is for, and a stolen table opens nothing.
    """

    key_digest = models.CharField(_("empreinte de la clé"), max_length=64, unique=True, editable=False)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="portal_links")
    email = models.EmailField(_("envoyé à"))
    issued_at = models.DateTimeField(_("émis le"), db_index=True)
    expires_at = models.DateTimeField(_("expire le"))
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)
    first_used_at = models.DateTimeField(_("première utilisation"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)

    class Meta:
        verbose_name = _("lien d'accès à l'espace client")
        verbose_name_plural = _("liens d'accès à l'espace client")
        ordering = ["-issued_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.email} ({self.issued_at:%d/%m/%Y})"


class LinkRequestCounter(models.Model):
    """What the public link-request form has done lately for one address or one client IP (``scope``): the times of
    the requests that count against its hourly limit. The row is locked while a request is decided, so requests made
    at the same instant are counted one after the other."""

    scope = models.CharField(_("adresse e-mail ou IP"), max_length=300, unique=True)
    recent = models.JSONField(_("demandes de la dernière heure"), default=list)
    updated_at = models.DateTimeField(_("mis à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("compteur de demandes de lien")
        verbose_name_plural = _("compteurs de demandes de lien")

    def __str__(self) -> str:
        return self.scope


class SignatureInvitation(models.Model):
    """Staff sent a document to the client for signature ("send for signature"): from then on, and only then, the
    deadline engine reminds the client to sign it (a client is never asked to sign a document that does not exist)."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="signature_invitations")
    document = models.ForeignKey("orders.Document", on_delete=models.PROTECT, related_name="signature_invitations")
    email = models.EmailField(_("envoyé à"))
    sent_at = models.DateTimeField(_("envoyé le"), db_index=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("envoyé par")
    )

    class Meta:
        verbose_name = _("envoi pour signature")
        verbose_name_plural = _("envois pour signature")
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.document} → {self.email}"


class SigningCode(models.Model):
    """A one-time code e-mailed to the signatory to confirm one signature (6 digits, 10 minutes, 5 tries); only its
    keyed hash is stored. What the signatory typed (name, capacity, consent) waits here until the code is given."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="signing_codes")
    document = models.ForeignKey("orders.Document", on_delete=models.PROTECT, related_name="signing_codes")
    link = models.ForeignKey(PortalLink, on_delete=models.PROTECT, related_name="signing_codes")
    email = models.EmailField(_("envoyé à"))
    code_hash = models.CharField(_("empreinte du code"), max_length=100, editable=False)
    signatory_name = models.CharField(_("signataire"), max_length=200)
    signatory_capacity = models.CharField(_("qualité"), max_length=200)
    consent_text = models.TextField(_("texte du consentement"))
    document_sha256 = models.CharField(_("empreinte du document présenté"), max_length=64)
    sent_at = models.DateTimeField(_("envoyé le"))
    expires_at = models.DateTimeField(_("expire le"))
    attempts = models.PositiveSmallIntegerField(_("essais"), default=0)
    used_at = models.DateTimeField(_("utilisé le"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("remplacé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("code de signature")
        verbose_name_plural = _("codes de signature")
        ordering = ["-sent_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.document} — {self.email}"


class SignatureEvidence(WriteOnceRecord, models.Model):
    """The evidence of one electronic signature (eIDAS simple, Code civil art. 1366–1367): who signed, how he was
    identified (the code e-mailed to him), what he consented to, and the SHA-256 of the exact PDF shown and of the
    sealed copy. Rows are appended only, each holding the previous row's hash (``verify_signature_evidence``)."""

    edit_refusal = "Une preuve de signature ne se modifie jamais."
    delete_refusal = "Une preuve de signature ne se supprime jamais."

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="signature_evidence")
    document = models.ForeignKey("orders.Document", on_delete=models.PROTECT, related_name="+")
    signed_document = models.ForeignKey("orders.Document", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    signatory_name = models.CharField(_("signataire"), max_length=200)
    signatory_capacity = models.CharField(_("qualité"), max_length=200)
    email = models.EmailField(_("e-mail vérifié"))
    code_sent_at = models.DateTimeField(_("code envoyé le"))
    code_verified_at = models.DateTimeField(_("code vérifié le"))
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    user_agent = models.CharField(_("navigateur"), max_length=255, blank=True)
    consent_text = models.TextField(_("texte du consentement"))
    document_sha256 = models.CharField(_("empreinte du document présenté"), max_length=64)
    signed_sha256 = models.CharField(_("empreinte de la copie scellée"), max_length=64)
    signed_at = models.DateTimeField(_("signé le"))
    previous_hash = models.CharField(_("empreinte de la preuve précédente"), max_length=64)
    row_hash = models.CharField(_("empreinte de cette preuve"), max_length=64, unique=True)

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        verbose_name = _("preuve de signature électronique")
        verbose_name_plural = _("preuves de signature électronique")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.document} — {self.signatory_name}"


class SatisfactionAnswer(models.Model):
    """A client's answer to the short satisfaction questionnaire offered after its VA (the provider's AF §6.1
    commitment), aggregated for the report to the ANS due 18 months after the last VA."""

    SCORES = [(score, str(score)) for score in range(1, 6)]

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="satisfaction_answer")
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    overall = models.PositiveSmallIntegerField(_("satisfaction générale"), choices=SCORES)
    installation = models.PositiveSmallIntegerField(_("déroulement de l'installation"), choices=SCORES)
    support = models.PositiveSmallIntegerField(_("accompagnement et formation"), choices=SCORES)
    recommend = models.BooleanField(_("recommanderait la mise à jour"))
    comment = models.TextField(_("commentaire"), blank=True, max_length=2000)
    answered_at = models.DateTimeField(_("répondu le"), auto_now_add=True)

    class Meta:
        verbose_name = _("réponse au questionnaire de satisfaction")
        verbose_name_plural = _("questionnaire de satisfaction")
        ordering = ["-answered_at"]

    def __str__(self) -> str:
        return f"{self.order} — {self.overall}/5"


class TrainingFormat(models.TextChoices):
    REMOTE = "remote", _("En ligne (visioconférence)")
    ON_SITE = "on_site", _("Sur place")
    RECORDING = "recording", _("Enregistrement à revoir")


class TrainingSession(models.Model):
    """A training session offered to clients (AF §3.2), added by deployment staff and listed in the client space."""

    title = models.CharField(_("titre"), max_length=200)
    starts_at = models.DateTimeField(_("date et heure"), null=True, blank=True)
    format = models.CharField(_("format"), max_length=16, choices=TrainingFormat.choices)
    link = models.URLField(_("lien (inscription, visioconférence ou enregistrement)"), blank=True)
    material = models.URLField(_("support de formation"), blank=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("ajoutée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("session de formation")
        verbose_name_plural = _("sessions de formation")
        ordering = ["-starts_at", "-pk"]

    def __str__(self) -> str:
        return self.title
