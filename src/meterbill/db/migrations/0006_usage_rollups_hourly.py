from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from datetime import UTC
from decimal import Context, Decimal, Inexact, InvalidOperation

# Backfill: every hour rollup is the merge of its minute rollups (services/usage/aggregate.py
# keeps it so from here on). PostgreSQL merges in SQL with exact NUMERIC; SQLite keeps
# decimals as text, so it merges in Python with Decimal. LAST keeps the value of the greatest
# (last_ts, last_seq, last_value), as billing.aggregation.merge does. Run it with the workers
# stopped: a minute changed by an old worker during the migration would miss its hour.

_COLS = "account_id, meter_id, customer_id, bucket, dimensions_key, sum, count, last_value, last_ts, last_seq"
_BY_LAST = "ORDER BY last_ts DESC, last_seq DESC, last_value DESC) FILTER (WHERE last_ts IS NOT NULL))[1]"
_BACKFILL_PG = (
    f"INSERT INTO usage_rollups_hourly ({_COLS}) "
    "SELECT account_id, meter_id, customer_id, "
    "date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'), dimensions_key, "
    f"sum(sum), sum(count), (array_agg(last_value {_BY_LAST}, max(last_ts), "
    f"(array_agg(last_seq {_BY_LAST} FROM usage_rollups GROUP BY 1, 2, 3, 4, 5"
)
_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation])
_PAGE = 5000


async def backfill_hourly(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_query(_BACKFILL_PG)
        return
    minute = apps.get_model("models", "UsageRollup")
    hourly = apps.get_model("models", "UsageRollupHourly")
    hours: dict[tuple, dict] = {}
    after = 0
    while True:
        page = await minute.filter(id__gt=after).order_by("id").limit(_PAGE).using_db(client)
        if not page:
            break
        after = page[-1].id
        for r in page:
            bucket = r.bucket.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            key = (r.account_id, r.meter_id, r.customer_id, bucket, r.dimensions_key)
            h = hours.setdefault(key, {"sum": Decimal(0), "count": 0, "last": None})
            h["sum"] = _EXACT.add(h["sum"], Decimal(r.sum))
            h["count"] += int(r.count)
            if r.last_ts is not None and r.last_value is not None:
                last = (r.last_ts, r.last_seq, Decimal(r.last_value))
                if h["last"] is None or last > h["last"]:
                    h["last"] = last
    rows = [
        hourly(
            account_id=a,
            meter_id=m,
            customer_id=c,
            bucket=b,
            dimensions_key=d,
            sum=h["sum"],
            count=h["count"],
            last_value=None if h["last"] is None else h["last"][2],
            last_ts=None if h["last"] is None else h["last"][0],
            last_seq=None if h["last"] is None else h["last"][1],
        )
        for (a, m, c, b, d), h in hours.items()
    ]
    for i in range(0, len(rows), _PAGE):
        await hourly.bulk_create(rows[i : i + _PAGE], using_db=client)


class Migration(migrations.Migration):
    dependencies = [('models', '0005_billing')]

    initial = False

    operations = [
        ops.CreateModel(
            name='UsageRollupHourly',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('meter', fields.ForeignKeyField('models.Meter', source_field='meter_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('bucket', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('dimensions_key', fields.CharField(default='', max_length=2000)),
                ('sum', fields.DecimalField(default=0, max_digits=40, decimal_places=12)),
                ('count', fields.BigIntField(default=0)),
                ('last_value', fields.DecimalField(null=True, max_digits=40, decimal_places=12)),
                ('last_ts', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_seq', fields.BigIntField(null=True)),
            ],
            options={'table': 'usage_rollups_hourly', 'app': 'models', 'unique_together': (('meter', 'customer', 'bucket', 'dimensions_key'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.RunPython(backfill_hourly),
    ]
