from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.billing.errors import DomainError
from meterbill.billing.events import MeterDef, ValidEvent, parse_value, validate_event

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
P = ("input",)


def meter(**over: object) -> MeterDef:
    base: dict = dict(
        event_name="tokens",
        aggregation="SUM",
        customer_mapping_type="BY_ID",
        customer_payload_key="customer_id",
        value_payload_key="value",
        dimension_keys=("model", "region"),
        active=True,
    )
    return MeterDef(**{**base, **over})


def ok(
    payload: dict,
    m: MeterDef | None = None,
    identifier: str | None = "ev_1",
    timestamp: datetime | None = NOW,
) -> ValidEvent:
    return validate_event(m or meter(), payload, identifier, timestamp, NOW, P)


def errors(
    payload: dict,
    m: MeterDef | None = None,
    identifier: str | None = "ev_1",
    timestamp: datetime | None = NOW,
) -> list[tuple[str, tuple[str, ...] | None]]:
    with pytest.raises(DomainError) as e:
        validate_event(m or meter(), payload, identifier, timestamp, NOW, P)
    return [(x.code, x.field) for x in e.value.errors]


CUS = {"customer_id": "cus_1"}


@pytest.mark.parametrize(
    "raw, value",
    [
        ("12", "12"),
        (12, "12"),
        (D("12.5"), "12.5"),
        ("0.1", "0.1"),
        (0.1, "0.1"),
        (1e-7, "1E-7"),
        ("-3", "-3"),
        (-3, "-3"),
        ("1e3", "1000"),
        ("1E+3", "1000"),
        ("0", "0"),
        ("-0", "0"),
        ("0E-40", "0"),
        (" 7 ", "7"),
        (".5", "0.5"),
        ("5.", "5"),
        ("999999999999999", "999999999999999"),
        ("0.000000000001", "1E-12"),
        ("1.00000000000000000000", "1.000000000000"),
        ("123456789012.345", "123456789012.345"),
        (10**14, str(10**14)),
    ],
)
def test_parse_value_accepts(raw: object, value: str) -> None:
    assert str(parse_value(raw)) == value


