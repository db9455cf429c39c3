"""``Source`` (and its history) moves from ``sources`` to ``customers``: state only.

The tables keep their names (``sources_source``, ``sources_historicalsource``);
the content types are renamed, so permissions, role groups and admin log
entries that point at them follow.
"""

import core.audit
import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models


MODELS = ("source", "historicalsource")


def move_content_types(apps, schema_editor, *, old="sources", new="customers"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MODELS:
        if not types.filter(app_label=new, model=model).exists():
            types.filter(app_label=old, model=model).update(app_label=new)


def restore_content_types(apps, schema_editor):
    move_content_types(apps, schema_editor, old="customers", new="sources")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("sources", "0007_import_job_event_name_and_column_reading"),
        ('customers', '0013_outbox_moves_to_core'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Source',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120, unique=True)),
                        ('kind', models.CharField(choices=[('website', 'Website'), ('mobile', 'Mobile app'), ('server', 'Server'), ('crm', 'CRM'), ('email', 'Email tool'), ('pos', 'Point of sale'), ('shop', 'Online shop'), ('file', 'File import'), ('api', 'REST API')], max_length=16)),
                        ('write_key_prefix', models.CharField(editable=False, max_length=16)),
                        ('write_key_hash', models.CharField(editable=False, max_length=64, unique=True)),
                        ('write_key_rotated_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('enabled', models.BooleanField(default=True)),
                        ('description', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'sources_source',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='HistoricalSource',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('history_actor', models.CharField(db_index=True, default=core.audit.current_actor, editable=False, max_length=200)),
                        ('name', models.CharField(db_index=True, max_length=120)),
                        ('kind', models.CharField(choices=[('website', 'Website'), ('mobile', 'Mobile app'), ('server', 'Server'), ('crm', 'CRM'), ('email', 'Email tool'), ('pos', 'Point of sale'), ('shop', 'Online shop'), ('file', 'File import'), ('api', 'REST API')], max_length=16)),
                        ('write_key_prefix', models.CharField(editable=False, max_length=16)),
                        ('write_key_rotated_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('enabled', models.BooleanField(default=True)),
                        ('description', models.TextField(blank=True)),
                        ('created_at', models.DateTimeField(blank=True, editable=False)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'historical source',
                        'verbose_name_plural': 'historical sources',
                        'db_table': 'sources_historicalsource',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.AlterField(
                    model_name='dataqualityissue',
                    name='source',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='customers.source'),
                ),
                migrations.AlterField(
                    model_name='event',
                    name='source',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='customers.source'),
                ),
                migrations.AlterField(
                    model_name='groupmembership',
                    name='source',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='customers.source'),
                ),
                migrations.AlterField(
                    model_name='historicalidentity',
                    name='source',
                    field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='customers.source'),
                ),
                migrations.AlterField(
                    model_name='identity',
                    name='source',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='customers.source'),
                ),
                migrations.AlterField(
                    model_name='traitsourcepriority',
                    name='source',
                    field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='trait_priority', to='customers.source'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
