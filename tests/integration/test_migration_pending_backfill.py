"""Migration 0007 on a database with events (both backends): exactly the events with
aggregated = false become pending, the flag goes, the unique (account, identifier) key and
the indexes of meter_events survive (a SQLite table rebuild would lose them), and a drain
then folds exactly the events that were waiting."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from meterbill.config import Settings
from meterbill.db.models import MeterEvent, MeterEventPending
from meterbill.db.usage_sql import identifier_key
from meterbill.services import usage
from meterbill.services.now import utcnow
from meterbill.services.usage.aggregate import waiting
from tests import services as svc
from tests.integration.migration_support import database_at
from tests.integration.usage_support import rollup_sum, setup_meter

# (identifier, value, aggregated before the migration)
EVENTS = [
    ("a", "1", True),
    ("b", "2", False),
    ("c", "4", True),
    ("d", "8", False),
    ("e", "16", False),
]
_COLUMNS = (
    "account_id, meter_id, customer_id, identifier, event_name, value, timestamp, "
    "dimensions_key, status, aggregated, created_at"
)


async def _before(settings: Settings) -> tuple[str, str]:
    async with database_at(settings, "models.0006_usage_rollups_hourly"):
        account, meter, cus = await setup_meter(old_schema=True)
        conn = connections.get("default")
        pg = conn.capabilities.dialect == "postgres"
        marks = ", ".join(f"${i}" if pg else "?" for i in range(1, 12))
        now = utcnow()
        for ident, value, aggregated in EVENTS:
            await conn.execute_query(
                f"INSERT INTO meter_events ({_COLUMNS}) VALUES ({marks})",
                [
                    account,
                    meter,
                    cus,
                    ident,
                    "tokens",
                    Decimal(value) if pg else value,
                    now - timedelta(minutes=3),
                    "",
                    "ACCEPTED",
                    aggregated,
                    now,
                ],
            )
        return account, meter


async def _index_columns(table: str) -> set[tuple[str, ...]]:
    conn = connections.get("default")
    if conn.capabilities.dialect != "postgres":
        _, idx = await conn.execute_query(f"PRAGMA index_list('{table}')")
        found = set()
        for row in idx:
            _, cols = await conn.execute_query(f"PRAGMA index_info('{row['name']}')")
            found.add(tuple(c["name"] for c in cols))
        return found
    rows = await conn.execute_query_dict(
        "SELECT array_agg(a.attname ORDER BY k.ord) AS cols FROM pg_index i "
        "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "WHERE i.indrelid = $1::regclass GROUP BY i.indexrelid",
        [table],
    )
    return {tuple(r["cols"]) for r in rows}


async def _migrate_and_check(settings: Settings) -> None:
    account, meter = await _before(settings)
    async with database_at(settings):
        waiting_ids = MeterEvent.filter(account_id=account, id__in=waiting())
        pending = await waiting_ids.order_by("identifier").values_list("identifier", flat=True)
        assert pending == [ident for ident, _, aggregated in EVENTS if not aggregated]
        assert await MeterEventPending.all().count() == 3
        indexes = await _index_columns("meter_events")
        pg = connections.get("default").capabilities.dialect == "postgres"
        assert {
            ("meter_id", "customer_id", "created_at"),
            ("meter_id", "customer_id", "timestamp"),
        } <= indexes, indexes
        assert not any("aggregated" in cols for cols in indexes)
        # The unique key still decides duplicates: on meter_events (SQLite), on the
        # identifier table of the partitioned events (PostgreSQL, migration 0015).
        # (0019: by the pair's 16-byte key.)
        table, key = (
            ("meter_event_ids", ("key",)) if pg else ("meter_events", ("account_id", "identifier"))
        )
        assert key in await _index_columns(table)
        event = await MeterEvent.get(account_id=account, identifier="a")
        if pg:
            with pytest.raises(IntegrityError):
                await connections.get("default").execute_query(
                    'INSERT INTO meter_event_ids (key, event_id, "timestamp", received_at) '
                    f"VALUES ({identifier_key('$1::text', '$2::text')}, 0, now(), now())",
                    [account, "a"],
                )
        else:
            with pytest.raises(IntegrityError):
                await MeterEvent.create(
                    **{
                        k: getattr(event, k)
                        for k in ("account_id", "meter_id", "customer_id", "identifier")
                    },
                    event_name="tokens",
                    value=1,
                    timestamp=event.timestamp,
                )
        # The rollups of the events folded before the migration are not in this test's
        # database (raw inserts): a drain folds the waiting ones, 2 + 8 + 16.
        assert await usage.drain() == 3
        assert await rollup_sum(meter) == (Decimal(26), 3)
        assert not await waiting_ids.exists()


def test_backfill(tmp_path: Path) -> None:
    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(_migrate_and_check(Settings(database_url=url)))
