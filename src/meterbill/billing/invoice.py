"""Assemble invoice lines and totals (pure): licensed fees in advance, usage in arrears,
prorations. Every line is rounded once, half-up; totals are sums of rounded lines."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from meterbill.billing.money import round_minor
from meterbill.billing.periods import prorate, proration_fraction
from meterbill.billing.pricing import PricedLine, PriceSpec, price_lines

_ONE = Fraction(1)


@dataclass(frozen=True)
class LineDraft:
    type: str  # SUBSCRIPTION or PRORATION
    usage_type: str  # LICENSED or METERED
    description: str
    price_id: str | None
    tier: int | None
    quantity: Decimal
    unit_amount: Decimal | None
    amount: int
    period_start: datetime
    period_end: datetime


def bills_usage(type_: str, usage_type: str) -> bool:
    """Whether a line bills metered usage: the period's (SUBSCRIPTION), or a metered
    price's usage up to its change mid-period, billed at that price as its own line
    (PRORATION; no other line is both PRORATION and METERED)."""
    return usage_type == "METERED" and type_ in ("SUBSCRIPTION", "PRORATION")


@dataclass(frozen=True)
class Totals:
    subtotal: int
    total: int
    amount_due: int


def _tier_label(spec: PriceSpec, tier: int) -> str:
    lower = 1 if tier == 1 else (spec.tiers[tier - 2].up_to or 0) + 1
    upper = spec.tiers[tier - 1].up_to
    return f"tier {tier}: {lower} and above" if upper is None else f"tier {tier}: {lower}-{upper}"


def _exact_scaled(line: PricedLine, fraction: Fraction) -> int:
    return round_minor(line.exact if fraction == _ONE else prorate(line.exact, fraction))


def licensed_lines(
    name: str,
    price_id: str,
    spec: PriceSpec,
    quantity: int,
    period: tuple[datetime, datetime],
    fraction: Fraction = _ONE,
) -> list[LineDraft]:
    """Seats billed in advance for `period`; `fraction` < 1 for a short first period."""
    out = []
    for pl in price_lines(spec, Decimal(quantity)):
        label = f"{quantity} × {name}"
        if pl.tier is not None:
            label += f" ({_tier_label(spec, pl.tier)})"
        if fraction != _ONE:
            label += " (prorated)"
        out.append(
            LineDraft(
                "SUBSCRIPTION",
                "LICENSED",
                label,
                price_id,
                pl.tier,
                pl.quantity,
                pl.unit_amount,
                _exact_scaled(pl, fraction),
                period[0],
                period[1],
            )
        )
    return out


def usage_lines(
    name: str,
    price_id: str,
    spec: PriceSpec,
    quantity: Decimal,
    period: tuple[datetime, datetime],
) -> list[LineDraft]:
    """Metered usage billed in arrears for `period`: one line per tier reached."""
    out = []
    for pl in price_lines(spec, quantity):
        label = name if pl.tier is None else f"{name} ({_tier_label(spec, pl.tier)})"
        out.append(
            LineDraft(
                "SUBSCRIPTION",
                "METERED",
                label,
                price_id,
                pl.tier,
                pl.quantity,
                pl.unit_amount,
                pl.amount,
                period[0],
                period[1],
            )
        )
    return out


def zero_usage_line(
    name: str, price_id: str, spec: PriceSpec, period: tuple[datetime, datetime]
) -> LineDraft:
    """CLASSIC mode's first invoice: a zero-amount line per metered price."""
    unit = spec.unit_amount if spec.billing_scheme == "PER_UNIT" else None
    return LineDraft(
        "SUBSCRIPTION", "METERED", name, price_id, None, Decimal(0), unit, 0, period[0], period[1]
    )


def seats_exact(spec: PriceSpec, quantity: int) -> Decimal:
    """The unrounded price of `quantity` seats for a whole period."""
    return sum((pl.exact for pl in price_lines(spec, Decimal(quantity))), Decimal(0))


def proration_lines(
    name: str,
    price_id: str,
    spec: PriceSpec,
    old_quantity: int,
    new_quantity: int,
    period: tuple[datetime, datetime],
    at: datetime,
    fraction: Fraction,
) -> list[LineDraft]:
    """Credit for the unused time at the old quantity, charge for the rest at the new one."""
    return change_lines(
        Seats(name, price_id, spec, old_quantity),
        Seats(name, price_id, spec, new_quantity),
        period,
        at,
        fraction,
    )


def totals(amounts: Iterable[int]) -> Totals:
    subtotal = sum(amounts, 0)
    # A credit larger than the charges is not paid out; nothing is due.
    return Totals(subtotal, subtotal, max(subtotal, 0))


@dataclass(frozen=True)
class Seats:
    """A licensed item as a change sees it: its price and quantity."""

    name: str
    price_id: str
    spec: PriceSpec
    quantity: int


@dataclass(frozen=True)
class Billed:
    """An amount billed for an item over [start, end) (a licensed or proration line)."""

    amount: int
    start: datetime
    end: datetime


def unused_credit(billed: Iterable[Billed], at: datetime) -> int:
    """FLEXIBLE mode's credit (negative): the unused share, to the second, of what was
    actually billed, each amount over its own span; rounded once, half-up."""
    exact = sum(
        (
            prorate(b.amount, proration_fraction(b.start, b.end, at, b.end))
            for b in billed
            if b.end > b.start
        ),
        Decimal(0),
    )
    return -round_minor(exact)


def change_lines(
    old: Seats | None,
    new: Seats | None,
    period: tuple[datetime, datetime],
    at: datetime,
    fraction: Fraction,
    credit: int | None = None,
) -> list[LineDraft]:
    """A licensed item changed at `at` (seats, price, added: old None, removed: new None):
    credit for the unused time of the old, charge for the rest of the period on the new.
    `credit` overrides the old's credit (FLEXIBLE: unused_credit of what was billed)."""
    when = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    out = []
    if old is not None:
        amount = credit
        if amount is None:
            amount = -round_minor(prorate(seats_exact(old.spec, old.quantity), fraction))
        out.append(
            LineDraft(
                "PRORATION",
                "LICENSED",
                f"Unused time on {old.quantity} × {old.name} after {when}",
                old.price_id,
                None,
                Decimal(old.quantity),
                None,
                amount,
                at,
                period[1],
            )
        )
    if new is not None:
        out.append(
            LineDraft(
                "PRORATION",
                "LICENSED",
                f"Remaining time on {new.quantity} × {new.name} after {when}",
                new.price_id,
                None,
                Decimal(new.quantity),
                None,
                round_minor(prorate(seats_exact(new.spec, new.quantity), fraction)),
                at,
                period[1],
            )
        )
    return out
