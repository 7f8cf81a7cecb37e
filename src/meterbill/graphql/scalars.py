"""Scalars of the contract: DateTime (UTC, "Z"), Decimal (string), BigInt (JSON number)."""

from __future__ import annotations

import decimal
from datetime import UTC, datetime
from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON

__all__ = ["JSON", "BigInt", "scalar_map"]


def _dt_out(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dt_in(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("DateTime must carry a UTC offset, e.g. 2026-01-01T00:00:00Z")
    return parsed.astimezone(UTC)


def _dec_in(value: Any) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("Decimal must be a string or a number")
    try:
        # str() of a JSON float gives its shortest repr, not the binary expansion.
        out = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a decimal number") from exc
    if not out.is_finite():
        raise ValueError("Decimal must be finite")
    return out


def _dec_out(value: decimal.Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _bigint_in(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("BigInt must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError("BigInt must be an integer or a string of digits")


BigInt = NewType("BigInt", int)

_BigIntScalar = strawberry.scalar(
    name="BigInt",
    description="An integer that may exceed 32 bits; serialized as a JSON number. "
    "Inputs accept a number or a string of digits.",
    serialize=int,
    parse_value=_bigint_in,
)

DateTimeScalar = strawberry.scalar(
    name="DateTime",
    serialize=_dt_out,
    parse_value=_dt_in,
)

DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='A decimal number as a string, e.g. "0.0004". Inputs accept a string or a number.',
    serialize=_dec_out,
    parse_value=_dec_in,
)

# Every id meterbill issues is a prefix plus 24 characters; a longer one cannot exist, and
# PostgreSQL's driver refuses it for a VARCHAR(40) parameter (an INTERNAL error instead of
# "not found"). GraphQL's built-in ID cannot be redefined in a schema, so its parsers are
# wrapped here, once, for every ID argument and input field at any depth.
MAX_ID_LENGTH = 40


def _limit_id_length() -> None:
    from graphql import GraphQLError, GraphQLID

    if getattr(GraphQLID, "_meterbill_limited", False):
        return

    def check(text: Any) -> Any:
        if isinstance(text, str) and len(text) > MAX_ID_LENGTH:
            raise GraphQLError(f"ID must be at most {MAX_ID_LENGTH} characters")
        return text

    # graphql-core 3.3 coerces through coerce_input_*; parse_* are its deprecated aliases.
    for name in ("parse_value", "parse_literal", "coerce_input_value", "coerce_input_literal"):
        original = getattr(GraphQLID, name, None)
        if original is not None:
            setattr(GraphQLID, name, lambda *a, _f=original, **kw: check(_f(*a, **kw)))
    GraphQLID._meterbill_limited = True  # type: ignore[attr-defined]


_limit_id_length()

scalar_map: dict[object, Any] = {
    datetime: DateTimeScalar,
    decimal.Decimal: DecimalScalar,
    BigInt: _BigIntScalar,
}
