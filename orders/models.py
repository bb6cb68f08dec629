"""Programmes (SONS couloirs) as data, provider and solution records, orders and their state machine (SPEC §2–§8).

Transitions here only change the state and the fields that go with it. Every guard, lock and audit row lives in
``orders.services``: call those, never these methods directly.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from clients.models import Client
from segur_portal.records import WriteOnceQuerySet, WriteOnceRecord


class Couloir(models.TextChoices):
    LGC = "LGC", _("Logiciel de gestion de cabinet (médecine de ville)")
    SGL = "SGL", _("Système de gestion de laboratoire")
    DPI = "DPI", _("Dossier patient informatisé")
    PFI = "PFI", _("Plateforme d'intermédiation")
    RIS = "RIS", _("Système d'information de radiologie")


class Programme(models.Model):
    """A SONS couloir with its calendar and parameters (AF §II); every date is 12:00 Europe/Paris."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("nom"), max_length=255)
    couloir = models.CharField(_("couloir"), max_length=8, choices=Couloir.choices)
    date_0 = models.DateTimeField(_("Date 0 (publication de l'arrêté)"), null=True, blank=True)
    date_1 = models.DateTimeField(_("Date 1 (dossier administratif de référencement)"))
    date_2 = models.DateTimeField(_("Date 2 (dossier complet de preuves)"))
    date_3 = models.DateTimeField(_("Date 3 (fin des échanges avec l'ANS)"))
    date_4 = models.DateTimeField(_("Date 4 (signature et demande d'avance)"))
    date_5 = models.DateTimeField(_("Date 5 (fin de réalisation)"))
    date_6 = models.DateTimeField(_("Date 6 (demande de solde)"))
    advance_rate = models.DecimalField(_("taux d'avance"), max_digits=4, decimal_places=2, default=Decimal("0.40"))
    pilot_size = models.PositiveSmallIntegerField(_("taille du périmètre pilote"), default=5)
    pre_order_window_days = models.PositiveSmallIntegerField(
        _("délai de la commande conditionnelle (jours)"), default=120
    )
    advance_exception_days = models.PositiveSmallIntegerField(
        _("exception d'avance : jours avant la Date 4 sans décision ANS"), default=15
    )
    secondary_observation_months = models.PositiveSmallIntegerField(_("observation secondaire (mois)"), default=18)
    secondary_request_months = models.PositiveSmallIntegerField(_("demande secondaire (mois)"), default=20)
    secondary_window_months = models.PositiveSmallIntegerField(_("fenêtre d'observation (mois)"), default=6)
    termination_notice_months = models.PositiveSmallIntegerField(
        _("information ASP après résiliation (mois)"), default=12
    )
    portability_days = models.PositiveSmallIntegerField(_("délai de portabilité (jours)"), default=15)
    satisfaction_report_months = models.PositiveSmallIntegerField(
        _("bilan de satisfaction après la dernière VA (mois)"), default=18
    )
    ans_check_months = models.PositiveSmallIntegerField(_("délai de contrôle ANS du journal (mois)"), default=6)

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        dates = [self.date_1, self.date_2, self.date_3, self.date_4, self.date_5, self.date_6]
        if self.date_0 and self.date_1 and self.date_0 >= self.date_1:
            raise ValidationError({"date_0": _("La Date 0 doit précéder la Date 1 (AF §II).")})
        if all(dates) and any(earlier >= later for earlier, later in zip(dates, dates[1:], strict=False)):
            raise ValidationError(_("Les Dates 1 à 6 doivent se suivre dans l'ordre (AF §II)."))


class Prestation(models.TextChoices):
    PRINCIPAL_V2 = "principal_v2", _("Prestation principale Vague 2")
    PRINCIPAL_V1V2 = "principal_v1v2", _("Prestation principale Vague 1 + Vague 2")
    SECONDARY = "secondary", _("Prestation secondaire")


class CeilingCategory(models.TextChoices):
    DOCTOR = "doctor", _("Médecin en cabinet libéral")
    TRANCHE_A = "tranche_a", _("Structure – Tranche A")
    TRANCHE_B = "tranche_b", _("Structure – Tranche B")
    TRANCHE_C = "tranche_c", _("Structure – Tranche C")
    TRANCHE_D = "tranche_d", _("Structure – Tranche D")
    TRANCHE_E = "tranche_e", _("Structure – Tranche E")


class VatRegime(models.TextChoices):
    VAT_20 = "vat_20", _("TVA 20 %")
    VAT_8_5 = "vat_8_5", _("TVA 8,5 % (DOM)")
    HT = "ht", _("Non assujetti (HT)")


