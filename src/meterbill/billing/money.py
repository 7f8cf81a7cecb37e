"""Money: currencies and their minor units, half-up rounding, decimal input.

Amounts everywhere in meterbill are in MINOR units (cents for usd, yen for jpy). Sub-minor
precision is a Decimal in minor units: Decimal("0.04") is 0.04 cents. So rounding to "the
currency's exponent" is rounding to a whole number of minor units, whatever the currency;
the exponent only matters when showing an amount in major units.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

from meterbill.billing.errors import DomainError, FieldError

# Stripe's exponents, not always ISO's: Stripe bills mga as zero-decimal (ISO: 2) and isk,
# iqd, lyd with 2 (ISO: 0, 3, 3). Fund codes (usn, clf, ...), precious metals, xdr and the
# test codes are not currencies anyone is invoiced in, so they are not known.
_ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
_THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())
_TWO_DECIMAL = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bmd bnd bob brl bsd btn bwp
    byn bzd cad cdf chf cny cop crc cup cve czk dkk dop dzd egp ern etb eur fjd fkp gbp
    gel ghs gip gmd gtq gyd hkd hnl htg huf idr ils inr iqd irr isk jmd kes kgs khr kpw
    kyd kzt lak lbp lkr lrd lsl lyd mad mdl mkd mmk mnt mop mru mur mvr mwk mxn myr mzn
    nad ngn nio nok npr nzd pab pen pgk php pkr pln qar ron rsd rub sar sbd scr sdg sek
    sgd shp sle sll sos srd ssp stn svc syp szl thb tjs tmt top try ttd twd tzs uah usd
    uyu uzs ved ves wst xcd xcg yer zar zmw zwg
    """.split()
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **{c: 2 for c in _TWO_DECIMAL},
    **{c: 0 for c in _ZERO_DECIMAL},
    **{c: 3 for c in _THREE_DECIMAL},
}

_ONE = Decimal(1)
# Exponents ("4e-4") are fine, the value's bounds are checked after parsing. ASCII digits
# only: \d and Decimal() would both read "١٢" as 12.
_DECIMAL_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,6})?")
_MAX_TEXT = 64


def is_known_currency(code: str) -> bool:
    """True for a known code in lower case only: "usd" yes, "USD" no (the contract's form)."""
    return code in CURRENCY_EXPONENTS


def exponent(code: str) -> int:
    """Minor-unit exponent of a currency (2 for usd, 0 for jpy, 3 for kwd)."""
    try:
        return CURRENCY_EXPONENTS[code]
    except KeyError:
        raise DomainError.one("INVALID", f"unknown currency {code!r}", "currency") from None


def round_minor(x: Decimal) -> int:
    """Round an exact amount in minor units once, half-up (away from zero on .5), to an int."""
    if not isinstance(x, Decimal):  # a float would already have lost the exact value
        raise TypeError(f"round_minor needs a Decimal, got {type(x).__name__}")
    # to_integral_value does not depend on the context's precision, quantize would.
    return int(x.to_integral_value(rounding=ROUND_HALF_UP))


def whole_minor(x: Decimal) -> int | None:
    """x as an int when it is a whole number of minor units, else None (Price.unitAmount)."""
    return int(x) if x == x.to_integral_value() else None


def format_amount(minor: int, currency: str) -> str:
    """180_00, "usd" -> "180.00 USD"; 500, "jpy" -> "500 JPY"."""
    places = exponent(currency)
    major = Decimal(minor).scaleb(-places)
    return f"{major:.{places}f} {currency.upper()}"


def decimal_to_str(x: Decimal) -> str:
    """Plain notation for the API and storage: str() would give "4E-12" for 0.000000000004."""
    return format(x, "f")


def parse_decimal(
    value: object,
    *,
    max_places: int = 12,
    max_digits: int = 15,
    field: tuple[str, ...] = (),
) -> Decimal:
    """A finite Decimal from a str, int or Decimal, or DomainError(INVALID) at `field`.

    `max_places` bounds the digits after the point (trailing zeros beyond it are dropped),
    `max_digits` the digits before it. Floats are refused: 0.1 is not 0.1 in binary.
    """

    def bad(message: str) -> DomainError:
        return DomainError([FieldError("INVALID", message, field or None)])

    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise bad(f"expected a decimal string, got {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_TEXT or not _DECIMAL_RE.fullmatch(text):
            raise bad(f"{value[:_MAX_TEXT]!r} is not a decimal number")
        number = Decimal(text)
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise bad("NaN and Infinity are not allowed")
    if number.is_zero():
        return Decimal(0)  # drops "-0" and "0E+5"
    if number.adjusted() >= max_digits:
        raise bad(f"at most {max_digits} digits before the decimal point")
    exp = number.as_tuple().exponent
    assert isinstance(exp, int)  # finite
    if exp > 0:
        return number.quantize(_ONE)
    if -exp > max_places:
        with localcontext() as ctx:
            ctx.prec = max_digits + max_places + 1  # quantize fails past the precision
            trimmed = number.quantize(_ONE.scaleb(-max_places))
        if trimmed != number:
            raise bad(f"at most {max_places} decimal places")
        return trimmed
    return number
