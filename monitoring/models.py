from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from segur_portal.records import WriteOnceQuerySet


class WorkerHeartbeat(models.Model):
    """A row written by a Celery worker: proof that the broker delivered a task and the worker reached the database."""

    source = models.CharField(_("origine"), max_length=64)
    hostname = models.CharField(_("worker"), max_length=255)
    recorded_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)

    class Meta:
        verbose_name = _("battement du worker")
        verbose_name_plural = _("battements du worker")
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return f"{self.source} @ {self.hostname}"


class MonitoringMonth(models.Model):
    """One month of the secondary prestation's monitoring journal for one order (AF §3.3, SPEC §9)."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="monitoring_months")
    month = models.DateField(_("mois (1er jour)"))
    documents_expected = models.PositiveIntegerField(_("Dt : documents à envoyer à MES"))
    documents_sent = models.PositiveIntegerField(_("Dm : documents envoyés à MES"))
    patients_seen = models.PositiveIntegerField(_("T : patients uniques vus"))
    patients_qualified = models.PositiveIntegerField(_("Tq : patients à l'INS qualifiée"))
    patients_transitional = models.PositiveIntegerField(_("Ts : qualifiés par la procédure transitoire"))
    recorded_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)

    class Meta:
        verbose_name = _("mois de monitoring")
        verbose_name_plural = _("journal de monitoring")
        ordering = ["order", "month"]
        constraints = [
            models.UniqueConstraint(fields=["order", "month"], name="monitoring_month_unique"),
            models.CheckConstraint(
                condition=models.Q(documents_sent__lte=models.F("documents_expected")), name="monitoring_dm_le_dt"
            ),
            models.CheckConstraint(
                condition=models.Q(patients_qualified__lte=models.F("patients_seen")), name="monitoring_tq_le_t"
            ),
            models.CheckConstraint(
                condition=models.Q(patients_transitional__lte=models.F("patients_qualified")),
                name="monitoring_ts_le_tq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.month:%Y-%m}"


class RevisionSource(models.TextChoices):
    MANUAL = "manual", _("saisie manuelle")
    IMPORT = "import", _("import de fichier")
    API = "api", _("envoi par l'API")


class MonitoringRevision(models.Model):
    """One recorded value of one month (AF §4.5): who, when, why, from where. Never edited, never deleted.

    The current value of a month is its latest revision, copied into ``MonitoringMonth`` in the same transaction.
    Append-only like ``segur_portal.records.WriteOnceRecord`` (same queryset, same PostgreSQL trigger function), kept
    out of that mixin's registry so the shared write-once tests stay about the order records.
    """

    edit_refusal = "Une révision du journal de monitoring ne se modifie jamais : enregistrez une correction."
    delete_refusal = "Une révision du journal de monitoring ne se supprime jamais."

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="monitoring_revisions")
    month = models.DateField(_("mois (1er jour)"))
    documents_expected = models.PositiveIntegerField(_("Dt"))
    documents_sent = models.PositiveIntegerField(_("Dm"))
    patients_seen = models.PositiveIntegerField(_("T"))
    patients_qualified = models.PositiveIntegerField(_("Tq"))
    patients_transitional = models.PositiveIntegerField(_("Ts"))
    source = models.CharField(_("origine"), max_length=8, choices=RevisionSource.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("auteur")
    )
    reason = models.CharField(_("motif"), max_length=500, blank=True)
    recorded_at = models.DateTimeField(_("enregistrée le"), default=timezone.now)

    objects = WriteOnceQuerySet.as_manager()

    class Meta:
        verbose_name = _("révision d'un mois de monitoring")
        verbose_name_plural = _("révisions du journal de monitoring")
        ordering = ["order", "month", "recorded_at", "pk"]
        indexes = [models.Index(fields=["order", "month"])]

    def __str__(self) -> str:
        return f"{self.order_id} {self.month:%m/%Y} ({self.get_source_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError(self.edit_refusal)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError(self.delete_refusal)


class PerfStatus(models.TextChoices):
    PERF_1 = "perf_1", _("PERF 1")
    PERF_HALF = "perf_0_5", _("PERF 0,5")
    PERF_0 = "perf_0", _("PERF 0")
    NO_DATA = "no_data", _("pas assez de données")


class PerfSummary(models.Model):
    """Per order, the PERF windows so far (AF §3.3, §4.5), kept up to date on every write of the journal.

    The portfolio reads these rows with one aggregate query instead of recomputing every window per request.
    """

    order = models.OneToOneField("orders.Order", on_delete=models.CASCADE, primary_key=True, related_name="perf")
    status = models.CharField(_("niveau"), max_length=8, choices=PerfStatus.choices, default=PerfStatus.NO_DATA)
    secondary_start = models.DateField(_("démarrage secondaire"), null=True, blank=True)
    observation_end = models.DateField(_("fin de l'observation (18 mois)"), null=True, blank=True)
    months_recorded = models.PositiveSmallIntegerField(_("mois relevés"), default=0)
    best_first_month = models.DateField(_("meilleure fenêtre : début"), null=True, blank=True)
    best_dt = models.PositiveIntegerField(_("meilleure fenêtre : Dt"), null=True, blank=True)
    best_dm = models.PositiveIntegerField(_("meilleure fenêtre : Dm"), null=True, blank=True)
    best_perf = models.DecimalField(_("meilleur PERF"), max_digits=3, decimal_places=1, default=0)
    first_qualifying_month = models.DateField(_("première fenêtre qualifiante : début"), null=True, blank=True)
    payable_amount = models.DecimalField(_("montant acquis (€)"), max_digits=10, decimal_places=2, default=0)
    # Closest next level: documents still to send (Dm) or to produce (Dt) on the closest window; null when none.
    missing_count = models.PositiveIntegerField(_("manquant"), null=True, blank=True)
    missing_text = models.CharField(_("ce qui manque"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("mis à jour le"), auto_now=True)

    class Meta:
        verbose_name = _("synthèse PERF")
        verbose_name_plural = _("synthèses PERF")
        indexes = [
            models.Index(
                fields=["missing_count", "order"],
                name="perf_summary_closest",
                condition=models.Q(missing_count__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.get_status_display()}"


# The scheduled jobs in French (``monitoring.reminders.SCAN_JOB`` is the daily scan).
JOB_LABELS = {"deadlines_scan": _("Scan quotidien des échéances")}


class JobRun(models.Model):
    """One run of a scheduled job for one day: the lock that makes a second run (beat twice, retry) a no-op."""

    RUNNING, DONE = "running", "done"
    job = models.CharField(_("tâche"), max_length=64)
    run_date = models.DateField(_("jour"))
    status = models.CharField(_("statut"), max_length=16, default=RUNNING)
    started_at = models.DateTimeField(_("démarrée le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    summary = models.JSONField(_("bilan"), default=dict, blank=True)

    class Meta:
        verbose_name = _("exécution planifiée")
        verbose_name_plural = _("exécutions planifiées")
        ordering = ["-run_date", "job"]
        constraints = [models.UniqueConstraint(fields=["job", "run_date"], name="job_run_once_a_day")]

    def __str__(self) -> str:
        return f"{self.job_label} du {self.run_date:%d/%m/%Y}"

    @property
    def job_label(self) -> str:
        return str(JOB_LABELS.get(self.job, self.job))


class OutboxEmail(models.Model):
    """An e-mail to send: written in the same transaction as what caused it, sent and retried by a worker.

    A worker claims it (``SENDING`` with ``claimed_at``, committed) before talking to the mail server, outside any
    transaction, then records the outcome: no other worker takes a claimed e-mail unless the claim is stale.
    """

    PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
    STATUSES = [
        (PENDING, _("à envoyer")),
        (SENDING, _("en cours d'envoi")),
        (SENT, _("envoyé")),
        (FAILED, _("en échec")),
    ]
    key = models.CharField(_("clé d'unicité"), max_length=200, unique=True)
    kind = models.CharField(_("type"), max_length=32)
    to = models.EmailField(_("destinataire"))
    subject = models.CharField(_("objet"), max_length=255)
    body_text = models.TextField(_("texte"))
    body_html = models.TextField(_("HTML"), blank=True)
    status = models.CharField(_("statut"), max_length=8, choices=STATUSES, default=PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    next_attempt_at = models.DateTimeField(_("prochaine tentative"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("pris en charge le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)
    # What the sender renders the body from when the scan recorded it unrendered (a staff digest's groups, plain
    # JSON values); empty for the e-mails written with their body.
    render_context = models.JSONField(_("contenu à rédiger"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("e-mail (boîte d'envoi)")
        verbose_name_plural = _("boîte d'envoi")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"


class ReminderDispatch(models.Model):
    """One reminder (deadline, offset, recipient) — unique, so it is sent at most once whatever happens."""

    key = models.CharField(_("clé"), max_length=200, unique=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="reminders")
    deadline_code = models.CharField(_("échéance"), max_length=32)
    due_at = models.DateTimeField(_("due le"))
    offset = models.CharField(_("rappel"), max_length=8)  # "30", "14", …, "0", or "overdue"
    recipient = models.CharField(_("destinataire"), max_length=254)
    email = models.ForeignKey(OutboxEmail, on_delete=models.PROTECT, related_name="reminders")
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("rappel envoyé")
        verbose_name_plural = _("rappels envoyés")

    def __str__(self) -> str:
        return f"Rappel à {self.recipient} (échéance du {timezone.localtime(self.due_at):%d/%m/%Y})"
