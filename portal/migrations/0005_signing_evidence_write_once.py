"""Signature evidence is write-once at the database level too (PostgreSQL): the trigger function of
``orders.0014_write_once_triggers`` refuses every UPDATE and DELETE of ``portal_signatureevidence`` with the model's
French message. The hash chain (``verify_signature_evidence``) still shows an edit made with the triggers disabled."""

from django.db import migrations

TABLE = "portal_signatureevidence"
TRIGGER = "portal_signatureevidence_write_once"
EDIT_REFUSAL = "Une preuve de signature ne se modifie jamais."
DELETE_REFUSAL = "Une preuve de signature ne se supprime jamais."


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"CREATE TRIGGER {quote(TRIGGER)} BEFORE UPDATE OR DELETE ON {quote(TABLE)} FOR EACH ROW "
        f"EXECUTE FUNCTION segur_write_once_refusal({schema_editor.quote_value(EDIT_REFUSAL)}, "
        f"{schema_editor.quote_value(DELETE_REFUSAL)})"
    )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"DROP TRIGGER IF EXISTS {schema_editor.quote_name(TRIGGER)} ON {schema_editor.quote_name(TABLE)}"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_signing_satisfaction_training"),
        ("orders", "0014_write_once_triggers"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
