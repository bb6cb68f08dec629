"""Clients of the Prestation Ségur: doctors (RPPS) and coordinated-care structures, MSP or CDS (FINESS) — AF §4.2."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from clients import rules
from segur_portal.records import WriteOnceQuerySet, WriteOnceRecord


class ClientKind(models.TextChoices):
    DOCTOR = "doctor", _("Médecin libéral")
    MSP = "msp", _("MSP")
    CDS = "cds", _("Centre de santé")


class CdsKind(models.TextChoices):
    POLYVALENT = "polyvalent", _("polyvalent")
    MEDICAL = "medical", _("médical")
    NURSING = "infirmier", _("infirmier")
    DENTAL = "dentaire", _("dentaire")


class Tranche(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D"
    E = "E", "E"


class ReferenceBase(models.Model):
    """One imported version of the ANS *Base de référence* (FINESS géographique → tranche, staff) — SPEC §4."""

    version = models.CharField(_("version"), max_length=64, unique=True)
    published_on = models.DateField(_("publiée le"), null=True, blank=True)
    source_filename = models.CharField(_("fichier source"), max_length=255, blank=True)
    imported_at = models.DateTimeField(_("importée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("base de référence ANS")
        verbose_name_plural = _("bases de référence ANS")
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return self.version


class ReferenceEntry(models.Model):
    base = models.ForeignKey(ReferenceBase, on_delete=models.PROTECT, related_name="entries")
    finess = models.CharField(_("FINESS géographique"), max_length=9)
    name = models.CharField(_("raison sociale"), max_length=255, blank=True)
    tranche = models.CharField(_("tranche"), max_length=1, choices=Tranche.choices)
    staff_count = models.PositiveIntegerField(_("effectif"))

    class Meta:
        verbose_name = _("ligne de la base de référence")
        verbose_name_plural = _("lignes de la base de référence")
        constraints = [models.UniqueConstraint(fields=["base", "finess"], name="reference_entry_unique_finess")]

    def __str__(self) -> str:
        return f"{self.finess} → {self.tranche}"


class Client(models.Model):
    kind = models.CharField(_("type de client"), max_length=8, choices=ClientKind.choices)
    name = models.CharField(_("nom"), max_length=255)
    # Doctors (AF §4.2)
    rpps = models.CharField(_("RPPS"), max_length=11, null=True, blank=True, unique=True)
    specialty = models.CharField(_("spécialité"), max_length=128, blank=True)
    treating_patient_count = models.PositiveIntegerField(_("patients « médecin traitant »"), default=0)
    # Structures (AF §4.2)
    finess = models.CharField(_("FINESS géographique"), max_length=9, null=True, blank=True, unique=True)
    cds_kind = models.CharField(_("type de centre de santé"), max_length=16, choices=CdsKind.choices, blank=True)
    aci_signatory = models.BooleanField(_("signataire de l'ACI du 20 avril 2017"), default=False)
    staff_declared = models.BooleanField(_("effectifs déclarés à l'Assurance maladie"), default=False)
    liberal_doctor_count = models.PositiveIntegerField(_("médecins libéraux déclarés"), default=0)
    salaried_doctor_count = models.PositiveIntegerField(_("médecins salariés déclarés"), default=0)
    tranche = models.CharField(_("tranche"), max_length=1, choices=Tranche.choices, blank=True)
    staff_count = models.PositiveIntegerField(_("effectif (base de référence)"), null=True, blank=True)
    reference_entry = models.ForeignKey(
        ReferenceEntry,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="clients",
        verbose_name=_("ligne de la base de référence"),
    )
    # Identity on documents
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    address = models.CharField(_("adresse"), max_length=255, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=5, blank=True)
    city = models.CharField(_("ville"), max_length=128, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("téléphone"), max_length=32, blank=True)
    # VAT regime (AF §5.2, CGI art. 294): empty = the regime of the client's département; another one needs a reason.
    vat_regime = models.CharField(
        _("régime de TVA choisi"),
        max_length=8,
        blank=True,
        choices=[("vat_20", _("TVA 20 %")), ("vat_8_5", _("TVA 8,5 % (DOM)")), ("ht", _("Non assujetti (HT)"))],
        help_text=_("Vide : le régime du département du client (971, 972, 974 : 8,5 % ; 973, 976 : non applicable)."),
    )
    vat_regime_reason = models.CharField(_("motif du régime de TVA choisi"), max_length=255, blank=True)
    # Equipment history (AF §4.2: V1V2 only for clients with no wave-1 history)
    installed_version = models.CharField(_("version installée"), max_length=64, blank=True)
    wave1_benefited = models.BooleanField(_("a bénéficié d'une prestation Ségur vague 1"), default=False)
    wave1_self_funded = models.BooleanField(_("a financé lui-même la mise à jour vague 1"), default=False)
    # Client space: links issued before this moment no longer open it (revocation by staff).
    portal_links_revoked_at = models.DateTimeField(_("liens d'accès révoqués le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="doctor", rpps__isnull=False, finess__isnull=True))
                | (Q(kind__in=["msp", "cds"], finess__isnull=False, rpps__isnull=True)),
                name="client_identifier_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.identifier})"

    @property
    def identifier(self) -> str:
        return self.rpps or self.finess or ""

    @property
    def is_structure(self) -> bool:
        return self.kind in {ClientKind.MSP, ClientKind.CDS}

    @property
    def departement(self) -> str:
        return rules.departement(postal_code=self.postal_code, finess=self.finess or "")

    @property
    def suggested_vat_regime(self) -> str:
        """The regime of the client's département (AF §5.2, CGI art. 294)."""
        return rules.default_vat_regime(self.departement)

    @property
    def vat_regime_in_force(self) -> str:
        """The regime staff chose (with its reason), else the département's."""
        return self.vat_regime or self.suggested_vat_regime

    @property
    def ceiling_category(self) -> str:
        """The row of the price tables this client falls in (AF §5.3): ``doctor`` or ``tranche_X``."""
        if self.kind == ClientKind.DOCTOR:
            return "doctor"
        return f"tranche_{self.tranche.lower()}" if self.tranche else ""


