"""The one place that reads the wall clock. A customer on a test clock lives at the clock's
frozen time; everything else lives at wall-clock UTC."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from meterbill.db.models import TestClock


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC)


async def customer_times(customers: Iterable[Any]) -> dict[str, datetime]:
    """ "Now" for each customer (objects with .id and .test_clock_id): its test clock's frozen
    time when it has a clock, else wall-clock UTC. One query for all the clocks."""
    rows = list(customers)
    clock_ids = {c.test_clock_id for c in rows if c.test_clock_id}
    frozen: dict[str, datetime] = {}
    if clock_ids:
        for clock in await TestClock.filter(id__in=list(clock_ids)).only("id", "frozen_time"):
            frozen[clock.id] = as_utc(clock.frozen_time)
    wall = utcnow()
    return {c.id: frozen.get(c.test_clock_id, wall) if c.test_clock_id else wall for c in rows}


async def clock_now(test_clock_id: str | None) -> datetime:
    """Now for whatever lives on `test_clock_id`: its frozen time, or wall-clock UTC."""
    if test_clock_id is None:
        return utcnow()
    from meterbill.db.models import TestClock

    clock = await TestClock.get(id=test_clock_id)
    return as_utc(clock.frozen_time)
