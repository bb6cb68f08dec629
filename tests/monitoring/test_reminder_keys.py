"""Reminder and outbox keys have a bounded length and stay unique whatever the names in them.

Cut at 200 characters, a provider-level key ("provider — software version") lost its date, offset and recipient: two
staff members got the same key, the insert failed and the whole scan rolled back, on every retry.
"""

import importlib

import pytest
import time_machine
from django.apps import apps

from monitoring import reminders
from monitoring.models import OutboxEmail, ReminderDispatch
from orders import rules
from orders.roles import ADMIN_GROUP, DEPLOYMENT_GROUP
from tests.factories import make_provider, make_solution, make_user, paris

LONG_NAME = ("Éditeur " + "très " * 70)[:296] + "long"  # 300 characters
migration = importlib.import_module("monitoring.migrations.0003_fixed_length_keys")


def provider_reminder(subject: str, offset: str = "14") -> reminders.DueReminder:
    deadline = rules.Deadline(
        "PILOT_VALIDATION", paris(2027, 10, 13), "deployment", "Faire valider le pilote", "AF §6.3", rules.UPCOMING
    )
    return reminders.DueReminder(None, deadline, offset, subject=subject)


def test_a_key_is_bounded_readable_and_the_same_for_the_same_reminder():
    assert len(LONG_NAME) == 300
    reminder = provider_reminder(LONG_NAME)

    first, second = reminder.key("user:1"), reminder.key("user:2")

    assert first == provider_reminder(LONG_NAME).key("user:1")  # idempotence: same reminder, same key
    assert first != second  # the recipient sits after 300 characters: it still counts
    assert reminder.key("user:1") != provider_reminder(LONG_NAME, offset="7").key("user:1")
    assert len(first) == len(second) == reminders.KEY_LENGTH
    assert first.startswith("PILOT_VALIDATION:Éditeur très")
    short = reminders.unique_key("digest:3:2026-12-09")
    assert short.startswith("digest:3:2026-12-09#") and len(short) <= reminders.KEY_LENGTH


@pytest.mark.django_db
def test_two_staff_members_get_their_reminder_of_a_provider_with_very_long_names():
    team = [make_user(f"tech{n}", DEPLOYMENT_GROUP, email=f"tech{n}@logimed.example") for n in (1, 2)]
    make_user("chef", ADMIN_GROUP, email="chef@logimed.example")
    provider = make_provider(name=LONG_NAME[:255])  # the longest the database holds
    make_solution(provider=provider, name="Logiciel " + "x" * 246, pilot_validated_at=None)

    with time_machine.travel(paris(2027, 9, 29, 7), tick=False):  # Date 6 in 14 days, the pilot not validated
        first = reminders.deadlines_scan()
    with time_machine.travel(paris(2027, 9, 30, 7), tick=False):  # still the 14-day reminder: nothing new
        second = reminders.deadlines_scan()

    dispatches = ReminderDispatch.objects.filter(deadline_code="PILOT_VALIDATION", offset="14")
    assert sorted(dispatches.values_list("recipient", flat=True)) == [f"user:{user.pk}" for user in team]
    assert len({d.key for d in dispatches}) == 2 and all(len(d.key) <= 128 for d in dispatches)
    assert first.reminders >= 2 and second.reminders == 0
    for user in team:
        digest = OutboxEmail.objects.get(kind="staff_digest", to=user.email)
        reminders.outbox_render(digest)  # as the sender does before sending
        assert LONG_NAME[:255] in digest.body_text and len(digest.key) <= 128


@pytest.mark.django_db
def test_the_migration_rewrites_stored_keys_to_what_the_code_now_computes():
    reminder = provider_reminder("Logimed SAS — MediCab 12")
    email = OutboxEmail.objects.create(key="digest:3:2027-09-29", kind="staff_digest", to="a@b.example", subject="s")
    ReminderDispatch.objects.create(
        key=reminder.full_key("user:3"),  # the key as the previous code stored it
        deadline_code="PILOT_VALIDATION",
        due_at=reminder.deadline.due_at,
        offset="14",
        recipient="user:3",
        email=email,
    )

    migration.rewrite_keys(apps, None)

    assert ReminderDispatch.objects.get().key == reminder.key("user:3")
    assert OutboxEmail.objects.get().key == reminders.unique_key("digest:3:2027-09-29")
    assert migration.unique_key(LONG_NAME) == reminders.unique_key(LONG_NAME)
