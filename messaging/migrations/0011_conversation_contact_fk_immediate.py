"""The conversation → contact foreign key is checked when a conversation is inserted, not at commit (PostgreSQL).

An inbound message whose sender was merged away (deleted) between its lookup and its conversation's insert then
fails at that insert, inside its savepoint, and the apply resolves the sender again at once (the kept contact,
through the moved identifiers) instead of failing as a whole at commit and waiting for the sweep
(messaging.services.conversation_get_or_create, docs/contacts.md). The check is the same work, done earlier.
Django creates every foreign key DEFERRABLE INITIALLY DEFERRED; altering this field would recreate it so, and
tests/contacts/test_merge.py would fail.
"""

from django.db import migrations


def _constraint(schema_editor) -> str | None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid = 'messaging_conversation'::regclass AND confrelid = 'contacts_contact'::regclass")
        row = cursor.fetchone()
    return row[0] if row else None


def _set(deferrable: bool):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite (development) keeps its deferred keys; a single writer has no such race
        name = _constraint(schema_editor)
        if name is not None:
            mode = "DEFERRABLE INITIALLY DEFERRED" if deferrable else "NOT DEFERRABLE"
            schema_editor.execute(f'ALTER TABLE messaging_conversation ALTER CONSTRAINT "{name}" {mode}')
    return apply


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0010_autoreply_auto_close_hours"),
    ]

    operations = [
        migrations.RunPython(_set(deferrable=False), _set(deferrable=True), elidable=False),
    ]
