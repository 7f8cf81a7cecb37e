from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.billing.errors import DomainError
from meterbill.billing.money import (
    CURRENCY_EXPONENTS,
    decimal_to_str,
    exponent,
    format_amount,
    is_known_currency,
    parse_decimal,
    round_minor,
    whole_minor,
)

ZERO_DECIMAL = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
THREE_DECIMAL = "bhd jod kwd omr tnd".split()


@pytest.mark.parametrize(
    "code, exp",
    [(c, 0) for c in ZERO_DECIMAL]
    + [(c, 3) for c in THREE_DECIMAL]
    + [
        ("usd", 2),
        ("eur", 2),
        ("gbp", 2),
        ("chf", 2),
        ("inr", 2),
        ("huf", 2),
        ("isk", 2),
        ("twd", 2),
        ("xcg", 2),
        ("zwg", 2),
        ("sle", 2),
        ("ves", 2),
    ],
)
def test_exponent_follows_stripe(code: str, exp: int) -> None:
    assert is_known_currency(code)
    assert exponent(code) == exp


def test_table_shape() -> None:
    assert sorted(c for c, e in CURRENCY_EXPONENTS.items() if e == 0) == sorted(ZERO_DECIMAL)
    assert sorted(c for c, e in CURRENCY_EXPONENTS.items() if e == 3) == sorted(THREE_DECIMAL)
    assert set(CURRENCY_EXPONENTS.values()) == {0, 2, 3}
    assert all(len(c) == 3 and c.isalpha() and c.islower() for c in CURRENCY_EXPONENTS)
    assert len(CURRENCY_EXPONENTS) > 150


@pytest.mark.parametrize("code", ["USD", "Usd", "xxx", "xau", "xts", "abc", "", "us", "usdd"])
def test_unknown_currencies(code: str) -> None:
    assert not is_known_currency(code)
    with pytest.raises(DomainError) as e:
        exponent(code)
    assert e.value.errors[0].code == "INVALID"


@pytest.mark.parametrize(
    "exact, minor",
    [
        ("0", 0),
        ("0.4", 0),
        ("0.5", 1),
        ("1.5", 2),
        ("2.5", 3),
        ("3.5", 4),
        ("2.4999999999999", 2),
        ("2.5000000000001", 3),
        ("0.000000000001", 0),
        ("12750", 12750),
        ("8000.00", 8000),
        ("-0.5", -1),
        ("-2.5", -3),
        ("-2.4", -2),
        ("123456789012345678901234567890.5", 123456789012345678901234567891),
    ],
)
def test_round_minor_half_up(exact: str, minor: int) -> None:
    got = round_minor(D(exact))
    assert got == minor and type(got) is int


def test_round_minor_refuses_float() -> None:
    with pytest.raises(TypeError):
        round_minor(0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "minor, currency, text",
    [
        (18000, "usd", "180.00 USD"),
        (500, "jpy", "500 JPY"),
        (0, "usd", "0.00 USD"),
        (5, "eur", "0.05 EUR"),
        (-150, "usd", "-1.50 USD"),
        (1234, "kwd", "1.234 KWD"),
        (7, "krw", "7 KRW"),
        (123456789012345, "usd", "1234567890123.45 USD"),
    ],
)
def test_format_amount(minor: int, currency: str, text: str) -> None:
    assert format_amount(minor, currency) == text


@pytest.mark.parametrize(
    "value, expected",
    [
        ("0.0004", D("0.0004")),
        ("3000", D(3000)),
        (" 0.5 ", D("0.5")),
        (7, D(7)),
        (D("0.04"), D("0.04")),
        ("-12.5", D("-12.5")),
        ("+1", D(1)),
        ("-0", D(0)),
        ("1e3", D(1000)),
        ("4E-4", D("0.0004")),
        (".5", D("0.5")),
        ("5.", D(5)),
        ("0.000000000001", D("1E-12")),
        ("1.50000000000000000", D("1.5")),
        ("999999999999999", D("999999999999999")),
        ("0E+10", D(0)),
    ],
)
def test_parse_decimal_accepts(value: object, expected: D) -> None:
    got = parse_decimal(value)
    assert isinstance(got, D) and got == expected
    assert "E" not in decimal_to_str(got)


@pytest.mark.parametrize(
    "value",
    [
        0.5,
        1.0,
        True,
        None,
        [],
        "",
        " ",
        "abc",
        "NaN",
        "nan",
        "Infinity",
        "-inf",
        "sNaN",
        D("NaN"),
        D("Infinity"),
        "1,5",
        "1_000",
        "0x10",
        "1e",
        "1e999999999",
        "1e-999999999",
        "0.0000000000001",
        "1000000000000000",
        10**15,
        "1" * 100,
        "١٢",
        "1.2.3",
    ],
)
def test_parse_decimal_rejects(value: object) -> None:
    with pytest.raises(DomainError) as e:
        parse_decimal(value, field=("input", "unitAmountDecimal"))
    [err] = e.value.errors
    assert err.code == "INVALID" and err.field == ("input", "unitAmountDecimal")


def test_parse_decimal_limits_are_parameters() -> None:
    assert parse_decimal("0.123", max_places=3) == D("0.123")
    with pytest.raises(DomainError):
        parse_decimal("0.1234", max_places=3)
    with pytest.raises(DomainError):
        parse_decimal("100", max_digits=2)
    assert parse_decimal("1." + "1" * 20, max_places=20, max_digits=15) == D("1." + "1" * 20)


@pytest.mark.parametrize(
    "value, expected", [("4", 4), ("4.000", 4), ("0.04", None), ("0", 0), ("1e2", 100)]
)
def test_whole_minor(value: str, expected: int | None) -> None:
    assert whole_minor(D(value)) == expected


@given(
    st.decimals(
        min_value=-(10**14), max_value=10**14, places=12, allow_nan=False, allow_infinity=False
    )
)
def test_parse_decimal_round_trips(d: D) -> None:
    assert parse_decimal(str(d)) == d
    assert parse_decimal(decimal_to_str(d)) == d
