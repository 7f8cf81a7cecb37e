"""Calendar rules of billing: boundaries, first periods, proration — Stripe's semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.billing.periods import (
    Interval,
    add_days,
    boundary,
    first_period,
    first_period_fraction,
    next_period,
    period_containing,
    periods_between,
    prorate,
    proration_fraction,
)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)


# (anchor, interval, interval_count, n, expected boundary)
BOUNDARIES = [
    # Monthly anchors on the 28th..31st through month ends, leap 2024 and non-leap 2023.
    (utc(2024, 1, 31), "MONTH", 1, 1, utc(2024, 2, 29)),
    (utc(2024, 1, 31), "MONTH", 1, 2, utc(2024, 3, 31)),
    (utc(2024, 1, 31), "MONTH", 1, 3, utc(2024, 4, 30)),
    (utc(2024, 1, 31), "MONTH", 1, 4, utc(2024, 5, 31)),
    (utc(2023, 1, 31), "MONTH", 1, 1, utc(2023, 2, 28)),
    (utc(2023, 1, 31), "MONTH", 1, 2, utc(2023, 3, 31)),
    (utc(2023, 1, 30), "MONTH", 1, 1, utc(2023, 2, 28)),
    (utc(2023, 1, 30), "MONTH", 1, 2, utc(2023, 3, 30)),
    (utc(2024, 1, 30), "MONTH", 1, 1, utc(2024, 2, 29)),
    (utc(2023, 1, 29), "MONTH", 1, 1, utc(2023, 2, 28)),
    (utc(2024, 1, 29), "MONTH", 1, 1, utc(2024, 2, 29)),
    (utc(2024, 1, 29), "MONTH", 1, 2, utc(2024, 3, 29)),
    (utc(2023, 1, 28), "MONTH", 1, 1, utc(2023, 2, 28)),
    (utc(2023, 1, 28), "MONTH", 1, 2, utc(2023, 3, 28)),
    (utc(2024, 8, 31), "MONTH", 1, 1, utc(2024, 9, 30)),
    (utc(2024, 8, 31), "MONTH", 1, 4, utc(2024, 12, 31)),
    (utc(2024, 12, 31), "MONTH", 1, 2, utc(2025, 2, 28)),
    (utc(2028, 1, 31), "MONTH", 1, 1, utc(2028, 2, 29)),
    (utc(2100, 1, 31), "MONTH", 1, 1, utc(2100, 2, 28)),  # 2100: divisible by 100, not 400
    (utc(2000, 1, 31), "MONTH", 1, 1, utc(2000, 2, 29)),  # 2000: divisible by 400
    (utc(2023, 3, 31), "MONTH", 1, -1, utc(2023, 2, 28)),
    (utc(2024, 3, 31), "MONTH", 1, -1, utc(2024, 2, 29)),
    (utc(2024, 3, 31), "MONTH", 1, -3, utc(2023, 12, 31)),
    (utc(2024, 1, 31), "MONTH", 1, 0, utc(2024, 1, 31)),
    # Quarterly from Nov 30.
    (utc(2023, 11, 30), "MONTH", 3, 1, utc(2024, 2, 29)),
    (utc(2023, 11, 30), "MONTH", 3, 2, utc(2024, 5, 30)),
    (utc(2023, 11, 30), "MONTH", 3, 3, utc(2024, 8, 30)),
    (utc(2023, 11, 30), "MONTH", 3, 4, utc(2024, 11, 30)),
    (utc(2023, 11, 30), "MONTH", 3, 5, utc(2025, 2, 28)),
    (utc(2023, 11, 30), "MONTH", 3, -1, utc(2023, 8, 30)),
    (utc(2023, 11, 30), "MONTH", 3, -3, utc(2023, 2, 28)),
    (utc(2024, 1, 31), "MONTH", 2, 1, utc(2024, 3, 31)),
    (utc(2024, 1, 31), "MONTH", 6, 1, utc(2024, 7, 31)),
    # Yearly from Feb 29.
    (utc(2024, 2, 29), "YEAR", 1, 1, utc(2025, 2, 28)),
    (utc(2024, 2, 29), "YEAR", 1, 3, utc(2027, 2, 28)),
    (utc(2024, 2, 29), "YEAR", 1, 4, utc(2028, 2, 29)),
    (utc(2024, 2, 29), "YEAR", 1, 5, utc(2029, 2, 28)),
    (utc(2024, 2, 29), "YEAR", 1, -1, utc(2023, 2, 28)),
    (utc(2024, 2, 29), "YEAR", 1, -4, utc(2020, 2, 29)),
    (utc(2096, 2, 29), "YEAR", 1, 4, utc(2100, 2, 28)),
    (utc(2096, 2, 29), "YEAR", 1, 8, utc(2104, 2, 29)),
    (utc(2024, 2, 29), "YEAR", 2, 1, utc(2026, 2, 28)),
    (utc(2024, 2, 29), "YEAR", 2, 2, utc(2028, 2, 29)),
    (utc(2023, 6, 15), "YEAR", 1, 1, utc(2024, 6, 15)),
    # Weekly and daily, with counts 2 and 3, across Feb 29 and year ends.
    (utc(2024, 1, 1), "WEEK", 1, 1, utc(2024, 1, 8)),
    (utc(2024, 1, 1), "WEEK", 2, 1, utc(2024, 1, 15)),
    (utc(2024, 1, 1), "WEEK", 2, -1, utc(2023, 12, 18)),
    (utc(2024, 2, 22), "WEEK", 3, 1, utc(2024, 3, 14)),
    (utc(2024, 12, 30), "WEEK", 3, 2, utc(2025, 2, 10)),
    (utc(2024, 2, 27), "DAY", 1, 2, utc(2024, 2, 29)),
    (utc(2024, 2, 27), "DAY", 3, 1, utc(2024, 3, 1)),
    (utc(2023, 2, 27), "DAY", 3, 1, utc(2023, 3, 2)),
    (utc(2024, 2, 28), "DAY", 2, 1, utc(2024, 3, 1)),
    (utc(2024, 12, 31), "DAY", 2, 1, utc(2025, 1, 2)),
    (utc(2024, 3, 1), "DAY", 3, -1, utc(2024, 2, 27)),
    # Time of day (to the microsecond) is kept across clipping and every interval.
    (utc(2024, 1, 31, 13, 45, 7), "MONTH", 1, 1, utc(2024, 2, 29, 13, 45, 7)),
    (utc(2024, 1, 31, 23, 59, 59), "MONTH", 1, -2, utc(2023, 11, 30, 23, 59, 59)),
    (utc(2024, 2, 29, 6, 30, 0, 250), "YEAR", 1, 1, utc(2025, 2, 28, 6, 30, 0, 250)),
    (utc(2024, 1, 1, 9, 15), "WEEK", 2, 3, utc(2024, 2, 12, 9, 15)),
    (utc(2024, 1, 1, 9, 15), "DAY", 3, -2, utc(2023, 12, 26, 9, 15)),
]


@pytest.mark.parametrize(("anchor", "interval", "count", "n", "expected"), BOUNDARIES)
def test_boundary(anchor: datetime, interval: str, count: int, n: int, expected: datetime) -> None:
    assert boundary(anchor, interval, count, n) == expected
    assert boundary(anchor, Interval(interval), count, n) == expected


def test_boundary_is_computed_from_the_anchor_not_cumulatively() -> None:
    anchor = utc(2024, 1, 31)
    ends = [boundary(anchor, Interval.MONTH, 1, n) for n in range(1, 13)]
    assert [e.day for e in ends] == [29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31]


def test_boundary_converts_other_offsets_to_utc() -> None:
    # 00:30 at +02:00 on Feb 1 is Jan 31 22:30 UTC: the calendar is UTC's.
    anchor = datetime(2023, 2, 1, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert boundary(anchor, "MONTH", 1, 1) == utc(2023, 2, 28, 22, 30)
    assert boundary(anchor, "MONTH", 1, 1).tzinfo is UTC


# (anchor, interval, count, at, expected [start, end))
CONTAINING = [
    # Before, exactly at, and after a boundary: [start, end) is half-open.
    (
        utc(2024, 1, 31),
        "MONTH",
        1,
        utc(2024, 2, 28, 23, 59, 59),
        (utc(2024, 1, 31), utc(2024, 2, 29)),
    ),
    (utc(2024, 1, 31), "MONTH", 1, utc(2024, 2, 29), (utc(2024, 2, 29), utc(2024, 3, 31))),
    (utc(2024, 1, 31), "MONTH", 1, utc(2024, 2, 29, 0, 0, 1), (utc(2024, 2, 29), utc(2024, 3, 31))),
    (
        utc(2024, 1, 31),
        "MONTH",
        1,
        utc(2024, 3, 30, 23, 59, 59, 999999),
        (utc(2024, 2, 29), utc(2024, 3, 31)),
    ),
    (utc(2024, 1, 31), "MONTH", 1, utc(2024, 3, 31), (utc(2024, 3, 31), utc(2024, 4, 30))),
    (utc(2024, 1, 31), "MONTH", 1, utc(2024, 1, 31), (utc(2024, 1, 31), utc(2024, 2, 29))),
    # Before the anchor.
    (
        utc(2024, 1, 31),
        "MONTH",
        1,
        utc(2024, 1, 30, 23, 59, 59),
        (utc(2023, 12, 31), utc(2024, 1, 31)),
    ),
    (utc(2024, 1, 31), "MONTH", 1, utc(2023, 12, 1), (utc(2023, 11, 30), utc(2023, 12, 31))),
    (utc(2024, 1, 31), "MONTH", 1, utc(2020, 2, 29, 12), (utc(2020, 2, 29), utc(2020, 3, 31))),
    # A day of month later than the anchor's, and a time of day earlier than the anchor's.
    (
        utc(2024, 1, 15, 12),
        "MONTH",
        1,
        utc(2024, 5, 15, 11, 59),
        (utc(2024, 4, 15, 12), utc(2024, 5, 15, 12)),
    ),
    (
        utc(2024, 1, 15, 12),
        "MONTH",
        1,
        utc(2024, 5, 15, 12),
        (utc(2024, 5, 15, 12), utc(2024, 6, 15, 12)),
    ),
    (
        utc(2024, 1, 15, 12),
        "MONTH",
        1,
        utc(2024, 5, 31),
        (utc(2024, 5, 15, 12), utc(2024, 6, 15, 12)),
    ),
    (utc(2023, 11, 30), "MONTH", 3, utc(2024, 2, 29), (utc(2024, 2, 29), utc(2024, 5, 30))),
    (utc(2023, 11, 30), "MONTH", 3, utc(2024, 2, 28), (utc(2023, 11, 30), utc(2024, 2, 29))),
    (utc(2024, 2, 29), "YEAR", 1, utc(2027, 2, 28), (utc(2027, 2, 28), utc(2028, 2, 29))),
    (utc(2024, 2, 29), "YEAR", 1, utc(2028, 2, 28, 23), (utc(2027, 2, 28), utc(2028, 2, 29))),
    (utc(2024, 2, 29), "YEAR", 1, utc(2023, 3, 1), (utc(2023, 2, 28), utc(2024, 2, 29))),
    (utc(2024, 1, 1), "WEEK", 2, utc(2024, 1, 15), (utc(2024, 1, 15), utc(2024, 1, 29))),
    (utc(2024, 1, 1), "WEEK", 2, utc(2024, 1, 14, 23, 59, 59), (utc(2024, 1, 1), utc(2024, 1, 15))),
    (utc(2024, 1, 1), "WEEK", 2, utc(2023, 12, 31), (utc(2023, 12, 18), utc(2024, 1, 1))),
    (
        utc(2024, 1, 1, 6),
        "DAY",
        3,
        utc(2024, 1, 1, 5, 59),
        (utc(2023, 12, 29, 6), utc(2024, 1, 1, 6)),
    ),
    (utc(2024, 1, 1, 6), "DAY", 3, utc(2024, 1, 4, 6), (utc(2024, 1, 4, 6), utc(2024, 1, 7, 6))),
]


@pytest.mark.parametrize(("anchor", "interval", "count", "at", "expected"), CONTAINING)
def test_period_containing(
    anchor: datetime, interval: str, count: int, at: datetime, expected: tuple[datetime, datetime]
) -> None:
    start, end = period_containing(anchor, interval, count, at)
    assert (start, end) == expected
    assert start <= at < end


# (start, anchor, interval, count, expected first period)
FIRST_PERIODS = [
    # No anchor: one whole interval from the start.
    (utc(2024, 3, 10), None, "MONTH", 1, (utc(2024, 3, 10), utc(2024, 4, 10))),
    (utc(2024, 1, 31, 8), None, "MONTH", 1, (utc(2024, 1, 31, 8), utc(2024, 2, 29, 8))),
    (utc(2024, 2, 29), None, "YEAR", 1, (utc(2024, 2, 29), utc(2025, 2, 28))),
    (utc(2024, 1, 1), None, "WEEK", 2, (utc(2024, 1, 1), utc(2024, 1, 15))),
    (utc(2024, 3, 10), utc(2024, 3, 10), "MONTH", 1, (utc(2024, 3, 10), utc(2024, 4, 10))),
    # A later anchor: [start, anchor).
    (utc(2024, 3, 10), utc(2024, 4, 1), "MONTH", 1, (utc(2024, 3, 10), utc(2024, 4, 1))),
    (
        utc(2024, 3, 10, 15, 30),
        utc(2024, 3, 31),
        "MONTH",
        1,
        (utc(2024, 3, 10, 15, 30), utc(2024, 3, 31)),
    ),
    (utc(2024, 3, 10), utc(2024, 4, 10), "MONTH", 1, (utc(2024, 3, 10), utc(2024, 4, 10))),
    (utc(2024, 1, 31), utc(2024, 2, 29), "MONTH", 1, (utc(2024, 1, 31), utc(2024, 2, 29))),
    (utc(2024, 3, 10), utc(2024, 5, 1), "MONTH", 3, (utc(2024, 3, 10), utc(2024, 5, 1))),
    (utc(2024, 3, 10), utc(2025, 1, 1), "YEAR", 1, (utc(2024, 3, 10), utc(2025, 1, 1))),
    (utc(2024, 1, 3), utc(2024, 1, 8), "WEEK", 1, (utc(2024, 1, 3), utc(2024, 1, 8))),
    # An earlier anchor: carried forward to its next boundary after the start.
    (utc(2024, 3, 10), utc(2024, 1, 1), "MONTH", 1, (utc(2024, 3, 10), utc(2024, 4, 1))),
    (utc(2024, 3, 10), utc(2023, 1, 31), "MONTH", 1, (utc(2024, 3, 10), utc(2024, 3, 31))),
    (utc(2024, 2, 10), utc(2023, 1, 31), "MONTH", 1, (utc(2024, 2, 10), utc(2024, 2, 29))),
    (utc(2024, 4, 1), utc(2024, 1, 1), "MONTH", 1, (utc(2024, 4, 1), utc(2024, 5, 1))),
    (utc(2024, 3, 10), utc(2020, 2, 29), "YEAR", 1, (utc(2024, 3, 10), utc(2025, 2, 28))),
]


@pytest.mark.parametrize(("start", "anchor", "interval", "count", "expected"), FIRST_PERIODS)
def test_first_period(
    start: datetime,
    anchor: datetime | None,
    interval: str,
    count: int,
    expected: tuple[datetime, datetime],
) -> None:
    assert first_period(start, anchor, interval, count) == expected


@pytest.mark.parametrize(
    ("start", "anchor", "interval", "count"),
    [
        (utc(2024, 3, 10), utc(2024, 4, 10, 0, 0, 1), "MONTH", 1),
        (utc(2024, 3, 10), utc(2024, 5, 1), "MONTH", 1),
        (utc(2024, 1, 31), utc(2024, 3, 1), "MONTH", 1),
        (utc(2024, 2, 29), utc(2025, 3, 1), "YEAR", 1),
        (utc(2024, 1, 1), utc(2024, 1, 15, 0, 0, 1), "WEEK", 2),
        (utc(2024, 1, 1), utc(2024, 1, 2, 0, 0, 1), "DAY", 1),
    ],
)
def test_first_period_rejects_anchor_beyond_one_period(
    start: datetime, anchor: datetime, interval: str, count: int
) -> None:
    with pytest.raises(ValueError, match="more than one period"):
        first_period(start, anchor, interval, count)


def test_contract_example_mar_10_with_anchor_apr_1() -> None:
    start, anchor = utc(2024, 3, 10), utc(2024, 4, 1)
    assert first_period(start, anchor, "MONTH", 1) == (start, anchor)
    fraction = first_period_fraction(start, anchor, "MONTH", 1)
    assert fraction == Fraction(22, 31)
    assert fraction == proration_fraction(utc(2024, 3, 1), utc(2024, 4, 1), start, anchor)
    amount = prorate(Decimal(10000), fraction)
    assert amount.quantize(Decimal("0.000001")) == Decimal("7096.774194")
    assert cents(amount) == Decimal(7097)


@pytest.mark.parametrize(
    ("start", "anchor", "interval", "count", "expected"),
    [
        (utc(2024, 3, 10), None, "MONTH", 1, Fraction(1)),
        (utc(2024, 3, 10), utc(2024, 4, 10), "MONTH", 1, Fraction(1)),
        (utc(2023, 3, 10), utc(2023, 4, 1), "MONTH", 1, Fraction(22, 31)),
        (utc(2024, 2, 10), utc(2024, 3, 1), "MONTH", 1, Fraction(20, 29)),
        (utc(2023, 2, 10), utc(2023, 3, 1), "MONTH", 1, Fraction(19, 28)),
        (utc(2024, 3, 10, 12), utc(2024, 4, 1), "MONTH", 1, Fraction(43, 62)),
        (utc(2024, 3, 10), utc(2024, 1, 1), "MONTH", 1, Fraction(22, 31)),
        (utc(2024, 1, 3), utc(2024, 1, 8), "WEEK", 1, Fraction(5, 7)),
        (utc(2025, 7, 2), utc(2026, 1, 1), "YEAR", 1, Fraction(183, 365)),
    ],
)
def test_first_period_fraction(
    start: datetime, anchor: datetime | None, interval: str, count: int, expected: Fraction
) -> None:
    assert first_period_fraction(start, anchor, interval, count) == expected


# (period_start, period_end, from_, to, expected fraction)
FRACTIONS = [
    (utc(2024, 3, 1), utc(2024, 4, 1), utc(2024, 3, 1), utc(2024, 4, 1), Fraction(1)),
    (utc(2024, 3, 1), utc(2024, 4, 1), utc(2024, 3, 16, 12), utc(2024, 4, 1), Fraction(1, 2)),
    # Clipped to the period on both sides; disjoint and empty ranges are zero.
    (utc(2024, 3, 1), utc(2024, 4, 1), utc(2024, 2, 1), utc(2024, 3, 2), Fraction(1, 31)),
    (utc(2024, 3, 1), utc(2024, 4, 1), utc(2024, 3, 31), utc(2024, 5, 1), Fraction(1, 31)),
    (utc(2024, 3, 1), utc(2024, 4, 1), utc(2024, 4, 1), utc(2024, 5, 1), Fraction(0)),
    (utc(2024, 3, 1), utc(2024, 4, 1), utc(2024, 3, 5), utc(2024, 3, 5), Fraction(0)),
    # To the second: sub-second parts are truncated before counting.
    (
        utc(2024, 3, 1),
        utc(2024, 4, 1),
        utc(2024, 3, 31, 23, 59, 59, 999999),
        utc(2024, 4, 1),
        Fraction(1, 2678400),
    ),
    (
        utc(2024, 3, 1),
        utc(2024, 4, 1),
        utc(2024, 3, 31, 23, 59, 58, 1),
        utc(2024, 3, 31, 23, 59, 59, 999999),
        Fraction(1, 2678400),
    ),
    (utc(2024, 2, 1), utc(2024, 3, 1), utc(2024, 2, 15), utc(2024, 3, 1), Fraction(15, 29)),
]


@pytest.mark.parametrize(("ps", "pe", "from_", "to", "expected"), FRACTIONS)
def test_proration_fraction(
    ps: datetime, pe: datetime, from_: datetime, to: datetime, expected: Fraction
) -> None:
    assert proration_fraction(ps, pe, from_, to) == expected


def test_seat_change_mid_period_is_prorated_to_the_second() -> None:
    # 3 -> 5 seats at 1000 each, changed at 08:17:43.9 on Mar 20 in [Mar 1, Apr 1) 2024.
    ps, pe = utc(2024, 3, 1), utc(2024, 4, 1)
    changed_at = utc(2024, 3, 20, 8, 17, 43, 900_000)
    fraction = proration_fraction(ps, pe, changed_at, pe)
    remaining = 11 * 86_400 + (24 * 3600 - (8 * 3600 + 17 * 60 + 43))
    assert remaining == 1_006_937
    assert fraction == Fraction(1_006_937, 31 * 86_400)
    credit = -prorate(Decimal(3 * 1000), fraction)
    charge = prorate(Decimal(5 * 1000), fraction)
    assert cents(credit) == Decimal(-1128)  # -1127.84...
    assert cents(charge) == Decimal(1880)  # 1879.73...
    # The used part and the unused part add back up to the whole period exactly.
    assert proration_fraction(ps, pe, ps, changed_at) + fraction == 1


@pytest.mark.parametrize(
    ("amount", "fraction", "expected"),
    [
        (Decimal(10000), Fraction(22, 31), Decimal("7096.774193548387096774193548387096774194")),
        (Decimal(3), Fraction(1, 2), Decimal("1.5")),
        (Decimal("0.5"), Fraction(1, 1), Decimal("0.5")),
        (Decimal("12.345"), Fraction(0), Decimal(0)),
        (700, Fraction(2, 7), Decimal(200)),
        (Decimal(-100), Fraction(1, 3), Decimal("-33.33333333333333333333333333333333333333")),
    ],
)
def test_prorate(amount: Decimal | int, fraction: Fraction, expected: Decimal) -> None:
    assert prorate(amount, fraction) == expected


def test_prorate_keeps_the_half_for_the_callers_half_up_rounding() -> None:
    # 25 x 1/2 = 12.5 exactly: it must reach the caller unrounded so half-up gives 13.
    assert cents(prorate(Decimal(25), Fraction(1, 2))) == Decimal(13)
    assert cents(prorate(Decimal(-25), Fraction(1, 2))) == Decimal(-13)


def test_prorate_is_unaffected_by_the_ambient_decimal_context() -> None:
    import decimal

    with decimal.localcontext(decimal.Context(prec=3)):
        amount = prorate(Decimal(10000), Fraction(22, 31))
    assert amount == Decimal("7096.774193548387096774193548387096774194")


@pytest.mark.parametrize("amount", [1.5, True, "10"])
def test_prorate_rejects_inexact_amounts(amount: object) -> None:
    with pytest.raises(TypeError):
        prorate(amount, Fraction(1, 2))  # type: ignore[arg-type]


# (anchor, interval, count, current_end, expected next period)
NEXT_PERIODS = [
    (utc(2024, 1, 31), "MONTH", 1, utc(2024, 2, 29), (utc(2024, 2, 29), utc(2024, 3, 31))),
    (utc(2024, 1, 31), "MONTH", 1, utc(2024, 4, 30), (utc(2024, 4, 30), utc(2024, 5, 31))),
    (utc(2024, 4, 1), "MONTH", 1, utc(2024, 4, 1), (utc(2024, 4, 1), utc(2024, 5, 1))),
    (utc(2024, 2, 29), "YEAR", 1, utc(2027, 2, 28), (utc(2027, 2, 28), utc(2028, 2, 29))),
    (utc(2024, 1, 1), "WEEK", 2, utc(2024, 1, 29), (utc(2024, 1, 29), utc(2024, 2, 12))),
]


@pytest.mark.parametrize(("anchor", "interval", "count", "current_end", "expected"), NEXT_PERIODS)
def test_next_period(
    anchor: datetime,
    interval: str,
    count: int,
    current_end: datetime,
    expected: tuple[datetime, datetime],
) -> None:
    assert next_period(anchor, interval, count, current_end) == expected


def test_next_period_after_a_short_first_period() -> None:
    start, anchor = utc(2024, 3, 10), utc(2024, 4, 1)
    _, end = first_period(start, anchor, "MONTH", 1)
    assert next_period(anchor, "MONTH", 1, end) == (utc(2024, 4, 1), utc(2024, 5, 1))


def test_next_period_rejects_an_off_cycle_end() -> None:
    # A Jan 30 anchor reaches Feb 28 2023 by clipping; Feb 27 is on no cycle of it.
    with pytest.raises(ValueError, match="not a period boundary"):
        next_period(utc(2023, 1, 30), "MONTH", 1, utc(2023, 2, 27))


# (anchor, interval, count, start, end, expected periods)
BETWEEN = [
    (
        utc(2024, 4, 1),
        "MONTH",
        1,
        utc(2024, 3, 10),
        utc(2024, 6, 15),
        [
            (utc(2024, 3, 10), utc(2024, 4, 1)),
            (utc(2024, 4, 1), utc(2024, 5, 1)),
            (utc(2024, 5, 1), utc(2024, 6, 1)),
            (utc(2024, 6, 1), utc(2024, 7, 1)),
        ],
    ),
    (
        utc(2024, 1, 31),
        "MONTH",
        1,
        utc(2024, 1, 31),
        utc(2024, 4, 30),
        [
            (utc(2024, 1, 31), utc(2024, 2, 29)),
            (utc(2024, 2, 29), utc(2024, 3, 31)),
            (utc(2024, 3, 31), utc(2024, 4, 30)),
        ],
    ),
    (
        utc(2024, 1, 1),
        "DAY",
        3,
        utc(2024, 1, 1),
        utc(2024, 1, 7, 0, 0, 1),
        [
            (utc(2024, 1, 1), utc(2024, 1, 4)),
            (utc(2024, 1, 4), utc(2024, 1, 7)),
            (utc(2024, 1, 7), utc(2024, 1, 10)),
        ],
    ),
    (
        utc(2024, 1, 1),
        "WEEK",
        1,
        utc(2024, 1, 3),
        utc(2024, 1, 4),
        [(utc(2024, 1, 3), utc(2024, 1, 8))],
    ),
    (utc(2024, 1, 1), "WEEK", 1, utc(2024, 1, 3), utc(2024, 1, 3), []),
]


@pytest.mark.parametrize(("anchor", "interval", "count", "start", "end", "expected"), BETWEEN)
def test_periods_between(
    anchor: datetime,
    interval: str,
    count: int,
    start: datetime,
    end: datetime,
    expected: list[tuple[datetime, datetime]],
) -> None:
    assert periods_between(anchor, interval, count, start, end) == expected


def test_periods_between_rejects_end_before_start() -> None:
    with pytest.raises(ValueError):
        periods_between(utc(2024, 1, 1), "MONTH", 1, utc(2024, 2, 1), utc(2024, 1, 1))


@pytest.mark.parametrize(
    ("dt", "n", "expected"),
    [
        (utc(2024, 2, 20, 10, 30), 30, utc(2024, 3, 21, 10, 30)),
        (utc(2023, 2, 20, 10, 30), 30, utc(2023, 3, 22, 10, 30)),
        (utc(2024, 12, 31, 23, 59, 59), 1, utc(2025, 1, 1, 23, 59, 59)),
        (utc(2024, 1, 1), 0, utc(2024, 1, 1)),
    ],
)
def test_add_days(dt: datetime, n: int, expected: datetime) -> None:
    assert add_days(dt, n) == expected


NAIVE = datetime(2024, 1, 31)
AWARE = utc(2024, 1, 31)


@pytest.mark.parametrize(
    "call",
    [
        lambda: boundary(NAIVE, "MONTH", 1, 1),
        lambda: period_containing(NAIVE, "MONTH", 1, AWARE),
        lambda: period_containing(AWARE, "MONTH", 1, NAIVE),
        lambda: first_period(NAIVE, None, "MONTH", 1),
        lambda: first_period(AWARE, NAIVE, "MONTH", 1),
        lambda: next_period(AWARE, "MONTH", 1, NAIVE),
        lambda: periods_between(AWARE, "MONTH", 1, NAIVE, AWARE),
        lambda: proration_fraction(AWARE, utc(2024, 2, 29), NAIVE, AWARE),
        lambda: add_days(NAIVE, 30),
    ],
)
def test_naive_datetimes_are_rejected(call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("interval", "count", "error"),
    [
        ("MONTHLY", 1, ValueError),
        ("MONTH", 0, ValueError),
        ("MONTH", -1, ValueError),
        ("MONTH", True, TypeError),
        ("MONTH", 1.0, TypeError),
    ],
)
def test_bad_interval_or_count(interval: str, count: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        boundary(AWARE, interval, count, 1)


def test_empty_period_is_rejected_for_proration() -> None:
    with pytest.raises(ValueError):
        proration_fraction(AWARE, AWARE, AWARE, AWARE)


# Property: for random anchors and instants in 2000-2100, boundaries strictly increase and
# period_containing returns two consecutive boundaries around the instant.
instants = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)
intervals = st.sampled_from(list(Interval))
counts = st.integers(min_value=1, max_value=12)


@given(anchor=instants, interval=intervals, count=counts, n=st.integers(-60, 60))
def test_property_boundaries_strictly_increase(
    anchor: datetime, interval: Interval, count: int, n: int
) -> None:
    b0 = boundary(anchor, interval, count, n)
    b1 = boundary(anchor, interval, count, n + 1)
    assert b0 < b1
    assert (b0.hour, b0.minute, b0.second, b0.microsecond) == (
        anchor.hour,
        anchor.minute,
        anchor.second,
        anchor.microsecond,
    )


@given(anchor=instants, interval=intervals, count=counts, at=instants)
def test_property_period_containing_contains_at(
    anchor: datetime, interval: Interval, count: int, at: datetime
) -> None:
    start, end = period_containing(anchor, interval, count, at)
    assert start <= at < end
    assert next_period(anchor, interval, count, start) == (start, end)
    assert next_period(anchor, interval, count, end)[0] == end
    assert period_containing(anchor, interval, count, end)[0] == end


@given(start=instants, anchor=st.none() | instants, interval=intervals, count=counts)
def test_property_first_period(
    start: datetime, anchor: datetime | None, interval: Interval, count: int
) -> None:
    natural_end = boundary(start, interval, count, 1)
    if anchor is not None and anchor > natural_end:
        with pytest.raises(ValueError):
            first_period(start, anchor, interval, count)
        return
    first_start, first_end = first_period(start, anchor, interval, count)
    assert first_start == start < first_end <= natural_end
    assert 0 < first_period_fraction(start, anchor, interval, count) <= 1


@pytest.mark.parametrize("interval", ["DAY", "WEEK", "MONTH", "YEAR"])
def test_a_boundary_past_the_calendar_is_out_of_calendar_not_a_crash(interval):
    from meterbill.billing.periods import OutOfCalendar

    end = datetime(9999, 12, 31, tzinfo=UTC)
    with pytest.raises(OutOfCalendar):
        first_period(end, None, interval, 1)
    with pytest.raises(OutOfCalendar):
        boundary(datetime(1, 1, 1, tzinfo=UTC), interval, 1, -1)
