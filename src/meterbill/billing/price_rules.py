"""Validate the pricing part of a createPrice request into a PriceSpec.

Pure: whether the meter exists is the service's business. Every problem is collected, so
the caller gets all userErrors at once, each at its camelCase path under "input".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, cast

from meterbill.billing.errors import DomainError, FieldError
from meterbill.billing.money import CURRENCY_EXPONENTS, parse_decimal
from meterbill.billing.pricing import BillingScheme, PriceSpec, RoundingDirection, Tier, TiersMode

MAX_PLACES = 12
_MAX_INT = 10**15  # same bound as parse_decimal's 15 integer digits
# Stripe: "Maximum of three years interval allowed (3 years, 36 months, or 156 weeks)".
MAX_INTERVAL_COUNT = {"DAY": 3 * 365, "WEEK": 156, "MONTH": 36, "YEAR": 3}
_TIER_AMOUNTS = ("unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal")


@dataclass
class TierInput:
    up_to: int | None = None
    unit_amount: int | None = None
    unit_amount_decimal: str | Decimal | None = None
    flat_amount: int | None = None
    flat_amount_decimal: str | Decimal | None = None


@dataclass
class TransformQuantityInput:
    divide_by: int
    round: str | Enum


@dataclass
class PriceInput:
    """CreatePriceInput's pricing fields, recurring flattened. Tiers and transform_quantity
    may be these dataclasses, mappings with the same snake_case keys, or any object with
    those attributes (e.g. the GraphQL input objects); enums may be Enum members."""

    currency: str
    interval: str | Enum
    billing_scheme: str | Enum = "PER_UNIT"
    unit_amount: int | None = None
    unit_amount_decimal: str | Decimal | None = None
    tiers_mode: str | Enum | None = None
    tiers: Sequence[object] | None = None
    transform_quantity: object | None = None
    usage_type: str | Enum = "LICENSED"
    meter_id: str | None = None
    interval_count: int = 1


class _Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, code: str, message: str, *path: str) -> None:
        self.items.append(FieldError(code, message, ("input", *path)))


def validate_price(inp: PriceInput) -> PriceSpec:
    """The PriceSpec for `inp`, or DomainError listing every problem found."""
    errs = _Errors()
    currency = _currency(inp.currency, errs)
    scheme = _enum(inp.billing_scheme)
    unit: Decimal | None = None
    tiers_mode: str | None = None
    tiers: tuple[Tier, ...] = ()
    divide_by: int | None = None
    rounding: str | None = None
    if scheme == "PER_UNIT":
        unit = _amount(inp.unit_amount, inp.unit_amount_decimal, errs, "unitAmount")
        if unit is None and not _given(inp.unit_amount, inp.unit_amount_decimal):
            errs.add("REQUIRED", "give unitAmount or unitAmountDecimal", "unitAmount")
        if inp.tiers_mode is not None:
            errs.add("INVALID", "tiersMode is for TIERED prices only", "tiersMode")
        if inp.tiers:
            errs.add("INVALID", "tiers are for TIERED prices only", "tiers")
        if inp.transform_quantity is not None:
            divide_by, rounding = _transform(inp.transform_quantity, errs)
    elif scheme == "TIERED":
        tiers_mode = _enum(inp.tiers_mode)
        if tiers_mode is None:
            errs.add("REQUIRED", "TIERED prices need tiersMode", "tiersMode")
        elif tiers_mode not in ("GRADUATED", "VOLUME"):
            errs.add("INVALID", "tiersMode must be GRADUATED or VOLUME", "tiersMode")
        per_unit_fields = {
            "unitAmount": inp.unit_amount,
            "unitAmountDecimal": inp.unit_amount_decimal,
        }
        for name, value in per_unit_fields.items():
            if value is not None:
                errs.add("INVALID", f"{name} is for PER_UNIT prices; set it on tiers", name)
        if inp.transform_quantity is not None:
            errs.add(
                "INVALID", "transformQuantity does not combine with tiers", "transformQuantity"
            )
        tiers = _tiers(inp.tiers or (), errs)
    else:
        errs.add("INVALID", "billingScheme must be PER_UNIT or TIERED", "billingScheme")
    _recurring(inp, errs)
    if errs.items:
        raise DomainError(errs.items)
    return PriceSpec(
        currency=currency,
        billing_scheme=cast(BillingScheme, scheme),
        unit_amount=unit,
        tiers_mode=cast("TiersMode | None", tiers_mode),
        tiers=tiers,
        transform_divide_by=divide_by,
        transform_round=cast("RoundingDirection | None", rounding),
    )


def _enum(value: object) -> str | None:
    # GraphQL enum members are named like the SDL values; their .value may differ.
    return value.name if isinstance(value, Enum) else cast("str | None", value)


def _field(obj: object, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _given(*values: object) -> bool:
    return any(v is not None for v in values)


def _currency(code: object, errs: _Errors) -> str:
    if not isinstance(code, str) or code not in CURRENCY_EXPONENTS:
        hint = ""
        if isinstance(code, str) and code.lower() in CURRENCY_EXPONENTS:
            hint = f" (use lower case: {code.lower()!r})"
        errs.add("INVALID", f"{code!r} is not a known ISO-4217 currency code{hint}", "currency")
        return ""
    return code


def _int(value: object, errs: _Errors, *path: str, minimum: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errs.add("INVALID", "must be an integer", *path)
        return None
    if not minimum <= value < _MAX_INT:
        errs.add("INVALID", f"must be between {minimum} and {_MAX_INT - 1}", *path)
        return None
    return value


def _amount(
    whole: object, decimal: object, errs: _Errors, name: str, *prefix: str
) -> Decimal | None:
    """One of `name` (int) / `nameDecimal` (decimal string) as a Decimal >= 0, or None."""
    if whole is not None and decimal is not None:
        errs.add("INVALID", f"give {name} or {name}Decimal, not both", *prefix, f"{name}Decimal")
        return None
    if whole is not None:
        number = _int(whole, errs, *prefix, name, minimum=0)
        return None if number is None else Decimal(number)
    if decimal is None:
        return None
    path = ("input", *prefix, f"{name}Decimal")
    try:
        value = parse_decimal(decimal, max_places=MAX_PLACES, field=path)
    except DomainError as e:
        errs.items.extend(e.errors)
        return None
    if value < 0:
        errs.add("INVALID", "must not be negative", *prefix, f"{name}Decimal")
        return None
    return value


def _tiers(raw: Sequence[object], errs: _Errors) -> tuple[Tier, ...]:
    if not raw:
        errs.add("REQUIRED", "TIERED prices need at least one tier", "tiers")
        return ()
    tiers: list[Tier] = []
    previous: int | None = None
    last = len(raw) - 1
    for i, item in enumerate(raw):
        at = ("tiers", str(i))
        up_to_raw = _field(item, "up_to")
        up_to: int | None = None
        if up_to_raw is None:
            if i != last:
                errs.add("REQUIRED", "only the last tier may be open-ended", *at, "upTo")
        elif i == last:
            errs.add("INVALID", "the last tier must be open-ended (upTo null)", *at, "upTo")
        else:
            up_to = _int(up_to_raw, errs, *at, "upTo", minimum=1)
            if up_to is not None and previous is not None and up_to <= previous:
                errs.add(
                    "INVALID",
                    f"upTo must be greater than the previous tier's ({previous})",
                    *at,
                    "upTo",
                )
            previous = up_to if up_to is not None else previous
        u, ud, f, fd = (_field(item, key) for key in _TIER_AMOUNTS)
        unit = _amount(u, ud, errs, "unitAmount", *at)
        flat = _amount(f, fd, errs, "flatAmount", *at)
        if not _given(u, ud, f, fd):
            msg = "a tier needs a unit amount and/or a flat amount"
            errs.add("REQUIRED", msg, *at, "unitAmount")
        tiers.append(Tier(up_to, unit, flat))
    return tuple(tiers)


def _transform(raw: object, errs: _Errors) -> tuple[int | None, str | None]:
    at = "transformQuantity"
    divide_by = _int(_field(raw, "divide_by"), errs, at, "divideBy", minimum=1)
    rounding = _enum(_field(raw, "round"))
    if rounding not in ("UP", "DOWN"):
        errs.add("INVALID", "round must be UP or DOWN", at, "round")
        rounding = None
    return divide_by, rounding


def _recurring(inp: PriceInput, errs: _Errors) -> None:
    usage = _enum(inp.usage_type)
    has_meter = bool(inp.meter_id and inp.meter_id.strip())
    if usage == "METERED" and not has_meter:
        errs.add("REQUIRED", "METERED prices need a meterId", "recurring", "meterId")
    elif usage == "LICENSED" and has_meter:
        errs.add("INVALID", "LICENSED prices take no meterId", "recurring", "meterId")
    elif usage not in ("METERED", "LICENSED"):
        errs.add("INVALID", "usageType must be LICENSED or METERED", "recurring", "usageType")
    interval = _enum(inp.interval)
    limit = MAX_INTERVAL_COUNT.get(interval) if isinstance(interval, str) else None
    if limit is None:
        errs.add("INVALID", "interval must be DAY, WEEK, MONTH or YEAR", "recurring", "interval")
        limit = _MAX_INT
    count = _int(inp.interval_count, errs, "recurring", "intervalCount", minimum=1)
    if count is not None and count > limit:
        errs.add(
            "INVALID",
            f"at most three years: intervalCount <= {limit} for {interval}",
            "recurring",
            "intervalCount",
        )
