"""Metered quantities for invoices, through the usage pipeline's period_usage."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Protocol

from meterbill.services.usage import meter_period_usage


class MeterRef(Protocol):
    """A meter as billing needs it: a Meter, or the plain plans.MeterRow."""

    @property
    def id(self) -> str: ...
    @property
    def account_id(self) -> str: ...
    @property
    def aggregation(self) -> str: ...


async def metered_quantity(
    meter: MeterRef,
    customer_id: str,
    start: datetime,
    end: datetime,
    *,
    final: bool = False,
    unfolded: bool = False,
) -> Decimal:
    """The meter's aggregation over the period [start, end): whole minutes from rollups,
    the minutes a period boundary cuts through from raw events (exact to the microsecond);
    `final`, `unfolded`: as meter_period_usage's."""
    total = await meter_period_usage(meter, customer_id, start, end, final=final, unfolded=unfolded)
    return plain_quantity(total)


def plain_quantity(d: Decimal) -> Decimal:
    # NUMERIC(40, 12) reads back as 3000.000000000000; invoices show 3000.
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()
