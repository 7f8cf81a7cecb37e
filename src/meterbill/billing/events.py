"""Validation of one incoming meter event against its meter (data flow 1). The service
resolves the meter and the customer; this decides what of the payload counts, and reports
every problem at once so a client fixes its integration in one round trip."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from meterbill.billing.aggregation import EXACT, canonical_dimensions, dimension_text
from meterbill.billing.errors import DomainError, FieldError

MAX_IDENTIFIER_LENGTH = 100
MAX_EVENT_NAME_LENGTH = 100
MAX_DIMENSION_LENGTH = 100
# A UNIQUE_COUNT value's text (the usage_unique_values.value column).
MAX_UNIQUE_VALUE_LENGTH = 200
# The longest payload key that can name a customer, by the meter's mapping type: customer
# ids are at most 40 characters (the id columns), external ids at most 200. A longer one
# names nothing, and the database would refuse it even as a lookup value.
MAX_CUSTOMER_KEY_LENGTH = {"BY_ID": 40, "BY_EXTERNAL_ID": 200}
# Values fit NUMERIC(27, 12) exactly, and sums of them stay exact in aggregation.EXACT.
MAX_SIGNIFICANT_DIGITS = 15
MAX_DECIMAL_PLACES = 12
MAX_INTEGER_DIGITS = 15
MAX_AGE = timedelta(days=35)
MAX_AHEAD = timedelta(minutes=5)

# Decimal() alone would also take "NaN", "Infinity" and "1_000"; ASCII digits only, as in
# prices (billing/money.py): \d and Decimal() would both read "١٢" as 12.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_NUMBER_TEXT = 64


@dataclass(frozen=True)
class MeterDef:
    event_name: str
    aggregation: str  # SUM | COUNT | LAST | MAX | UNIQUE_COUNT
    customer_mapping_type: str  # BY_ID | BY_EXTERNAL_ID
    customer_payload_key: str
    value_payload_key: str
    dimension_keys: Sequence[str]
    active: bool


@dataclass(frozen=True)
class ValidEvent:
    customer_key: str
    value: Decimal
    # Only the meter's dimension keys; numbers already as their normalized decimal text.
    dimensions: dict[str, str]
    identifier: str | None
    timestamp: datetime  # UTC
    # UNIQUE_COUNT meters: the value's text (numbers normalized, strings verbatim).
    unique_value: str | None = None

    @property
    def dimensions_key(self) -> str:
        return canonical_dimensions(self.dimensions)


# Values parsed before, by (type, raw): a batch usually repeats a few values, and parsing
# one was ~15% of the API's CPU per batched event. Decimals are immutable, so sharing them is
# safe; the type is in the key because 1 == 1.0 == True. Refusals are not remembered.
_PARSED: dict[tuple[type, object], Decimal] = {}
_MAX_PARSED = 4096


def parse_value(raw: object) -> Decimal:
    """An event value as an exact Decimal; ValueError saying why not."""
    kind = type(raw)
    if kind is not str and kind is not int and kind is not float:
        return _parse_value(raw)
    key = (kind, raw)
    hit = _PARSED.get(key)
    if hit is None:
        hit = _parse_value(raw)
        if len(_PARSED) >= _MAX_PARSED:
            _PARSED.clear()
        _PARSED[key] = hit
    return hit


def _parse_value(raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise ValueError("must be a number or a decimal string")
    if isinstance(raw, str):
        raw = raw.strip()
        if len(raw) > _MAX_NUMBER_TEXT or not _NUMBER.fullmatch(raw):
            raise ValueError('must be a decimal number such as "12" or "0.5"')
        d = Decimal(raw)
    else:
        # JSON numbers arrive as floats; repr is the shortest text that round-trips, i.e.
        # what the client wrote, so 0.1 is exactly 0.1.
        d = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
        if not d.is_finite():
            raise ValueError("must be a finite number")
    t = d.as_tuple()
    assert isinstance(t.exponent, int)
    digits = "".join(map(str, t.digits)).rstrip("0")
    if not digits:
        return Decimal(0)
    exponent = t.exponent + len(t.digits) - len(digits)
    if len(digits) > MAX_SIGNIFICANT_DIGITS:
        raise ValueError(f"has more than {MAX_SIGNIFICANT_DIGITS} significant digits")
    if d.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"must be less than 10^{MAX_INTEGER_DIGITS} in magnitude")
    if -exponent > MAX_DECIMAL_PLACES:
        raise ValueError(f"has more than {MAX_DECIMAL_PLACES} decimal places")
    # Exponent within [-12, 0]: "1E+3" becomes 1000 so the value fits NUMERIC(27, 12) as is;
    # exact because of the checks above.
    places = min(0, max(t.exponent, -MAX_DECIMAL_PLACES))
    return d.quantize(Decimal(1).scaleb(places), context=EXACT)


def validate_event(
    meter: MeterDef,
    payload: Mapping[str, object],
    identifier: str | None,
    timestamp: datetime | None,
    now: datetime,
    field_prefix: tuple[str, ...] = (),
) -> ValidEvent:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    errors: list[FieldError] = []

    def error(code: str, message: str, *path: str) -> None:
        errors.append(FieldError(code, message, field_prefix + path))

    if not meter.active:
        error("INACTIVE", f"the meter for event {meter.event_name!r} is inactive", "eventName")

    customer_key, value, dimensions, unique = "", Decimal(1), {}, None
    if not isinstance(payload, Mapping):
        error("INVALID", "payload must be a JSON object", "payload")
    else:
        customer_key = _customer(meter, payload, error)
        if meter.aggregation == "UNIQUE_COUNT":
            unique = _unique(meter, payload, error)
        elif meter.aggregation != "COUNT":
            value = _value(meter, payload, error)
        dimensions = _dimensions(meter, payload, error)

    ts = now if timestamp is None else timestamp
    if ts.tzinfo is None or ts.utcoffset() is None:
        error("INVALID", "timestamp must include a timezone", "timestamp")
    else:
        lo, hi = now - MAX_AGE, now + MAX_AHEAD
        if not lo <= ts <= hi:
            error(
                "OUT_OF_RANGE",
                f"timestamp {_iso(ts)} is outside [{_iso(lo)}, {_iso(hi)}]: events may be at "
                "most 35 days old and at most 5 minutes in the future",
                "timestamp",
            )

    if identifier is not None:
        why = identifier_problem(identifier)
        if why:
            error("INVALID", f"identifier {why}", "identifier")

    if errors:
        raise DomainError(errors)
    return ValidEvent(customer_key, value, dimensions, identifier, ts.astimezone(UTC), unique)


class PlainRule:
    """validate_event's fast path for one meter: an event that is plainly valid (every field
    well-formed, in range, nothing to normalize but the value) is answered with a few type
    tests and dict gets; anything else returns None and validate_event decides, saying what
    is wrong. It accepts only what validate_event accepts, with the same value, unique value
    and timestamp (tests/unit/test_plain_rule.py checks that on generated events). Built
    once per meter; None for a meter validate_event always answers (inactive, dimensions).

    The customer key is the caller's (it looks the customer up), as is a missing identifier
    (it generates one); strings are the caller's to have found storable (text_errors)."""

    __slots__ = ("count", "unique", "value_key")

    def __init__(self, meter: MeterDef):
        self.count = meter.aggregation == "COUNT"
        self.unique = meter.aggregation == "UNIQUE_COUNT"
        self.value_key = meter.value_payload_key

    @classmethod
    def of(cls, meter: MeterDef) -> PlainRule | None:
        return cls(meter) if meter.active and not meter.dimension_keys else None

    def check(
        self,
        payload: dict[str, object],
        identifier: object,
        timestamp: datetime | None,
        now: datetime,
    ) -> tuple[str, str | None, datetime] | None:
        """(value as plain decimal text, UNIQUE_COUNT value or None, UTC timestamp) of a
        plainly valid event (`payload` a dict, `now` UTC), else None."""
        value, unique = "1", None
        if self.unique:
            raw = payload.get(self.value_key)
            if type(raw) is not str or not 0 < len(raw) <= MAX_UNIQUE_VALUE_LENGTH:
                return None
            unique = raw
        elif not self.count:
            raw = payload.get(self.value_key)
            if raw is None:
                return None
            try:
                value = value_text(raw)
            except ValueError:
                return None
        if identifier is not None and (
            type(identifier) is not str or not 0 < len(identifier) <= MAX_IDENTIFIER_LENGTH
        ):
            return None
        if timestamp is None:
            return value, unique, now
        if timestamp.tzinfo is not UTC:
            if timestamp.tzinfo is None or timestamp.utcoffset() is None:
                return None
            timestamp = timestamp.astimezone(UTC)
        if not now - MAX_AGE <= timestamp <= now + MAX_AHEAD:
            return None
        return value, unique, timestamp


