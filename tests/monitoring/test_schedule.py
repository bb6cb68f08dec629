"""The daily scan fires once, at 07:00 Europe/Paris, on daylight-saving change days too."""

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.conf import settings

from orders.rules import PARIS
from segur_portal.celery import app


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25), date(2026, 11, 23)])
def test_the_daily_scan_is_due_at_07_00_paris_once(day):
    configured = settings.CELERY_BEAT_SCHEDULE["daily-deadline-scan"]["schedule"]
    assert (configured.hour, configured.minute) == ({7}, {0})
    schedule = configured.__class__(hour=7, minute=0, app=app)  # bound to our app, as beat does
    last_run = datetime.combine(day - timedelta(days=1), time(7, 0, 5), tzinfo=PARIS)

    with time_machine.travel(datetime.combine(day, time(6, 59), tzinfo=PARIS), tick=False):
        before = schedule.is_due(last_run).is_due
    with time_machine.travel(datetime.combine(day, time(7, 0, 30), tzinfo=PARIS), tick=False):
        at_seven = schedule.is_due(last_run)
    just_ran = datetime.combine(day, time(7, 0, 31), tzinfo=PARIS)
    with time_machine.travel(datetime.combine(day, time(7, 1), tzinfo=PARIS), tick=False):
        again = schedule.is_due(just_ran).is_due

    assert app.conf.timezone == "Europe/Paris"
    assert not before
    assert at_seven.is_due
    assert not again
    assert 22 * 3600 < at_seven.next <= 25 * 3600  # the next one is tomorrow 07:00 (23 to 25 h on change days)
