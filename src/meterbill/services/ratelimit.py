"""Per-API-key rate limits: a token bucket kept in Redis and updated by one Lua script, so
concurrent API processes share each key's budget exactly. The embedded deployment runs the
same script on its in-memory Redis.

Concurrent requests of one process share a round trip: while one script call is in flight,
new takes queue, and the next call takes them all, in arrival order, each from its own
bucket as if one after the other (the script is atomic in Redis, so the budget stays exact
across processes). With no concurrency a call carries one take and waits for nothing. The
EVAL was ~15% of the API's CPU per recordMeterEvent, one per request.

A Redis failure lets the request through (logged): the limiter protects the service, it
must not become the reason the service is down."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("meterbill.ratelimit")

# KEYS: the buckets, one per take (a key may repeat). ARGV: rate (tokens per second), burst
# (bucket size), cost, three per take. Returns {allowed (0/1), seconds until `cost` tokens
# are there, tokens left} per take, flat, as strings (Redis truncates Lua numbers to
# integers). TIME is Redis's clock: every API process sees one clock.
TOKEN_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
    ts = now
  end
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  local allowed = 0
  local wait = 0
  if tokens >= cost then
    tokens = tokens - cost
    allowed = 1
  else
    wait = (cost - tokens) / rate
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
  out[#out + 1] = allowed
  out[#out + 1] = tostring(wait)
  out[#out + 1] = tostring(tokens)
end
return out
"""
# Takes per script call; more wait for the next one.
MAX_PER_CALL = 200


@dataclass(frozen=True)
class Budget:
    rate: float  # tokens per second; 0 = unlimited
    burst: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds, rounded up, for the Retry-After header
    remaining: int = 0


def budget_for(settings: Any, principal: Any) -> Budget:
    """USAGE_WRITE-only keys (partners' ingestion) get the larger usage budget."""
    if "USAGE_WRITE" in principal.scopes and "ADMIN" not in principal.scopes:
        return Budget(settings.usage_rate_limit_rps, settings.usage_rate_limit_burst)
    return Budget(settings.rate_limit_rps, settings.rate_limit_burst)


def bucket_key(key_id: str) -> str:
    return f"meterbill:ratelimit:{key_id}"


async def take(redis: Any, key_id: str, budget: Budget, cost: int = 1) -> Decision:
    if budget.rate <= 0:
        return Decision(True, remaining=budget.burst)
    try:
        allowed, wait, tokens = await _taker_for(redis).take(
            bucket_key(key_id), repr(budget.rate), budget.burst, cost
        )
    except Exception as exc:  # noqa: BLE001 - any Redis failure: fail open
        log.warning("rate limiter unavailable (%s): request allowed", type(exc).__name__)
        return Decision(True, remaining=budget.burst)
    remaining = int(float(tokens))
    if int(allowed) == 1:
        return Decision(True, remaining=remaining)
    return Decision(False, retry_after=max(1, math.ceil(float(wait))), remaining=remaining)


_Take = tuple[str, str, int, int]  # bucket key, rate, burst, cost
_Answer = tuple[Any, Any, Any]  # allowed, wait, tokens


class _Taker:
    """Queues the takes of concurrent requests and runs them one script call at a time."""

    def __init__(self, redis: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.redis = redis
        self.loop = loop
        self.queue: list[tuple[_Take, asyncio.Future[_Answer]]] = []
        self.task: asyncio.Task[None] | None = None

    async def take(self, key: str, rate: str, burst: int, cost: int) -> _Answer:
        fut: asyncio.Future[_Answer] = self.loop.create_future()
        self.queue.append(((key, rate, burst, cost), fut))
        if self.task is None:
            self.task = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue[:MAX_PER_CALL], self.queue[MAX_PER_CALL:]
                args: list[Any] = []
                for (_, rate, burst, cost), _fut in batch:
                    args += (rate, burst, cost)
                try:
                    flat = await self.redis.eval(
                        TOKEN_BUCKET, len(batch), *[t[0] for t, _ in batch], *args
                    )
                except Exception as exc:  # noqa: BLE001 - handed to each caller
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                except BaseException:
                    # Cancelled (the loop is closing): no caller may wait for ever.
                    for _, fut in batch + self.queue:
                        if not fut.done():
                            fut.set_exception(ConnectionError("rate limiter call cancelled"))
                    self.queue = []
                    raise
                for i, (_, fut) in enumerate(batch):
                    if not fut.done():
                        fut.set_result((flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]))
        finally:
            self.task = None


_takers: dict[tuple[int, int], _Taker] = {}


def _taker_for(redis: Any) -> _Taker:
    """One taker per event loop and Redis client (tests run several of each; ids of dead
    ones may be reused, hence the identity check)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), id(redis))
    t = _takers.get(key)
    if t is None or t.loop is not loop or t.redis is not redis:
        if len(_takers) > 16:
            _takers.clear()
        t = _takers[key] = _Taker(redis, loop)
    return t
