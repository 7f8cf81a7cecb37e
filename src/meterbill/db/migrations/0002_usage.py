from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MeterEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('meter', fields.ForeignKeyField('models.Meter', source_field='meter_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('identifier', fields.CharField(max_length=100)),
                ('event_name', fields.CharField(max_length=100)),
                ('value', fields.DecimalField(max_digits=40, decimal_places=12)),
                ('timestamp', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('dimensions_key', fields.CharField(default='', max_length=2000)),
                ('status', fields.CharField(default='ACCEPTED', max_length=10)),
                ('aggregated', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('canceled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'meter_events', 'app': 'models', 'unique_together': (('account', 'identifier'),), 'indexes': [Index(fields=['aggregated', 'id']), Index(fields=['meter_id', 'customer_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsageRollup',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('meter', fields.ForeignKeyField('models.Meter', source_field='meter_id', db_constraint=True, to_field='id', related_name='rollups', on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='rollups', on_delete=OnDelete.CASCADE)),
                ('bucket', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('dimensions_key', fields.CharField(default='', max_length=2000)),
                ('sum', fields.DecimalField(default=0, max_digits=40, decimal_places=12)),
                ('count', fields.BigIntField(default=0)),
                ('last_value', fields.DecimalField(null=True, max_digits=40, decimal_places=12)),
                ('last_ts', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_seq', fields.BigIntField(null=True)),
            ],
            options={'table': 'usage_rollups', 'app': 'models', 'unique_together': (('meter', 'customer', 'bucket', 'dimensions_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
