"""Deliveries: taking due ones (with a lease), what their attempts need, recording outcomes
by MB_WEBHOOK_RETRY_SCHEDULE, the delivery log per endpoint, and resend.

A taken delivery's next_attempt_at moves to the end of a lease (twice the timeout plus a
margin): the worker that took it records the outcome before then; one killed meanwhile
leaves it due again at the lease's end, for any worker's next pass. At least once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from standardwebhooks import Webhook
from tortoise import connections

from meterbill.billing.errors import DomainError, FieldError, not_found
from meterbill.db.models import DomainEvent, WebhookDelivery, WebhookEndpoint
from meterbill.db.stores import webhooks as store
from meterbill.services.lifecycle.outbox import api_value
from meterbill.services.now import utcnow
from meterbill.services.pages import Page, paginate
from meterbill.services.webhooks import config, secrets, signing
from meterbill.services.webhooks.fanout import delivery_row
from meterbill.services.webhooks.send import Outcome


@dataclass(frozen=True)
class Job:
    """One attempt to make: everything but the timestamp and signature, which are the
    attempt's own."""

    delivery_id: str
    endpoint_id: str
    attempt_count: int
    url: str
    enabled: bool
    msg_id: str
    payload: bytes
    signer: Webhook


@lru_cache(maxsize=1024)
def _signer(endpoint_id: str, stored: str) -> Webhook:
    """Decrypted once per process and secret, not once per attempt."""
    return signing.signer(secrets.decrypt(stored, endpoint_id))


def lease_seconds() -> float:
    """A taken delivery may wait for one round of its endpoint's attempts in the process
    (webhook_loop.HOLD_PER_SLOT), then take one attempt: twice the timeout, plus a margin."""
    return 2 * config().timeout + config().lease_margin


async def take(free: Mapping[str, int], default_free: int, limit: int) -> list[Job]:
    """Lease up to `limit` due deliveries, at most free.get(endpoint, default_free) of each
    endpoint (the caller's free slots), and load what their attempts need."""
    if limit <= 0:
        return []
    now = utcnow()
    # No transaction: the lease is one UPDATE that re-checks each row is still due, so a
    # row another worker leased between the two statements is simply not taken here.
    conn = connections.get("default")
    candidates = await store.due(conn, now, default_free, limit * 4)
    chosen: list[str] = []
    left = dict(free)
    for c in candidates:
        n = left.get(c["endpoint_id"], default_free)
        if n > 0 and len(chosen) < limit:
            chosen.append(c["id"])
            left[c["endpoint_id"]] = n - 1
    until = now + timedelta(seconds=lease_seconds())
    leased = await store.lease(conn, chosen, now, until)
    if not leased:
        return []
    events = {
        e.id: e for e in await DomainEvent.filter(id__in=list({r["event_id"] for r in leased}))
    }
    endpoints = {
        e.id: e
        for e in await WebhookEndpoint.filter(id__in=list({r["endpoint_id"] for r in leased}))
    }
    jobs = []
    for r in leased:
        ev, ep = events.get(r["event_id"]), endpoints.get(r["endpoint_id"])
        if ev is None or ep is None:  # deleted meanwhile: the cascade took the row too
            continue
        stamp = api_value(ev.created_at)
        jobs.append(
            Job(
                delivery_id=r["id"],
                endpoint_id=ep.id,
                attempt_count=int(r["attempt_count"]),
                url=ep.url,
                enabled=ep.status == "ENABLED",
                msg_id=ev.id,
                payload=signing.body(ev.id, ev.type, stamp, ev.data),
                signer=_signer(ep.id, ep.secret_encrypted),
            )
        )
    return jobs


def outcome_row(
    job: Job, outcome: Outcome, at: datetime
) -> tuple[str, str, int, datetime, datetime | None, int | None, str | None]:
    """The delivery's new state after `outcome` (an attempt made at `at`)."""
    n = job.attempt_count + 1
    schedule = config().retry_schedule
    if outcome.ok:
        return (job.delivery_id, "SUCCEEDED", n, at, None, outcome.status, None)
    if outcome.final or n > len(schedule):
        return (job.delivery_id, "FAILED", n, at, None, outcome.status, outcome.error)
    retry = at + timedelta(seconds=schedule[n - 1])
    return (job.delivery_id, "PENDING", n, at, retry, outcome.status, outcome.error)


def disabled_row(job: Job) -> tuple[str, str, int, None, None, None, str]:
    """Not attempted: the endpoint was disabled after the delivery was made."""
    return (job.delivery_id, "FAILED", job.attempt_count, None, None, None, "endpoint disabled")


async def record(rows: Sequence[Sequence[object]]) -> None:
    await store.save_outcomes(rows)


# ---------------------------------------------------------------- the API's side


async def list_deliveries(
    account_id: str,
    endpoint_id: str,
    event_id: str | None,
    status: str | None,
    first: int,
    after: str | None,
) -> tuple[Page[WebhookDelivery], dict[str, DomainEvent], WebhookEndpoint]:
    """A page of an endpoint's delivery log, newest first, with their events."""
    endpoint = await WebhookEndpoint.get_or_none(id=endpoint_id, account_id=account_id)
    if endpoint is None:
        raise not_found(f"no webhook endpoint {endpoint_id}", "endpointId")
    qs = WebhookDelivery.filter(endpoint_id=endpoint.id, account_id=account_id)
    if event_id is not None:
        qs = qs.filter(event_id=event_id)
    if status is not None:
        qs = qs.filter(status=status)
    page = await paginate(qs, first, after)
    wanted = list({d.event_id for d in page.items})
    events = {e.id: e for e in await DomainEvent.filter(id__in=wanted, account_id=account_id)}
    return page, events, endpoint


async def resend(
    account_id: str, event_id: str, endpoint_id: str
) -> tuple[WebhookDelivery, DomainEvent, WebhookEndpoint]:
    """A new delivery of the event to the endpoint, due now (whatever its enabledEvents:
    the caller asked for this one)."""
    event = await DomainEvent.get_or_none(id=event_id, account_id=account_id)
    endpoint = await WebhookEndpoint.get_or_none(id=endpoint_id, account_id=account_id)
    errors = []
    if event is None:
        errors.append(FieldError("NOT_FOUND", f"no event {event_id}", ("input", "eventId")))
    if endpoint is None:
        msg = f"no webhook endpoint {endpoint_id}"
        errors.append(FieldError("NOT_FOUND", msg, ("input", "endpointId")))
    if event is None or endpoint is None:
        raise DomainError(errors)
    row = delivery_row(account_id, event.id, endpoint.id, utcnow())
    await store.insert_deliveries([row])
    delivery = await WebhookDelivery.get(id=row[0])
    return delivery, event, endpoint
