from dataclasses import replace
from decimal import Decimal as D
from enum import Enum
from types import SimpleNamespace
from typing import Any

import pytest

from meterbill.billing.errors import DomainError
from meterbill.billing.price_rules import (
    PriceInput,
    TierInput,
    TransformQuantityInput,
    validate_price,
)
from meterbill.billing.pricing import PriceSpec, Tier, price_lines, total

LICENSED = PriceInput(currency="usd", interval="MONTH", unit_amount=10000)
METERED_TIERED = PriceInput(
    currency="usd",
    interval="MONTH",
    billing_scheme="TIERED",
    tiers_mode="GRADUATED",
    usage_type="METERED",
    meter_id="mtr_abc",
    tiers=[TierInput(up_to=1000, unit_amount=0, flat_amount=0), TierInput(unit_amount_decimal="4")],
)


def errors(inp: PriceInput) -> set[tuple[str, tuple[str, ...] | None]]:
    with pytest.raises(DomainError) as e:
        validate_price(inp)
    return {(x.code, x.field) for x in e.value.errors}


def test_alpaca_prices() -> None:
    assert validate_price(LICENSED) == PriceSpec("usd", "PER_UNIT", unit_amount=D(10000))
    spec = validate_price(METERED_TIERED)
    assert spec == PriceSpec(
        "usd",
        "TIERED",
        tiers_mode="GRADUATED",
        tiers=(Tier(1000, D(0), D(0)), Tier(None, D(4), None)),
    )
    assert total(price_lines(spec, D(3000))) == 8000


@pytest.mark.parametrize(
    "changes, spec",
    [
        (
            {"unit_amount": None, "unit_amount_decimal": "0.0004"},
            PriceSpec("usd", "PER_UNIT", unit_amount=D("0.0004")),
        ),
        (
            {"unit_amount": None, "unit_amount_decimal": D("12.5")},
            PriceSpec("usd", "PER_UNIT", unit_amount=D("12.5")),
        ),
        ({"unit_amount": 0}, PriceSpec("usd", "PER_UNIT", unit_amount=D(0))),
        ({"currency": "jpy", "unit_amount": 500}, PriceSpec("jpy", "PER_UNIT", unit_amount=D(500))),
        (
            {"transform_quantity": TransformQuantityInput(divide_by=1000, round="UP")},
            PriceSpec(
                "usd",
                "PER_UNIT",
                unit_amount=D(10000),
                transform_divide_by=1000,
                transform_round="UP",
            ),
        ),
        (
            {"transform_quantity": {"divide_by": 1, "round": "DOWN"}},
            PriceSpec(
                "usd",
                "PER_UNIT",
                unit_amount=D(10000),
                transform_divide_by=1,
                transform_round="DOWN",
            ),
        ),
        (
            {
                "usage_type": "METERED",
                "meter_id": "mtr_1",
                "interval": "DAY",
                "interval_count": 1095,
            },
            PriceSpec("usd", "PER_UNIT", unit_amount=D(10000)),
        ),
        (
            {"interval": "WEEK", "interval_count": 156},
            PriceSpec("usd", "PER_UNIT", unit_amount=D(10000)),
        ),
        (
            {"interval": "MONTH", "interval_count": 36},
            PriceSpec("usd", "PER_UNIT", unit_amount=D(10000)),
        ),
        (
            {"interval": "YEAR", "interval_count": 3},
            PriceSpec("usd", "PER_UNIT", unit_amount=D(10000)),
        ),
        ({"tiers": []}, PriceSpec("usd", "PER_UNIT", unit_amount=D(10000))),
        ({"meter_id": ""}, PriceSpec("usd", "PER_UNIT", unit_amount=D(10000))),
    ],
)
def test_valid_per_unit(changes: dict[str, Any], spec: PriceSpec) -> None:
    assert validate_price(replace(LICENSED, **changes)) == spec


class Scheme(Enum):  # like a strawberry enum: member names are the SDL values
    TIERED = "tiered"


class Mode(Enum):
    VOLUME = "volume"