# Plain decimal texts of parsed values, one table per JSON type (1 == 1.0 == True, so the
# type must tell them apart; a table per type needs no key tuple per lookup, which the hot
# path of bulk ingest feels). Refusals are not remembered.
_TEXTS: dict[type, dict[object, str]] = {str: {}, int: {}, float: {}}


def value_text(raw: object) -> str:
    """parse_value's answer as plain decimal text ("1E+3" -> "1000"); ValueError why not."""
    table = _TEXTS.get(type(raw))
    if table is None:
        return format(parse_value(raw), "f")
    hit = table.get(raw)
    if hit is None:
        hit = format(parse_value(raw), "f")
        if len(table) >= _MAX_PARSED:
            table.clear()
        table[raw] = hit
    return hit


def identifier_problem(identifier: str) -> str | None:
    """Why an event identifier (given by a client) cannot be one, or None."""
    if identifier == "":
        return "must not be empty (omit it to have one generated)"
    if len(identifier) > MAX_IDENTIFIER_LENGTH:
        return f"is longer than {MAX_IDENTIFIER_LENGTH} characters"
    return None


def customer_key_fits(mapping_type: str, key: str) -> bool:
    """Whether `key` can name a customer under that mapping type (see
    MAX_CUSTOMER_KEY_LENGTH): a longer one must not be looked up."""
    return len(key) <= MAX_CUSTOMER_KEY_LENGTH[mapping_type]


