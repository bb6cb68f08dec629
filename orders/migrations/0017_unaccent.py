"""PostgreSQL's ``unaccent`` extension, for the staff search that ignores accents (``segur_portal.search``).

A no-op on SQLite, where ``segur_portal.search`` registers a Python ``UNACCENT`` function on each connection.
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0016_bulk_runs"),
    ]

    operations = [UnaccentExtension()]
