"""Rate limits per API key over HTTP: 429 + Retry-After + RATE_LIMITED."""

from __future__ import annotations

from tests.apps import new_key, running

Q = {"query": "{ __typename }"}


async def _post(client, secret):  # type: ignore[no-untyped-def]
    return await client.post("/graphql", json=Q, headers={"Authorization": f"Bearer {secret}"})


async def test_over_the_limit_is_429_with_retry_after(deployment):
    async with running(deployment, rate_limit_rps=0.001, rate_limit_burst=2) as client:
        _, key = await new_key()
        _, other = await new_key("Other")
        ok = [await _post(client, key) for _ in range(2)]
        assert [r.status_code for r in ok] == [200, 200]
        refused = await _post(client, key)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 1000
        body = refused.json()
        assert body["data"] is None
        err = body["errors"][0]
        assert err["extensions"]["code"] == "RATE_LIMITED"
        assert err["extensions"]["retryAfter"] == int(refused.headers["retry-after"])
        # Another key (another account) has its own budget.
        assert (await _post(client, other)).status_code == 200


async def test_usage_write_keys_have_the_larger_budget(deployment):
    settings = {
        "rate_limit_rps": 0.001,
        "rate_limit_burst": 1,
        "usage_rate_limit_rps": 0.001,
        "usage_rate_limit_burst": 4,
    }
    async with running(deployment, **settings) as client:
        _, admin = await new_key()
        r = await client.post(
            "/graphql",
            json={
                "query": 'mutation { createApiKey(input: {name: "ingest", scopes: [USAGE_WRITE]}) '
                "{ secret } }"
            },
            headers={"Authorization": f"Bearer {admin}"},
        )
        usage_key = r.json()["data"]["createApiKey"]["secret"]
        assert (await _post(client, admin)).status_code == 429
        codes = [(await _post(client, usage_key)).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 200, 429]


async def test_unauthenticated_requests_are_not_bucketed_per_key(deployment):
    async with running(deployment, rate_limit_rps=0.001, rate_limit_burst=1) as client:
        for _ in range(3):
            r = await client.post("/graphql", json={"query": "{ apiKeys { id } }"})
            assert r.status_code == 401
            assert r.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_bulk_ingestion_takes_from_the_same_budget(deployment):
    async with running(deployment, rate_limit_rps=0.001, rate_limit_burst=2) as client:
        _, key = await new_key()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
        # Empty bodies: nothing recorded, only the request counts against the budget.
        codes = [
            (await client.post("/v1/meter_events", content=b"", headers=headers)).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        refused = await client.post("/v1/meter_events", content=b"", headers=headers)
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        # ...and it is one budget with GraphQL.
        assert (await _post(client, key)).status_code == 429
