"""The inbound drain: an attempts counter, a `failed` status, and a partial index over pending events.

On PostgreSQL the index is built CONCURRENTLY (so the migration is not atomic): the table holds every raw gateway
body of the retention period and keeps taking writes while it is built. SQLite, the development default, builds
it the ordinary way.
"""

from django.db import migrations, models

INDEX = models.Index(condition=models.Q(("status", "pending")), fields=["company", "id"], name="inbound_event_pending")


def create_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS inbound_event_pending "
                              "ON instances_inboundevent (company_id, id) WHERE status = 'pending'")
    else:
        schema_editor.add_index(apps.get_model("instances", "InboundEvent"), INDEX)


def drop_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS inbound_event_pending")
    else:
        schema_editor.remove_index(apps.get_model("instances", "InboundEvent"), INDEX)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("instances", "0002_instance_starting_platform"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboundevent",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="inboundevent",
            name="status",
            field=models.CharField(choices=[("pending", "Pending"), ("processed", "Processed"), ("ignored", "Ignored"),
                                            ("failed", "Failed")], default="pending", max_length=10),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="inboundevent", index=INDEX)],
            database_operations=[migrations.RunPython(create_index, drop_index)],
        ),
    ]
