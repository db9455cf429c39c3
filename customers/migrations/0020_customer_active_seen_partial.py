"""The customer list's order is (last_seen desc, id desc) over active
profiles. PostgreSQL does not take ``merged_into IS NULL`` as an equality,
so the (merged_into, -last_seen) index gave no order and each list page
sorted every active profile. A partial index over active profiles gives it;
a small partial index keeps ``merged_into = X`` lookups (absorbed profiles).
The new indexes are built before the old one goes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0019_identity_superseded_at"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", True)),
                fields=["-last_seen", "-id"],
                name="customer_active_seen_id",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", False)),
                fields=["merged_into"],
                name="customer_merged_into",
            ),
        ),
        migrations.RemoveIndex(
            model_name="customer",
            name="customer_active_seen",
        ),
    ]