class PriceCeiling(models.Model):
    """One cell of a published price table (AF §5.3, §5.4): prestation × client category × VAT regime → amount."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="ceilings")
    prestation = models.CharField(_("prestation"), max_length=16, choices=Prestation.choices)
    category = models.CharField(_("catégorie de client"), max_length=16, choices=CeilingCategory.choices)
    vat_regime = models.CharField(_("régime de TVA"), max_length=8, choices=VatRegime.choices)
    amount = models.DecimalField(_("plafond (€)"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name = _("prix plafond")
        verbose_name_plural = _("prix plafonds")
        constraints = [
            models.UniqueConstraint(fields=["programme", "prestation", "category", "vat_regime"], name="ceiling_cell"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="ceiling_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.programme_id} {self.prestation} {self.category} {self.vat_regime}: {self.amount}"


class ProviderKind(models.TextChoices):
    EDITOR = "editor", _("Éditeur")
    DISTRIBUTOR = "distributor", _("Distributeur mandaté")


class Provider(models.Model):
    """The Fournisseur running this back-office (AF §4.1, §6.1)."""

    name = models.CharField(_("raison sociale"), max_length=255)
    kind = models.CharField(_("type"), max_length=16, choices=ProviderKind.choices, default=ProviderKind.EDITOR)
    mandate_reference = models.CharField(_("référence du mandat de l'éditeur"), max_length=128, blank=True)
    siren = models.CharField(_("SIREN"), max_length=9)
    vat_number = models.CharField(_("n° de TVA intracommunautaire"), max_length=20, blank=True)
    address = models.CharField(_("adresse"), max_length=255, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=5, blank=True)
    city = models.CharField(_("ville"), max_length=128, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    vat_regime = models.CharField(_("régime de TVA"), max_length=8, choices=VatRegime.choices, default=VatRegime.VAT_20)
    # Printed on invoices (Code de commerce R123-237, CGI art. 293 B): issue 11.
    legal_form = models.CharField(_("forme juridique"), max_length=64, blank=True, help_text=_("Par exemple : SAS."))
    rcs = models.CharField(
        _("immatriculation au RCS"),
        max_length=128,
        blank=True,
        help_text=_("Ville du greffe et numéro : Paris 123 456 789."),
    )
    share_capital = models.DecimalField(_("capital social (€)"), max_digits=14, decimal_places=2, null=True, blank=True)
    vat_exemption_basis = models.CharField(
        _("mention d'exonération de TVA"),
        max_length=255,
        blank=True,
        help_text=_("Imprimée quand le fournisseur n'est pas assujetti : « TVA non applicable, art. 293 B du CGI »."),
    )
    psc_habilitation_on = models.DateField(
        _("habilitation PSC « Opérateur de service utilisateur »"), null=True, blank=True
    )
    asp_enrolment_requested_on = models.DateField(_("enrôlement ASP demandé le"), null=True, blank=True)
    asp_enrolment_validated_on = models.DateField(_("enrôlement ASP validé le"), null=True, blank=True)
    hds_certificate_reference = models.CharField(_("certificat HDS"), max_length=128, blank=True)
    hds_sworn_statement_on = models.DateField(
        _("déclaration sur l'honneur de non-hébergement signée le"), null=True, blank=True
    )
    preserie_validated_on = models.DateField(_("présérie Ordonnance numérique validée le"), null=True, blank=True)
    satisfaction_commitment = models.BooleanField(_("engagement questionnaire de satisfaction"), default=False)
    satisfaction_report_sent_on = models.DateField(
        _("bilan agrégé de satisfaction transmis à l'ANS le"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("fournisseur")
        verbose_name_plural = _("fournisseurs")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == ProviderKind.DISTRIBUTOR and not self.mandate_reference:
            raise ValidationError(
                {"mandate_reference": _("Un distributeur doit détenir le mandat de l'éditeur (AF §4.1).")}
            )


class Profile(models.TextChoices):
    STRUCTURES = "structures", _("Structures d'exercice coordonné")
    TREATING_DOCTOR = "medecin_traitant", _("Médecin traitant et Suivi de l'enfant")


class Solution(models.Model):
    """The referenced software sold in a programme (SPEC §5)."""

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="solutions")
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="solutions")
    name = models.CharField(_("nom du logiciel"), max_length=255)
    version = models.CharField(_("version majeure"), max_length=64)
    ans_reference_number = models.CharField(_("n° de référencement ANS"), max_length=64, blank=True)
    has_structures_profile = models.BooleanField(_("profil « Structures d'exercice coordonné »"), default=False)
    has_treating_doctor_profile = models.BooleanField(
        _("profil « Médecin traitant et Suivi de l'enfant »"), default=False
    )
    administrative_file_submitted_at = models.DateTimeField(_("dossier administratif déposé le"), null=True, blank=True)
    complete_dossier_submitted_at = models.DateTimeField(
        _("dossier complet de preuves déposé le"), null=True, blank=True
    )
    referenced_at = models.DateTimeField(_("référencé le"), null=True, blank=True)
    refused_at = models.DateTimeField(_("référencement refusé le"), null=True, blank=True)
    referencing_withdrawn_at = models.DateTimeField(_("référencement retiré le"), null=True, blank=True)
    pilot_validated_at = models.DateTimeField(_("périmètre pilote validé par l'ANS le"), null=True, blank=True)

    class Meta:
        verbose_name = _("solution logicielle")
        verbose_name_plural = _("solutions logicielles")
        constraints = [
            models.UniqueConstraint(fields=["programme", "name", "version"], name="solution_unique_per_programme"),
            models.CheckConstraint(
                condition=Q(referenced_at__isnull=True) | Q(refused_at__isnull=True),
                name="solution_referenced_xor_refused",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def profiles(self) -> set[str]:
        held = set()
        if self.has_structures_profile:
            held.add(Profile.STRUCTURES.value)
        if self.has_treating_doctor_profile:
            held.add(Profile.TREATING_DOCTOR.value)
        return held


class SolutionVersion(models.Model):
    """A version of the solution, possibly declared obsolete by the editor (AF §4.3)."""

    solution = models.ForeignKey(Solution, on_delete=models.CASCADE, related_name="versions")
    label = models.CharField(_("version"), max_length=64)
    released_on = models.DateField(_("mise en production le"))
    end_announced_on = models.DateField(
        _("arrêt de commercialisation ou de maintenance rendu public le"), null=True, blank=True
    )
    is_wave1_referenced = models.BooleanField(_("version référencée en vague 1"), default=False)
    declared_obsolete = models.BooleanField(_("déclarée obsolète"), default=False)

    class Meta:
        verbose_name = _("version de la solution")
        verbose_name_plural = _("versions de la solution")
        ordering = ["released_on"]
        constraints = [models.UniqueConstraint(fields=["solution", "label"], name="solution_version_unique_label")]

    def __str__(self) -> str:
        return self.label


class OrderState(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    PRE_ORDER = "pre_order", _("Commande conditionnelle")
    FIRM = "firm", _("Commande ferme")
    LAPSED = "lapsed", _("Caduque")
    ADVANCE_REQUESTED = "advance_requested", _("Avance demandée")
    ADVANCE_PAID = "advance_paid", _("Avance versée")
    INSTALLED = "installed", _("Installée")
    PILOT_PV_SIGNED = "pilot_pv_signed", _("PV pilote signé")
    VA_SIGNED = "va_signed", _("VA signée")
    BALANCE_REQUESTED = "balance_requested", _("Solde demandé")
    BALANCE_PAID = "balance_paid", _("Solde versé")
    SECONDARY_REQUESTED = "secondary_requested", _("Secondaire demandée")
    SECONDARY_PAID = "secondary_paid", _("Secondaire versée")
    CLOSED = "closed", _("Clôturée")
    REIMBURSEMENT_DUE = "reimbursement_due", _("Reversement dû")
    REIMBURSED = "reimbursed", _("Reversée")
    TERMINATED = "terminated", _("Résiliée par le client")
    CANCELLED = "cancelled", _("Annulée")


S = OrderState
PAID_STATES = [
    S.ADVANCE_PAID,
    S.INSTALLED,
    S.PILOT_PV_SIGNED,
    S.VA_SIGNED,
    S.BALANCE_REQUESTED,
    S.BALANCE_PAID,
    S.SECONDARY_REQUESTED,
    S.SECONDARY_PAID,
]


class SignatureMethod(models.TextChoices):
    """Accepted signatures (AF §4.3, §6.4)."""

    HANDWRITTEN = "handwritten", _("Manuscrite (scan)")
    CPX = "cpx", _("Carte CPx")
    PRO_SANTE_CONNECT = "psc", _("Pro Santé Connect")
    RGS_1_STAR = "rgs1", _("Certificat logiciel RGS 1 étoile")
    EIDAS_SIMPLE = "eidas_simple", _("Signature électronique eIDAS simple")


class Order(ConcurrentTransitionMixin, models.Model):
    number = models.CharField(_("n° de bon de commande"), max_length=32, unique=True)
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="orders")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="orders")
    solution = models.ForeignKey(Solution, on_delete=models.PROTECT, related_name="orders")
    salesperson = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders_sold",
        verbose_name=_("commercial"),
    )
    prestation = models.CharField(
        _("prestation principale"),
        max_length=16,
        choices=[(Prestation.PRINCIPAL_V2.value, Prestation.PRINCIPAL_V2.label)]
        + [(Prestation.PRINCIPAL_V1V2.value, Prestation.PRINCIPAL_V1V2.label)],
    )
    vat_regime = models.CharField(_("régime de TVA"), max_length=8, choices=VatRegime.choices)
    principal_amount = models.DecimalField(_("montant principal (€)"), max_digits=10, decimal_places=2)
    secondary_amount = models.DecimalField(_("montant secondaire à PERF = 1 (€)"), max_digits=10, decimal_places=2)
    is_pilot = models.BooleanField(_("périmètre pilote"), default=False)
    state = FSMField(_("état"), max_length=24, choices=OrderState.choices, default=OrderState.DRAFT, protected=True)
    # Order form (AF §4.3)
    issued_at = models.DateTimeField(_("émis le"))
    signed_at = models.DateTimeField(_("signé par le client le"), null=True, blank=True)
    signature_method = models.CharField(
        _("mode de signature"), max_length=16, choices=SignatureMethod.choices, blank=True
    )
    signatory_name = models.CharField(_("signataire"), max_length=255, blank=True)
    firm_at = models.DateTimeField(_("affermie le"), null=True, blank=True)
    # Advance (AF §6.2)
    advance_requested_at = models.DateTimeField(_("demande d'avance reçue par l'ASP le"), null=True, blank=True)
    advance_asp_reference = models.CharField(_("référence ASP de la demande d'avance"), max_length=64, blank=True)
    advance_paid_at = models.DateTimeField(_("avance versée le"), null=True, blank=True)
    advance_amount = models.DecimalField(_("avance versée (€)"), max_digits=10, decimal_places=2, null=True, blank=True)
    # Realisation (AF §4.4)
    deployment_checklist = models.JSONField(_("liste de déploiement"), default=dict, blank=True)
    installed_at = models.DateTimeField(_("installée le"), null=True, blank=True)
    pilot_pv_signed_at = models.DateTimeField(_("PV d'installation pilote signé le"), null=True, blank=True)
    va_signed_at = models.DateTimeField(_("VA signée le"), null=True, blank=True)
    completion_attested_at = models.DateTimeField(
        _("attestation de fin de Prestation principale envoyée le"), null=True, blank=True
    )
    # Balance (AF §6.4)
    balance_requested_at = models.DateTimeField(_("demande de solde reçue par l'ASP le"), null=True, blank=True)
    balance_asp_reference = models.CharField(_("référence ASP de la demande de solde"), max_length=64, blank=True)
    balance_paid_at = models.DateTimeField(_("solde versé le"), null=True, blank=True)
    balance_amount = models.DecimalField(_("solde versé (€)"), max_digits=10, decimal_places=2, null=True, blank=True)
    # Secondary (AF §4.5, §6.5)
    secondary_requested_at = models.DateTimeField(_("demande secondaire reçue par l'ASP le"), null=True, blank=True)
    secondary_perf = models.DecimalField(_("PERF constaté"), max_digits=3, decimal_places=1, null=True, blank=True)
    secondary_paid_at = models.DateTimeField(_("secondaire versée le"), null=True, blank=True)
    secondary_paid_amount = models.DecimalField(
        _("secondaire versée (€)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    journal_received_at = models.DateTimeField(_("journal reçu par l'ANS/ASP le"), null=True, blank=True)
    # Side exits (AF §VII, SPEC §7)
    failure_notified_at = models.DateTimeField(
        _("client et ASP informés de la non-réalisation le"), null=True, blank=True
    )
    reimbursed_at = models.DateTimeField(_("avance reversée le"), null=True, blank=True)
    terminated_at = models.DateTimeField(_("résiliée par le client le"), null=True, blank=True)
    termination_notified_at = models.DateTimeField(_("ASP informée de la résiliation le"), null=True, blank=True)
    portability_requested_at = models.DateTimeField(_("portabilité demandée le"), null=True, blank=True)
    portability_delivered_at = models.DateTimeField(_("portabilité livrée le"), null=True, blank=True)
    pre_order_expiry_notified_at = models.DateTimeField(
        _("client informé de l'expiration des 120 jours le"), null=True, blank=True
    )
    date_2_notice_sent_at = models.DateTimeField(
        _("client informé du défaut de dossier à la Date 2 le"), null=True, blank=True
    )
    closing_reason = models.TextField(_("motif (annulation, caducité, résiliation)"), blank=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifiée le"), auto_now=True)

    class Meta:
        verbose_name = _("commande")
        verbose_name_plural = _("commandes")
        ordering = ["-created_at"]
        constraints = [
            # SPEC §4: one order (principal + secondary) per client per programme.
            models.UniqueConstraint(fields=["client", "programme"], name="order_unique_client_programme"),
            models.CheckConstraint(condition=Q(principal_amount__gt=0), name="order_principal_positive"),
            models.CheckConstraint(condition=Q(secondary_amount__gt=0), name="order_secondary_positive"),
        ]
        indexes = [
            models.Index(fields=["state"]),
            models.Index(fields=["programme", "state"]),
            # The provider's last VA per programme (SPEC §5), read by the calendar and the scan (issue 13).
            models.Index(fields=["solution", "programme", "va_signed_at"], name="order_solution_last_va"),
        ]
        permissions = [
            ("sign_order", "Enregistrer la signature du bon de commande"),
            ("firm_order", "Affermir une commande conditionnelle"),
            ("cancel_order", "Annuler une commande"),
            ("file_advance", "Déposer la demande d'avance"),
            ("record_asp_decision", "Enregistrer une décision de l'ASP"),
            ("record_installation", "Enregistrer l'installation"),
            ("sign_pilot_pv", "Enregistrer le PV d'installation pilote"),
            ("sign_va", "Enregistrer la VA"),
            ("file_balance", "Déposer la demande de solde"),
            ("file_secondary", "Déposer la demande de Prestation secondaire"),
            ("declare_failure", "Déclarer la non-réalisation à la Date 5"),
            ("record_reimbursement", "Enregistrer un reversement"),
            ("record_termination", "Enregistrer une résiliation"),
            # Amounts the client is asked to sign: sales and administrators only, not every role changing orders.
            ("change_order_terms", "Modifier les montants d'un bon de commande"),
        ]

    def __str__(self) -> str:
        return self.number

    # --- Transitions: state and linked fields only (guards and audit in orders.services) -------------------------

    @transition(field=state, source=S.DRAFT, target=S.PRE_ORDER, permission="orders.sign_order")
    def sign_as_pre_order(self) -> None:
        """Signed before the solution is referenced: a conditional order (AF §4.3)."""

    @transition(field=state, source=S.DRAFT, target=S.FIRM, permission="orders.sign_order")
    def sign_as_firm(self) -> None:
        """Signed once the solution is referenced."""

    @transition(field=state, source=S.PRE_ORDER, target=S.FIRM, permission="orders.firm_order")
    def firm_pre_order(self) -> None:
        """Complete dossier within 120 days and referencing obtained (AF §4.3)."""

    @transition(field=state, source=S.PRE_ORDER, target=S.LAPSED, permission="orders.firm_order")
    def lapse(self) -> None:
        """120 days without complete dossier, or referencing refused (AF §4.3)."""

    @transition(field=state, source=[S.FIRM, S.PRE_ORDER], target=S.ADVANCE_REQUESTED, permission="orders.file_advance")
    def file_advance_request(self) -> None:
        """Demande de financement et de versement de l'avance (AF §6.2)."""

    @transition(field=state, source=S.ADVANCE_REQUESTED, target=S.ADVANCE_PAID, permission="orders.record_asp_decision")
    def record_advance_paid(self) -> None:
        """The ASP validated and paid 40 % (AF §VI)."""

    @transition(field=state, source=S.ADVANCE_REQUESTED, target=S.FIRM, permission="orders.record_asp_decision")
    def return_advance_request(self) -> None:
        """The ASP rejected the request or asked to complete it (AF §6.2): back to the firm order."""

    @transition(field=state, source=S.ADVANCE_REQUESTED, target=S.PRE_ORDER, permission="orders.record_asp_decision")
    def return_advance_request_pending_referencing(self) -> None:
        """Same, for a request filed under the AF §6.2 exception while referencing is pending."""

    @transition(field=state, source=S.ADVANCE_PAID, target=S.INSTALLED, permission="orders.record_installation")
    def record_installation(self) -> None:
        """Main prestation realised (AF §3, §4.4)."""

    @transition(field=state, source=S.INSTALLED, target=S.PILOT_PV_SIGNED, permission="orders.sign_pilot_pv")
    def sign_pilot_pv(self) -> None:
        """PV d'installation pilote signed by the client (AF §6.3)."""

    @transition(field=state, source=[S.INSTALLED, S.PILOT_PV_SIGNED], target=S.VA_SIGNED, permission="orders.sign_va")
    def sign_va(self) -> None:
        """Vérification d'Aptitude signed by the client (AF §4.4)."""

    @transition(field=state, source=S.VA_SIGNED, target=S.BALANCE_REQUESTED, permission="orders.file_balance")
    def file_balance_request(self) -> None:
        """Demande de versement du solde (AF §6.4)."""

    @transition(field=state, source=S.BALANCE_REQUESTED, target=S.BALANCE_PAID, permission="orders.record_asp_decision")
    def record_balance_paid(self) -> None:
        """The ASP paid the 60 % balance (AF §VI)."""

    @transition(field=state, source=S.BALANCE_REQUESTED, target=S.VA_SIGNED, permission="orders.record_asp_decision")
    def return_balance_request(self) -> None:
        """The ASP rejected the balance request or asked to complete it (AF §6.4)."""

    @transition(field=state, source=S.BALANCE_PAID, target=S.SECONDARY_REQUESTED, permission="orders.file_secondary")
    def file_secondary_request(self) -> None:
        """Demande de paiement de la Prestation secondaire (AF §6.5)."""

    @transition(
        field=state, source=S.SECONDARY_REQUESTED, target=S.SECONDARY_PAID, permission="orders.record_asp_decision"
    )
    def record_secondary_paid(self) -> None:
        """The ASP paid the secondary prestation at the actual PERF (AF §4.5)."""

    @transition(field=state, source=S.SECONDARY_PAID, target=S.CLOSED, permission="orders.record_asp_decision")
    def close(self) -> None:
        """The ANS check window ended: the data are final (AF §4.5)."""

    @transition(
        field=state,
        source=[S.ADVANCE_REQUESTED, S.ADVANCE_PAID, S.INSTALLED, S.PILOT_PV_SIGNED, S.VA_SIGNED],
        target=S.REIMBURSEMENT_DUE,
        permission="orders.declare_failure",
    )
    def declare_not_completed(self) -> None:
        """Not realised at Date 5: client and ASP informed, the advance becomes undue (AF §4.4, §VII)."""

    @transition(field=state, source=PAID_STATES, target=S.REIMBURSEMENT_DUE, permission="orders.declare_failure")
    def record_referencing_withdrawal(self) -> None:
        """The ANS withdrew the referencing: amounts received may have to be repaid in full (AF §VII)."""

    @transition(field=state, source=S.REIMBURSEMENT_DUE, target=S.REIMBURSED, permission="orders.record_reimbursement")
    def record_reimbursement(self) -> None:
        """The undue amounts were paid back to the ASP (AF §VII)."""

    @transition(
        field=state,
        source=[S.VA_SIGNED, S.BALANCE_REQUESTED, S.BALANCE_PAID],
        target=S.TERMINATED,
        permission="orders.record_termination",
    )
    def record_termination(self) -> None:
        """The client terminated the contract before the secondary was validated (AF §6.5)."""

    @transition(
        field=state, source=[S.DRAFT, S.PRE_ORDER, S.FIRM], target=S.CANCELLED, permission="orders.cancel_order"
    )
    def cancel(self) -> None:
        """Cancelled with a reason, before any ASP request (SPEC §7)."""


