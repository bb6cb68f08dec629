"""Audit trail of the client space: every link sent or refused, every visit and every download (immutable)."""

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
