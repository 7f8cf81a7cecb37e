"""Which part of a range summaries read from hour rollups: the whole hours inside it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meterbill.billing.aggregation import ceil_minute, hour_split, minute_edges


def t(h: int, m: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(2026, 5, 1, h, m, s, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "hours", "minutes"),
    [
        (t(0), t(5), (t(0), t(5)), []),
        (t(0, 17), t(5), (t(1), t(5)), [(t(0, 17), t(1))]),
        (t(0), t(4, 59), (t(0), t(4)), [(t(4), t(4, 59))]),
        (t(0, 1), t(2, 1), (t(1), t(2)), [(t(0, 1), t(1)), (t(2), t(2, 1))]),
        (t(0, 5), t(0, 50), (t(0, 50), t(0, 50)), [(t(0, 5), t(0, 50))]),  # inside one hour
        (t(0, 5), t(1, 50), (t(1, 50), t(1, 50)), [(t(0, 5), t(1, 50))]),  # no whole hour
        (t(0, 59), t(2), (t(1), t(2)), [(t(0, 59), t(1))]),
        # period_usage passes whole minutes, but the split does not depend on it.
        (
            t(0, 0, 0, 1),
            t(1, 0, 0, 1),
            (t(1, 0, 0, 1), t(1, 0, 0, 1)),
            [(t(0, 0, 0, 1), t(1, 0, 0, 1))],
        ),
    ],
)
def testhour_split(start, end, hours, minutes):
    hs, he = hour_split(start, end)
    assert (hs, he) == hours
    assert minute_edges(start, end, hs, he) == minutes


@pytest.mark.parametrize(
    ("ts", "ceil"),
    [
        (t(3, 17), t(3, 17)),  # on a boundary: itself
        (t(3, 17, 0, 1), t(3, 18)),
        (t(3, 59, 59), t(4)),
    ],
)
def test_ceil_minute(ts, ceil):
    assert ceil_minute(ts) == ceil