class StoredDeadline(models.Model):
    """One open deadline of an order (SPEC §10), as ``rules.order_deadlines`` computes it: written with every change
    that moves it (``orders.deadline_store``), so that lists, the calendar and the daily scan read an index instead of
    computing every order's deadlines. ``is_next`` marks its earliest open deadline (``rules.next_deadline``)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="stored_deadlines")
    code = models.CharField(_("échéance"), max_length=32)
    due_at = models.DateTimeField(_("due le"))
    actor = models.CharField(_("qui agit"), max_length=16)
    action = models.CharField(_("action"), max_length=255)
    reference = models.CharField(_("référence"), max_length=64)
    amount = models.DecimalField(_("montant en jeu"), max_digits=12, decimal_places=2)
    is_next = models.BooleanField(_("prochaine échéance"), default=False)

    class Meta:
        verbose_name = _("échéance enregistrée")
        verbose_name_plural = _("échéances enregistrées")
        indexes = [
            models.Index(fields=["due_at", "order"], name="stored_deadline_due_order"),
            models.Index(fields=["due_at", "order"], condition=Q(is_next=True), name="stored_deadline_next"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.due_at:%d/%m/%Y}"


class StoredDeadlineSource(models.Model):
    """What an order's stored deadlines were computed from (issue 13): a fingerprint of the fields the rules read
    (the order's, its programme's and solution's, and the version of the rules) and one of the rows written, set
    with the rows (``orders.deadline_store``, PostgreSQL). The daily reconciliation compares both with the data in
    SQL and computes the rules again only for the orders whose data or rows changed since; an order without one is
    always computed again."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, primary_key=True, related_name="deadline_source")
    inputs = models.CharField(_("empreinte des données"), max_length=32)
    rows = models.CharField(_("empreinte des échéances"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("source des échéances enregistrées")
        verbose_name_plural = _("sources des échéances enregistrées")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.inputs}"


class DeadlineDayCount(models.Model):
    """How many stored deadlines fall on a Paris day, per code, with their amounts (issue 13): what the calendar and
    the dashboard count without reading every stored deadline. Written only by PostgreSQL triggers on
    ``StoredDeadline`` — each statement appends its change (a delta, negative for removed rows), and
    ``orders.deadline_counts.compact`` folds them — so that no write ever waits on another's counter; read as sums
    per (day, code)."""

    day = models.DateField(_("jour"))
    code = models.CharField(_("échéance"), max_length=32)
    count = models.BigIntegerField(_("nombre"))
    amount = models.DecimalField(_("montant en jeu"), max_digits=16, decimal_places=2)
    action = models.CharField(_("action"), max_length=255, blank=True)
    actor = models.CharField(_("qui agit"), max_length=16, blank=True)

    class Meta:
        verbose_name = _("compte d'échéances par jour")
        verbose_name_plural = _("comptes d'échéances par jour")
        indexes = [models.Index(fields=["day", "code"], name="deadline_day_count_day")]

    def __str__(self) -> str:
        return f"{self.code} {self.day:%d/%m/%Y} : {self.count}"


class OrderEvent(WriteOnceRecord, models.Model):
    """Immutable log of every transition and every refused attempt worth keeping (SPEC §7)."""

    edit_refusal = "Un événement du journal des commandes ne se modifie jamais."
    delete_refusal = "Un événement du journal des commandes ne se supprime jamais."

    SYSTEM = "system"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("membre du personnel")
    )
    actor_label = models.CharField(_("acteur"), max_length=150)
    created_at = models.DateTimeField(_("le"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=64)
    from_state = models.CharField(_("de"), max_length=24, blank=True)
    to_state = models.CharField(_("vers"), max_length=24, blank=True)
    accepted = models.BooleanField(_("acceptée"), default=True)
    message = models.TextField(_("message"), blank=True)
    payload = models.JSONField(_("données"), default=dict, blank=True)

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        verbose_name = _("événement de commande")
        verbose_name_plural = _("journal des commandes")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        from orders.event_labels import event_label

        return f"Événement n° {self.pk} : {event_label(self.action, self.accepted)}"


class DocumentKind(models.TextChoices):
    ORDER_FORM = "order_form", _("Bon de commande")
    INVOICE = "invoice", _("Facture")
    VA = "va", _("Vérification d'Aptitude")
    PILOT_PV = "pilot_pv", _("PV d'installation pilote")
    COMPLETION_ATTESTATION = "completion_attestation", _("Attestation de fin de Prestation principale")
    MONITORING_JOURNAL = "monitoring_journal", _("Journal de monitoring")
    SIGNED_ORDER_FORM = "signed_order_form", _("Bon de commande signé")
    SIGNED_PILOT_PV = "signed_pilot_pv", _("PV d'installation pilote signé")
    SIGNED_VA = "signed_va", _("VA signée")


class InvoiceKind(models.TextChoices):
    PRINCIPAL = "principal", _("Facture de la Prestation principale")
    SECONDARY = "secondary", _("Facture de la Prestation secondaire")
    CREDIT_NOTE = "credit_note", _("Avoir")


class InvoiceSeries(models.Model):
    """A chronological, continuous numbering series (one per invoice kind, with its prefix)."""

    kind = models.CharField(_("type"), max_length=16, choices=InvoiceKind.choices, unique=True)
    prefix = models.CharField(_("préfixe"), max_length=8, unique=True)
    last_number = models.PositiveIntegerField(_("dernier numéro attribué"), default=0)

    class Meta:
        verbose_name = _("série de factures")
        verbose_name_plural = _("séries de factures")

    def __str__(self) -> str:
        return f"{self.prefix} ({self.last_number})"


class Invoice(WriteOnceRecord, models.Model):
    """An issued invoice or credit note: never edited (a correction is a credit note referencing it)."""

    edit_refusal = "Une facture émise ne se modifie jamais : émettez un avoir (CGI art. 289)."
    delete_refusal = "Une facture émise ne se supprime jamais : émettez un avoir."

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(_("type"), max_length=16, choices=InvoiceKind.choices)
    number = models.CharField(_("numéro"), max_length=32, unique=True)
    sequence = models.PositiveIntegerField(_("rang dans la série"))
    issued_at = models.DateTimeField(_("émise le"))
    due_on = models.DateField(_("échéance de paiement"))
    lines = models.JSONField(_("lignes"))
    total_ht = models.DecimalField(_("total HT"), max_digits=10, decimal_places=2)
    total_vat = models.DecimalField(_("total TVA"), max_digits=10, decimal_places=2)
    total_ttc = models.DecimalField(_("total TTC"), max_digits=10, decimal_places=2)
    credited_invoice = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_note",
        verbose_name=_("facture corrigée (avoir)"),
    )
    reason = models.TextField(_("motif (avoir)"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("créé par")
    )

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        verbose_name = _("facture")
        verbose_name_plural = _("factures")
        ordering = ["kind", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "sequence"], name="invoice_sequence_unique"),
            models.CheckConstraint(condition=~Q(total_ttc=0), name="invoice_never_zero"),
        ]

    def __str__(self) -> str:
        return self.number


