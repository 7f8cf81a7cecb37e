from tortoise import migrations
from tortoise.migrations import operations as ops
from meterbill.db.ids import credit_grant_id
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# Billing credits (issue 15): credit grants, what each invoice took from them, and the
# invoice's total of credits applied (0 for every invoice before this migration).

class Migration(migrations.Migration):
    dependencies = [('models', '0012_money')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditApplication',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.CharField(max_length=40)),
                ('invoice_id', fields.CharField(max_length=40)),
                ('grant_id', fields.CharField(max_length=40)),
                ('amount', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('returned_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_applications', 'app': 'models', 'indexes': [Index(fields=['invoice_id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditGrant',
            fields=[
                ('id', fields.CharField(primary_key=True, default=credit_grant_id, unique=True, db_index=True, max_length=40)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='credit_grants', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(null=True, max_length=200)),
                ('category', fields.CharField(max_length=12)),
                ('currency', fields.CharField(max_length=3)),
                ('amount', fields.BigIntField()),
                ('available_amount', fields.BigIntField()),
                ('price_ids', fields.TextField(default='', unique=False)),
                ('priority', fields.IntField(default=50)),
                ('effective_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('voided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_grants', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Invoice',
            name='total_credits_applied',
            field=fields.BigIntField(default=0, db_default=0),
        ),
    ]
