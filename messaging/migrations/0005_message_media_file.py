"""An index on the files messages reference (only rows that have one), for the nightly orphan-file sweep.

The sweep asks, across companies, which of a folder's file names some message references (storage names are
not per company): so, unlike every other index of a tenant-owned table, this one does not start with the
company, and it is kept out of the model's Meta, where tests/tenants/test_structure.py holds that rule.
Built CONCURRENTLY on PostgreSQL, so a large messages table takes writes while it is built (hence not atomic).
"""

from django.db import migrations


def forward(apps, schema_editor) -> None:
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS message_media_file "
                          "ON messaging_message (media_file) WHERE media_file <> ''")


def backward(apps, schema_editor) -> None:
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS message_media_file")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0004_search_without_accents"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