def test_accepts_mappings_objects_and_enum_members() -> None:
    inp = replace(
        METERED_TIERED,
        billing_scheme=Scheme.TIERED,
        tiers_mode=Mode.VOLUME,
        tiers=[
            {"up_to": 5, "unit_amount": 500, "flat_amount_decimal": "1000.5"},
            SimpleNamespace(
                up_to=None,
                unit_amount=None,
                unit_amount_decimal=None,
                flat_amount=7,
                flat_amount_decimal=None,
            ),
        ],
    )
    assert validate_price(inp) == PriceSpec(
        "usd",
        "TIERED",
        tiers_mode="VOLUME",
        tiers=(Tier(5, D(500), D("1000.5")), Tier(None, None, D(7))),
    )


def T(**kw: Any) -> TierInput:
    return TierInput(**kw)


OPEN = T(unit_amount=1)


@pytest.mark.parametrize(
    "changes, expected",
    [
        # currency
        ({"currency": "USD"}, {("INVALID", ("input", "currency"))}),
        ({"currency": "xyz"}, {("INVALID", ("input", "currency"))}),
        ({"currency": ""}, {("INVALID", ("input", "currency"))}),
        # per unit amounts
        ({"unit_amount": None}, {("REQUIRED", ("input", "unitAmount"))}),
        ({"unit_amount_decimal": "1"}, {("INVALID", ("input", "unitAmountDecimal"))}),
        ({"unit_amount": -1}, {("INVALID", ("input", "unitAmount"))}),
        ({"unit_amount": 10**15}, {("INVALID", ("input", "unitAmount"))}),
        ({"unit_amount": True}, {("INVALID", ("input", "unitAmount"))}),
        (
            {"unit_amount": None, "unit_amount_decimal": "-0.1"},
            {("INVALID", ("input", "unitAmountDecimal"))},
        ),
        (
            {"unit_amount": None, "unit_amount_decimal": "0.0000000000001"},
            {("INVALID", ("input", "unitAmountDecimal"))},
        ),
        (
            {"unit_amount": None, "unit_amount_decimal": "NaN"},
            {("INVALID", ("input", "unitAmountDecimal"))},
        ),
        (
            {"unit_amount": None, "unit_amount_decimal": 0.5},
            {("INVALID", ("input", "unitAmountDecimal"))},
        ),
        ({"tiers": [OPEN]}, {("INVALID", ("input", "tiers"))}),
        ({"tiers_mode": "VOLUME"}, {("INVALID", ("input", "tiersMode"))}),
        ({"billing_scheme": "FLAT"}, {("INVALID", ("input", "billingScheme"))}),
        # transform quantity
        (
            {"transform_quantity": TransformQuantityInput(0, "UP")},
            {("INVALID", ("input", "transformQuantity", "divideBy"))},
        ),
        (
            {"transform_quantity": TransformQuantityInput(10, "NEAREST")},
            {("INVALID", ("input", "transformQuantity", "round"))},
        ),
        # recurring
        ({"usage_type": "METERED"}, {("REQUIRED", ("input", "recurring", "meterId"))}),
        (
            {"usage_type": "METERED", "meter_id": "  "},
            {("REQUIRED", ("input", "recurring", "meterId"))},
        ),
        ({"meter_id": "mtr_1"}, {("INVALID", ("input", "recurring", "meterId"))}),
        ({"usage_type": "SEATS"}, {("INVALID", ("input", "recurring", "usageType"))}),
        ({"interval": "HOUR"}, {("INVALID", ("input", "recurring", "interval"))}),
        ({"interval_count": 0}, {("INVALID", ("input", "recurring", "intervalCount"))}),
        ({"interval_count": 37}, {("INVALID", ("input", "recurring", "intervalCount"))}),
        (
            {"interval": "YEAR", "interval_count": 4},
            {("INVALID", ("input", "recurring", "intervalCount"))},
        ),
        (
            {"interval": "WEEK", "interval_count": 157},
            {("INVALID", ("input", "recurring", "intervalCount"))},
        ),
        (
            {"interval": "DAY", "interval_count": 1096},
            {("INVALID", ("input", "recurring", "intervalCount"))},
        ),
    ],
)
def test_per_unit_errors(changes: dict[str, Any], expected: set[Any]) -> None:
    assert errors(replace(LICENSED, **changes)) == expected


