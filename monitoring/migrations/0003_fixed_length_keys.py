"""Reminder and outbox keys become ``monitoring.reminders.unique_key(full key)``: a readable start and the SHA-256 of
the whole key, at most 128 characters, instead of the key cut at 200 characters (which merged two recipients once a
provider and software name was long). Keys already stored are rewritten the same way, so a reminder sent before the
upgrade is recognised after it and not sent again.
"""

import hashlib

from django.db import migrations

KEY_LENGTH = 128
BATCH = 2000


def unique_key(full_key: str) -> str:
    # A copy of ``monitoring.reminders.unique_key`` as it is at this migration (migrations must not follow the code).
    digest = hashlib.sha256(full_key.encode()).hexdigest()
    return f"{full_key[: KEY_LENGTH - len(digest) - 1]}#{digest}"


def rewrite_keys(apps, schema_editor):
    for model_name in ("ReminderDispatch", "OutboxEmail"):
        model = apps.get_model("monitoring", model_name)
        rows = []
        for row in model.objects.only("pk", "key").order_by("pk").iterator(chunk_size=BATCH):
            row.key = unique_key(row.key)
            rows.append(row)
            if len(rows) == BATCH:
                model.objects.bulk_update(rows, ["key"])
                rows = []
        model.objects.bulk_update(rows, ["key"])


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0002_reminders_outbox")]

    operations = [migrations.RunPython(rewrite_keys, migrations.RunPython.noop)]
