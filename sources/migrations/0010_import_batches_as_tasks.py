# Import batches run as Celery tasks: the job counts its batches, and each
# applied batch leaves a row so that a redelivered batch is applied once.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sources', '0009_export_record'),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='batches_done',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='importjob',
            name='batches_total',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name='importjob',
            constraint=models.CheckConstraint(condition=models.Q(('batches_done__lte', models.F('batches_total'))), name='importjob_batches_within_total'),
        ),
        migrations.CreateModel(
            name='ImportBatch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField()),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='batches', to='sources.importjob')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('job', 'number'), name='importbatch_once_per_job')],
            },
        ),
    ]
