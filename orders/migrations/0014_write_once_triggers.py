"""Write-once records at the database level (PostgreSQL): a trigger refuses every UPDATE and DELETE of order events,
invoices, documents, client-space events and the clients' change log, with the model's French message, whatever the client (ORM, raw SQL,
psql). TRUNCATE, used only to empty a test database, is not a row operation and stays possible.

The messages are copied here (a migration is frozen); ``tests/segur_portal/test_write_once.py`` checks they are the
models' ones. Nothing runs on SQLite, the embedded development database.
"""

from django.db import migrations

FUNCTION = "segur_write_once_refusal"
SQLSTATE = "SGW01"  # segur_portal.records.WRITE_ONCE_SQLSTATE
TABLES = {
    "orders_orderevent": (
        "Un événement du journal des commandes ne se modifie jamais.",
        "Un événement du journal des commandes ne se supprime jamais.",
    ),
    "orders_invoice": (
        "Une facture émise ne se modifie jamais : émettez un avoir (CGI art. 289).",
        "Une facture émise ne se supprime jamais : émettez un avoir.",
    ),
    "orders_document": (
        "Un document généré ne se modifie jamais : générez une nouvelle version.",
        "Un document généré ne se supprime jamais.",
    ),
    "clients_clientchange": (
        "Une modification inscrite au journal du client ne se modifie jamais.",
        "Une modification inscrite au journal du client ne se supprime jamais.",
    ),
    "portal_portalevent": (
        "Un événement du journal de l'espace client ne se modifie jamais.",
        "Un événement du journal de l'espace client ne se supprime jamais.",
    ),
}


def _trigger(table: str) -> str:
    return f"{table}_write_once"


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- TG_ARGV: the French message for an edit, then for a deletion.
            IF TG_OP = 'UPDATE' THEN
                RAISE EXCEPTION USING ERRCODE = '{SQLSTATE}', MESSAGE = TG_ARGV[0];
            END IF;
            RAISE EXCEPTION USING ERRCODE = '{SQLSTATE}', MESSAGE = TG_ARGV[1];
        END
        $$
        """
    )
    for table, (edit_refusal, delete_refusal) in TABLES.items():
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"CREATE TRIGGER {quote(_trigger(table))} BEFORE UPDATE OR DELETE ON {quote(table)} FOR EACH ROW "
            f"EXECUTE FUNCTION {FUNCTION}({schema_editor.quote_value(edit_refusal)}, "
            f"{schema_editor.quote_value(delete_refusal)})"
        )


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        quote = schema_editor.quote_name
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {quote(_trigger(table))} ON {quote(table)}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0013_change_order_terms_permission"),
        ("portal", "0001_initial"),
        ("clients", "0003_client_change_log"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
