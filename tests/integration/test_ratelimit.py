"""The token bucket script, on real Redis and on the embedded in-memory Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from meterbill.services import ratelimit
from meterbill.worker.embedded import fake_pool
from tests import services as svc


@pytest.fixture(params=["embedded", "redis"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "embedded":
        pool = fake_pool()
        yield pool
        await pool.aclose()
        return
    url = await svc._pick_redis_db(svc.require_redis())  # the async form of claim_redis_db
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()
        await svc._flush(url)


# A refill of 1 token per 1000 s: no test runs long enough to see one.
SLOW = 0.001


async def test_burst_then_refused_with_retry_after(redis):
    budget = ratelimit.Budget(SLOW, 3)
    key = "key_" + secrets.token_hex(4)
    got = [await ratelimit.take(redis, key, budget) for _ in range(4)]
    assert [d.allowed for d in got] == [True, True, True, False]
    assert [d.remaining for d in got[:3]] == [2, 1, 0]
    assert 990 <= got[3].retry_after <= 1000


async def test_refills_at_the_rate(redis):
    # 1000 tokens per second: an emptied bucket of 1 has a token again within 1 ms.
    budget = ratelimit.Budget(1000, 1)
    key = "key_" + secrets.token_hex(4)
    assert (await ratelimit.take(redis, key, budget)).allowed
    await asyncio.sleep(0.01)
    assert (await ratelimit.take(redis, key, budget)).allowed


async def test_keys_have_their_own_buckets(redis):
    budget = ratelimit.Budget(SLOW, 1)
    a, b = "key_a" + secrets.token_hex(4), "key_b" + secrets.token_hex(4)
    assert (await ratelimit.take(redis, a, budget)).allowed
    assert not (await ratelimit.take(redis, a, budget)).allowed
    assert (await ratelimit.take(redis, b, budget)).allowed


async def test_concurrent_takes_never_exceed_the_burst(redis):
    budget = ratelimit.Budget(SLOW, 10)
    key = "key_" + secrets.token_hex(4)
    got = await asyncio.gather(*[ratelimit.take(redis, key, budget) for _ in range(50)])
    assert sum(d.allowed for d in got) == 10


async def test_bucket_expires_once_full_again(redis):
    budget = ratelimit.Budget(SLOW, 2)
    key = "key_" + secrets.token_hex(4)
    await ratelimit.take(redis, key, budget)
    ttl_ms = await redis.pttl(ratelimit.bucket_key(key))
    assert 0 < ttl_ms <= 2 / SLOW * 1000 + 1000


async def test_zero_rate_means_unlimited(redis):
    budget = ratelimit.Budget(0, 1)
    assert all([(await ratelimit.take(redis, "k", budget)).allowed for _ in range(5)])


async def test_redis_down_fails_open():
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        d = await ratelimit.take(dead, "k", ratelimit.Budget(SLOW, 1))
        assert d.allowed
    finally:
        await dead.aclose()


async def test_concurrent_takes_of_several_keys_each_spend_their_own_budget(redis):
    # Concurrent takes of one process share script calls: each still takes from its own
    # bucket, in arrival order.
    a, b = "key_a" + secrets.token_hex(4), "key_b" + secrets.token_hex(4)
    small, large = ratelimit.Budget(SLOW, 3), ratelimit.Budget(SLOW, 5)
    calls = []
    for _ in range(10):
        calls += [ratelimit.take(redis, a, small), ratelimit.take(redis, b, large)]
    got = await asyncio.gather(*calls)
    assert [d.allowed for d in got[0::2]] == [True] * 3 + [False] * 7
    assert [d.allowed for d in got[1::2]] == [True] * 5 + [False] * 5
    assert [d.remaining for d in got[1::2][:5]] == [4, 3, 2, 1, 0]
    assert all(d.retry_after >= 990 for d in got if not d.allowed)
