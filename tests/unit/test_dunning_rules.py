"""billing/dunning.py (retry schedule, settings bounds), billing/invoice.py's change lines and
FLEXIBLE credits, and billing/periods.py's backdated first period with a later anchor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.billing import dunning
from meterbill.billing import invoice as inv
from meterbill.billing.periods import first_period, first_period_fraction
from meterbill.billing.pricing import PriceSpec

T0 = datetime(2026, 2, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("count", "days", "expected"),
    [
        (1, (3, 5, 7), T0 + timedelta(days=3)),
        (2, (3, 5, 7), T0 + timedelta(days=5)),
        (3, (3, 5, 7), T0 + timedelta(days=7)),
        (4, (3, 5, 7), None),  # the last retry failed
        (1, (), None),  # retries off
        (0, (3,), None),
    ],
)
def test_next_attempt(count, days, expected):
    assert dunning.next_attempt(count, T0, dunning.Settings(days)) == expected


@pytest.mark.parametrize(
    ("days", "fields"),
    [
        ([], []),
        ([1, 30], []),
        ([0], [("input", "d", "0")]),
        ([3, 31, 5, -1], [("input", "d", "1"), ("input", "d", "3")]),
        ([1] * 9, [("input", "d")]),
    ],
)
def test_retry_day_bounds(days, fields):
    assert [e.field for e in dunning.retry_day_errors(days, ("input", "d"))] == fields


@given(st.lists(st.integers(1, 30), max_size=8))
def test_days_round_trip(days):
    assert dunning.decode_days(dunning.encode_days(days)) == tuple(days)


_SPEC = PriceSpec(
    currency="usd",
    billing_scheme="PER_UNIT",
    unit_amount=Decimal(1000),
)
APRIL = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
HALF = datetime(2026, 4, 16, tzinfo=UTC)


def test_price_swap_lines():
    twenty = PriceSpec(currency="usd", billing_scheme="PER_UNIT", unit_amount=Decimal(2000))
    lines = inv.change_lines(
        inv.Seats("Ten", "p10", _SPEC, 1),
        inv.Seats("Twenty", "p20", twenty, 1),
        APRIL,
        HALF,
        Fraction(1, 2),
    )
    assert [(ln.price_id, ln.amount) for ln in lines] == [("p10", -500), ("p20", 1000)]


def test_flexible_credit_is_the_unused_share_of_what_was_billed():
    first = (datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    billed = [inv.Billed(2200, *first)]  # 3100 x 22/31
    assert inv.unused_credit(billed, datetime(2026, 3, 21, tzinfo=UTC)) == -1100
    # A later charge on part of the period counts over its own span.
    billed.append(inv.Billed(1100, datetime(2026, 3, 21, tzinfo=UTC), first[1]))
    assert inv.unused_credit(billed, datetime(2026, 3, 26, 12, tzinfo=UTC)) == -1100


@given(st.integers(-(10**9), 10**9), st.integers(0, 30 * 86400))
def test_unused_credit_never_exceeds_what_was_billed(amount, seconds):
    at = APRIL[0] + timedelta(seconds=seconds)
    credit = inv.unused_credit([inv.Billed(amount, *APRIL)], at)
    assert abs(credit) <= abs(amount)
    assert credit == 0 or (credit < 0) == (amount > 0)


def test_stripe_backdating_example():
    created = datetime(2026, 10, 15, tzinfo=UTC)
    start, anchor = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    latest = datetime(2026, 11, 15, tzinfo=UTC)  # one month after the creation
    assert first_period(start, anchor, "MONTH", 1, latest) == (start, anchor)
    assert first_period_fraction(start, anchor, "MONTH", 1, latest) == 2
    # Sep 16 -> Nov 1: 15/30 of September plus October.
    mid = datetime(2026, 9, 16, tzinfo=UTC)
    assert first_period_fraction(mid, anchor, "MONTH", 1, latest) == Fraction(3, 2)
    with pytest.raises(ValueError):
        first_period(start, anchor, "MONTH", 1)  # not backdated: one period at most
    assert created < anchor


def test_first_period_fraction_unchanged_within_one_period():
    assert first_period_fraction(
        datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), "MONTH", 1
    ) == Fraction(22, 31)
