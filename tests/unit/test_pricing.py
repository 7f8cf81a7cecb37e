from decimal import Decimal as D
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.billing.money import format_amount, round_minor
from meterbill.billing.pricing import (
    PricedLine,
    PriceSpec,
    RoundingDirection,
    Tier,
    price_lines,
    total,
)


def tiered(mode: str, *tiers: tuple[int | None, str | None, str | None]) -> PriceSpec:
    return PriceSpec(
        currency="usd",
        billing_scheme="TIERED",
        tiers_mode=mode,  # type: ignore[arg-type]
        tiers=tuple(
            Tier(up, None if u is None else D(u), None if f is None else D(f)) for up, u, f in tiers
        ),
    )


def summary(lines: list[PricedLine]) -> list[tuple[object, ...]]:
    return [(x.tier, x.quantity, x.amount) for x in lines]


def per_unit(
    unit: str, currency: str = "usd", divide_by: int | None = None, rnd: str | None = None
) -> PriceSpec:
    return PriceSpec(
        currency,
        "PER_UNIT",
        unit_amount=D(unit),
        transform_divide_by=divide_by,
        transform_round=cast("RoundingDirection | None", rnd),
    )


# contract/README.md and Stripe's "tiered pricing" page: 1-5 at 7 USD, 6-10 at 6.50, 11+ at 6.
FONTS = ((5, "700", None), (10, "650", None), (None, "600", None))
# Stripe's flat-fee tiers example.
FLAT = (
    (5, "500", "1000"),
    (10, "400", "2000"),
    (15, "300", "3000"),
    (20, "200", "4000"),
    (None, "100", "5000"),
)
# The seed's Alpaca usage price: first 1000 tokens free, then 0.04 USD = 4 cents each.
ALPACA = ((1000, "0", "0"), (None, "4", "0"))


@pytest.mark.parametrize(
    "mode, tiers, quantity, expected",
    [
        ("GRADUATED", FONTS, "6", 4150),
        ("GRADUATED", FONTS, "20", 12750),
        ("GRADUATED", FONTS, "25", 15750),
        ("GRADUATED", FONTS, "5", 3500),
        ("GRADUATED", FONTS, "1", 700),
        ("GRADUATED", FONTS, "0", 0),
        ("VOLUME", FONTS, "1", 700),
        ("VOLUME", FONTS, "5", 3500),
        ("VOLUME", FONTS, "6", 3900),
        ("VOLUME", FONTS, "20", 12000),
        ("VOLUME", FONTS, "25", 15000),
        ("VOLUME", FLAT, "12", 6600),
        ("GRADUATED", FLAT, "12", 11100),
        ("GRADUATED", FLAT, "0", 1000),  # the first tier's flat fee is billed at quantity 0
        ("VOLUME", FLAT, "0", 1000),
        ("GRADUATED", FLAT, "5", 3500),
        ("GRADUATED", FLAT, "5.5", 3500 + 200 + 2000),  # half a unit reaches tier 2
        ("GRADUATED", FLAT, "100", 3500 + 4000 + 4500 + 5000 + 80 * 100 + 5000),
        ("GRADUATED", ALPACA, "3000", 8000),
        ("GRADUATED", ALPACA, "1000", 0),
        ("GRADUATED", ALPACA, "1001", 4),
        ("GRADUATED", ALPACA, "0", 0),
        ("GRADUATED", ALPACA, "-250", 0),
        ("VOLUME", FONTS, "-3", 0),
    ],
)
def test_tier_figures(mode: str, tiers: tuple[Any, ...], quantity: str, expected: int) -> None:
    lines = price_lines(tiered(mode, *tiers), D(quantity))
    assert total(lines) == expected


def test_graduated_lines_one_per_tier_reached() -> None:
    lines = price_lines(tiered("GRADUATED", *FLAT), D(12))
    assert summary(lines) == [(1, 5, 3500), (2, 5, 4000), (3, 2, 3600)]
    assert [x.flat_amount for x in lines] == [D(1000), D(2000), D(3000)]


def test_graduated_quantity_zero_is_one_line_for_tier_one() -> None:
    [line] = price_lines(tiered("GRADUATED", *FLAT), D(0))
    assert summary([line]) == [(1, 0, 1000)]


