"""Ingest (data flow 1): resolve meters and customers in a few batched queries, validate,
insert in one transaction where the database's unique (account, identifier) decides
duplicates, commit, then ask a worker to aggregate (best effort)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from tortoise import connections

from meterbill.billing.errors import DomainError, FieldError
from meterbill.billing.events import MAX_EVENT_NAME_LENGTH, text_errors
from meterbill.db import stores
from meterbill.db.models import MeterEvent
from meterbill.db.stores.events import DUPLICATE, STALE, Pending
from meterbill.db.usage_sql import EventRow, Row, event_row
from meterbill.services.now import utcnow
from meterbill.services.usage import single
from meterbill.services.usage.aggregate import request_aggregation
from meterbill.services.usage.resolve import Resolver

MAX_BATCH = 1000


@dataclass(frozen=True)
class EventInput:
    event_name: str
    payload: Any  # decoded JSON, whatever the client sent
    identifier: str | None = None
    timestamp: datetime | None = None


@dataclass
class EventResult:
    index: int
    status: str  # ACCEPTED | DUPLICATE | REJECTED
    identifier: str | None
    # The recorded event: the new one (single-event calls only), or for a duplicate the
    # ORIGINAL one.
    event: MeterEvent | None = None
    errors: list[FieldError] = field(default_factory=list)


def _check(
    resolver: Resolver, i: int, inp: EventInput, prefix: tuple[str, ...], wall: datetime
) -> Row | EventResult:
    """The event's row (the fast path, else the reference check), or its rejection."""
    got = resolver.plain(i, inp.event_name, inp.payload, inp.identifier, inp.timestamp, wall)
    if got is not None:
        return got
    checked = resolver.reference(
        i, inp.event_name, inp.payload, inp.identifier, inp.timestamp, wall
    )
    if isinstance(checked, list):
        return EventResult(
            i, "REJECTED", inp.identifier, errors=[e.under(*prefix) for e in checked]
        )
    return checked


def _event_of(row: EventRow, event_id: int) -> MeterEvent:
    # As if read back: the ORM's loader is ~3x cheaper than MeterEvent(...) (which validates
    # every field), and the row is what the INSERT stored.
    return MeterEvent._init_from_db(
        id=event_id,
        account_id=row.account_id,
        meter_id=row.meter_id,
        customer_id=row.customer_id,
        identifier=row.identifier,
        event_name=row.event_name,
        value=row.value,
        timestamp=row.timestamp,
        dimensions_key=row.dimensions_key,
        status="ACCEPTED",
        created_at=row.created_at,
        canceled_at=None,
        unique_value=row.unique_value,
    )


async def record_events(
    account_id: str, inputs: Sequence[EventInput], *, batch: bool = True
) -> list[EventResult]:
    """One result per input, in input order. Field paths start ["input", "<index>", ...] for a
    batch and ["input", ...] for a single event. Over MAX_BATCH: DomainError, nothing stored."""
    if len(inputs) > MAX_BATCH:
        msg = f"at most {MAX_BATCH} events per call; got {len(inputs)}: split the batch"
        raise DomainError([FieldError("INVALID", msg, ("input",))])
    if not inputs:
        return []
    unstorable = _unstorable(inputs, batch)
    resolver = Resolver(account_id)
    await resolver.resolve(
        (inp.event_name, inp.payload) for i, inp in enumerate(inputs) if i not in unstorable
    )
    single.directory.learn(resolver)
    wall = utcnow()
    results: list[EventResult | None] = [None] * len(inputs)
    rows: list[Row] = []
    for i, inp in enumerate(inputs):
        if i in unstorable:
            results[i] = unstorable[i]
            continue
        checked = _check(resolver, i, inp, ("input", str(i)) if batch else ("input",), wall)
        if isinstance(checked, EventResult):
            results[i] = checked
        else:
            rows.append(checked)
    if rows:
        inserted = await stores.current().events.insert(account_id, wall, rows)
        claimed: set[str] = set()
        accepted: list[Row] = []
        duplicates: list[Row] = []
        for row in rows:
            ident = row[3]
            if ident not in claimed and (inserted is None or ident in inserted):
                accepted.append(row)
            else:
                duplicates.append(row)
            claimed.add(ident)
        # A single event's answer carries the stored event; a duplicate's the original one.
        wanted = {d[3] for d in duplicates} | ({r[3] for r in accepted} if not batch else set())
        found = {e.identifier: e for e in await _find(account_id, list(wanted))} if wanted else {}
        for r in accepted:
            results[r[0]] = EventResult(r[0], "ACCEPTED", r[3], found.get(r[3]))
        for d in duplicates:
            results[d[0]] = EventResult(d[0], "DUPLICATE", d[3], found.get(d[3]))
        if inserted is None or inserted:
            await request_aggregation()
    out = [r for r in results if r is not None]
    assert len(out) == len(inputs)
    return out


