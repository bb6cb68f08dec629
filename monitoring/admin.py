"""Staff admin for the deadline engine: the outbox, the reminders already sent, the daily runs (run one now)."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from monitoring.models import JobRun, MonitoringMonth, OutboxEmail, ReminderDispatch
from portal.log_redaction import mask_links


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEmail)
class OutboxEmailAdmin(ReadOnlyAdmin):
    """The bodies are shown with their client-space links masked: a live link opens a client's space to whoever
    reads it (the e-mail sent keeps its link)."""

    list_display = ("created_at", "kind", "to", "subject", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", "kind")
    search_fields = ("to", "subject", "key")
    actions = ["retry_now"]
    masked_bodies = {"body_text": "masked_body_text", "body_html": "masked_body_html"}
    exclude = tuple(masked_bodies)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [self.masked_bodies.get(name, name) for name in super().get_readonly_fields(request, obj)]

    @admin.display(description=_("texte"))
    def masked_body_text(self, email: OutboxEmail) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', mask_links(email.body_text))

    @admin.display(description=_("HTML (source)"))
    def masked_body_html(self, email: OutboxEmail) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', mask_links(email.body_html))

    @admin.action(description=_("Renvoyer maintenant (remet les e-mails en échec dans la file)"))
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxEmail]) -> None:
        count = queryset.filter(status=OutboxEmail.FAILED).update(status=OutboxEmail.PENDING, next_attempt_at=None)
        self.message_user(request, f"{count} e-mail(s) remis en file d'envoi.")


@admin.register(ReminderDispatch)
class ReminderDispatchAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "deadline_code", "offset", "recipient", "order", "due_at")
    list_filter = ("deadline_code", "offset")
    search_fields = ("recipient", "order__number")
    list_select_related = ("order",)


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("run_date", "job", "status", "started_at", "finished_at", "summary")
    change_list_template = "admin/monitoring/jobrun/change_list.html"

    def get_urls(self) -> list[Any]:
        return [
            path("lancer/", self.admin_site.admin_view(self.run_now), name="monitoring_jobrun_run"),
            *super().get_urls(),
        ]

    def run_now(self, request: HttpRequest) -> HttpResponse:
        """Queue today's scan on the worker (a second run the same day does nothing, by design)."""
        if request.method != "POST" or not request.user.has_perm("orders.declare_failure"):
            raise PermissionDenied
        from monitoring.tasks import scan_deadlines

        try:
            scan_deadlines.delay()
        except Exception as exc:  # the broker is unreachable: say so, nothing was queued
            messages.error(request, f"Impossible de joindre le broker Celery : {exc}")
        else:
            messages.success(request, "Scan des échéances lancé : le bilan apparaîtra ici à la fin de l'exécution.")
        return HttpResponseRedirect(reverse("admin:monitoring_jobrun_changelist"))


@admin.register(MonitoringMonth)
class MonitoringMonthAdmin(ReadOnlyAdmin):
    list_display = ("order", "month", "documents_expected", "documents_sent", "patients_seen", "patients_qualified")
    list_select_related = ("order",)
    search_fields = ("order__number",)