def test_fractional_quantity_splits_at_inclusive_bound() -> None:
    lines = price_lines(tiered("GRADUATED", (5, "700", None), (None, "650", None)), D("5.5"))
    assert [(x.tier, x.quantity, x.exact, x.amount) for x in lines] == [
        (1, D(5), D(3500), 3500),
        (2, D("0.5"), D("325"), 325),
    ]


def test_volume_is_one_line_at_the_containing_tier() -> None:
    [line] = price_lines(tiered("VOLUME", *FLAT), D(12))
    assert (line.tier, line.quantity, line.unit_amount, line.flat_amount) == (
        3,
        D(12),
        D(300),
        D(3000),
    )
    [line] = price_lines(tiered("VOLUME", *FLAT), D(10))  # upTo is inclusive
    assert line.tier == 2


def test_alpaca_demo_invoice_is_180_usd() -> None:
    license_fee = total(price_lines(per_unit("10000"), D(1)))
    usage = price_lines(tiered("GRADUATED", *ALPACA), D(3000))
    assert summary(usage) == [(1, 1000, 0), (2, 2000, 8000)]
    assert format_amount(license_fee + total(usage), "usd") == "180.00 USD"


@pytest.mark.parametrize(
    "unit, quantity, exact, amount",
    [
        ("0.0004", "3000", "1.2", 1),
        ("0.0004", "1250", "0.5", 1),  # x.5 rounds up, not to even
        ("0.0004", "1249", "0.4996", 0),
        ("0.04", "12", "0.48", 0),
        ("0.5", "5", "2.5", 3),
        ("0.5", "3", "1.5", 2),
        ("1.25", "2", "2.5", 3),
        ("0.000000000001", "1000000000000", "1", 1),
        ("700", "0.5", "350", 350),
        ("333.333333333333", "3", "999.999999999999", 1000),
        ("100", "-5", "0", 0),  # below zero bills as zero
        ("100", "0", "0", 0),
    ],
)
def test_per_unit_rounds_once_half_up(unit: str, quantity: str, exact: str, amount: int) -> None:
    [line] = price_lines(per_unit(unit), D(quantity))
    assert line.tier is None and line.flat_amount is None
    assert line.exact == D(exact) and line.amount == amount


@pytest.mark.parametrize(
    "unit, quantity, amount, text",
    [
        ("0.5", "3", 2, "2 JPY"),
        ("0.5", "1", 1, "1 JPY"),
        ("0.49", "1", 0, "0 JPY"),
        ("150", "3", 450, "450 JPY"),
    ],
)
def test_zero_decimal_currency_rounds_to_whole_yen(
    unit: str, quantity: str, amount: int, text: str
) -> None:
    lines = price_lines(per_unit(unit, "jpy"), D(quantity))
    assert total(lines) == amount and format_amount(total(lines), "jpy") == text


@pytest.mark.parametrize(
    "quantity, divide_by, rnd, billed",
    [
        ("1500", 1000, "UP", 2),
        ("1500", 1000, "DOWN", 1),
        ("2000", 1000, "UP", 2),
        ("2000", 1000, "DOWN", 2),
        ("1", 1000, "UP", 1),
        ("1", 1000, "DOWN", 0),
        ("0", 1000, "UP", 0),
        ("-10", 3, "UP", 0),
        ("10", 3, "UP", 4),
        ("10", 3, "DOWN", 3),
        ("0.5", 1, "UP", 1),
        ("0.5", 1, "DOWN", 0),
        ("7.5", 2, "UP", 4),
        ("7", 1, "DOWN", 7),
    ],
)
def test_transform_quantity(quantity: str, divide_by: int, rnd: str, billed: int) -> None:
    [line] = price_lines(per_unit("500", divide_by=divide_by, rnd=rnd), D(quantity))
    assert line.quantity == billed and line.amount == billed * 500


