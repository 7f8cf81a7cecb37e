"""billing/invoice.py: licensed lines in advance (prorated once), usage lines per tier,
prorations to the second, totals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from meterbill.billing import invoice as inv
from meterbill.billing.periods import first_period_fraction, proration_fraction
from meterbill.billing.pricing import PriceSpec, Tier

JAN = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
APR = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
LICENSE = PriceSpec("usd", "PER_UNIT", unit_amount=Decimal(10000))
USAGE = PriceSpec(
    "usd",
    "TIERED",
    tiers_mode="GRADUATED",
    tiers=(Tier(1000, Decimal(0)), Tier(None, Decimal(4))),
)


def test_seed_usage_lines_one_per_tier():
    lines = inv.usage_lines("Alpaca AI usage", "price_u", USAGE, Decimal(3000), JAN)
    assert [(ln.tier, ln.quantity, ln.amount) for ln in lines] == [
        (1, Decimal(1000), 0),
        (2, Decimal(2000), 8000),
    ]
    assert lines[1].description == "Alpaca AI usage (tier 2: 1001 and above)"
    assert all((ln.period_start, ln.period_end) == JAN for ln in lines)
    assert all(ln.usage_type == "METERED" for ln in lines)


@pytest.mark.parametrize(
    ("quantity", "amounts"),
    [(Decimal(0), [0]), (Decimal(1000), [0]), (Decimal(1001), [0, 4]), (Decimal(-5), [0])],
)
def test_usage_edges(quantity, amounts):
    lines = inv.usage_lines("u", "p", USAGE, quantity, JAN)
    assert [ln.amount for ln in lines] == amounts


def test_licensed_lines_for_seats():
    (line,) = inv.licensed_lines("Seat", "price_l", LICENSE, 3, JAN)
    assert (line.quantity, line.amount, line.description) == (Decimal(3), 30000, "3 × Seat")


def test_first_period_prorated_once_half_up():
    start = datetime(2026, 3, 10, tzinfo=UTC)
    anchor = datetime(2026, 4, 1, tzinfo=UTC)
    fraction = first_period_fraction(start, anchor, "MONTH", 1)
    assert fraction == Fraction(22, 31)
    (line,) = inv.licensed_lines("Seat", "p", LICENSE, 1, (start, anchor), fraction)
    assert line.amount == 7097  # 7096.77...
    assert line.description.endswith("(prorated)")


def test_proration_credit_and_charge_to_the_second():
    at = datetime(2026, 4, 16, tzinfo=UTC)
    half = proration_fraction(APR[0], APR[1], at, APR[1])
    assert half == Fraction(1, 2)
    credit, charge = inv.proration_lines("Seat", "p", LICENSE, 1, 3, APR, at, half)
    assert (credit.amount, charge.amount) == (-5000, 15000)
    assert credit.type == charge.type == "PRORATION"
    assert (credit.period_start, credit.period_end) == (at, APR[1])
    one_second_later = proration_fraction(APR[0], APR[1], at.replace(second=1), APR[1])
    c2, _ = inv.proration_lines("Seat", "p", LICENSE, 1, 3, APR, at, one_second_later)
    assert c2.amount == -5000  # 10000 x 1295999/2592000 = 4999.996 -> 5000
    assert one_second_later < half


def test_zero_usage_line_for_classic_mode():
    line = inv.zero_usage_line("Alpaca AI usage", "p", USAGE, JAN)
    assert (line.amount, line.quantity, line.tier) == (0, Decimal(0), None)


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        ([10000, 8000, 0], (18000, 18000, 18000)),
        ([-15000, 5000], (-10000, -10000, 0)),
        ([], (0, 0, 0)),
    ],
)
def test_totals(amounts, expected):
    t = inv.totals(amounts)
    assert (t.subtotal, t.total, t.amount_due) == expected
