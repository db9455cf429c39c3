"""``Source`` now belongs to ``customers`` (see customers 0014): state only, the
tables stay.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0004_source_in_customers"),
        ('customers', '0014_source_moves_here'),
        ('sources', '0007_import_job_event_name_and_column_reading'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='intakemessage',
                    name='source',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='intake_messages', to='customers.source'),
                ),
                migrations.AlterField(
                    model_name='importjob',
                    name='source',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='import_jobs', to='customers.source'),
                ),
                migrations.AlterField(
                    model_name='rejectedmessage',
                    name='source',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rejections', to='customers.source'),
                ),
                migrations.DeleteModel(
                    name='HistoricalSource',
                ),
                migrations.DeleteModel(
                    name='Source',
                ),
            ],
            database_operations=[],
        ),
    ]
