"""calendar_month: the period of a customer without a subscription (contract: live)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterbill.billing.periods import calendar_month


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        (utc(2026, 3, 10, 12), utc(2026, 3, 1), utc(2026, 4, 1)),
        (utc(2026, 3, 1), utc(2026, 3, 1), utc(2026, 4, 1)),  # half-open: the first instant
        (utc(2026, 3, 31, 23, 59, 59, 999999), utc(2026, 3, 1), utc(2026, 4, 1)),
        (utc(2026, 12, 31, 23), utc(2026, 12, 1), utc(2027, 1, 1)),
        (utc(2028, 2, 29, 12), utc(2028, 2, 1), utc(2028, 3, 1)),
        (utc(1999, 7, 4), utc(1999, 7, 1), utc(1999, 8, 1)),  # before the anchor
    ],
)
def test_calendar_month(at: datetime, start: datetime, end: datetime) -> None:
    assert calendar_month(at) == (start, end)