@pytest.mark.parametrize(
    "spec",
    [
        PriceSpec("usd", "PER_UNIT"),
        PriceSpec("usd", "TIERED", tiers_mode="GRADUATED"),
        tiered("VOLUME", (5, "1", None)),  # last tier not open-ended
        tiered("NOPE", (None, "1", None)),
        PriceSpec(
            "usd",
            "TIERED",
            tiers_mode="GRADUATED",
            tiers=(Tier(None, D(1)),),
            transform_divide_by=10,
            transform_round="UP",
        ),
        per_unit("1", divide_by=0, rnd="UP"),
        per_unit("1", divide_by=10, rnd=None),
        PriceSpec("usd", "FLAT"),  # type: ignore[arg-type]
    ],
)
def test_inconsistent_specs_are_programming_errors(spec: PriceSpec) -> None:
    with pytest.raises(ValueError):
        price_lines(spec, D(3))


@pytest.mark.parametrize("quantity", [1.5, "3", None, True])
def test_quantity_must_be_decimal(quantity: object) -> None:
    with pytest.raises(TypeError):
        price_lines(per_unit("1"), quantity)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

amounts = st.decimals(
    min_value=0, max_value=100_000, places=6, allow_nan=False, allow_infinity=False
)
quantities = st.decimals(
    min_value=-50, max_value=50_000, places=4, allow_nan=False, allow_infinity=False
)


@st.composite
def tier_lists(draw: st.DrawFn, max_bounds: int = 4) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.sets(st.integers(1, 20_000), max_size=max_bounds)))
    ups: list[int | None] = [*bounds, None]
    tiers = []
    for up in ups:
        unit, flat = draw(
            st.one_of(
                st.tuples(amounts, st.none()),
                st.tuples(st.none(), amounts),
                st.tuples(amounts, amounts),
            )
        )
        tiers.append(Tier(up, unit, flat))
    return tuple(tiers)


def _well_formed(lines: list[PricedLine]) -> None:
    assert lines
    for x in lines:
        assert type(x.amount) is int
        assert isinstance(x.exact, D) and isinstance(x.quantity, D)
        assert x.unit_amount is None or isinstance(x.unit_amount, D)
        assert x.flat_amount is None or isinstance(x.flat_amount, D)
        assert x.exact == x.quantity * (x.unit_amount or 0) + (x.flat_amount or 0)
        assert x.amount == round_minor(x.exact)
    assert total(lines) == sum(x.amount for x in lines)


@given(tier_lists(), quantities, quantities)
def test_graduated_total_never_decreases(tiers: tuple[Tier, ...], a: D, b: D) -> None:
    spec = PriceSpec("usd", "TIERED", tiers_mode="GRADUATED", tiers=tiers)
    lo, hi = sorted((a, b))
    lines_lo, lines_hi = price_lines(spec, lo), price_lines(spec, hi)
    _well_formed(lines_lo)
    _well_formed(lines_hi)
    assert total(lines_lo) <= total(lines_hi)
    assert sum(x.quantity for x in lines_hi) == max(hi, D(0))
    assert [x.tier for x in lines_hi] == list(range(1, len(lines_hi) + 1))


@given(tier_lists(), quantities)
def test_volume_lines_are_well_formed(tiers: tuple[Tier, ...], q: D) -> None:
    lines = price_lines(PriceSpec("usd", "TIERED", tiers_mode="VOLUME", tiers=tiers), q)
    _well_formed(lines)
    assert len(lines) == 1 and lines[0].quantity == max(q, D(0))


@given(tier_lists(max_bounds=0), quantities)
def test_single_tier_volume_equals_graduated(tiers: tuple[Tier, ...], q: D) -> None:
    volume = price_lines(PriceSpec("usd", "TIERED", tiers_mode="VOLUME", tiers=tiers), q)
    graduated = price_lines(PriceSpec("usd", "TIERED", tiers_mode="GRADUATED", tiers=tiers), q)
    assert volume == graduated


@given(amounts, quantities, st.integers(1, 10_000))
def test_per_unit_and_transform(unit: D, q: D, divide_by: int) -> None:
    plain = price_lines(PriceSpec("usd", "PER_UNIT", unit_amount=unit), q)
    up = price_lines(per_unit(str(unit), divide_by=divide_by, rnd="UP"), q)
    down = price_lines(per_unit(str(unit), divide_by=divide_by, rnd="DOWN"), q)
    for lines in (plain, up, down):
        _well_formed(lines)
    assert plain[0].quantity == max(q, D(0))
    assert 0 <= up[0].quantity - down[0].quantity <= 1
    assert down[0].quantity * divide_by <= max(q, D(0)) <= up[0].quantity * divide_by