class ContactPerson(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("nom"), max_length=255)
    role = models.CharField(_("fonction"), max_length=128, blank=True)
    email = models.EmailField(_("e-mail"))
    phone = models.CharField(_("téléphone"), max_length=32, blank=True)
    is_signatory = models.BooleanField(_("peut engager le client"), default=False)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def clean(self) -> None:
        """The domain's rules on a contact (``clients.services.contact_violations``), for the admin's contact forms."""
        from clients.services import contact_violations  # services import this module

        errors: dict[str, list[str]] = {}
        for violation in contact_violations(
            {"name": self.name, "role": self.role, "phone": self.phone, "email": self.email}
        ):
            errors.setdefault(violation.field, []).append(violation.message)
        if errors:
            raise ValidationError(errors)


class ClientChange(WriteOnceRecord, models.Model):
    """A change of client data that decides who may enter the client space (its e-mail): who, when, old → new."""

    edit_refusal = "Une modification inscrite au journal du client ne se modifie jamais."
    delete_refusal = "Une modification inscrite au journal du client ne se supprime jamais."

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="changes")
    field = models.CharField(_("donnée"), max_length=32)
    old_value = models.CharField(_("ancienne valeur"), max_length=255, blank=True)
    new_value = models.CharField(_("nouvelle valeur"), max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("membre du personnel")
    )
    created_at = models.DateTimeField(_("le"), auto_now_add=True, db_index=True)

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        verbose_name = _("modification du client")
        verbose_name_plural = _("journal des modifications des clients")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.client_id} {self.field} : {self.old_value} → {self.new_value}"
