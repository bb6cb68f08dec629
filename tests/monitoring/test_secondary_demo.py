"""The demo shows orders in each PERF situation, one of them reaching PERF 1 only after a correction (AF §3.3)."""

import pytest
from django.core.management import call_command

from monitoring.models import MonitoringRevision, PerfStatus, PerfSummary


@pytest.mark.django_db
def test_the_demo_has_every_perf_situation_and_a_correction_that_qualifies_an_order(frozen_today):
    call_command("seed_demo")

    statuses = set(PerfSummary.objects.values_list("status", flat=True))
    assert statuses == set(PerfStatus.values)
    corrected = MonitoringRevision.objects.get(reason="Dt saisi 400 au lieu de 40")
    earlier = MonitoringRevision.objects.get(order=corrected.order, month=corrected.month, documents_expected=400)
    assert earlier.pk < corrected.pk
    assert PerfSummary.objects.get(order=corrected.order).status == PerfStatus.PERF_1
