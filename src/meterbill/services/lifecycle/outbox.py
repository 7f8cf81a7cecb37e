"""Domain event rows (the domain_events table), written in the transaction of the change they
report: the outbox a webhook worker delivers from, in (created_at, id) order.

An event's data is a snapshot of its object as the API would serialize it (camelCase scalar
and enum fields plus "object": "invoice", ...), JSON text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson

from meterbill.db import ids
from meterbill.db.stores import Columns, insert_rows
from meterbill.db.stores import webhooks as webhook_store
from meterbill.services.now import utcnow

COLUMNS: Columns = (
    ("id", "text"),
    ("account_id", "text"),
    ("type", "text"),
    ("object_id", "text"),
    ("data", "text"),
    ("created_at", "timestamptz"),
)
EventRow = tuple[str, str, str, str, str, datetime]


@cache
def camel(name: str) -> str:
    # Cached: a billing batch snapshots thousands of objects with the same few field names.
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def api_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return v


def snapshot(kind: str, obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """{"object": kind, <camelCase field>: <API value>, ...} of `obj`'s attributes."""
    out: dict[str, Any] = {"object": kind}
    for f in fields:
        v = getattr(obj, f)
        out[camel(f)] = api_value(v) if isinstance(v, datetime) else v
    return out


def snapshot_of(values: dict[str, Any]) -> dict[str, Any]:
    """`values` (snake_case names) as the API would serialize them."""
    return {camel(k): api_value(v) for k, v in values.items()}


def event(account_id: str, type_: str, object_id: str, data: dict[str, Any]) -> EventRow:
    """One event row; its time is the wall clock's (also for a test clock's changes)."""
    return (
        ids.domain_event_id(),
        account_id,
        type_,
        object_id,
        orjson.dumps(data).decode(),
        utcnow(),
    )


async def write(events: Sequence[EventRow]) -> None:
    """One INSERT of all `events` (none when there are none), in the open transaction, and
    one of their rows in the webhook fan-out queue (services/webhooks/fanout.py): queued
    together with the event, so none is lost or fanned out twice."""
    await insert_rows("domain_events", COLUMNS, events)
    await webhook_store.add_pending([(e[0], e[5]) for e in events])
