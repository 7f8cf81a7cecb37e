from tortoise import migrations
from tortoise.migrations import operations as ops

# Issue 18 (fold at scale), PostgreSQL only: the minute and hour rollups lose their foreign
# keys, as meter_events did in 0019. Every rollup row the fold inserts ran three RI checks
# (a lookup and a FOR KEY SHARE lock of its account, meter and customer rows): about 11 %
# of the machine's CPU per folded event on a backlog of 10,000 customers (bench/fold_backlog.py),
# and the customer lock waited for any finalization holding that customer FOR UPDATE. The
# rows come only from folded events, whose meter and customer ingest resolved, and
# accounts, meters and customers are never deleted. Online: dropping a constraint takes a
# short exclusive lock and rewrites nothing.

_TABLES = ("usage_rollups", "usage_rollups_hourly")


async def _drop_foreign_keys(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    for table in _TABLES:
        _, fks = await client.execute_query(
            f"SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass "
            "AND contype = 'f' ORDER BY conname"
        )
        for fk in fks:
            await client.execute_query(f"ALTER TABLE {table} DROP CONSTRAINT {fk['conname']}")


class Migration(migrations.Migration):
    dependencies = [('models', '0019_slim_event_ids')]

    initial = False

    operations = [ops.RunPython(_drop_foreign_keys)]
