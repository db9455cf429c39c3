"""Consent records point at ``customers.Source`` (same table): state only.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('consent', '0003_privacy_request_no_match_status'),
        ('customers', '0014_source_moves_here'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='consentrecord',
                    name='source',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='customers.source'),
                ),
                migrations.AlterField(
                    model_name='suppressedmessagecount',
                    name='source',
                    field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='suppressed_messages', to='customers.source'),
                ),
            ],
            database_operations=[],
        ),
    ]