def text_problem(s: str) -> str | None:
    """Why a string cannot be stored as text (PostgreSQL refuses U+0000, and a lone
    surrogate, which JSON's \\u escapes can carry, has no UTF-8 form), or None."""
    if "\x00" in s:
        return "must not contain the NUL character (U+0000)"
    if s.isascii() or _encodable(s):
        return None
    return "must be valid Unicode text (it holds a lone surrogate)"


def strings(value: object) -> Iterator[str]:
    """Every string in decoded JSON, keys included, without recursion: a client may nest
    a value as deep as its JSON parser allows (about 1000 levels), deeper than Python's
    recursion limit."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, Mapping):
            for k, item in v.items():
                if isinstance(k, str):
                    yield k
                stack.append(item)
        elif isinstance(v, list | tuple):
            stack.extend(v)


def _nested_problem(value: object) -> str | None:
    for s in strings(value):
        why = text_problem(s)
        if why:
            return why
    return None


def text_errors(
    event_name: str, payload: object, identifier: str | None, field_prefix: tuple[str, ...] = ()
) -> list[FieldError]:
    """The fields of an incoming event holding a string the database cannot store (text it
    refuses; an event name longer than its column), each named, without echoing the value. Checked
    before the meter and customer are looked up, which would send them to the database
    too."""
    errors: list[FieldError] = []
    why = text_problem(event_name)
    if not why and len(event_name) > MAX_EVENT_NAME_LENGTH:
        why = f"is longer than {MAX_EVENT_NAME_LENGTH} characters"
    if why:
        errors.append(FieldError("INVALID", f"eventName {why}", (*field_prefix, "eventName")))
    if isinstance(payload, Mapping):
        for k, v in payload.items():
            if isinstance(k, str) and (why := text_problem(k)):
                # The key itself is not echoed: it is what cannot be written.
                msg = f"a payload key {why}"
                errors.append(FieldError("INVALID", msg, (*field_prefix, "payload")))
            elif why := _nested_problem(v):
                msg = f"payload.{k} {why}"
                errors.append(FieldError("INVALID", msg, (*field_prefix, "payload", str(k))))
    # (Its length is validate_event's to report, with the event's other problems: an
    # identifier is only ever inserted, never looked up before that.)
    if identifier is not None and (why := text_problem(identifier)):
        errors.append(FieldError("INVALID", f"identifier {why}", (*field_prefix, "identifier")))
    return errors


def _encodable(s: str) -> bool:
    try:
        s.encode()
    except UnicodeEncodeError:
        return False
    return True


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _Report(Protocol):
    def __call__(self, code: str, message: str, *path: str) -> None: ...


def _customer(meter: MeterDef, payload: Mapping[str, object], error: _Report) -> str:
    key = meter.customer_payload_key
    what = "customer id" if meter.customer_mapping_type == "BY_ID" else "customer's external id"
    raw = payload.get(key)
    if raw is None or raw == "":
        error("REQUIRED", f"payload.{key} is required: it holds the {what}", "payload", key)
    elif not isinstance(raw, str):
        error("INVALID", f"payload.{key} must be a string holding the {what}", "payload", key)
    elif not customer_key_fits(meter.customer_mapping_type, raw):
        limit = MAX_CUSTOMER_KEY_LENGTH[meter.customer_mapping_type]
        error("INVALID", f"payload.{key} is longer than {limit} characters", "payload", key)
    else:
        return raw
    return ""


def _value(meter: MeterDef, payload: Mapping[str, object], error: _Report) -> Decimal:
    key = meter.value_payload_key
    raw = payload.get(key)
    if raw is None:
        error(
            "REQUIRED", f"payload.{key} is required by a {meter.aggregation} meter", "payload", key
        )
        return Decimal(0)
    try:
        return parse_value(raw)
    except ValueError as e:
        error("INVALID", f"payload.{key} {e}", "payload", key)
        return Decimal(0)


def unique_text(raw: object) -> str:
    """A UNIQUE_COUNT value as the text it is counted by (compared as strings: 5, 5.0 and
    "5" are one value, "5.0" another, as dimension values); ValueError saying why not."""
    if isinstance(raw, str) and raw == "":
        raise ValueError("must not be empty")
    try:
        text = dimension_text(raw)
    except ValueError as e:
        raise ValueError("must be a string or a finite number") from e
    if len(text) > MAX_UNIQUE_VALUE_LENGTH:
        raise ValueError(f"is longer than {MAX_UNIQUE_VALUE_LENGTH} characters")
    if not _encodable(text):
        raise ValueError("is not valid Unicode text")
    return text


def _unique(meter: MeterDef, payload: Mapping[str, object], error: _Report) -> str | None:
    key = meter.value_payload_key
    raw = payload.get(key)
    if raw is None:
        msg = f"payload.{key} is required by a UNIQUE_COUNT meter: it holds the value counted"
        error("REQUIRED", msg, "payload", key)
        return None
    try:
        return unique_text(raw)
    except ValueError as e:
        error("INVALID", f"payload.{key} {e}", "payload", key)
        return None


def _dimensions(meter: MeterDef, payload: Mapping[str, object], error: _Report) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in meter.dimension_keys:
        # JSON null counts as absent, like a missing key.
        if payload.get(key) is None:
            continue
        try:
            text = dimension_text(payload[key])
        except ValueError as e:
            error("INVALID", f"payload.{key}: {e}", "payload", key)
            continue
        if not _encodable(text):
            error("INVALID", f"payload.{key} is not valid Unicode text", "payload", key)
            continue
        if len(text) > MAX_DIMENSION_LENGTH:
            error(
                "INVALID",
                f"payload.{key} is longer than {MAX_DIMENSION_LENGTH} characters",
                "payload",
                key,
            )
            continue
        out[key] = text
    return out