def tiers_path(i: int, name: str) -> tuple[str, ...]:
    return ("input", "tiers", str(i), name)


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"tiers_mode": None}, {("REQUIRED", ("input", "tiersMode"))}),
        ({"tiers_mode": "STAIRSTEP"}, {("INVALID", ("input", "tiersMode"))}),
        ({"tiers": None}, {("REQUIRED", ("input", "tiers"))}),
        ({"tiers": []}, {("REQUIRED", ("input", "tiers"))}),
        ({"unit_amount": 5}, {("INVALID", ("input", "unitAmount"))}),
        ({"unit_amount_decimal": "5"}, {("INVALID", ("input", "unitAmountDecimal"))}),
        (
            {"transform_quantity": TransformQuantityInput(10, "UP")},
            {("INVALID", ("input", "transformQuantity"))},
        ),
        ({"tiers": [T(up_to=5, unit_amount=1)]}, {("INVALID", tiers_path(0, "upTo"))}),
        ({"tiers": [T(unit_amount=1), OPEN]}, {("REQUIRED", tiers_path(0, "upTo"))}),
        ({"tiers": [T(up_to=0, unit_amount=1), OPEN]}, {("INVALID", tiers_path(0, "upTo"))}),
        ({"tiers": [T(up_to=-3, unit_amount=1), OPEN]}, {("INVALID", tiers_path(0, "upTo"))}),
        ({"tiers": [T(up_to="5", unit_amount=1), OPEN]}, {("INVALID", tiers_path(0, "upTo"))}),
        (
            {"tiers": [T(up_to=5, unit_amount=1), T(up_to=5, unit_amount=1), OPEN]},
            {("INVALID", tiers_path(1, "upTo"))},
        ),
        (
            {"tiers": [T(up_to=10, unit_amount=1), T(up_to=5, unit_amount=1), OPEN]},
            {("INVALID", tiers_path(1, "upTo"))},
        ),
        (
            {
                "tiers": [
                    T(up_to=10, unit_amount=1),
                    T(up_to=0, unit_amount=1),
                    T(up_to=11, unit_amount=1),
                    OPEN,
                ]
            },
            {("INVALID", tiers_path(1, "upTo"))},
        ),
        ({"tiers": [T(up_to=5), OPEN]}, {("REQUIRED", tiers_path(0, "unitAmount"))}),
        (
            {"tiers": [T(up_to=5, unit_amount=1, unit_amount_decimal="1"), OPEN]},
            {("INVALID", tiers_path(0, "unitAmountDecimal"))},
        ),
        (
            {"tiers": [T(up_to=5, flat_amount=1, flat_amount_decimal="1"), OPEN]},
            {("INVALID", tiers_path(0, "flatAmountDecimal"))},
        ),
        ({"tiers": [T(up_to=5, flat_amount=-1), OPEN]}, {("INVALID", tiers_path(0, "flatAmount"))}),
        ({"tiers": [T(up_to=5, unit_amount=-1), OPEN]}, {("INVALID", tiers_path(0, "unitAmount"))}),
        (
            {"tiers": [T(up_to=5, flat_amount_decimal="-0.5"), OPEN]},
            {("INVALID", tiers_path(0, "flatAmountDecimal"))},
        ),
        (
            {"tiers": [T(up_to=5, unit_amount_decimal="1.0000000000001"), OPEN]},
            {("INVALID", tiers_path(0, "unitAmountDecimal"))},
        ),
    ],
)
def test_tiered_errors(changes: dict[str, Any], expected: set[Any]) -> None:
    assert errors(replace(METERED_TIERED, **changes)) == expected


def test_every_problem_is_reported_at_once() -> None:
    inp = PriceInput(
        currency="EUR",
        interval="MONTH",
        interval_count=0,
        billing_scheme="TIERED",
        tiers_mode=None,
        usage_type="METERED",
        unit_amount=3,
        tiers=[T(up_to=10, unit_amount=1), T(up_to=10), T(up_to=20, flat_amount=-2)],
    )
    assert errors(inp) == {
        ("INVALID", ("input", "currency")),
        ("REQUIRED", ("input", "tiersMode")),
        ("INVALID", ("input", "unitAmount")),
        ("INVALID", tiers_path(1, "upTo")),
        ("REQUIRED", tiers_path(1, "unitAmount")),
        ("INVALID", tiers_path(2, "upTo")),
        ("INVALID", tiers_path(2, "flatAmount")),
        ("REQUIRED", ("input", "recurring", "meterId")),
        ("INVALID", ("input", "recurring", "intervalCount")),
    }


def test_error_messages_are_useful() -> None:
    with pytest.raises(DomainError) as e:
        validate_price(replace(LICENSED, currency="USD"))
    assert "lower case" in str(e.value) and "'usd'" in str(e.value)