def _unstorable(inputs: Sequence[EventInput], batch: bool) -> dict[int, EventResult]:
    """REJECTED results for the events holding a string the database cannot store (U+0000,
    lone surrogates, longer than its column: text_errors), by index: they must not reach
    any query. One orjson pass and a length test clear a whole batch at once (orjson
    refuses lone surrogates and writes U+0000 as an escape); the per-event check names the
    fields when they do not."""
    try:
        blob = orjson.dumps([(i.event_name, i.identifier, i.payload) for i in inputs])
        clean = b"\\u0000" not in blob
    except (orjson.JSONEncodeError, TypeError):
        clean = False  # a lone surrogate, or a value orjson cannot write (in-process callers)
    if clean and not any(_too_long(i) for i in inputs):
        return {}
    out = {}
    for i, inp in enumerate(inputs):
        prefix = ("input", str(i)) if batch else ("input",)
        errors = text_errors(inp.event_name, inp.payload, inp.identifier, prefix)
        if errors:
            out[i] = EventResult(i, "REJECTED", inp.identifier, errors=errors)
    return out


def _too_long(inp: EventInput) -> bool:
    # text_errors' length rule, as a quick test of the usual event (it names the field).
    return len(inp.event_name) > MAX_EVENT_NAME_LENGTH


async def record_event(account_id: str, inp: EventInput) -> EventResult:
    """One event (recordMeterEvent): the same answer as record_events(..., batch=False).
    A meter and customer seen before skip the lookups and share an insert with concurrent
    calls (services/usage/single.py); anything unusual takes the general path."""
    if not _unstorable([inp], False):
        result = await _record_known(connections.get("default"), account_id, inp)
        if result is not None:
            return result
    return (await record_events(account_id, [inp], batch=False))[0]


async def _record_known(conn: Any, account_id: str, inp: EventInput) -> EventResult | None:
    """The fast path, or None when the general path must answer."""
    resolver = single.directory.resolver(account_id, inp.event_name, inp.payload)
    if resolver is None:
        return None
    wall = utcnow()
    checked = _check(resolver, 0, inp, ("input",), wall)
    if isinstance(checked, EventResult):
        # Rejections are rare: let the general path answer from fresh rows (the meter
        # may have been deactivated since it was remembered).
        return None
    row = event_row(account_id, wall, checked)
    meter = resolver.meters[inp.event_name]
    assert meter is not None
    ((mapping, ref),) = resolver.customers
    external = ref if mapping == "BY_EXTERNAL_ID" else None
    await stores.current().events.ensure((row.timestamp,), wall)
    outcome = await single.writer_for(conn).write(Pending(row, external))
    if outcome.status == STALE:
        single.directory.forget(account_id, inp.event_name, mapping, ref)
        return None
    if outcome.status == DUPLICATE:
        found = await _find(account_id, [row.identifier])
        original = found[0] if found else None
        return EventResult(0, "DUPLICATE", row.identifier, original)
    assert outcome.event_id is not None
    await request_aggregation()
    return EventResult(0, "ACCEPTED", row.identifier, _event_of(row, outcome.event_id))


async def _find(account_id: str, identifiers: Sequence[str]) -> list[MeterEvent]:
    """The stored events of these identifiers (a duplicate's original)."""
    return await stores.current().events.find(connections.get("default"), account_id, identifiers)


def count(results: Sequence[EventResult], status: str) -> int:
    return sum(1 for r in results if r.status == status)
