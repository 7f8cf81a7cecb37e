"""Price a quantity: per unit (optionally transformed), graduated or volume tiers.

All amounts are Decimal minor units. Every line is computed exactly, then rounded ONCE
half-up to whole minor units; an invoice total is the sum of its lines' rounded amounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Literal

from meterbill.billing.money import round_minor

BillingScheme = Literal["PER_UNIT", "TIERED"]
TiersMode = Literal["GRADUATED", "VOLUME"]
RoundingDirection = Literal["UP", "DOWN"]

_ZERO = Decimal(0)
# Inputs are at most ~27 significant digits, so a product fits easily; should one not,
# Inexact raises instead of silently billing a rounded figure.
_EXACT = Context(prec=100, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])


@dataclass(frozen=True)
class Tier:
    up_to: int | None  # inclusive upper bound; None = infinity (last tier only)
    unit_amount: Decimal | None = None
    flat_amount: Decimal | None = None


@dataclass(frozen=True)
class PriceSpec:
    currency: str
    billing_scheme: BillingScheme
    unit_amount: Decimal | None = None
    tiers_mode: TiersMode | None = None
    tiers: tuple[Tier, ...] = ()
    transform_divide_by: int | None = None
    transform_round: RoundingDirection | None = None


@dataclass(frozen=True)
class PricedLine:
    tier: int | None  # 1-based tier for tiered prices, None for per unit
    quantity: Decimal  # units billed at unit_amount on this line (after transform)
    unit_amount: Decimal | None
    flat_amount: Decimal | None
    exact: Decimal  # quantity * unit_amount + flat_amount, unrounded
    amount: int  # exact rounded half-up to minor units


def price_lines(spec: PriceSpec, quantity: Decimal) -> list[PricedLine]:
    """The invoice lines for `quantity` units of `spec` (one per tier reached if tiered)."""
    if not isinstance(quantity, (Decimal, int)) or isinstance(quantity, bool):
        raise TypeError(f"quantity must be a Decimal, got {type(quantity).__name__}")
    # A metered total can go below zero (negative events); it bills as nothing used.
    q = max(Decimal(quantity), _ZERO)
    with localcontext(_EXACT):
        if spec.billing_scheme == "PER_UNIT":
            return [_per_unit(spec, q)]
        if spec.billing_scheme != "TIERED" or not spec.tiers or spec.tiers[-1].up_to is not None:
            raise ValueError(f"cannot price {spec!r}")
        if spec.transform_divide_by is not None:
            raise ValueError("transform_quantity does not combine with tiers")
        if spec.tiers_mode == "GRADUATED":
            return _graduated(spec.tiers, q)
        if spec.tiers_mode == "VOLUME":
            return [_volume(spec.tiers, q)]
        raise ValueError(f"unknown tiers_mode {spec.tiers_mode!r}")


def total(lines: Iterable[PricedLine]) -> int:
    """Sum of the lines' rounded amounts (never a rounding of the summed exact values)."""
    return sum((line.amount for line in lines), 0)


def _line(
    tier: int | None, quantity: Decimal, unit: Decimal | None, flat: Decimal | None
) -> PricedLine:
    exact = quantity * (unit if unit is not None else _ZERO) + (flat or _ZERO)
    return PricedLine(tier, quantity, unit, flat, exact, round_minor(exact))


def _per_unit(spec: PriceSpec, q: Decimal) -> PricedLine:
    if spec.unit_amount is None:
        raise ValueError("a PER_UNIT price needs unit_amount")
    if spec.transform_divide_by is not None:
        q = _transform(q, spec.transform_divide_by, spec.transform_round)
    return _line(None, q, spec.unit_amount, None)


def _transform(q: Decimal, divide_by: int, direction: RoundingDirection | None) -> Decimal:
    if divide_by < 1 or direction not in ("UP", "DOWN"):
        raise ValueError(f"bad transform_quantity {divide_by!r} {direction!r}")
    # divmod is exact where q / divide_by (e.g. 1/3) would not be.
    whole, rest = divmod(q, Decimal(divide_by))
    return whole + 1 if direction == "UP" and rest else whole


def _graduated(tiers: tuple[Tier, ...], q: Decimal) -> list[PricedLine]:
    lines: list[PricedLine] = []
    floor = _ZERO  # units already billed by lower tiers
    for number, tier in enumerate(tiers, start=1):
        if lines and q <= floor:
            break  # tier not reached; the first tier is always billed (its flat fee at 0)
        ceiling = q if tier.up_to is None else min(q, Decimal(tier.up_to))
        lines.append(_line(number, ceiling - floor, tier.unit_amount, tier.flat_amount))
        if tier.up_to is None:
            break
        floor = Decimal(tier.up_to)
    return lines


def _volume(tiers: tuple[Tier, ...], q: Decimal) -> PricedLine:
    for number, tier in enumerate(tiers, start=1):
        if tier.up_to is None or q <= tier.up_to:
            return _line(number, q, tier.unit_amount, tier.flat_amount)
    raise ValueError("the last tier must be open-ended (up_to None)")
