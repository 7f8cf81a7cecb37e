"""Migration 0017 (its first half) on a database with first-seen rows written by 0014's
fold (both backends): a value's month row counted its events; after the migration it
counts the value's day rows in that month (what the fold and a cancel now keep), and the
day rows are left as they were."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from meterbill.config import Settings
from meterbill.db.models import UsageUniqueValue
from tests import services as svc
from tests.integration.migration_support import database_at
from tests.integration.usage_support import setup_meter

MAR31, APR1, APR2 = (datetime(2025, m, d, tzinfo=UTC) for m, d in ((3, 31), (4, 1), (4, 2)))
MAR, APR = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
# (grain, bucket, value, events as 0014 stored them)
ROWS = [
    ("day", APR1, "alice", 3),
    ("day", APR2, "alice", 2),
    ("month", APR, "alice", 5),
    ("day", APR1, "bob", 1),
    ("month", APR, "bob", 1),
    ("day", MAR31, "carol", 4),
    ("month", MAR, "carol", 4),
    ("day", APR1, "carol", 7),
    ("month", APR, "carol", 7),
]


async def _before(settings: Settings) -> str:
    async with database_at(settings, "models.0014_alerts"):
        account, meter, cus = await setup_meter("UNIQUE_COUNT", old_schema=True)
        for grain, bucket, value, events in ROWS:
            await UsageUniqueValue.create(
                account_id=account,
                meter_id=meter,
                customer_id=cus,
                grain=grain,
                bucket=bucket,
                value=value,
                dimensions_key="",
                events=events,
            )
        return meter


async def _migrate_and_check(settings: Settings) -> None:
    meter = await _before(settings)
    async with database_at(settings):
        rows = await UsageUniqueValue.filter(meter_id=meter).values_list(
            "grain", "bucket", "value", "events"
        )
        got = sorted((g, b.astimezone(UTC), v, n) for g, b, v, n in rows)
        assert got == sorted(
            [
                ("day", APR1, "alice", 3),
                ("day", APR2, "alice", 2),
                ("month", APR, "alice", 2),
                ("day", APR1, "bob", 1),
                ("month", APR, "bob", 1),
                ("day", MAR31, "carol", 4),
                ("month", MAR, "carol", 1),
                ("day", APR1, "carol", 7),
                ("month", APR, "carol", 1),
            ]
        )


def test_month_rows_count_days(tmp_path: Path) -> None:
    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(_migrate_and_check(Settings(database_url=url)))
