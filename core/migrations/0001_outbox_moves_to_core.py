"""The outbox moves from ``customers`` to the base layer; its table stays.

State only: the table ``customers_outboxentry`` keeps its name, rows and
indexes. The content type (and with it the model's permissions) is renamed
rather than recreated, so nothing that points at it is orphaned.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def move_content_type(apps, schema_editor, *, old="customers", new="core"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if ContentType.objects.using(db).filter(app_label=new, model="outboxentry").exists():
        return
    ContentType.objects.using(db).filter(app_label=old, model="outboxentry").update(app_label=new)


def restore_content_type(apps, schema_editor):
    move_content_type(apps, schema_editor, old="core", new="customers")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0012_vendor_identifier_types"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboxEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("topic", models.CharField(choices=[("profile.created", "Profile Created"), ("profile.updated", "Profile Updated"), ("profile.merged", "Profile Merged"), ("profile.unmerged", "Profile Unmerged"), ("identify", "Identify"), ("track", "Track"), ("segment.entered", "Segment Entered"), ("segment.exited", "Segment Exited")], max_length=32)),
                        ("payload", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("dispatched_at", models.DateTimeField(blank=True, null=True)),
                        ("customer", models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="outbox_entries", to="customers.customer")),
                    ],
                    options={
                        "verbose_name_plural": "outbox entries",
                        "db_table": "customers_outboxentry",
                        "indexes": [models.Index(condition=models.Q(("dispatched_at__isnull", True)), fields=["id"], name="outbox_pending")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, restore_content_type),
    ]