@pytest.mark.parametrize(
    "raw, why",
    [
        (True, "number"),
        (None, "number"),
        ([1], "number"),
        ({"a": 1}, "number"),
        ("abc", "decimal"),
        ("", "decimal"),
        ("1_000", "decimal"),
        ("NaN", "decimal"),
        ("Infinity", "decimal"),
        ("0x10", "decimal"),
        ("1,5", "decimal"),
        ("1" * 65, "decimal"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (D("NaN"), "finite"),
        ("1234567890123456", "significant"),
        (0.30000000000000004, "significant"),
        ("1e15", "magnitude"),
        (10**15, "magnitude"),
        (1e300, "magnitude"),
        ("-1000000000000000", "magnitude"),
        ("0.0000000000001", "decimal places"),
        ("1e-13", "decimal places"),
        # Digits of other scripts: Decimal() reads "١٢" as 12; prices refuse them too.
        ("١٢", "decimal"),
        ("1٫5", "decimal"),
        ("１２", "decimal"),
        ("1e٣", "decimal"),
    ],
)
def test_parse_value_rejects(raw: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_value(raw)


@given(
    st.decimals(
        min_value=-(10**12), max_value=10**12, places=3, allow_nan=False, allow_infinity=False
    )
)
def test_parse_value_is_exact_for_strings(d: D) -> None:
    assert parse_value(str(d)) == d and parse_value(format(d, "f")) == d


def test_valid_sum_event() -> None:
    ev = ok({**CUS, "value": "2.5", "model": "gpt", "region": 3.0, "other": "x"})
    assert ev == ValidEvent("cus_1", D("2.5"), {"model": "gpt", "region": "3"}, "ev_1", NOW)
    assert ev.dimensions_key == "|model=gpt|region=3|"


def test_defaults_and_normalization() -> None:
    cet = timezone(timedelta(hours=1))
    ev = ok(
        {**CUS, "value": 1, "model": None},
        identifier=None,
        timestamp=datetime(2025, 3, 10, 12, 30, tzinfo=cet),
    )
    assert ev.identifier is None and ev.dimensions == {} and ev.dimensions_key == ""
    assert ev.timestamp == datetime(2025, 3, 10, 11, 30, tzinfo=UTC)
    assert ev.timestamp.tzinfo is UTC
    assert ok({**CUS, "value": 1}, timestamp=None).timestamp == NOW


@pytest.mark.parametrize("value", [None, "abc", True, float("nan")])
def test_count_ignores_value(value: object) -> None:
    payload = {**CUS} if value is None else {**CUS, "value": value}
    assert ok(payload, meter(aggregation="COUNT")).value == D(1)


def test_custom_payload_keys() -> None:
    m = meter(
        customer_payload_key="account",
        value_payload_key="tokens",
        customer_mapping_type="BY_EXTERNAL_ID",
        aggregation="LAST",
    )
    assert ok({"account": "acme-42", "tokens": "-5"}, m).value == D(-5)
    assert errors({"customer_id": "cus_1", "value": 1}, m) == [
        ("REQUIRED", ("input", "payload", "account")),
        ("REQUIRED", ("input", "payload", "tokens")),
    ]


@pytest.mark.parametrize(
    "payload, kw, expected",
    [
        ({"value": 1}, {}, [("REQUIRED", ("input", "payload", "customer_id"))]),
        ({"customer_id": "", "value": 1}, {}, [("REQUIRED", ("input", "payload", "customer_id"))]),
        ({"customer_id": 42, "value": 1}, {}, [("INVALID", ("input", "payload", "customer_id"))]),
        ({**CUS}, {}, [("REQUIRED", ("input", "payload", "value"))]),
        ({**CUS, "value": None}, {}, [("REQUIRED", ("input", "payload", "value"))]),
        ({**CUS}, {"m": meter(aggregation="LAST")}, [("REQUIRED", ("input", "payload", "value"))]),
        ({**CUS, "value": "1.2.3"}, {}, [("INVALID", ("input", "payload", "value"))]),
        ({**CUS, "value": False}, {}, [("INVALID", ("input", "payload", "value"))]),
        ({**CUS, "value": "1e16"}, {}, [("INVALID", ("input", "payload", "value"))]),
        ({**CUS, "value": 1}, {"m": meter(active=False)}, [("INACTIVE", ("input", "eventName"))]),
        ({**CUS, "value": 1}, {"identifier": "x" * 101}, [("INVALID", ("input", "identifier"))]),
        ({**CUS, "value": 1}, {"identifier": ""}, [("INVALID", ("input", "identifier"))]),
        # Longer than any customer id (40) / external id (200) can be.
        (
            {"customer_id": "c" * 41, "value": 1},
            {},
            [("INVALID", ("input", "payload", "customer_id"))],
        ),
        (
            {"customer_id": "c" * 201, "value": 1},
            {"m": meter(customer_mapping_type="BY_EXTERNAL_ID")},
            [("INVALID", ("input", "payload", "customer_id"))],
        ),
        (
            {**CUS, "value": 1},
            {"timestamp": datetime(2025, 3, 10)},
            [("INVALID", ("input", "timestamp"))],
        ),
        (
            {**CUS, "value": 1},
            {"timestamp": NOW - timedelta(days=35, seconds=1)},
            [("OUT_OF_RANGE", ("input", "timestamp"))],
        ),
        (
            {**CUS, "value": 1},
            {"timestamp": NOW + timedelta(minutes=5, microseconds=1)},
            [("OUT_OF_RANGE", ("input", "timestamp"))],
        ),
        ({**CUS, "value": 1, "model": True}, {}, [("INVALID", ("input", "payload", "model"))]),
        ({**CUS, "value": 1, "model": {"a": 1}}, {}, [("INVALID", ("input", "payload", "model"))]),
        ({**CUS, "value": 1, "model": [1]}, {}, [("INVALID", ("input", "payload", "model"))]),
        ({**CUS, "value": 1, "model": "m" * 101}, {}, [("INVALID", ("input", "payload", "model"))]),
        (
            {**CUS, "value": 1, "model": float("inf")},
            {},
            [("INVALID", ("input", "payload", "model"))],
        ),
        ({**CUS, "value": 1, "model": "\ud800"}, {}, [("INVALID", ("input", "payload", "model"))]),
        ({**CUS, "value": 1, "region": 1e200}, {}, [("INVALID", ("input", "payload", "region"))]),
    ],
)
def test_single_problems(payload: dict, kw: dict, expected: list) -> None:
    assert errors(payload, **kw) == expected


@pytest.mark.parametrize(
    "kw",
    [
        {"identifier": "x" * 100},
        {"payload": {"customer_id": "c" * 40, "value": 1}},
        {
            "payload": {"customer_id": "c" * 200, "value": 1},
            "m": meter(customer_mapping_type="BY_EXTERNAL_ID"),
        },
        {"timestamp": NOW - timedelta(days=35)},
        {"timestamp": NOW + timedelta(minutes=5)},
        {"timestamp": None},
    ],
)
def test_boundaries_accepted(kw: dict) -> None:
    ok(kw.pop("payload", {**CUS, "value": 1, "model": "m" * 100}), **kw)


def test_all_problems_reported_at_once_with_clear_messages() -> None:
    with pytest.raises(DomainError) as e:
        validate_event(
            meter(active=False),
            {"value": "lots", "model": True},
            "i" * 101,
            NOW + timedelta(hours=1),
            NOW,
            ("input", "events", "3"),
        )
    got = {x.field: (x.code, x.message) for x in e.value.errors}
    prefix = ("input", "events", "3")
    assert set(got) == {
        prefix + f
        for f in [
            ("eventName",),
            ("payload", "customer_id"),
            ("payload", "value"),
            ("payload", "model"),
            ("timestamp",),
            ("identifier",),
        ]
    }
    assert got[prefix + ("eventName",)] == ("INACTIVE", "the meter for event 'tokens' is inactive")
    assert "payload.customer_id" in got[prefix + ("payload", "customer_id")][1]
    assert "payload.value" in got[prefix + ("payload", "value")][1]
    assert "payload.model" in got[prefix + ("payload", "model")][1]
    assert "35 days" in got[prefix + ("timestamp",)][1]
    assert "100 characters" in got[prefix + ("identifier",)][1]


def test_payload_must_be_an_object() -> None:
    assert errors(["cus_1", 1]) == [("INVALID", ("input", "payload"))]  # type: ignore[arg-type]


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        validate_event(meter(), {**CUS, "value": 1}, None, None, datetime(2025, 3, 10), ())


def test_field_prefix_defaults_to_the_bare_path() -> None:
    with pytest.raises(DomainError) as e:
        validate_event(meter(), {**CUS}, None, None, NOW)
    assert e.value.errors[0].field == ("payload", "value")


def test_text_errors_name_each_field_holding_unstorable_text() -> None:
    from meterbill.billing.events import text_errors

    assert text_errors("tokens", {"customer_id": "cus_é", "v": ["ü", {"k": 1}]}, "id-ß", P) == []
    got = text_errors(
        "tok\ud800",
        {"ok": "x", "value": "1\x00", "deep": {"a": ["\udfff"]}, "\ud800": 1},
        "id\udc00",
        ("input", "7"),
    )
    assert [(e.code, e.field) for e in got] == [
        ("INVALID", ("input", "7", "eventName")),
        ("INVALID", ("input", "7", "payload", "value")),
        ("INVALID", ("input", "7", "payload", "deep")),
        ("INVALID", ("input", "7", "payload")),
        ("INVALID", ("input", "7", "identifier")),
    ]
    assert "U+0000" in got[1].message and "surrogate" in got[2].message
    assert all("\ud800" not in e.message and "\udc00" not in e.message for e in got)


def test_text_errors_name_an_event_name_longer_than_its_column_without_echoing_it() -> None:
    from meterbill.billing.events import text_errors

    assert text_errors("t" * 100, {"customer_id": "c" * 300}, "i" * 100, P) == []
    got = text_errors("t" * 101, {}, "i" * 101, P)
    assert [(e.code, e.field) for e in got] == [("INVALID", ("input", "eventName"))]
    assert "100 characters" in got[0].message and "tt" not in got[0].message
