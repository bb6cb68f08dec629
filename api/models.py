"""API tokens and the access log of every call (issue #16).

A token is shown once, when it is created, and only its SHA-256 is stored: the database never holds a usable key.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "sgr_"  # noqa: S105  (the visible start of every key, not a secret)


def token_hash(key: str) -> str:
    """The stored form of a key: a SHA-256 (the keys are 256-bit random, so no slow hash is needed)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class TokenKind(models.TextChoices):
    PERSONAL = "personal", _("Personnel (membre du personnel)")
    INSTALLATION = "installation", _("Installation (logiciel d'un client)")


class ApiToken(models.Model):
    """A personal token acts with its owner's role permissions; an installation token may only push and read the
    monitoring of its client's orders."""

    kind = models.CharField(_("type"), max_length=16, choices=TokenKind.choices)
    name = models.CharField(_("libellé"), max_length=128)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_tokens",
        verbose_name=_("membre du personnel"),
    )
    client = models.ForeignKey(
        "clients.Client",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_tokens",
        verbose_name=_("client"),
    )
    key_hash = models.CharField(_("empreinte SHA-256"), max_length=64, unique=True, editable=False)
    key_start = models.CharField(_("début de la clé"), max_length=12, editable=False)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("créé par"),
    )
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("dernier appel le"), null=True, blank=True)

    class Meta:
        verbose_name = _("jeton d'API")
        verbose_name_plural = _("jetons d'API")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="personal", user__isnull=False, client__isnull=True)
                | Q(kind="installation", client__isnull=False, user__isnull=True),
                name="api_token_owner_matches_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_start}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class ApiAccess(models.Model):
    """One call of the API: which token (never the key), which endpoint, the answer's status."""

    token = models.ForeignKey(
        ApiToken, on_delete=models.PROTECT, null=True, blank=True, related_name="accesses", verbose_name=_("jeton")
    )
    method = models.CharField(_("méthode"), max_length=8)
    endpoint = models.CharField(_("adresse"), max_length=255)
    status = models.PositiveSmallIntegerField(_("statut"))
    remote_addr = models.CharField(_("adresse IP"), max_length=45, blank=True)
    created_at = models.DateTimeField(_("le"), auto_now_add=True)

    class Meta:
        verbose_name = _("appel de l'API")
        verbose_name_plural = _("journal des appels de l'API")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["token", "created_at"], name="api_access_token_time")]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.status}"
