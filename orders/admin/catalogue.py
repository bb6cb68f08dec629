"""Programmes (calendar and price tables), providers and solutions with their versions (AF §II, §4.3, §5)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from orders import rules, services
from orders.exceptions import BusinessRuleError
from orders.models import PriceCeiling, Programme, Provider, Solution, SolutionVersion


class PriceCeilingInline(admin.TabularInline):
    model = PriceCeiling
    extra = 0
    fields = ("prestation", "category", "vat_regime", "amount")
    ordering = ("prestation", "category", "vat_regime")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "couloir", "date_4", "date_5", "date_6")
    inlines = [PriceCeilingInline]
    fieldsets = (
        (None, {"fields": ("code", "name", "couloir")}),
        (
            _("Calendrier (12:00, heure de Paris)"),
            {"fields": ("date_0", "date_1", "date_2", "date_3", "date_4", "date_5", "date_6")},
        ),
        (
            _("Paramètres"),
            {
                "fields": (
                    "advance_rate",
                    "pilot_size",
                    "pre_order_window_days",
                    "advance_exception_days",
                    "secondary_observation_months",
                    "secondary_request_months",
                    "secondary_window_months",
                    "termination_notice_months",
                    "portability_days",
                    "satisfaction_report_months",
                    "ans_check_months",
                )
            },
        ),
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "siren", "asp_enrolment_validated_on", "preserie_validated_on")


class SolutionVersionFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors) or self.instance.programme_id is None:
            return  # the solution's own form reports what is missing (its programme)
        pending = [
            rules.VersionFacts(
                form.cleaned_data["label"],
                form.cleaned_data["released_on"],
                form.cleaned_data.get("end_announced_on"),
                form.cleaned_data.get("is_wave1_referenced", False),
                form.cleaned_data.get("declared_obsolete", False),
            )
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            services.solution_versions_check(solution=self.instance, pending=pending)
        except BusinessRuleError as error:
            raise forms.ValidationError([violation.message for violation in error.violations]) from error


class SolutionVersionInline(admin.TabularInline):
    model = SolutionVersion
    formset = SolutionVersionFormSet
    extra = 0
    fields = ("label", "released_on", "end_announced_on", "is_wave1_referenced", "declared_obsolete")


@admin.register(Solution)
class SolutionAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "programme", "ans_reference_number", "referenced_at", "pilot_validated_at")
    list_filter = ("programme",)
    inlines = [SolutionVersionInline]
