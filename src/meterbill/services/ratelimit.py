"""Per-API-key rate limits: a token bucket kept in Redis and updated by one Lua script, so
concurrent API processes share each key's budget exactly. The embedded deployment runs the
same script on its in-memory Redis.

A Redis failure lets the request through (logged): the limiter protects the service, it
must not become the reason the service is down."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("meterbill.ratelimit")

# KEYS[1]: the bucket. ARGV: rate (tokens per second), burst (bucket size), cost.
# Returns {allowed (0/1), seconds until `cost` tokens are there, tokens left} as strings
# (Redis truncates Lua numbers to integers). TIME is Redis's clock: every API process
# sees one clock.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
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
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(wait), tostring(tokens)}
"""


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
        allowed, wait, tokens = await redis.eval(
            TOKEN_BUCKET, 1, bucket_key(key_id), repr(budget.rate), budget.burst, cost
        )
    except Exception as exc:  # noqa: BLE001 - any Redis failure: fail open
        log.warning("rate limiter unavailable (%s): request allowed", type(exc).__name__)
        return Decision(True)
    remaining = int(float(tokens))
    if int(allowed) == 1:
        return Decision(True, remaining=remaining)
    return Decision(False, retry_after=max(1, math.ceil(float(wait))), remaining=remaining)
