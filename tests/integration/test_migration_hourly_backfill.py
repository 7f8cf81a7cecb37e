"""Migration 0006 fills usage_rollups_hourly from the minute rollups already there (both
backends): each hour is the exact merge of its minutes, LAST included, and reads over hours
then give what the minutes gave before the migration."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tortoise import connections

from meterbill.billing.aggregation import Rollup, merge
from meterbill.config import Settings
from meterbill.db.models import UsageRollup, UsageRollupHourly
from meterbill.services import catalog, usage
from meterbill.services.accounts import create_account
from meterbill.services.usage.aggregate import rollup_of
from tests import services as svc
from tests.integration.migration_support import database_at
from tests.integration.usage_support import customer_row

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
M = timedelta(minutes=1)
# (minute offset, dimensions key, sum, count, last value, last ts offset in s, last seq)
MINUTES = [
    (0, "", "1.5", 2, "1", 30, 7),
    (1, "", "0.000000000001", 1, "0.000000000001", 61, 3),
    (59, "", "10", 4, "9", 3599, 2),
    (59, "|region=eu|", "2", 1, "2", 3550, 9),
    (60, "", "3", 3, "3", 3600, 1),  # the next hour
    (61, "", "4", 1, "4", 3600, 5),  # same last_ts as minute 60: seq decides
    (130, "|region=eu|", "123456789.123456789", 2, "5", 7830, 11),
]


async def _before(settings: Settings) -> tuple[str, str, str]:
    async with database_at(settings, "models.0005_billing"):
        account, _ = await create_account("Backfill")
        spec = catalog.MeterSpec("T", "tokens", "LAST", dimension_keys=["region"])
        meter = await catalog.create_meter(account.id, spec)
        cus = await customer_row(account.id)
        # The columns usage_rollups had at 0005 (the model has gained some since).
        conn = connections.get("default")
        pg = conn.capabilities.dialect == "postgres"
        cols = (
            "account_id, meter_id, customer_id, bucket, dimensions_key, sum, count, "
            "last_value, last_ts, last_seq"
        )
        marks = ", ".join(f"${n}" if pg else "?" for n in range(1, 11))
        for minute, dims, s, c, lv, lt, seq in MINUTES:
            await conn.execute_query(
                f"INSERT INTO usage_rollups ({cols}) VALUES ({marks})",
                [
                    account.id,
                    meter.id,
                    cus,
                    T0 + minute * M,
                    dims,
                    Decimal(s) if pg else s,
                    c,
                    Decimal(lv) if pg else lv,
                    T0 + timedelta(seconds=lt),
                    seq,
                ],
            )
        return account.id, meter.id, cus


async def _migrate_and_check(settings: Settings) -> None:
    account, meter, cus = await _before(settings)
    async with database_at(settings):
        want: dict[tuple[datetime, str], Rollup] = defaultdict(Rollup.empty)
        for r in await UsageRollup.filter(meter_id=meter):
            k = (r.bucket.replace(minute=0), r.dimensions_key)
            want[k] = merge(want[k], rollup_of(r))
        got = {
            (r.bucket, r.dimensions_key): rollup_of(r)
            for r in await UsageRollupHourly.filter(meter_id=meter)
        }
        assert got == dict(want)
        assert len(got) == 4
        second = got[(T0 + 60 * M, "")]
        assert (second.sum, second.count, second.last_value, second.last_seq) == (7, 4, 4, 5)
        # Whole hours now come from the hour table: the same LAST as the minutes say.
        end = T0 + timedelta(hours=3)
        assert await usage.period_usage(account, meter, cus, T0, end) == 5
        rows = await usage.summaries(account, meter, cus, T0, end, "HOUR", None, ["region"])
        assert [(r.value, r.dimensions) for r in rows] == [
            (Decimal(9), {}),
            (Decimal(2), {"region": "eu"}),
            (Decimal(4), {}),
            (Decimal(0), {"region": "eu"}),
            (Decimal(0), {}),
            (Decimal(5), {"region": "eu"}),
        ]


def test_backfill(tmp_path: Path) -> None:
    with svc.fresh_database_url(tmp_path) as url:
        asyncio.run(_migrate_and_check(Settings(database_url=url)))
