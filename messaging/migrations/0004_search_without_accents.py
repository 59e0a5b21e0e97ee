"""The inbox and contact searches ignore accents: their trigram indexes move to `recado_fold(...)`.

`recado_fold(text)` is `upper(unaccent(text))`, declared IMMUTABLE so that it can be indexed (unaccent itself is
only STABLE: its rules file could change; we take that risk as everyone indexing unaccent does). Its body names
the extension's schema and dictionary, so it works under any search_path (a restore runs with an empty one).
`unaccent` and `pg_trgm` are trusted extensions: the database's owner may create them without superuser.

The new indexes are built CONCURRENTLY before the old UPPER(...) ones are dropped, so a large inbox is never
without one (tenants/folding.py registers the same function on SQLite, which has no such indexes).
"""

from django.db import migrations

NEW = {
    "message_text_fold_trgm": "messaging_message USING gin (recado_fold(text) gin_trgm_ops)",
    "contact_search_fold_trgm": "contacts_contact USING gin (recado_fold(name) gin_trgm_ops, "
                                "recado_fold(custom_name) gin_trgm_ops, identifier gin_trgm_ops)",
}
OLD = {
    "message_text_trgm": "messaging_message USING gin (UPPER(text) gin_trgm_ops)",
    "contact_search_trgm": "contacts_contact USING gin (UPPER(name) gin_trgm_ops, UPPER(custom_name) gin_trgm_ops, "
                           "identifier gin_trgm_ops)",
}
FUNCTION = """
CREATE OR REPLACE FUNCTION recado_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT upper({schema}.unaccent('{schema}.unaccent'::regdictionary, value)) $$
"""


def forward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(extnamespace::regnamespace::text) FROM pg_extension "
                       "WHERE extname = 'unaccent'")
        (schema,) = cursor.fetchone()
    schema_editor.execute(FUNCTION.format(schema=schema))
    for name, definition in NEW.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")
    for name in OLD:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def backward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in OLD.items():
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")
    for name in NEW:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    schema_editor.execute("DROP FUNCTION IF EXISTS recado_fold(text)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0003_outbound_drain"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
