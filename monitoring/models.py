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
