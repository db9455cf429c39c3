"""Workers pick up a source's waiting tracking calls oldest first."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0004_intake_and_rejections"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="intakemessage",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["source", "id"],
                name="intake_pending",
            ),
        ),
    ]
