from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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
