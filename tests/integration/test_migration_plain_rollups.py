"""Migration 0020 on a database with folded usage (both backends). PostgreSQL: the minute
and hour rollups have no foreign keys left, and folding more events into the rows written
before it (and into new ones) still adds exactly. SQLite: nothing changes and the same
sums hold."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tortoise import connections

from meterbill.config import Settings
from meterbill.db.models import UsageRollupHourly
from meterbill.services import usage
from meterbill.services.now import utcnow
from tests import services as svc
from tests.integration.migration_support import database_at
from tests.integration.usage_support import event, record, rollup_sum, setup_meter


async def _hour_sum(meter: str) -> tuple[Decimal, int]:
    rows = await UsageRollupHourly.filter(meter_id=meter)
    return sum((Decimal(r.sum) for r in rows), Decimal(0)), sum(r.count for r in rows)


async def _migrate_and_check(settings: Settings) -> None:
    async with database_at(settings, "models.0019_slim_event_ids"):
        at = utcnow().replace(second=30, microsecond=0) - timedelta(hours=3)
        account, meter, cus = await setup_meter()
        await record(account, [event(cus, 1, at, "a"), event(cus, 2, at + timedelta(hours=1))])
        await usage.drain()
        assert await rollup_sum(meter) == (Decimal(3), 2)
    async with database_at(settings):
        conn = connections.get("default")
        if conn.capabilities.dialect == "postgres":
            fks = await conn.execute_query_dict(
                "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid IN "
                "('usage_rollups'::regclass, 'usage_rollups_hourly'::regclass)"
            )
            assert fks == []
        # Into the minute folded before (an update) and a new minute of the same hour.
        later = [
            event(cus, 4, at + timedelta(seconds=10)),
            event(cus, 8, at + timedelta(minutes=5)),
        ]
        assert await record(account, later) == ["ACCEPTED", "ACCEPTED"]
        await usage.drain()
        assert await rollup_sum(meter) == (Decimal(15), 4)
        assert await _hour_sum(meter) == (Decimal(15), 4)


def test_migration_drops_rollup_foreign_keys(tmp_path: Path) -> None:
    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(_migrate_and_check(Settings(database_url=url)))
