"""Trigram indexes for the inbox search (PostgreSQL only; SQLite, the development default, skips them).

The inbox search is a substring match (`icontains`, which Django writes as `UPPER(col) LIKE UPPER(%term%)`) over
contact names and numbers and every message's text. Without an index a term found nowhere reads the whole
messages table: about 1.3 s for 1M messages (benchmarks/inbox.py). pg_trgm's GIN indexes on the very
expressions Django compares answer it in about a millisecond. They are not in the models' Meta because GIN
with an operator class does not exist on SQLite; built CONCURRENTLY (so the migration is not atomic), they do
not block writes on a large table while they are built.
"""

from django.db import migrations

INDEXES = {
    "message_text_trgm": "messaging_message USING gin (UPPER(text) gin_trgm_ops)",
    "contact_search_trgm": "contacts_contact USING gin (UPPER(name) gin_trgm_ops, UPPER(custom_name) gin_trgm_ops, "
                           "identifier gin_trgm_ops)",
}


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts", "0001_initial"),
        ("messaging", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
