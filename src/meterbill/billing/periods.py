"""Every calendar rule of billing: period boundaries, first periods, proration fractions.

All instants are timezone-aware and computed in UTC (as Stripe does); periods are half-open
[start, end). Boundaries are always derived from the billing cycle anchor, never from the
previous boundary, because month-end clipping is lossy: stepping Jan 31 -> Feb 28 -> Mar 28
would drift, while anchor + 2 months gives Mar 31.
"""

from __future__ import annotations

import decimal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from dateutil.relativedelta import relativedelta

__all__ = [
    "Interval",
    "OutOfCalendar",
    "add_days",
    "boundary",
    "calendar_month",
    "first_period",
    "first_period_fraction",
    "next_period",
    "period_containing",
    "periods_between",
    "prorate",
    "proration_fraction",
    "require_utc",
]

Period = tuple[datetime, datetime]


class Interval(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


class OutOfCalendar(ValueError):
    """A boundary would fall outside what a datetime holds (years 1-9999): an instant near
    either end of the calendar (a test clock at 9999-12-31), not a bug."""


# Enough digits that the single half-up rounding done by the caller is never disturbed by the
# division here, even for amounts far beyond any realistic invoice.
_PRORATE_CONTEXT = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)


def require_utc(dt: datetime, name: str = "datetime") -> datetime:
    """`dt` in UTC; a naive datetime is refused because guessing its zone shifts money."""
    if not isinstance(dt, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {dt.isoformat()}")
    return dt.astimezone(UTC)


def _interval(interval: Interval | str) -> Interval:
    try:
        return Interval(interval)
    except ValueError:
        raise ValueError(f"unknown interval {interval!r}") from None


def _count(interval_count: int) -> int:
    # bool is an int subclass; True as a count is always a bug upstream.
    if isinstance(interval_count, bool) or not isinstance(interval_count, int):
        raise TypeError(f"interval_count must be an int, got {interval_count!r}")
    if interval_count < 1:
        raise ValueError(f"interval_count must be >= 1, got {interval_count}")
    return interval_count


def _months_per_period(interval: Interval, count: int) -> int | None:
    if interval is Interval.MONTH:
        return count
    if interval is Interval.YEAR:
        return 12 * count
    return None


def _fixed_length(interval: Interval, count: int) -> timedelta:
    return timedelta(days=count) if interval is Interval.DAY else timedelta(weeks=count)


def _boundary(anchor: datetime, interval: Interval, count: int, n: int) -> datetime:
    months = _months_per_period(interval, count)
    try:
        if months is None:
            return anchor + n * _fixed_length(interval, count)
        # relativedelta clips the day to the target month's length (Jan 31 + 1 month = Feb
        # 28/29, Feb 29 + 1 year = Feb 28) and keeps the time of day: Stripe's month-end rule.
        return anchor + relativedelta(months=months * n)
    except (OverflowError, ValueError) as exc:  # "date value out of range", "year 10000 is..."
        raise OutOfCalendar("a billing period boundary would fall outside years 0001-9999") from exc


def _index_containing(anchor: datetime, interval: Interval, count: int, at: datetime) -> int:
    """The n with boundary(n) <= at < boundary(n + 1)."""
    months = _months_per_period(interval, count)
    if months is None:
        # UTC has no DST, so day and week periods have a fixed length; floor division keeps
        # instants before the anchor in the right (negative) period.
        return (at - anchor) // _fixed_length(interval, count)
    # Calendar-month distance lands on n or one off (day/time of month decide); boundaries
    # strictly increase with n, so a short walk fixes it.
    n = ((at.year - anchor.year) * 12 + (at.month - anchor.month)) // months
    while _boundary(anchor, interval, count, n) > at:
        n -= 1
    while _boundary(anchor, interval, count, n + 1) <= at:
        n += 1
    return n


def boundary(anchor: datetime, interval: Interval | str, interval_count: int, n: int) -> datetime:
    """The n-th period boundary from `anchor` (n = 0 is the anchor; n may be negative)."""
    anchor = require_utc(anchor, "anchor")
    return _boundary(anchor, _interval(interval), _count(interval_count), n)


def period_containing(
    anchor: datetime, interval: Interval | str, interval_count: int, at: datetime
) -> Period:
    """The anchor's period [start, end) with start <= at < end; `at` may precede the anchor."""
    anchor = require_utc(anchor, "anchor")
    at = require_utc(at, "at")
    iv, count = _interval(interval), _count(interval_count)
    n = _index_containing(anchor, iv, count, at)
    return _boundary(anchor, iv, count, n), _boundary(anchor, iv, count, n + 1)


def first_period(
    start: datetime,
    anchor: datetime | None,
    interval: Interval | str,
    interval_count: int,
    latest_anchor: datetime | None = None,
) -> Period:
    """The first billing period of a subscription starting at `start`.

    Without an anchor (or with anchor == start) it is one whole interval from `start`, and the
    caller must keep `start` as the billing cycle anchor. Otherwise it runs from `start` to the
    anchor's first boundary after `start`: a later anchor gives [start, anchor) when the anchor
    is within one period (Stripe refuses an anchor beyond the next natural billing date); an
    earlier anchor is carried forward to its next boundary after `start`. The caller keeps the
    anchor as given, not the carried-forward boundary, so a 31st anchor still bills on the 31st
    after passing through a short month.
    """
    start = require_utc(start, "start")
    iv, count = _interval(interval), _count(interval_count)
    if anchor is None:
        return start, _boundary(start, iv, count, 1)
    anchor = require_utc(anchor, "anchor")
    natural_end = _boundary(start, iv, count, 1)
    latest = max(natural_end, latest_anchor) if latest_anchor is not None else natural_end
    if anchor > latest:
        raise ValueError(
            f"billing cycle anchor {anchor.isoformat()} is more than one period after the "
            f"start {start.isoformat()} (latest allowed: {latest.isoformat()})"
        )
    if anchor > natural_end:
        # A backdated start with an anchor up to one interval after the creation: one first
        # period up to the anchor (Stripe: created Oct 15, backdated to Sep 1, anchor Nov 1).
        return start, anchor
    n = _index_containing(anchor, iv, count, start)
    return start, _boundary(anchor, iv, count, n + 1)


def first_period_fraction(
    start: datetime,
    anchor: datetime | None,
    interval: Interval | str,
    interval_count: int,
    latest_anchor: datetime | None = None,
) -> Fraction:
    """The share of a whole period that the first period is, for prorating licensed fees.

    The whole period is the anchor's period that contains `start` — so a start on Mar 10 with
    a monthly anchor on Apr 1 is 22/31 of March, not 22/30 of a period measured from the start.
    A first period longer than one interval (a backdate with a later anchor) is the sum of
    its shares of each of the anchor's periods it covers (Sep 1 to Nov 1: 2).
    """
    start = require_utc(start, "start")
    iv, count = _interval(interval), _count(interval_count)
    first_start, first_end = first_period(start, anchor, iv, count, latest_anchor)
    base = start if anchor is None else require_utc(anchor, "anchor")
    total = Fraction(0)
    for a, b in periods_between(base, iv, count, first_start, first_end):
        whole_start, whole_end = period_containing(base, iv, count, a)
        total += proration_fraction(whole_start, whole_end, a, min(b, first_end))
    return total


def next_period(
    anchor: datetime, interval: Interval | str, interval_count: int, current_end: datetime
) -> Period:
    """The period that starts at `current_end`.

    `current_end` must be one of the anchor's boundaries — every period end is — so a mismatch
    means the caller holds the wrong anchor, and it is refused rather than producing an
    off-cycle period.
    """
    anchor = require_utc(anchor, "anchor")
    current_end = require_utc(current_end, "current_end")
    iv, count = _interval(interval), _count(interval_count)
    n = _index_containing(anchor, iv, count, current_end)
    start = _boundary(anchor, iv, count, n)
    if start != current_end:
        raise ValueError(
            f"{current_end.isoformat()} is not a period boundary of anchor {anchor.isoformat()} "
            f"({iv.value} x {count})"
        )
    return start, _boundary(anchor, iv, count, n + 1)


def periods_between(
    anchor: datetime,
    interval: Interval | str,
    interval_count: int,
    start: datetime,
    end: datetime,
) -> list[Period]:
    """Consecutive periods whose union covers [start, end); empty when start == end.

    The first begins at `start` itself (a short first period comes back as it is); the last is
    the whole period containing the instant just before `end`, so it may reach past `end` —
    a caller closing periods keeps those with period_end <= end.
    """
    anchor = require_utc(anchor, "anchor")
    start = require_utc(start, "start")
    end = require_utc(end, "end")
    if end < start:
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    iv, count = _interval(interval), _count(interval_count)
    periods: list[Period] = []
    if end == start:
        return periods
    n = _index_containing(anchor, iv, count, start)
    period_start = start
    while period_start < end:
        period_end = _boundary(anchor, iv, count, n + 1)
        periods.append((period_start, period_end))
        period_start, n = period_end, n + 1
    return periods


def _whole_seconds(dt: datetime, name: str) -> datetime:
    return require_utc(dt, name).replace(microsecond=0)


def proration_fraction(
    period_start: datetime, period_end: datetime, from_: datetime, to: datetime
) -> Fraction:
    """Seconds of [from_, to) inside [period_start, period_end), over the period's seconds.

    Stripe prorates to the second, so every instant is truncated to a whole second first;
    otherwise sub-second noise in a timestamp would change the amount.
    """
    ps = _whole_seconds(period_start, "period_start")
    pe = _whole_seconds(period_end, "period_end")
    lo = _whole_seconds(from_, "from_")
    hi = _whole_seconds(to, "to")
    if pe <= ps:
        raise ValueError(f"empty period [{ps.isoformat()}, {pe.isoformat()})")
    if hi < lo:
        raise ValueError(f"to {hi.isoformat()} is before from_ {lo.isoformat()}")
    overlap = min(hi, pe) - max(lo, ps)
    if overlap <= timedelta(0):
        return Fraction(0)
    return Fraction(_seconds(overlap), _seconds(pe - ps))


def _seconds(delta: timedelta) -> int:
    # Both ends are whole seconds, so this is exact (total_seconds() would go through float).
    return delta.days * 86_400 + delta.seconds


def prorate(amount: Decimal | int, fraction: Fraction) -> Decimal:
    """amount x fraction as a Decimal, unrounded: the invoice line rounds once, half-up."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        # A float amount would already be inexact; refuse it rather than launder it.
        raise TypeError(f"amount must be Decimal or int, got {type(amount).__name__}")
    if not isinstance(fraction, Fraction):
        raise TypeError(f"fraction must be a Fraction, got {type(fraction).__name__}")
    with decimal.localcontext(_PRORATE_CONTEXT) as ctx:
        # Multiply before dividing so the only rounding (at 40 digits) is the division's.
        numerator = ctx.multiply(Decimal(amount), Decimal(fraction.numerator))
        return ctx.divide(numerator, Decimal(fraction.denominator))


def add_days(dt: datetime, n: int) -> datetime:
    """dt + n days of 24 h (UTC has no DST), e.g. dueDate = finalizedAt + daysUntilDue."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {n!r}")
    return require_utc(dt, "dt") + timedelta(days=n)


_CALENDAR_ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)


def calendar_month(at: datetime) -> Period:
    """The UTC calendar month [first day 00:00, next month's first day) containing `at`: the
    billing period of a customer without a subscription."""
    return period_containing(_CALENDAR_ANCHOR, Interval.MONTH, 1, at)
