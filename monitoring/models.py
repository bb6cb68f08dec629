from django.db import models
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