class Document(WriteOnceRecord, models.Model):
    """A generated document: immutable; regenerating creates a new version (issue 4, AF §4.3)."""

    edit_refusal = "Un document généré ne se modifie jamais : générez une nouvelle version."
    delete_refusal = "Un document généré ne se supprime jamais."

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="documents")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="documents")
    kind = models.CharField(_("type"), max_length=32, choices=DocumentKind.choices)
    version = models.PositiveIntegerField(_("version"))
    file = models.FileField(_("fichier"), upload_to="documents/%Y/%m/")
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    snapshot = models.JSONField(_("données utilisées"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("créé par")
    )
    created_at = models.DateTimeField(_("généré le"), auto_now_add=True)

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["order", "kind", "-version"]
        constraints = [models.UniqueConstraint(fields=["order", "kind", "version"], name="document_version_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.order_id} v{self.version}"


class DocumentBatch(models.Model):
    """A batch of documents generated by a worker, with its progress for the staff UI (e.g. 120/500)."""

    QUEUED, RUNNING, DONE = "queued", "running", "done"
    STATUSES = [(QUEUED, _("en attente")), (RUNNING, _("en cours")), (DONE, _("terminé"))]
    kind = models.CharField(_("document"), max_length=32, choices=DocumentKind.choices)
    order_ids = models.JSONField(_("commandes"))
    total = models.PositiveIntegerField(_("total"))
    processed = models.PositiveIntegerField(_("traités"), default=0)
    generated = models.PositiveIntegerField(_("générés"), default=0)
    refusals = models.JSONField(_("refus"), default=list, blank=True)
    status = models.CharField(_("statut"), max_length=8, choices=STATUSES, default=QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("demandé par")
    )
    created_at = models.DateTimeField(_("demandé le"), auto_now_add=True)
    # The lease of the worker running the batch: the task id that claimed it, renewed (``progress_at``) at each
    # document. A redelivered message of the same task resumes at once; another message only once the lease expired.
    claimed_by = models.CharField(_("pris par la tâche"), max_length=255, blank=True)
    progress_at = models.DateTimeField(_("dernière avancée le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("lot de documents")
        verbose_name_plural = _("lots de documents")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} : {self.processed}/{self.total}"


class BulkRun(models.Model):
    """One bulk action run from the order list: what was asked, by whom, and each order's outcome (issue 10)."""

    action = models.CharField(_("action"), max_length=64)
    label = models.CharField(_("libellé"), max_length=255)
    params = models.JSONField(_("valeurs saisies"), default=dict, blank=True)
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("lancé par")
    )
    actor_label = models.CharField(_("lancé par (nom)"), max_length=150)
    created_at = models.DateTimeField(_("lancé le"), auto_now_add=True)
    done_count = models.PositiveIntegerField(_("faites"), default=0)
    refused_count = models.PositiveIntegerField(_("refusées"), default=0)

    class Meta:
        verbose_name = _("traitement groupé")
        verbose_name_plural = _("traitements groupés")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.label} ({self.done_count + self.refused_count})"


class BulkRunItem(models.Model):
    """The outcome of a bulk run for one order, with the French reason of a refusal."""

    DONE, REFUSED = "done", "refused"
    OUTCOMES = [(DONE, _("faite")), (REFUSED, _("refusée"))]
    run = models.ForeignKey(BulkRun, on_delete=models.CASCADE, related_name="items", verbose_name=_("traitement"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="bulk_run_items")
    number = models.CharField(_("numéro"), max_length=32)
    client_name = models.CharField(_("client"), max_length=255)
    outcome = models.CharField(_("résultat"), max_length=8, choices=OUTCOMES)
    state = models.CharField(_("état après"), max_length=32, choices=OrderState.choices)
    reason = models.TextField(_("motif du refus"), blank=True)

    class Meta:
        verbose_name = _("commande d'un traitement groupé")
        verbose_name_plural = _("commandes d'un traitement groupé")
        ordering = ["run", "-outcome", "number"]

    def __str__(self) -> str:
        return f"{self.number} : {self.get_outcome_display()}"
