"""Authentication of one request with a per-IP budget for failures (contract "limits").

Every entry point (POST /graphql, the graphql-transport-ws handshake, POST /v1/meter_events)
calls `authenticate_request`. A secret this process validated within the last second costs
nothing. Any other secret first checks its address's bucket of failed attempts (a Redis token
bucket shared by every API process, the per-key limiter's script): once the address has spent
its budget, the request is refused with a retry time and no key lookup reaches the database,
so guessing keys costs the guesser, not PostgreSQL. A failed lookup takes a token; a valid key
takes none. A Redis failure lets the lookup through (the limiter's rule: fail open).

The address is the ASGI client's: behind a proxy, run uvicorn with --proxy-headers and
--forwarded-allow-ips so it is the caller's, not the proxy's."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from meterbill.services import ratelimit
from meterbill.services.accounts import Principal, authenticate, cached_principal

AUTH_FAILURES_MESSAGE = "too many failed authentications from this address; retry in {} s"


@dataclass(frozen=True)
class AuthOutcome:
    principal: Principal | None
    # Set when the address spent its failed-authentication budget: seconds to wait.
    retry_after: int | None = None


def failure_budget(settings: Any) -> ratelimit.Budget:
    return ratelimit.Budget(settings.auth_failure_rps, settings.auth_failure_burst)


def _bucket(address: str) -> str:
    return f"authfail:{address}"


async def authenticate_request(
    redis: Any, settings: Any, address: str | None, secret: str | None
) -> AuthOutcome:
    if not secret:
        return AuthOutcome(None)
    known = cached_principal(secret)
    if known is not None:
        return AuthOutcome(known)
    budget = failure_budget(settings)
    guarded = address is not None and redis is not None and budget.rate > 0
    if guarded:
        # cost 0: reads the bucket (refilled to now) without taking from it.
        left = await ratelimit.take(redis, _bucket(address or ""), budget, cost=0)
        if left.allowed and left.remaining < 1:
            return AuthOutcome(None, retry_after=max(1, math.ceil(1 / budget.rate)))
    principal = await authenticate(secret)
    if principal is None and guarded:
        await ratelimit.take(redis, _bucket(address or ""), budget)
    return AuthOutcome(principal)


def client_address(scope_or_request: Any) -> str | None:
    client = getattr(scope_or_request, "client", None)
    return client.host if client is not None else None
