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
