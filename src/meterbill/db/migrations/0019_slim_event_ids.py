from datetime import UTC, datetime

from tortoise import migrations
from tortoise.migrations import operations as ops

from meterbill.db.partitions import IDS_PARTITIONS
from meterbill.db.usage_sql import identifier_key

# Issue 18 (slim identifiers), PostgreSQL only: meter_event_ids is keyed by a 16-byte uuid
# (md5 of account and identifier: usage_sql.identifier_key) instead of the two texts, and
# loses its received_at index (retention sweeps the partitions by block ranges instead:
# db/stores/events.py, table meter_event_ids_sweep). About 240 -> 105 bytes per identifier
# (ARCHITECTURE.md "Event storage at scale"). SQLite keeps its unique (account, identifier)
# key on meter_events and has no such table.
# Also (PostgreSQL): meter_events loses its foreign keys (why: below).
#
# OFFLINE step, like 0015 (stop the API and the workers, `meterbill migrate`, start them):
# the rows are copied with their keys and the primary key is built after the copy.

_WIDE = "meter_event_ids_wide"


async def _slim(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    q = client.execute_query
    # The old table steps aside; its indexes go first so the new ones take their names.
    await q(f"ALTER TABLE meter_event_ids RENAME TO {_WIDE}")
    await q(f"ALTER TABLE {_WIDE} DROP CONSTRAINT meter_event_ids_pkey")
    await q("DROP INDEX IF EXISTS meter_event_ids_received")
    for r in range(IDS_PARTITIONS):
        await q(f"ALTER TABLE meter_event_ids_h{r} RENAME TO {_WIDE}_h{r}")
    await q(
        "CREATE TABLE meter_event_ids (key UUID NOT NULL, event_id BIGINT NOT NULL, "
        '"timestamp" TIMESTAMPTZ NOT NULL, received_at TIMESTAMPTZ NOT NULL) '
        "PARTITION BY HASH (key)"
    )
    for r in range(IDS_PARTITIONS):
        await q(
            f"CREATE TABLE meter_event_ids_h{r} PARTITION OF meter_event_ids "
            f"FOR VALUES WITH (MODULUS {IDS_PARTITIONS}, REMAINDER {r})"
        )
    await q(
        'INSERT INTO meter_event_ids (key, event_id, "timestamp", received_at) '
        f"SELECT {identifier_key('account_id', 'identifier')}, event_id, \"timestamp\", "
        f"received_at FROM {_WIDE}"
    )
    await q("ALTER TABLE meter_event_ids ADD PRIMARY KEY (key)")
    await q(f"DROP TABLE {_WIDE}")
    # Where the retention sweep is: one row (db/stores/events._sweep_identifiers).
    await q(
        "CREATE TABLE meter_event_ids_sweep (part INT NOT NULL, block BIGINT NOT NULL, "
        "next_pass TIMESTAMPTZ NOT NULL)"
    )
    await q(
        "INSERT INTO meter_event_ids_sweep (part, block, next_pass) VALUES (0, 0, $1)",
        [datetime.now(UTC)],
    )
    await q("ANALYZE meter_event_ids")
    # No foreign keys on meter_events: each inserted event ran three RI checks (a lookup and
    # a FOR KEY SHARE lock of its account, meter and customer rows), about a third of the
    # ingest statement's PostgreSQL CPU, and the customer lock waited for any finalization
    # holding that customer FOR UPDATE. Ingest resolves the meter and the customer in the
    # request (or in the statement: services/usage/single.py), and accounts, meters and
    # customers are never deleted (ARCHITECTURE.md "Event storage at scale").
    _, fks = await q(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'meter_events'::regclass "
        "AND contype = 'f' ORDER BY conname"
    )
    for fk in fks:
        await q(f"ALTER TABLE meter_events DROP CONSTRAINT {fk['conname']}")


class Migration(migrations.Migration):
    dependencies = [('models', '0018_credit_grant_hot')]

    initial = False

    operations = [ops.RunPython(_slim)]
