"""Ingest (data flow 1): resolve meters and customers in a few batched queries, validate,
insert in one transaction where the database's unique (account, identifier) decides
duplicates, commit, then ask a worker to aggregate (best effort)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from tortoise import connections
from tortoise.transactions import in_transaction

from meterbill.billing.aggregation import canonical_dimensions
from meterbill.billing.errors import DomainError, FieldError
from meterbill.billing.events import (
    MAX_EVENT_NAME_LENGTH,
    MeterDef,
    PlainRule,
    customer_key_fits,
    text_errors,
    validate_event,
)
from meterbill.db import ids, stores
from meterbill.db.models import Customer, Meter, MeterEvent
from meterbill.db.usage_sql import EventRow, insert_events, is_postgres
from meterbill.services.clock import customer_times, utcnow
from meterbill.services.usage import bulk, single
from meterbill.services.usage.aggregate import request_aggregation

MAX_BATCH = 1000
_NO_DIMENSIONS = canonical_dimensions({})


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


def _customer_key(meter: Meter, payload: Any) -> str | None:
    if not isinstance(payload, Mapping):
        return None
    raw = payload.get(meter.customer_payload_key)
    if isinstance(raw, str) and raw and customer_key_fits(meter.customer_mapping_type, raw):
        return raw
    return None  # validate_event says what is wrong, if anything


async def _resolve(
    account_id: str, inputs: Sequence[EventInput]
) -> tuple[dict[str, Meter], dict[tuple[str, str], Customer]]:
    """Meters by event name and customers by (mapping type, key): three queries at most."""
    names = {i.event_name for i in inputs}
    meters = {
        m.event_name: m
        for m in await Meter.filter(account_id=account_id, event_name__in=list(names))
    }
    by_id: set[str] = set()
    by_ext: set[str] = set()
    for i in inputs:
        meter = meters.get(i.event_name)
        key = _customer_key(meter, i.payload) if meter else None
        if key is not None and meter is not None:
            (by_id if meter.customer_mapping_type == "BY_ID" else by_ext).add(key)
    customers: dict[tuple[str, str], Customer] = {}
    cols = ("id", "external_id", "test_clock_id")
    if by_id:
        for c in await Customer.filter(account_id=account_id, id__in=list(by_id)).only(*cols):
            customers[("BY_ID", c.id)] = c
    if by_ext:
        qs = Customer.filter(account_id=account_id, external_id__in=list(by_ext)).only(*cols)
        for c in await qs:
            customers[("BY_EXTERNAL_ID", c.external_id or "")] = c
    return meters, customers


def _definitions(meters: dict[str, Meter]) -> dict[str, MeterDef]:
    return {name: bulk.meter_def(m) for name, m in meters.items()}


@dataclass
class _Valid:
    index: int
    row: EventRow


def _check(
    account_id: str,
    index: int,
    inp: EventInput,
    prefix: tuple[str, ...],
    meters: Mapping[str, Meter],
    defs: Mapping[str, MeterDef],
    customers: Mapping[tuple[str, str], Customer],
    times: Mapping[str, datetime],
    wall: datetime,
) -> _Valid | EventResult:
    meter = meters.get(inp.event_name)
    if meter is None:
        msg = f"no meter has eventName {inp.event_name!r}"
        err = FieldError("NOT_FOUND", msg, (*prefix, "eventName"))
        return EventResult(index, "REJECTED", inp.identifier, errors=[err])
    key = _customer_key(meter, inp.payload)
    customer = customers.get((meter.customer_mapping_type, key)) if key else None
    errors: list[FieldError] = []
    now = times[customer.id] if customer else wall
    try:
        valid = validate_event(
            defs[meter.event_name], inp.payload, inp.identifier, inp.timestamp, now, prefix
        )
    except DomainError as e:
        errors, valid = list(e.errors), None
    if key is not None and customer is None:
        how = "id" if meter.customer_mapping_type == "BY_ID" else "externalId"
        msg = f"no customer has {how} {key!r} (payload.{meter.customer_payload_key})"
        errors.append(
            FieldError("NOT_FOUND", msg, (*prefix, "payload", meter.customer_payload_key))
        )
    if errors or valid is None or customer is None:
        return EventResult(index, "REJECTED", inp.identifier, errors=errors)
    row = EventRow(
        account_id=account_id,
        meter_id=meter.id,
        customer_id=customer.id,
        identifier=valid.identifier or ids.event_id(),
        event_name=meter.event_name,
        value=valid.value,
        timestamp=valid.timestamp,
        dimensions_key=valid.dimensions_key,
        created_at=wall,
        unique_value=valid.unique_value,
    )
    return _Valid(index, row)


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


def _plain_row(
    i: int,
    inp: EventInput,
    meters: Mapping[str, Meter],
    rules: Mapping[str, PlainRule | None],
    customers: Mapping[tuple[str, str], Customer],
    times: Mapping[str, datetime],
) -> bulk.Row | None:
    """The row of a plainly valid event (billing.events.PlainRule), else None: _check then
    decides, and says what is wrong."""
    meter = meters.get(inp.event_name)
    rule = rules.get(inp.event_name)
    payload = inp.payload
    if meter is None or rule is None or type(payload) is not dict:
        return None
    key = payload.get(meter.customer_payload_key)
    if type(key) is not str or not key:
        return None
    customer = customers.get((meter.customer_mapping_type, key))
    if customer is None:
        return None
    got = rule.check(payload, inp.identifier, inp.timestamp, times[customer.id])
    if got is None:
        return None
    value, unique, ts = got
    ident = ids.event_id() if inp.identifier is None else inp.identifier
    return (i, meter.id, customer.id, ident, meter.event_name, value, ts, _NO_DIMENSIONS, unique)


async def _record_batch_pg(
    account_id: str,
    inputs: Sequence[EventInput],
    meters: Mapping[str, Meter],
    defs: Mapping[str, MeterDef],
    customers: Mapping[tuple[str, str], Customer],
    times: Mapping[str, datetime],
    wall: datetime,
    unstorable: Mapping[int, EventResult],
) -> list[EventResult]:
    """record_events for a batch on PostgreSQL: the answer of the general loop below at
    about bulk ingest's cost (API CPU ~26 -> ~16 us/event in-process): a plain event is
    checked by a few dict gets instead of validate_event (_check still answers anything
    else, with its errors), rows go as text arrays in bulk's one autocommit unnest INSERT
    (atomic: one statement) instead of a transaction around tortoise's execute."""
    results: list[EventResult | None] = [None] * len(inputs)
    rows: list[bulk.Row] = []
    rules = {name: PlainRule.of(d) for name, d in defs.items()}
    for i, inp in enumerate(inputs):
        if i in unstorable:
            results[i] = unstorable[i]
            continue
        row = _plain_row(i, inp, meters, rules, customers, times)
        if row is None:
            checked = _check(
                account_id, i, inp, ("input", str(i)), meters, defs, customers, times, wall
            )
            if isinstance(checked, EventResult):
                results[i] = checked
                continue
            r = checked.row
            row = (
                i,
                r.meter_id,
                r.customer_id,
                r.identifier,
                r.event_name,
                format(r.value, "f"),
                r.timestamp,
                r.dimensions_key,
                r.unique_value,
            )
        rows.append(row)
    if rows:
        inserted = await bulk.insert_rows(account_id, wall, rows)
        claimed: set[str] = set()
        duplicates: list[bulk.Row] = []
        for row in rows:
            ident = row[3]
            if ident not in claimed and (inserted is None or ident in inserted):
                results[row[0]] = EventResult(row[0], "ACCEPTED", ident)
            else:
                duplicates.append(row)
            claimed.add(ident)
        if duplicates:
            wanted = list({d[3] for d in duplicates})
            originals = {e.identifier: e for e in await _find(account_id, wanted)}
            for d in duplicates:
                results[d[0]] = EventResult(d[0], "DUPLICATE", d[3], originals.get(d[3]))
        if inserted is None or inserted:
            await request_aggregation()
    out = [r for r in results if r is not None]
    assert len(out) == len(inputs)
    return out


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
    storable = [inp for i, inp in enumerate(inputs) if i not in unstorable]
    meters, customers = await _resolve(account_id, storable)
    defs = _definitions(meters)
    single.directory.learn(account_id, meters, defs, customers)
    times = await customer_times(customers.values())
    wall = utcnow()
    if batch and is_postgres(connections.get("default")):
        return await _record_batch_pg(
            account_id, inputs, meters, defs, customers, times, wall, unstorable
        )
    results: list[EventResult | None] = [None] * len(inputs)
    valid: list[_Valid] = []
    for i, inp in enumerate(inputs):
        if i in unstorable:
            results[i] = unstorable[i]
            continue
        prefix = ("input", str(i)) if batch else ("input",)
        checked = _check(account_id, i, inp, prefix, meters, defs, customers, times, wall)
        if isinstance(checked, EventResult):
            results[i] = checked
        else:
            valid.append(checked)

    if valid:
        await stores.current().events.ensure((v.row.timestamp for v in valid), wall)
        async with in_transaction() as conn:
            inserted = await insert_events(conn, [v.row for v in valid])
        claimed: set[str] = set()
        duplicates: list[_Valid] = []
        for v in valid:
            ident = v.row.identifier
            if ident in inserted and ident not in claimed:
                claimed.add(ident)
                # Building model objects costs more than the insert: only when answered.
                event = _event_of(v.row, inserted[ident]) if not batch else None
                results[v.index] = EventResult(v.index, "ACCEPTED", ident, event)
            else:
                duplicates.append(v)
        if duplicates:
            wanted = list({d.row.identifier for d in duplicates})
            originals = {e.identifier: e for e in await _find(account_id, wanted)}
            for d in duplicates:
                ident = d.row.identifier
                results[d.index] = EventResult(d.index, "DUPLICATE", ident, originals.get(ident))
        if inserted:
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
    On PostgreSQL, a meter and customer seen before skip the lookups and share an INSERT
    with concurrent calls (services/usage/single.py); anything unusual takes the general
    path."""
    conn = connections.get("default")
    if is_postgres(conn) and not _unstorable([inp], False):
        result = await _record_known(conn, account_id, inp)
        if result is not None:
            return result
    return (await record_events(account_id, [inp], batch=False))[0]


async def _record_known(conn: Any, account_id: str, inp: EventInput) -> EventResult | None:
    """The fast path, or None when the general path must answer."""
    known = single.directory.meters.get((account_id, inp.event_name))
    if known is None:
        return None
    meter = known.meter
    mapping = meter.customer_mapping_type
    ref = _customer_key(meter, inp.payload)
    customer = single.directory.customers.get((account_id, mapping, ref)) if ref else None
    if customer is None or ref is None:
        return None
    wall = utcnow()
    checked = _check(
        account_id,
        0,
        inp,
        ("input",),
        {meter.event_name: meter},
        {meter.event_name: known.definition},
        {(mapping, ref): customer},
        {customer.id: wall},
        wall,
    )
    if isinstance(checked, EventResult):
        # Rejections are rare: let the general path answer from fresh rows (the meter
        # may have been deactivated since it was remembered).
        return None
    row = checked.row
    external = ref if mapping == "BY_EXTERNAL_ID" else None
    await stores.current().events.ensure((row.timestamp,), wall)
    outcome = await single.writer_for(conn).write(single.Pending(row, external))
    if outcome.status == single.STALE:
        single.directory.forget(account_id, inp.event_name, mapping, ref)
        return None
    if outcome.status == single.DUPLICATE:
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
