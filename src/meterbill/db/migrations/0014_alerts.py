from tortoise import migrations
from tortoise.migrations import operations as ops
from meterbill.db.ids import billing_alert_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# Issue 16: MAX (a max_value column on both rollup tables), UNIQUE_COUNT (each event's value
# text, and the first-seen day and month rows of usage_unique_values), usage alerts and their
# triggers, and per (day or month, dimension set) the number of distinct values
# (usage_unique_counts). New tables and nullable columns: existing rows need no backfill (a MAX or
# UNIQUE_COUNT meter is new, so it has no older events).

class _WidenOnPostgres(ops.AlterField):
    """AlterField on PostgreSQL only: SQLite does not enforce VARCHAR lengths, and its
    AlterField remakes the table (DROP TABLE meters would cascade to prices and events)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await super().database_forward(app_label, old_state, new_state, state_editor)

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await super().database_backward(app_label, old_state, new_state, state_editor)


async def _room_for_updates(apps, schema_editor) -> None:
    # Every folded batch adds to the events of a value's day and month rows: with free room
    # in each page those updates stay on the page (HOT, no new entry in the wide unique
    # index). PostgreSQL only (SQLite has no fillfactor).
    if schema_editor.client.capabilities.dialect == "postgres":
        for table in ("usage_unique_values", "usage_unique_counts"):
            await schema_editor.client.execute_script(
                f"ALTER TABLE {table} SET (fillfactor = 70)"
            )


async def _nothing(apps, schema_editor) -> None:
    pass


class Migration(migrations.Migration):
    dependencies = [('models', '0013_credit_grants')]

    initial = False

    operations = [
        # "UNIQUE_COUNT" is 12 characters.
        _WidenOnPostgres(
            model_name='Meter',
            name='aggregation',
            field=fields.CharField(max_length=20),
        ),
        ops.CreateModel(
            name='BillingAlert',
            fields=[
                ('id', fields.CharField(primary_key=True, default=billing_alert_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('title', fields.CharField(max_length=200)),
                ('meter', fields.ForeignKeyField('models.Meter', source_field='meter_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('threshold', fields.CharField(max_length=64)),
                ('status', fields.CharField(default='ACTIVE', max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'billing_alerts', 'app': 'models', 'indexes': [Index(fields=['meter_id', 'status'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BillingAlertTrigger',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('alert', fields.ForeignKeyField('models.BillingAlert', source_field='alert_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('period_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('value', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'billing_alert_triggers', 'app': 'models', 'unique_together': (('alert', 'customer', 'period_start'),), 'indexes': [Index(fields=['alert_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsageUniqueValue',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.CharField(max_length=40)),
                ('meter_id', fields.CharField(max_length=40)),
                ('customer_id', fields.CharField(max_length=40)),
                ('grain', fields.CharField(max_length=5)),
                ('bucket', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('value', fields.CharField(max_length=200)),
                ('dimensions_key', fields.CharField(default='', max_length=2000)),
                ('events', fields.BigIntField(default=0)),
            ],
            options={'table': 'usage_unique_values', 'app': 'models', 'unique_together': (('meter_id', 'customer_id', 'grain', 'bucket', 'value', 'dimensions_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsageUniqueCount',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.CharField(max_length=40)),
                ('meter_id', fields.CharField(max_length=40)),
                ('customer_id', fields.CharField(max_length=40)),
                ('grain', fields.CharField(max_length=5)),
                ('bucket', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('dimensions_key', fields.CharField(default='', max_length=2000)),
                ('distinct_values', fields.BigIntField(default=0)),
            ],
            options={'table': 'usage_unique_counts', 'app': 'models', 'unique_together': (('meter_id', 'customer_id', 'grain', 'bucket', 'dimensions_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='MeterEvent',
            name='unique_value',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='UsageRollup',
            name='max_value',
            field=fields.DecimalField(null=True, max_digits=40, decimal_places=12),
        ),
        ops.AddField(
            model_name='UsageRollupHourly',
            name='max_value',
            field=fields.DecimalField(null=True, max_digits=40, decimal_places=12),
        ),
        ops.RunPython(_room_for_updates, _nothing),
    ]
