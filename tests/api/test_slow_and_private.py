"""A slow body sender is cut off (MB_BODY_READ_TIMEOUT, 408) instead of holding its
connection; /metrics can need a token (MB_METRICS_TOKEN)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tests.apps import new_key, running


async def test_a_body_sent_too_slowly_is_408(deployment):
    async with running(deployment, body_read_timeout=0.3) as client:
        _, secret = await new_key()

        async def trickle() -> AsyncIterator[bytes]:
            yield b'{"query": "{ meters { edges { cursor } } }"'
            await asyncio.sleep(30)  # never finishes in time
            yield b"}"

        resp = await asyncio.wait_for(
            client.post(
                "/graphql",
                content=trickle(),
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            ),
            timeout=20,
        )
        assert resp.status_code == 408
        assert resp.json()["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
        assert resp.headers["connection"] == "close"
        # A body sent in time still answers.
        ok = await client.post(
            "/graphql",
            json={"query": "{ meters { edges { cursor } } }"},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert ok.status_code == 200


async def test_metrics_need_the_token_when_one_is_set(deployment):
    async with running(deployment, metrics_token="s3cret-scrape") as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-scrape"}):
            resp = await client.get("/metrics", headers=headers)
            assert resp.status_code == 401
            assert resp.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert "meterbill_" not in resp.text
        resp = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert resp.status_code == 200 and "meterbill_requests_total" in resp.text
    async with running(deployment) as client:  # no token: open, as before
        assert (await client.get("/metrics")).status_code == 200
