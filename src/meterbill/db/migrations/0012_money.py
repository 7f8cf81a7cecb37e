from tortoise import migrations
from tortoise.migrations import operations as ops
from meterbill.db.ids import balance_transaction_id
from tortoise import fields
from tortoise.indexes import Index

# Issue 13 (money): customer balance and its transactions, what each invoice took from it,
# dunning (attempt count, next attempt, the account's billing settings), subscription changes
# (a metered item's usage start, a pending item's usage type). New columns are
# nullable or have a default: existing rows need no backfill.

# The wall-clock billing claim's partial index (0008) with UNPAID, now a live status (its
# periods are still closed and invoiced): the claim's IN list must match the index's.
_INDEX = "subscriptions_wall_clock_due"


async def _index_with_unpaid(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            f"DROP INDEX IF EXISTS {_INDEX}; CREATE INDEX {_INDEX} ON subscriptions "
            "(current_period_end) WHERE test_clock_id IS NULL "
            "AND status IN ('ACTIVE', 'PAST_DUE', 'UNPAID')"
        )


async def _index_without_unpaid(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            f"DROP INDEX IF EXISTS {_INDEX}; CREATE INDEX {_INDEX} ON subscriptions "
            "(current_period_end) WHERE test_clock_id IS NULL "
            "AND status IN ('ACTIVE', 'PAST_DUE')"
        )


class _WidenStatus(ops.AlterField):
    """subscriptions.status to 20 characters (INCOMPLETE_EXPIRED has 18). PostgreSQL widens
    the column in place; SQLite does not enforce the length, and its AlterField would rebuild
    the table without the indexes the billing claim reads."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await state_editor.client.execute_script(
                "ALTER TABLE subscriptions ALTER COLUMN status TYPE VARCHAR(20)"
            )

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await state_editor.client.execute_script(
                "ALTER TABLE subscriptions ALTER COLUMN status TYPE VARCHAR(10)"
            )


class Migration(migrations.Migration):
    dependencies = [('models', '0011_payment_provider_ids')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BillingSettings',
            fields=[
                ('account_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('payment_retry_days', fields.CharField(max_length=100)),
                ('subscription_after_retries', fields.CharField(max_length=16)),
                ('invoice_after_retries', fields.CharField(max_length=20)),
            ],
            options={'table': 'billing_settings', 'app': 'models', 'pk_attr': 'account_id', 'table_description': "An account's dunning settings (an account without a row has the defaults)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CustomerBalanceTransaction',
            fields=[
                ('id', fields.CharField(primary_key=True, default=balance_transaction_id, unique=True, db_index=True, max_length=40)),
                ('account_id', fields.CharField(max_length=40)),
                ('customer_id', fields.CharField(max_length=40)),
                ('type', fields.CharField(max_length=20)),
                ('amount', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('ending_balance', fields.BigIntField()),
                ('invoice_id', fields.CharField(null=True, max_length=40)),
                ('description', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer_balance_transactions', 'app': 'models', 'indexes': [Index(fields=['customer_id', 'created_at'])], 'pk_attr': 'id', 'table_description': "One change of a customer's balance (Stripe's customer balance transaction)."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Customer',
            name='balance',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Customer',
            name='balance_currency',
            field=fields.CharField(null=True, max_length=3),
        ),
        ops.AddField(
            model_name='Invoice',
            name='attempt_count',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Invoice',
            name='ending_balance',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='Invoice',
            name='next_payment_attempt',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Invoice',
            name='starting_balance',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddIndex(
            model_name='Invoice',
            index=Index(fields=['next_payment_attempt']),
        ),
        ops.AddField(
            model_name='PendingItem',
            name='usage_type',
            field=fields.CharField(default='LICENSED', db_default='LICENSED', max_length=8),
        ),
        ops.AddField(
            model_name='SubscriptionItem',
            name='usage_from',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        _WidenStatus(
            model_name='Subscription',
            name='status',
            field=fields.CharField(default='ACTIVE', max_length=20),
        ),
        ops.RunPython(_index_with_unpaid, _index_without_unpaid),
    ]
