"""Reminder and outbox keys become ``monitoring.reminders.unique_key(full key)``: a readable start and the SHA-256 of
the whole key, at most 128 characters, instead of the key cut at 200 characters (which merged two recipients once a
provider and software name was long). Keys already stored are rewritten the same way, so a reminder sent before the
upgrade is recognised after it and not sent again.

The outbox also gets a "sending" status and a claim time: a worker claims an e-mail and commits before it talks to
the mail server, so no row lock is held while it waits (``monitoring.reminders.outbox_send_due``).
"""

import hashlib

from django.db import migrations, models

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

    # Schema first: an ALTER TABLE after the row updates could meet their pending (deferred) constraint checks.
    operations = [
        migrations.AddField(
            model_name="outboxemail",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="pris en charge le"),
        ),
        migrations.AlterField(
            model_name="outboxemail",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "à envoyer"),
                    ("sending", "en cours d'envoi"),
                    ("sent", "envoyé"),
                    ("failed", "en échec"),
                ],
                db_index=True,
                default="pending",
                max_length=8,
                verbose_name="statut",
            ),
        ),
        migrations.RunPython(rewrite_keys, migrations.RunPython.noop),
    ]
