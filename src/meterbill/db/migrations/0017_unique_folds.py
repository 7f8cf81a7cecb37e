from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Issue 16, what was left of it. (1) The cost of UNIQUE_COUNT ingest: the aggregation claim
# touches a value's month row only when the value is new to its day (db/usage_sql.py
# _CLAIM_PG), so a month row's
# `events` now counts the value's day rows in that month (a cancel that deletes a day row
# takes one day from it), not its events. Rows written before count events: recount them
# from the day rows. No schema change. Run it with the workers stopped (a fold by old code
# after this statement would add events to a month row again). (2) alert_checks_due: the
# (meter, customer) pairs whose folds still have alerts to evaluate (db/models/alerts.py), so
# that a worker dying between a fold's commit and its alert evaluation leaves a row for the
# sweep instead of a missed crossing.
_PG = (
    "UPDATE usage_unique_values m SET events = d.days FROM ("
    "SELECT meter_id, customer_id, "
    "date_trunc('month', bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month, value, "
    "dimensions_key, count(*) AS days FROM usage_unique_values WHERE grain = 'day' "
    "GROUP BY 1, 2, 3, 4, 5) d "
    "WHERE m.grain = 'month' AND m.meter_id = d.meter_id AND m.customer_id = d.customer_id "
    "AND m.bucket = d.month AND m.value = d.value AND m.dimensions_key = d.dimensions_key"
)
# SQLite keeps the buckets as UTC text: strftime reads their year and month.
_SQLITE = (
    "UPDATE usage_unique_values SET events = (SELECT count(*) FROM usage_unique_values d "
    "WHERE d.grain = 'day' AND d.meter_id = usage_unique_values.meter_id "
    "AND d.customer_id = usage_unique_values.customer_id "
    "AND d.value = usage_unique_values.value "
    "AND d.dimensions_key = usage_unique_values.dimensions_key "
    "AND strftime('%Y-%m', d.bucket) = strftime('%Y-%m', usage_unique_values.bucket)) "
    "WHERE grain = 'month'"
)


async def _days_in_month_rows(apps, schema_editor) -> None:
    pg = schema_editor.client.capabilities.dialect == "postgres"
    await schema_editor.client.execute_query(_PG if pg else _SQLITE)


async def _nothing(apps, schema_editor) -> None:
    # Backwards the month rows keep their day counts: exact for values seen once a day.
    pass


class Migration(migrations.Migration):
    dependencies = [('models', '0016_credit_grant_room')]

    initial = False

    operations = [
        ops.RunPython(_days_in_month_rows, _nothing),
        ops.CreateModel(
            name='AlertCheckDue',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account_id', fields.CharField(max_length=40)),
                ('meter_id', fields.CharField(max_length=40)),
                ('customer_id', fields.CharField(max_length=40)),
                ('folds', fields.BigIntField(default=1)),
            ],
            options={'table': 'alert_checks_due', 'app': 'models', 'unique_together': (('meter_id', 'customer_id'),), 'pk_attr': 'id', 'table_description': 'A (meter, customer) whose folded usage has alerts to evaluate: written by the'},
            bases=['Model'],
        ),
    ]
