"""Fuzzing the real app with hypothesis-graphql: documents generated from the schema, sent
over HTTP with a valid ADMIN key. Whatever comes in: no 5xx, no INTERNAL error, nothing
logged at ERROR by meterbill's loggers. Bounded (FUZZ_EXAMPLES) so it runs in CI."""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from meterbill.app import create_app
from meterbill.config import Settings
from meterbill.graphql.schema import build_schema
from tests.apps import new_key

FUZZ_EXAMPLES = int(os.environ.get("MB_FUZZ_EXAMPLES", "200"))
# Generated event strings carry it: the logs must never show one.
MARK = "zqxPAYLOADzqx"
NEGATIVE_EXAMPLES = max(1, FUZZ_EXAMPLES // 2)

# Values that parse as our scalars, and some that do not (those must be BAD_USER_INPUT).
SCALARS = {
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(
            lambda d: nodes.String(d.isoformat())
        ),
        st.text(max_size=30).map(nodes.String),
    ),
    "Decimal": st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(nodes.String),
        st.text(max_size=20).map(nodes.String),
    ),
    "BigInt": st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(nodes.Int),
        st.integers().map(lambda i: nodes.String(str(i))),
    ),
    # Meter event payloads and summary filters: objects of short keys to scalars.
    "JSON": st.dictionaries(
        st.sampled_from(["customer_id", "value", "region", "model", "x"]),
        st.one_of(
            st.text(max_size=12).map(nodes.String),
            st.integers(-(10**16), 10**16).map(nodes.Int),
            st.booleans().map(nodes.Boolean),
        ),
        max_size=4,
    ).map(
        lambda d: nodes.Object(
            [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in d.items()]
        )
    ),
}


