"""Migrations create every table with its unique constraints on both backends (SQLite table
rebuilds are known to drop them), and the models have no change that lacks a migration."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.migrations.autodetector import MigrationAutodetector

from meterbill.config import Settings
from meterbill.db.setup import init_db, run_migrations
from tests import services as svc

# (table, columns) that must be unique; each is checked by inserting a duplicate.
UNIQUE = {
    ("api_keys", ("secret_hash",)),
    ("customers", ("account_id", "external_id")),
    ("meters", ("account_id", "event_name")),
    ("price_tiers", ("price_id", "position")),
    ("meter_events", ("account_id", "identifier")),
    ("usage_rollups", ("meter_id", "customer_id", "bucket", "dimensions_key")),
    ("usage_rollups_hourly", ("meter_id", "customer_id", "bucket", "dimensions_key")),
}


async def _unique_sets_sqlite() -> set[tuple[str, tuple[str, ...]]]:
    conn = connections.get("default")
    found = set()
    for table, _ in UNIQUE:
        _, idx = await conn.execute_query(f"PRAGMA index_list('{table}')")
        for row in idx:
            if row["unique"]:
                _, cols = await conn.execute_query(f"PRAGMA index_info('{row['name']}')")
                found.add((table, tuple(c["name"] for c in cols)))
    return found


async def _unique_sets_pg() -> set[tuple[str, tuple[str, ...]]]:
    conn = connections.get("default")
    _, rows = await conn.execute_query(
        """
        SELECT t.relname AS tbl, array_agg(a.attname ORDER BY k.ord) AS cols
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE i.indisunique AND (NOT i.indisprimary OR t.relname = 'meter_event_ids')
        GROUP BY t.relname, i.indexrelid
        """
    )
    return {(r["tbl"], tuple(r["cols"])) for r in rows}


async def _migrate_and_inspect(settings: Settings) -> set[tuple[str, tuple[str, ...]]]:
    await run_migrations(settings)
    await run_migrations(settings)  # a second run applies nothing and must not fail
    await init_db(settings)
    try:
        return await (_unique_sets_sqlite() if settings.is_sqlite else _unique_sets_pg())
    finally:
        await Tortoise.close_connections()


def test_sqlite_migrations_keep_unique_constraints(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite://{tmp_path}/m.db")
    found = asyncio.run(_migrate_and_inspect(settings))
    assert UNIQUE <= found, UNIQUE - found


def test_postgres_migrations_keep_unique_constraints() -> None:
    # meter_events is partitioned by timestamp (0015): its identifiers are unique in
    # meter_event_ids instead, by their 16-byte key (0019; the key of its hash partitions).
    expected = UNIQUE - {("meter_events", ("account_id", "identifier"))}
    expected |= {("meter_event_ids", ("key",))}
    with svc.fresh_pg_database(svc.require_pg()) as url:
        found = asyncio.run(_migrate_and_inspect(Settings(database_url=url)))
    assert expected <= found, expected - found


async def _pending_changes() -> int:
    from meterbill.db.setup import tortoise_config

    config = tortoise_config(Settings(database_url="sqlite://:memory:"))
    await Tortoise.init(config=config, init_connections=False)
    try:
        writers = await MigrationAutodetector(Tortoise.apps, config["apps"]).changes()
        return len(writers)
    finally:
        await Tortoise.close_connections()


def test_models_have_no_unmigrated_changes() -> None:
    assert asyncio.run(_pending_changes()) == 0, "run scripts/makemigrations NAME"
