"""Idempotency keys as Stripe has them: the first request with a key runs and its response
is kept 24 h; the same key with the same request replays that response; with another
request it is refused; while the first still runs, a second one is refused (IN_USE) rather
than run twice. The unique (account, key) row decides which request runs, across processes.

Once a request started executing, its response is kept whatever it was (userErrors,
INTERNAL: a mutation may have had effects, and a retry must not repeat them); only a request
refused before execution (authentication, rate limit, an invalid document or variables) or
one the database never answered leaves the key free. Secrets a response handed out are not
kept: a replay has them as null."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from meterbill.db.models import IdempotencyKey
from meterbill.services.now import utcnow

TTL = timedelta(hours=24)
# An IN_FLIGHT key older than this belongs to a request whose process died: taken over.
LEASE = timedelta(minutes=5)
MAX_KEY_LENGTH = 255
IN_FLIGHT, DONE = "IN_FLIGHT", "DONE"


class KeyConflict(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Claim:
    """run: execute the request, then complete() or release(); replay: send `response`."""

    run: bool
    row_id: int | None = None
    response: dict[str, Any] | None = None


def fingerprint(query: str | None, variables: dict[str, Any] | None, operation: str | None) -> str:
    canonical = json.dumps(
        {"query": query or "", "variables": variables or {}, "operationName": operation},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str | None:
    """Why the header value is not a usable key, or None."""
    if not key.strip():
        return "Idempotency-Key must not be empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters"
    return None


async def claim(account_id: str, key: str, fp: str, now: datetime | None = None) -> Claim:
    now = now or utcnow()
    for _ in range(3):
        try:
            created = await IdempotencyKey.create(
                account_id=account_id,
                key=key,
                fingerprint=fp,
                status=IN_FLIGHT,
                locked_at=now,
                expires_at=now + TTL,
            )
            return Claim(run=True, row_id=created.id)
        except IntegrityError:
            pass
        row = await IdempotencyKey.get_or_none(account_id=account_id, key=key)
        if row is None:
            continue  # released or purged in between: try to take it again
        if row.expires_at <= now:
            await IdempotencyKey.filter(id=row.id, expires_at__lte=now).delete()
            continue
        if row.fingerprint != fp:
            raise KeyConflict(
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was already used with a different request; "
                "use a new key for a new request",
            )
        if row.status == DONE:
            return Claim(run=False, response=json.loads(row.response or "null"))
        if row.locked_at <= now - LEASE:
            taken = await IdempotencyKey.filter(
                id=row.id, status=IN_FLIGHT, locked_at=row.locked_at
            ).update(locked_at=now)
            if taken:
                return Claim(run=True, row_id=row.id)
        raise KeyConflict(
            "IDEMPOTENCY_KEY_IN_USE",
            "a request with this Idempotency-Key is still being processed; retry later",
        )
    raise KeyConflict("IDEMPOTENCY_KEY_IN_USE", "this Idempotency-Key is contended; retry later")


async def complete(row_id: int, response: dict[str, Any]) -> None:
    body = json.dumps(response, separators=(",", ":"), default=str)
    await IdempotencyKey.filter(id=row_id).update(status=DONE, response=body)


async def release(row_id: int) -> None:
    await IdempotencyKey.filter(id=row_id, status=IN_FLIGHT).delete()


async def purge_expired(now: datetime | None = None) -> int:
    return await IdempotencyKey.filter(expires_at__lte=now or utcnow()).delete()
