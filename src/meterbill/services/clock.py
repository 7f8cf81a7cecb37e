"""The one place that reads the wall clock. A customer on a test clock lives at the clock's
frozen time; everything else lives at wall-clock UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC)


async def clock_now(test_clock_id: str | None) -> datetime:
    """Now for whatever lives on `test_clock_id`: its frozen time, or wall-clock UTC."""
    if test_clock_id is None:
        return utcnow()
    from meterbill.db.models import TestClock

    clock = await TestClock.get(id=test_clock_id)
    return as_utc(clock.frozen_time)
