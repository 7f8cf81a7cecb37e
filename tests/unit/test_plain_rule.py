"""The fast path is part of the one validation rule, not a second rule set: whatever
PlainRule accepts, validate_event accepts with the same value, unique value and timestamp
(generated events of every kind, valid or not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterbill.billing.errors import DomainError
from meterbill.billing.events import MeterDef, PlainRule, validate_event, value_text

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def _meter(aggregation: str, dims: tuple[str, ...] = (), active: bool = True) -> MeterDef:
    return MeterDef("tokens", aggregation, "BY_ID", "customer", "value", list(dims), active)


AGGREGATIONS = ("SUM", "COUNT", "LAST", "MAX", "UNIQUE_COUNT")

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**17), max_value=10**17),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, places=14).map(str),
    st.text(max_size=12),
    st.sampled_from(["", " 5", "1e3", "1E+3", "0.1", "-0", ".5", "5.", "x" * 201, "a" * 200]),
    st.lists(st.integers(), max_size=2),
)
identifiers = st.one_of(st.none(), st.text(max_size=3), st.sampled_from(["", "x" * 100, "x" * 101]))
zones = st.sampled_from([UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-3)), None])
offsets = st.one_of(
    st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(minutes=10)),
    st.sampled_from(
        [
            timedelta(days=-35),
            timedelta(days=-35, microseconds=-1),
            timedelta(minutes=5),
            timedelta(minutes=5, microseconds=1),
            timedelta(minutes=7),
            timedelta(0),
        ]
    ),
)
timestamps = st.one_of(
    st.none(),
    st.builds(
        lambda d, z: (NOW + d).astimezone(z) if z else (NOW + d).replace(tzinfo=None),
        offsets,
        zones,
    ),
)


@settings(max_examples=1500, deadline=None)
@given(
    aggregation=st.sampled_from(AGGREGATIONS),
    value=values,
    has_value=st.booleans(),
    identifier=identifiers,
    timestamp=timestamps,
    extra=st.dictionaries(st.sampled_from(["region", "x"]), st.text(max_size=3), max_size=2),
)
def test_what_the_fast_path_accepts_validate_event_accepts_alike(
    aggregation: str,
    value: object,
    has_value: bool,
    identifier: str | None,
    timestamp: datetime | None,
    extra: dict[str, str],
) -> None:
    meter = _meter(aggregation)
    rule = PlainRule.of(meter)
    assert rule is not None
    payload: dict[str, object] = {"customer": "cus_1", **extra}
    if has_value:
        payload["value"] = value
    got = rule.check(payload, identifier, timestamp, NOW)
    if got is None:
        return  # validate_event decides; nothing to compare
    valid = validate_event(meter, payload, identifier, timestamp, NOW)
    text, unique, ts = got
    if aggregation == "UNIQUE_COUNT":
        assert unique == valid.unique_value
    else:
        assert unique is None
        assert Decimal(text) == valid.value
        assert text == format(valid.value, "f")
    assert ts == valid.timestamp
    assert ts.tzinfo is UTC


def test_meters_only_validate_event_answers_have_no_fast_path() -> None:
    assert PlainRule.of(_meter("SUM", dims=("region",))) is None
    assert PlainRule.of(_meter("SUM", active=False)) is None


@pytest.mark.parametrize(
    ("payload", "identifier", "timestamp"),
    [
        ({"customer": "c", "value": "1x"}, None, None),  # bad value
        ({"customer": "c"}, None, None),  # missing value
        ({"customer": "c", "value": 1}, "", None),  # empty identifier
        ({"customer": "c", "value": 1}, None, NOW - timedelta(days=36)),  # too old
        ({"customer": "c", "value": 1}, None, NOW.replace(tzinfo=None)),  # naive
    ],
)
def test_what_validate_event_refuses_the_fast_path_leaves_to_it(
    payload: dict[str, object], identifier: str | None, timestamp: datetime | None
) -> None:
    meter = _meter("SUM")
    rule = PlainRule.of(meter)
    assert rule is not None
    assert rule.check(payload, identifier, timestamp, NOW) is None
    with pytest.raises(DomainError):
        validate_event(meter, payload, identifier, timestamp, NOW)


def test_value_text_is_the_plain_text_of_parse_value() -> None:
    assert value_text("1E+3") == "1000"
    assert value_text(0.1) == "0.1"
    assert value_text(5) == "5"
    with pytest.raises(ValueError):
        value_text("abc")
