"""The traits insights publishes exist from the start (so rules can name them
before the first computation), and the store's policy has its one row.

Idempotent: existing rows are left as they are.
"""

from django.db import migrations

from insights.traits import FIXED_TRAITS, PRODUCER


def seed(apps, schema_editor):
    StoredTrait = apps.get_model("segments", "StoredTrait")
    InsightPolicy = apps.get_model("insights", "InsightPolicy")
    for name, (numeric, description) in FIXED_TRAITS.items():
        StoredTrait.objects.get_or_create(
            name=name,
            defaults={"numeric": numeric, "producer": PRODUCER, "description": description},
        )
    if not InsightPolicy.objects.exists():
        InsightPolicy.objects.create()


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0001_policy_rfm_scoring_models"),
        ("segments", "0002_stored_traits"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
