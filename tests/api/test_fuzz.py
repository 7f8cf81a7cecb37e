"""Fuzzing the real app with hypothesis-graphql: documents generated from the schema, sent
over HTTP with a valid ADMIN key. Whatever comes in: no 5xx, no INTERNAL error, nothing
logged at ERROR by meterbill's loggers. Bounded (FUZZ_EXAMPLES) so it runs in CI."""

from __future__ import annotations

import asyncio
import logging
import os
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
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Live:
    runner: asyncio.Runner
    client: httpx.AsyncClient
    secret: str
    logs: _Collect
    stats: dict[str, int] = field(default_factory=dict)

    def post(self, query: str) -> httpx.Response:
        return self.runner.run(
            self.client.post(
                "/graphql",
                json={"query": query},
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
    logger = logging.getLogger("meterbill")
    logger.addHandler(logs)
    try:
        yield Live(runner, client, secret, logs)
    finally:
        logger.removeHandler(logs)
        runner.run(client.aclose())
        runner.run(lifespan.__aexit__(None, None, None))
        runner.close()


def _check(live: Live, query: str) -> None:
    live.stats["cases"] = live.stats.get("cases", 0) + 1
    r = live.post(query)
    assert r.status_code < 500, (query, r.status_code, r.text)
    body: dict[str, Any] = r.json()
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL" not in codes, (query, body)
    assert all(codes), ("an error without a code", query, body)
    bad = [rec for rec in live.logs.records if rec.levelno >= logging.ERROR]
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
