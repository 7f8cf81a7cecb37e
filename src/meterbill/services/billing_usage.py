"""Metered quantities for invoices, through the usage pipeline's period_usage."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from meterbill.billing.aggregation import Rollup, merge, minute_bucket
from meterbill.db.models import Meter, UsageRollup
from meterbill.services.usage import period_usage


async def metered_quantity(
    meter: Meter, customer_id: str, start: datetime, end: datetime
) -> Decimal:
    """The meter's aggregation over the period [start, end): whole minutes from rollups,
    the minutes a period boundary cuts through from raw events (exact to the microsecond)."""
    total = await period_usage(meter.account_id, meter.id, customer_id, start, end)  # type: ignore[attr-defined]
    return _plain(total)


def _plain(d: Decimal) -> Decimal:
    # NUMERIC(40, 12) reads back as 3000.000000000000; invoices show 3000.
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


async def add_rollup_usage(
    meter: Meter, customer_id: str, value: Decimal, at: datetime, seq: int = 0
) -> None:
    """Add one value to the customer's rollup of `at`'s minute (demo and tests, until the
    usage pipeline records events)."""
    bucket = minute_bucket(at)
    row = await UsageRollup.get_or_none(
        meter_id=meter.id, customer_id=customer_id, bucket=bucket, dimensions_key=""
    )
    new = Rollup(value, 1, value, at, seq)
    if row is None:
        await UsageRollup.create(
            account_id=meter.account_id,  # type: ignore[attr-defined]
            meter_id=meter.id,
            customer_id=customer_id,
            bucket=bucket,
            dimensions_key="",
            sum=new.sum,
            count=1,
            last_value=value,
            last_ts=at,
            last_seq=seq,
        )
        return
    old = Rollup(Decimal(row.sum), row.count, row.last_value, row.last_ts, row.last_seq)
    m = merge(old, new)
    row.sum, row.count = m.sum, m.count
    row.last_value, row.last_ts, row.last_seq = m.last_value, m.last_ts, m.last_seq
    await row.save()
