from datetime import UTC, datetime, timedelta

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from meterbill.db.partitions import IDS_PARTITIONS, attach_weeks, week_start, weeks_between

# Issue 18: on PostgreSQL meter_events becomes partitioned by event timestamp (one partition
# per UTC week), the identifiers of the last 36 days move to meter_event_ids (hash-partitioned,
# unique per account: the dedupe key no longer spans all history), and each pending row
# carries what the fold reads (the claim no longer joins the events by id, which would probe
# every partition). SQLite only gets the new, nullable pending columns.
#
# OFFLINE step on PostgreSQL: stop the API and the workers, run `meterbill migrate`, start
# them. The events are copied into the partitions and their indexes rebuilt: measured
# duration per million events in the README ("Scaling").

_OLD = "meter_events_unpartitioned"
_COPIED = (
    "id, account_id, meter_id, customer_id, identifier, event_name, value, \"timestamp\", "
    "dimensions_key, status, created_at, canceled_at, unique_value"
)


async def _partition(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    q = client.execute_query
    now = datetime.now(UTC)
    await q(f"ALTER TABLE meter_events RENAME TO {_OLD}")
    await q(
        f"CREATE TABLE meter_events (LIKE {_OLD} INCLUDING DEFAULTS) "
        'PARTITION BY RANGE ("timestamp")'
    )
    _, rows = await q(
        f"SELECT DISTINCT date_bin('7 days', \"timestamp\", "
        f"TIMESTAMPTZ '2000-01-03 00:00:00+00') AS w FROM {_OLD}"
    )
    weeks = {week_start(r["w"]) for r in rows}
    # Late events (35 days) and a few weeks ahead; the workers keep creating ahead.
    weeks.update(weeks_between(now - timedelta(days=42), now + timedelta(days=28)))
    await attach_weeks(client, weeks, now)
    await q(f"INSERT INTO meter_events ({_COPIED}) SELECT {_COPIED} FROM {_OLD}")
    # Indexes after the copy: built once per partition instead of row by row.
    await q('ALTER TABLE meter_events ADD PRIMARY KEY (id, "timestamp")')
    await q("CREATE INDEX meter_events_meter_customer_created ON meter_events "
            "(meter_id, customer_id, created_at)")
    await q("CREATE INDEX meter_events_meter_customer_ts ON meter_events "
            '(meter_id, customer_id, "timestamp")')
    _, fks = await q(
        "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint "
        f"WHERE conrelid = '{_OLD}'::regclass AND contype = 'f'"
    )
    for fk in fks:
        await q(f"ALTER TABLE meter_events ADD {fk['d']}")
    await q("ALTER SEQUENCE meter_events_id_seq OWNED BY meter_events.id")

    await q(
        "CREATE TABLE meter_event_ids (account_id VARCHAR(40) NOT NULL, "
        "identifier VARCHAR(100) NOT NULL, event_id BIGINT NOT NULL, "
        '"timestamp" TIMESTAMPTZ NOT NULL, received_at TIMESTAMPTZ NOT NULL, '
        "PRIMARY KEY (account_id, identifier)) PARTITION BY HASH (account_id, identifier)"
    )
    for r in range(IDS_PARTITIONS):
        await q(
            f"CREATE TABLE meter_event_ids_h{r} PARTITION OF meter_event_ids "
            f"FOR VALUES WITH (MODULUS {IDS_PARTITIONS}, REMAINDER {r})"
        )
    await q(
        "INSERT INTO meter_event_ids (account_id, identifier, event_id, \"timestamp\", "
        f"received_at) SELECT account_id, identifier, id, \"timestamp\", created_at FROM {_OLD} "
        "WHERE created_at >= $1",
        [now - timedelta(days=36)],
    )
    await q("CREATE INDEX meter_event_ids_received ON meter_event_ids (received_at)")

    # What each waiting event's fold reads; a canceled or vanished event's row goes (the old
    # claim skipped them).
    await q(
        "UPDATE meter_events_pending p SET account_id = e.account_id, meter_id = e.meter_id, "
        'customer_id = e.customer_id, "timestamp" = e."timestamp", '
        "dimensions_key = e.dimensions_key, value = e.value, unique_value = e.unique_value "
        f"FROM {_OLD} e WHERE e.id = p.event_id AND e.status = 'ACCEPTED'"
    )
    await q("DELETE FROM meter_events_pending WHERE account_id IS NULL")
    await q(f"DROP TABLE {_OLD}")
    await q("ANALYZE meter_events")
    await q("ANALYZE meter_event_ids")


class Migration(migrations.Migration):
    dependencies = [('models', '0014_alerts')]

    initial = False

    operations = [
        ops.AddField(model_name='MeterEventPending', name='account_id', field=fields.CharField(null=True, max_length=40)),
        ops.AddField(model_name='MeterEventPending', name='meter_id', field=fields.CharField(null=True, max_length=40)),
        ops.AddField(model_name='MeterEventPending', name='customer_id', field=fields.CharField(null=True, max_length=40)),
        ops.AddField(model_name='MeterEventPending', name='timestamp', field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
        ops.AddField(model_name='MeterEventPending', name='dimensions_key', field=fields.CharField(null=True, max_length=2000)),
        ops.AddField(model_name='MeterEventPending', name='value', field=fields.DecimalField(null=True, max_digits=40, decimal_places=12)),
        ops.AddField(model_name='MeterEventPending', name='unique_value', field=fields.CharField(null=True, max_length=200)),
        ops.RunPython(_partition),
    ]
