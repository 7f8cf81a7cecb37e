"""A budget of failed authentications per client address (contract "limits"): beyond it a
request with an unknown key is refused with 429 before any key lookup reaches the database."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from meterbill.app import create_app
from meterbill.config import Settings
from tests.apps import new_key
from tests.sql_log import capture_sql

Q = {"query": "{ apiKeys { id } }"}
BAD = "mb_sk_" + "x" * 40
BUDGET = {"auth_failure_rps": 0.001, "auth_failure_burst": 3}


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.sql.append(record.getMessage())

    def key_lookups(self) -> int:
        return sum(bool(re.search(r"WHERE.*secret_hash", s)) for s in self.sql)


@asynccontextmanager
async def clients(settings: Settings, **overrides: Any) -> AsyncIterator[Any]:
    """A client per address, all against one running app."""
    application = create_app(settings.model_copy(update=overrides))
    async with application.router.lifespan_context(application):

        def at(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=application, client=(address, 40000))
            return httpx.AsyncClient(transport=transport, base_url="http://test")

        yield at


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_an_address_over_its_budget_is_refused_without_a_key_lookup(deployment):
    async with clients(deployment, **BUDGET) as at:
        _, valid = await new_key()
        async with at("203.0.113.7") as guesser, at("198.51.100.2") as neighbour:
            codes = [(await guesser.post("/graphql", json=Q, headers=_auth(BAD))).status_code]
            codes += [
                (await guesser.post("/graphql", json=Q, headers=_auth(BAD + str(i)))).status_code
                for i in range(2)
            ]
            assert codes == [401, 401, 401]
            with capture_sql(_Statements()) as statements:
                refused = await guesser.post("/graphql", json=Q, headers=_auth(BAD))
                # Even a valid key this process has not seen is not looked up from there.
                valid_refused = await guesser.post("/graphql", json=Q, headers=_auth(valid))
            assert statements.key_lookups() == 0
            for r in (refused, valid_refused):
                assert r.status_code == 429
                assert int(r.headers["retry-after"]) >= 1
                err = r.json()["errors"][0]
                assert err["extensions"]["code"] == "RATE_LIMITED"
                assert "failed authentications" in err["message"]
            # Another address has its own budget, and its valid key works.
            assert (await neighbour.post("/graphql", json=Q, headers=_auth(BAD))).status_code == 401
            with capture_sql(_Statements()) as statements:
                ok = await neighbour.post("/graphql", json=Q, headers=_auth(valid))
            assert statements.key_lookups() == 1  # what the guesser's requests did not cost
            assert ok.status_code == 200 and ok.json()["data"]["apiKeys"]


async def test_valid_keys_and_missing_keys_take_nothing_from_the_budget(deployment):
    async with clients(deployment, **BUDGET) as at:
        async with at("203.0.113.8") as client:
            for _ in range(5):
                _, fresh = await new_key()  # never cached: each one is looked up
                r = await client.post("/graphql", json=Q, headers=_auth(fresh))
                assert r.status_code == 200
            for _ in range(5):
                r = await client.post("/graphql", json=Q)
                assert r.status_code == 401
            codes = [
                (await client.post("/graphql", json=Q, headers=_auth(BAD))).status_code
                for _ in range(4)
            ]
            assert codes == [401, 401, 401, 429]


async def test_the_bulk_endpoint_shares_the_address_budget(deployment):
    async with clients(deployment, **BUDGET) as at:
        async with at("203.0.113.9") as client:
            line = b'{"eventName":"x","payload":{"customer_id":"c","value":"1"}}\n'
            headers = {**_auth(BAD), "Content-Type": "application/x-ndjson"}
            for _ in range(2):
                r = await client.post("/graphql", json=Q, headers=_auth(BAD))
                assert r.status_code == 401
            r = await client.post("/v1/meter_events", content=line, headers=headers)
            assert r.status_code == 401
            r = await client.post("/v1/meter_events", content=line, headers=headers)
            assert r.status_code == 429
            assert r.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            assert int(r.headers["retry-after"]) >= 1
            # ... and the GraphQL endpoint sees the same spent budget.
            r = await client.post("/graphql", json=Q, headers=_auth(BAD))
            assert r.status_code == 429


async def test_no_budget_when_switched_off(deployment):
    async with clients(deployment, auth_failure_rps=0, auth_failure_burst=1) as at:
        async with at("203.0.113.10") as client:
            codes = {
                (await client.post("/graphql", json=Q, headers=_auth(BAD))).status_code
                for _ in range(5)
            }
            assert codes == {401}