class _Collect(logging.Handler):
    """WARNING and up of meterbill's loggers in `records`; every line a deployment would
    log (request log lines included) in `everything`, to grep for payload values."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.everything: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # What a deployment writes at MB_LOG_LEVEL=INFO, and meterbill's own DEBUG lines
        # (libraries' DEBUG lines echo SQL parameters: never enabled in production).
        if record.levelno >= logging.INFO or record.name.startswith("meterbill"):
            self.everything.append(record)
        if record.levelno >= logging.WARNING and record.name.startswith("meterbill"):
            self.records.append(record)


def _text(record: logging.LogRecord) -> str:
    """All a log line could carry: message, arguments, extra fields, traceback."""
    exc = ""
    if record.exc_info and record.exc_info[1] is not None:
        exc = "".join(traceback.format_exception(record.exc_info[1]))
    return f"{record.getMessage()} {record.__dict__!r} {exc}"


@dataclass
class Live:
    runner: asyncio.Runner
    client: httpx.AsyncClient
    secret: str
    logs: _Collect
    stats: dict[str, int] = field(default_factory=dict)

    def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        return self.runner.run(
            self.client.post(
                "/graphql",
                json={"query": query, "variables": variables or {}},
                headers={"Authorization": f"Bearer {self.secret}"},
            )
        )


@pytest.fixture
def live(deployment: Settings) -> Iterator[Live]:
    # One event loop for the whole fuzz run (hypothesis drives a sync test); no rate limit,
    # or the fuzzer would mostly measure the limiter.
    runner = asyncio.Runner()
    application = create_app(deployment.model_copy(update={"rate_limit_rps": 0}))
    lifespan = application.router.lifespan_context(application)
    runner.run(lifespan.__aenter__())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t")
    _, secret = runner.run(new_key("Fuzz"))
    logs = _Collect()
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logs)
    try:
        yield Live(runner, client, secret, logs)
    finally:
        logger.removeHandler(logs)
        logger.setLevel(level)
        runner.run(client.aclose())
        runner.run(lifespan.__aexit__(None, None, None))
        runner.close()


def _check(live: Live, query: str, variables: dict[str, Any] | None = None) -> None:
    live.stats["cases"] = live.stats.get("cases", 0) + 1
    r = live.post(query, variables)
    assert r.status_code < 500, (query, r.status_code, r.text)
    body: dict[str, Any] = r.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL" not in codes, (query, body)
    assert all(codes), ("an error without a code", query, body)
    bad = [rec for rec in live.logs.records if rec.levelno >= logging.ERROR]
    if variables is not None:
        # Logs never hold payload values (nor the key): every generated string is marked.
        leaked = [rec for rec in live.logs.everything if MARK in _text(rec)]
        assert not leaked, (variables, [_text(rec) for rec in leaked])
        assert not any(live.secret in _text(rec) for rec in live.logs.everything)
    assert not bad, (query, [rec.getMessage() for rec in bad], bad[0].exc_info)
    live.stats["with_errors"] = live.stats.get("with_errors", 0) + bool(codes)


SDL = build_schema().as_str()


def test_fuzz_valid_documents(live: Live) -> None:
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(query=from_schema(SDL, custom_scalars=SCALARS))
    def run(query: str) -> None:
        _check(live, query)

    run()
    print(f"\nfuzz (valid documents): {live.stats}")
    assert live.stats["cases"] >= FUZZ_EXAMPLES // 2


def test_fuzz_invalid_documents(live: Live) -> None:
    @settings(
        max_examples=NEGATIVE_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(query=from_schema(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE))
    def run(query: str) -> None:
        _check(live, query)

    run()
    print(f"\nfuzz (invalid documents): {live.stats}")
    assert live.stats["with_errors"] >= 1


# recordMeterEvent(s) take JSON scalars (the payload) that schema-driven generators cannot
# shape: hand-written ones, near and past every limit of limits in contract/README.md.
def _marked(max_size: int) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size).map(lambda t: MARK + t)


_JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _marked(30),
    st.sampled_from(["12", "0.5", "1e3", "١٢", "1_000", "NaN", "-0", "9" * 20, " 7 ", ""]),
)
_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _event(customer: str) -> st.SearchStrategy[dict[str, Any]]:
    payload = st.fixed_dictionaries(
        {},
        optional={
            "customer_id": st.one_of(st.just(customer), _marked(45), st.integers()),
            "value": _JSON_LEAF,
            "model": _JSON,
            "deep": _JSON,
        },
    )
    return st.fixed_dictionaries(
        {
            "eventName": st.one_of(st.just("fuzz"), _marked(110)),
            "payload": st.one_of(payload, _JSON),
        },
        optional={
            "identifier": st.one_of(st.none(), _marked(110)),
            "timestamp": st.one_of(
                st.none(),
                st.sampled_from(
                    ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z", "2026-01-01T00:00"]
                ),
                st.datetimes(timezones=st.just(__import__("datetime").UTC)).map(
                    lambda d: d.isoformat()
                ),
            ),
        },
    )


RECORD_ONE = (
    "mutation($i: MeterEventInput!) { recordMeterEvent(input: $i) "
    "{ duplicate meterEvent { identifier value } userErrors { field code message } } }"
)
RECORD_ONE_GENERAL = (
    "mutation($i: MeterEventInput!) { r: recordMeterEvent(input: $i) { ... on "
    "RecordMeterEventPayload { meterEvent { identifier } userErrors { field code } } } }"
)
RECORD_MANY = (
    "mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) "
    "{ accepted rejected results { status userErrors { field code message } } } }"
)


def test_fuzz_record_meter_event_payloads(live: Live) -> None:
    meter = live.post(
        'mutation { createMeter(input: {displayName: "fuzz", eventName: "fuzz", '
        'aggregation: SUM, dimensionKeys: ["model"]}) { meter { id } } }'
    ).json()
    assert meter["data"]["createMeter"]["meter"]["id"], meter
    customer = live.post('mutation { createCustomer(input: {name: "f"}) { customer { id } } }')
    cus = customer.json()["data"]["createCustomer"]["customer"]["id"]

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(
        events=st.lists(_event(cus), min_size=1, max_size=4),
        doc=st.sampled_from(["one", "general", "many"]),
    )
    def run(events: list[dict[str, Any]], doc: str) -> None:
        if doc == "many":
            _check(live, RECORD_MANY, {"i": events})
        else:
            _check(live, RECORD_ONE if doc == "one" else RECORD_ONE_GENERAL, {"i": events[0]})

    run()
    print(f"\nfuzz (recordMeterEvent payloads): {live.stats}")
    assert live.stats["cases"] >= FUZZ_EXAMPLES // 2
    assert live.logs.everything  # the grep above had request log lines to look at
