"""The inbox and contact searches ignore accents: their trigram indexes move to `recado_fold(...)`.

`recado_fold(text)` is `upper(unaccent(text))`, declared IMMUTABLE so that it can be indexed (unaccent itself is
only STABLE: its rules file could change; we take that risk as everyone indexing unaccent does). Its body names
the extension's schema and dictionary, so it works under any search_path (a restore runs with an empty one).
`unaccent` and `pg_trgm` are trusted extensions: the database's owner may create them without superuser.

Where the migration runs as a superuser (docker compose, the tests), `recado_unaccent` is declared IMMUTABLE
over unaccent's own C function, so that PostgreSQL inlines `recado_fold` into `upper(recado_unaccent(…))`: a
row then costs about 1.2 µs instead of 2.2-2.9 µs through an SQL function call (1M rows, measured on the
development machine), which the searches' row-by-row paths and the index's rechecks pay. A role that may not
create C functions (a managed database) gets the plain SQL body, which answers the same.

The new indexes are built CONCURRENTLY before the old UPPER(...) ones are dropped, so a large inbox is never
without one (tenants/folding.py registers the same function on SQLite, which has no such indexes).
"""

from django.db import ProgrammingError, migrations, transaction
from psycopg import errors

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
C_UNACCENT = """
CREATE OR REPLACE FUNCTION {schema}.recado_unaccent(regdictionary, text) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS '$libdir/unaccent', 'unaccent_dict'
"""
FOLD = """
CREATE OR REPLACE FUNCTION {schema}.{name}(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT upper({unaccent}('{dictionary}'::regdictionary, value)) $$
"""


def define_fold(connection, name: str = "recado_fold") -> str:
    """Create (or replace) the fold function `name` in the current schema; returns the unaccent it calls."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT quote_ident(extnamespace::regnamespace::text), quote_ident(current_schema()) "
                       "FROM pg_extension WHERE extname = 'unaccent'")
        extension_schema, schema = cursor.fetchone()
        unaccent = f"{extension_schema}.unaccent"
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute(C_UNACCENT.format(schema=schema))
            unaccent = f"{schema}.recado_unaccent"
        except ProgrammingError as error:
            if not isinstance(error.__cause__, errors.InsufficientPrivilege):
                raise
        cursor.execute(FOLD.format(schema=schema, name=name, unaccent=unaccent,
                                   dictionary=f"{extension_schema}.unaccent"))
    return unaccent


def forward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    define_fold(schema_editor.connection)
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
    schema_editor.execute("DROP FUNCTION IF EXISTS recado_unaccent(regdictionary, text)")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0003_outbound_drain"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
