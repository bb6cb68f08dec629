"""Staff admin for the deadline engine: the outbox, the reminders already sent, the daily runs (run one now)."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from monitoring import reminders
from monitoring.models import JobRun, MonitoringMonth, MonitoringRevision, OutboxEmail, ReminderDispatch
from monitoring.reminders import OVERDUE
from monitoring.views import DEADLINE_CODES
from portal.log_redaction import mask_links

# What each e-mail of the outbox is, and each scheduled job, in French (the codes stay in the database).
OUTBOX_KINDS = {
    "asp_notice_draft": _("Projet d'information de l'ASP"),
    "staff_digest": _("Récapitulatif des échéances (équipe)"),
    "client_reminder": _("Rappel au client"),
    "scan_set_aside": _("Erreur du scan des échéances"),
    "portal_link": _("Lien d'accès à l'espace client"),
}
DEADLINE_LABELS = dict(DEADLINE_CODES)
# The counters of a scan's summary, in French, in the order they are shown.
SUMMARY_LABELS = {
    "orders": _("commandes examinées"),
    "lapsed": _("caducités constatées"),
    "date_2_notices": _("informations Date 2"),
    "date_5_declared": _("non-réalisations déclarées (Date 5)"),
    "reminders": _("rappels"),
    "emails": _("e-mails mis en file"),
    "failed_orders": _("commandes écartées"),
}


class KindFilter(admin.SimpleListFilter):
    title = _("type")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(OUTBOX_KINDS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(kind=self.value()) if self.value() else queryset


class DeadlineFilter(admin.SimpleListFilter):
    title = _("échéance")
    parameter_name = "deadline_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return DEADLINE_CODES

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(deadline_code=self.value()) if self.value() else queryset


def offset_label(offset: str) -> str:
    if offset == OVERDUE:
        return "échéance dépassée"
    return "le jour même" if offset == "0" else f"J-{offset}"


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

    list_display = ("created_at", "kind_label", "to", "subject", "status", "attempts", "sent_at", "last_error")
    list_filter = ("status", KindFilter)
    search_fields = ("to", "subject", "key")
    actions = ["retry_now"]
    # The unicity key is internal (codes and ISO dates): searchable, not shown.
    replaced = {"body_text": "masked_body_text", "body_html": "masked_body_html", "kind": "kind_label"}
    # The content a digest is rendered from is shown rendered (``_bodies``).
    exclude = ("body_text", "body_html", "kind", "key", "render_context")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        return [self.replaced.get(name, name) for name in fields if name not in {"key", "render_context"}]

    @admin.display(description=_("type"), ordering="kind")
    def kind_label(self, email: OutboxEmail) -> str:
        return OUTBOX_KINDS.get(email.kind, email.kind)

    @admin.display(description=_("texte"))
    def masked_body_text(self, email: OutboxEmail) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', mask_links(self._bodies(email)[0]))

    @admin.display(description=_("HTML (source)"))
    def masked_body_html(self, email: OutboxEmail) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', mask_links(self._bodies(email)[1]))

    def _bodies(self, email: OutboxEmail) -> tuple[str, str]:
        """The bodies; an e-mail not rendered yet (the sender renders it) is shown as it will read."""
        if reminders.outbox_unrendered(email):
            try:
                return reminders.outbox_bodies(email, preview=True)
            except Exception:  # its order is unreadable now: the sender will say why (last error)
                pending = str(_("Texte rédigé à l'envoi."))
                return pending, pending
        return email.body_text, email.body_html

    @admin.action(description=_("Renvoyer maintenant (remet les e-mails en échec dans la file)"))
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxEmail]) -> None:
        count = queryset.filter(status=OutboxEmail.FAILED).update(status=OutboxEmail.PENDING, next_attempt_at=None)
        self.message_user(
            request,
            ngettext("%(count)s e-mail remis en file d'envoi.", "%(count)s e-mails remis en file d'envoi.", count)
            % {"count": count},
        )


@admin.register(ReminderDispatch)
class ReminderDispatchAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "deadline_label", "reminder_label", "recipient", "order", "due_at")
    list_filter = (DeadlineFilter,)
    search_fields = ("recipient", "order__number")
    list_select_related = ("order",)
    fields = ("order", "deadline_label", "reminder_label", "due_at", "recipient", "email", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields)

    @admin.display(description=_("échéance"), ordering="deadline_code")
    def deadline_label(self, dispatch: ReminderDispatch) -> str:
        return DEADLINE_LABELS.get(dispatch.deadline_code, dispatch.deadline_code)

    @admin.display(description=_("rappel"), ordering="offset")
    def reminder_label(self, dispatch: ReminderDispatch) -> str:
        return offset_label(dispatch.offset)


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ("run_date", "job_label", "status_label", "started_at", "finished_at", "summary_list")
    change_list_template = "admin/monitoring/jobrun/change_list.html"
    fields = ("job_label", "run_date", "status_label", "started_at", "finished_at", "summary_list")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields)

    @admin.display(description=_("tâche"), ordering="job")
    def job_label(self, run: JobRun) -> str:
        return run.job_label

    @admin.display(description=_("statut"), ordering="status")
    def status_label(self, run: JobRun) -> str:
        return "terminée" if run.status == JobRun.DONE else "en cours"

    @admin.display(description=_("bilan"))
    def summary_list(self, run: JobRun) -> str:
        """The summary as a French list: the counters, then the refusals and the orders set aside (never JSON)."""
        summary = run.summary if isinstance(run.summary, dict) else {}
        lines = [(f"{label} : {summary[key]}",) for key, label in SUMMARY_LABELS.items() if summary.get(key)]
        if summary.get("skipped"):
            lines.insert(0, ("déjà exécutée ce jour : rien refait",))
        lines += [(f"refus : {line}",) for line in summary.get("refused") or []]
        lines += [(f"écartée : {line}",) for line in summary.get("failures") or []]
        if not lines:
            return "rien à faire"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", lines))

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

    def get_urls(self) -> list[Any]:
        """The secondary prestation's pages (AF §4.5): portfolio, bulk import, manual entry from the order page."""
        from monitoring import views

        return [
            path(
                "portefeuille/",
                self.admin_site.admin_view(views.secondary_portfolio),
                name="monitoring_secondary_portfolio",
            ),
            path("import/", self.admin_site.admin_view(views.secondary_import), name="monitoring_secondary_import"),
            path(
                "commande/<int:order_id>/saisir/",
                self.admin_site.admin_view(views.secondary_record_month),
                name="monitoring_secondary_record",
            ),
            *super().get_urls(),
        ]


@admin.register(MonitoringRevision)
class MonitoringRevisionAdmin(ReadOnlyAdmin):
    list_display = (
        "order",
        "month",
        "documents_expected",
        "documents_sent",
        "source",
        "author",
        "reason",
        "recorded_at",
    )
    list_filter = ("source",)
    list_select_related = ("order", "author")
    search_fields = ("order__number",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a revision is never edited: a correction is a new revision (AF §4.5)
