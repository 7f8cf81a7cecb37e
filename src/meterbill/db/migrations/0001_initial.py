from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.migrations import operations as ops

from meterbill.db.ids import (
    account_id,
    api_key_id,
    customer_id,
    meter_id,
    price_id,
    product_id,
    test_clock_id,
)


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.CharField(primary_key=True, default=account_id, unique=True, db_index=True, max_length=40)),
                ('name', fields.CharField(max_length=200)),
                ('invoice_prefix', fields.CharField(max_length=16)),
                ('next_invoice_seq', fields.BigIntField(default=1)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'accounts', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.CharField(primary_key=True, default=api_key_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='api_keys', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('scopes', fields.CharField(max_length=100)),
                ('prefix', fields.CharField(max_length=20)),
                ('secret_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_keys', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Meter',
            fields=[
                ('id', fields.CharField(primary_key=True, default=meter_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='meters', on_delete=OnDelete.CASCADE)),
                ('display_name', fields.CharField(max_length=200)),
                ('event_name', fields.CharField(max_length=100)),
                ('aggregation', fields.CharField(max_length=10)),
                ('customer_mapping_type', fields.CharField(default='BY_ID', max_length=20)),
                ('customer_payload_key', fields.CharField(default='customer_id', max_length=100)),
                ('value_payload_key', fields.CharField(default='value', max_length=100)),
                ('dimension_keys', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharField(default='ACTIVE', max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('deactivated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'meters', 'app': 'models', 'unique_together': (('account', 'event_name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Product',
            fields=[
                ('id', fields.CharField(primary_key=True, default=product_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='products', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.CharField(null=True, max_length=1000)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'products', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Price',
            fields=[
                ('id', fields.CharField(primary_key=True, default=price_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='prices', on_delete=OnDelete.CASCADE)),
                ('product', fields.ForeignKeyField('models.Product', source_field='product_id', db_constraint=True, to_field='id', related_name='prices', on_delete=OnDelete.RESTRICT)),
                ('currency', fields.CharField(max_length=3)),
                ('nickname', fields.CharField(null=True, max_length=200)),
                ('active', fields.BooleanField(default=True)),
                ('billing_scheme', fields.CharField(max_length=10)),
                ('unit_amount_decimal', fields.CharField(null=True, max_length=64)),
                ('tiers_mode', fields.CharField(null=True, max_length=10)),
                ('transform_divide_by', fields.IntField(null=True)),
                ('transform_round', fields.CharField(null=True, max_length=4)),
                ('interval', fields.CharField(max_length=5)),
                ('interval_count', fields.IntField(default=1)),
                ('usage_type', fields.CharField(max_length=8)),
                ('meter', fields.ForeignKeyField('models.Meter', source_field='meter_id', null=True, db_constraint=True, to_field='id', related_name='prices', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'prices', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PriceTier',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('price', fields.ForeignKeyField('models.Price', source_field='price_id', db_constraint=True, to_field='id', related_name='tiers', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('up_to', fields.BigIntField(null=True)),
                ('unit_amount_decimal', fields.CharField(null=True, max_length=64)),
                ('flat_amount_decimal', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'price_tiers', 'app': 'models', 'unique_together': (('price', 'position'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TestClock',
            fields=[
                ('id', fields.CharField(primary_key=True, default=test_clock_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='test_clocks', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(null=True, max_length=200)),
                ('frozen_time', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(default='READY', max_length=20)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'test_clocks', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Customer',
            fields=[
                ('id', fields.CharField(primary_key=True, default=customer_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='customers', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(null=True, max_length=200)),
                ('email', fields.CharField(null=True, max_length=320)),
                ('description', fields.CharField(null=True, max_length=1000)),
                ('external_id', fields.CharField(null=True, max_length=200)),
                ('default_payment_method', fields.CharField(null=True, max_length=100)),
                ('test_clock', fields.ForeignKeyField('models.TestClock', source_field='test_clock_id', null=True, db_constraint=True, to_field='id', related_name='customers', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'customers', 'app': 'models', 'unique_together': (('account', 'external_id'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WorkerHeartbeat',
            fields=[
                ('worker', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('beats', fields.BigIntField(default=0)),
                ('beat_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'worker_heartbeats', 'app': 'models', 'pk_attr': 'worker', 'table_description': 'Written by the housekeeping cron: proves a worker (embedded or separate) is running'},
            bases=['Model'],
        ),
    ]
