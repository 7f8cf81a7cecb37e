"""Event log -> deliveries: one delivery per (event, ENABLED endpoint of its account whose
enabledEvents match), exactly once per event.

A batch takes rows of webhook_pending (SKIP LOCKED on PostgreSQL: two workers split the
queue), deletes them and inserts their deliveries in one transaction. A worker killed in
between rolls back: the rows wait for the next pass; none is fanned out twice."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import orjson
from tortoise.transactions import in_transaction

from meterbill.db import ids
from meterbill.db.models import WebhookPending
from meterbill.db.stores import webhooks as store
from meterbill.services.now import utcnow
from meterbill.services.webhooks.endpoints import matches

BATCH = 500
DeliveryRow = tuple[str, str, str, str, str, int, datetime, datetime]


def delivery_row(account_id: str, event_id: str, endpoint_id: str, now: datetime) -> DeliveryRow:
    """A new PENDING delivery, due now: the first attempt is at once."""
    return (ids.webhook_delivery_id(), account_id, event_id, endpoint_id, "PENDING", 0, now, now)


async def _batch(limit: int) -> tuple[int, int]:
    """(deliveries created, events taken) of one batch."""
    async with in_transaction() as conn:
        event_ids = await store.claim_pending(conn, limit)
        if not event_ids:
            return 0, 0
        events = await store.events(conn, event_ids, "id, account_id, type")
        accounts = sorted({e["account_id"] for e in events})
        endpoints: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
        for ep in await store.enabled_endpoints(conn, accounts):
            endpoints[ep["account_id"]].append((ep["id"], orjson.loads(ep["enabled_events"])))
        now = utcnow()
        rows = [
            delivery_row(e["account_id"], e["id"], ep_id, now)
            for e in events
            for ep_id, enabled in endpoints.get(e["account_id"], ())
            if matches(enabled, e["type"])
        ]
        await store.insert_deliveries(rows)
        return len(rows), len(event_ids)


async def fan_out(limit: int = BATCH, max_batches: int = 20) -> int:
    """Batches while the last one was full; returns the deliveries created."""
    if not await WebhookPending.exists():  # the usual case: no transaction at all
        return 0
    total = 0
    for _ in range(max_batches):
        created, taken = await _batch(limit)
        total += created
        if taken < limit:
            break
    return total
