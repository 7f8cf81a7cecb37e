"""Migration 0015 on a database with events (both backends). PostgreSQL: meter_events
becomes partitioned by week (a partition for every week its rows need, also years back),
every row is kept with its id, the identifiers received in the last 36 days move to
meter_event_ids and still decide duplicates, the pending rows get what the fold reads (a
canceled event's row goes), and the waiting events fold. SQLite: the same rows and
answers, with the new pending columns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tortoise import connections

from meterbill.config import Settings
from meterbill.db import partitions
from meterbill.db.models import MeterEvent, MeterEventPending
from meterbill.db.usage_sql import identifier_key
from meterbill.services import usage
from meterbill.services.now import utcnow
from tests import services as svc
from tests.integration.migration_support import database_at
from tests.integration.usage_support import event, record, rollup_sum, setup_meter

_COLUMNS = (
    "account_id, meter_id, customer_id, identifier, event_name, value, timestamp, "
    "dimensions_key, status, created_at"
)
OLD = datetime(2020, 3, 4, 5, 6, tzinfo=UTC)


async def _before(settings: Settings) -> tuple[str, str, str, dict[str, int]]:
    async with database_at(settings, "models.0014_alerts"):
        account, meter, cus = await setup_meter()
        conn = connections.get("default")
        pg = conn.capabilities.dialect == "postgres"
        marks = ", ".join(f"${i}" if pg else "?" for i in range(1, 11))
        now = utcnow()
        ids = {}
        # (identifier, value, timestamp, received, status, pending)
        rows = [
            ("old", "1", OLD, OLD, "ACCEPTED", False),
            ("recent", "2", now - timedelta(days=3), now - timedelta(days=3), "ACCEPTED", False),
            ("waiting", "4", now - timedelta(minutes=5), now, "ACCEPTED", True),
            ("canceled", "8", now - timedelta(minutes=5), now, "CANCELED", True),
        ]
        for ident, value, ts, received, status, pending in rows:
            got = await conn.execute_query_dict(
                f"INSERT INTO meter_events ({_COLUMNS}) VALUES ({marks}) RETURNING id",
                [
                    account,
                    meter,
                    cus,
                    ident,
                    "tokens",
                    Decimal(value) if pg else value,
                    ts,
                    "",
                    status,
                    received,
                ],
            )
            ids[ident] = int(got[0]["id"])
            if pending:
                await conn.execute_query(
                    "INSERT INTO meter_events_pending (event_id) VALUES ("
                    + ("$1" if pg else "?")
                    + ")",
                    [ids[ident]],
                )
        return account, meter, cus, ids


async def _migrate_and_check(settings: Settings) -> None:
    account, meter, cus, ids = await _before(settings)
    async with database_at(settings):
        conn = connections.get("default")
        pg = conn.capabilities.dialect == "postgres"
        stored = await MeterEvent.filter(account_id=account).values_list("identifier", "id")
        assert dict(stored) == ids
        if pg:
            kind = await conn.execute_query_dict(
                "SELECT relkind::text AS k FROM pg_class WHERE relname = 'meter_events'"
            )
            assert kind[0]["k"] == "p"
            weeks = await partitions.existing(conn)
            assert partitions.week_start(OLD) in weeks
            assert partitions.week_start(utcnow() + timedelta(days=21)) in weeks
            # (By their 16-byte keys since 0019.)
            moved = await conn.execute_query_dict(
                "SELECT i FROM unnest($2::text[]) i WHERE EXISTS (SELECT 1 FROM "
                f"meter_event_ids WHERE key = {identifier_key('$1::text', 'i')}) ORDER BY i",
                [account, sorted(ids)],
            )
            # Received in the last 36 days: the 2020 event's identifier is free now.
            assert [r["i"] for r in moved] == ["canceled", "recent", "waiting"]
            waiting = await MeterEventPending.get(event_id=ids["waiting"])
            assert (waiting.meter_id, waiting.customer_id, Decimal(waiting.value)) == (
                meter,
                cus,
                Decimal(4),
            )
            assert not await MeterEventPending.filter(event_id=ids["canceled"]).exists()
        # The identifiers still decide duplicates; a new one goes in beside the old rows.
        statuses = await record(
            account, [event(cus, 16, None, "recent"), event(cus, 32, None, "new")]
        )
        assert statuses == ["DUPLICATE", "ACCEPTED"]
        await usage.drain()
        # The waiting event and the new one (the others were folded before the migration,
        # in rollups this test did not write).
        assert await rollup_sum(meter) == (Decimal(36), 2)


def test_migration_moves_events_into_partitions(tmp_path: Path) -> None:
    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(_migrate_and_check(Settings(database_url=url)))
