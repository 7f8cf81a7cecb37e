"""Ingest (data flow 1): resolve meters and customers in a few batched queries, validate,
insert in one transaction where the database's unique (account, identifier) decides
duplicates, commit, then ask a worker to aggregate (best effort)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from meterbill.billing.errors import DomainError, FieldError
from meterbill.billing.events import MeterDef, validate_event
from meterbill.db import ids
from meterbill.db.models import Customer, Meter, MeterEvent
from meterbill.db.usage_sql import EventRow, insert_events, is_postgres
from meterbill.services.clock import customer_times, utcnow
from meterbill.services.usage import single
from meterbill.services.usage.aggregate import request_aggregation

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


def meter_def(m: Meter) -> MeterDef:
    return MeterDef(
        event_name=m.event_name,
        aggregation=m.aggregation,
        customer_mapping_type=m.customer_mapping_type,
        customer_payload_key=m.customer_payload_key,
        value_payload_key=m.value_payload_key,
        dimension_keys=list(m.dimension_keys),
        active=m.status == "ACTIVE",
    )


def _customer_key(meter: Meter, payload: Any) -> str | None:
    if not isinstance(payload, Mapping):
        return None
    raw = payload.get(meter.customer_payload_key)
    return raw if isinstance(raw, str) and raw else None


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
    return {name: meter_def(m) for name, m in meters.items()}


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
        aggregated=False,
        created_at=row.created_at,
        canceled_at=None,
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
    meters, customers = await _resolve(account_id, inputs)
    defs = _definitions(meters)
    single.directory.learn(account_id, meters, defs, customers)
    times = await customer_times(customers.values())
    wall = utcnow()
    results: list[EventResult | None] = [None] * len(inputs)
    valid: list[_Valid] = []
    for i, inp in enumerate(inputs):
        prefix = ("input", str(i)) if batch else ("input",)
        checked = _check(account_id, i, inp, prefix, meters, defs, customers, times, wall)
        if isinstance(checked, EventResult):
            results[i] = checked
        else:
            valid.append(checked)

    if valid:
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
            originals = {
                e.identifier: e
                for e in await MeterEvent.filter(account_id=account_id, identifier__in=wanted)
            }
            for d in duplicates:
                ident = d.row.identifier
                results[d.index] = EventResult(d.index, "DUPLICATE", ident, originals.get(ident))
        if inserted:
            await request_aggregation()
    out = [r for r in results if r is not None]
    assert len(out) == len(inputs)
    return out


async def record_event(account_id: str, inp: EventInput) -> EventResult:
    """One event (recordMeterEvent): the same answer as record_events(..., batch=False).
    On PostgreSQL, a meter and customer seen before skip the lookups and share an INSERT
    with concurrent calls (services/usage/single.py); anything unusual takes the general
    path."""
    conn = connections.get("default")
    if is_postgres(conn):
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
    outcome = await single.writer_for(conn).write(single.Pending(row, external))
    if outcome.status == single.STALE:
        single.directory.forget(account_id, inp.event_name, mapping, ref)
        return None
    if outcome.status == single.DUPLICATE:
        original = await MeterEvent.filter(account_id=account_id, identifier=row.identifier).first()
        return EventResult(0, "DUPLICATE", row.identifier, original)
    assert outcome.event_id is not None
    await request_aggregation()
    return EventResult(0, "ACCEPTED", row.identifier, _event_of(row, outcome.event_id))


def count(results: Sequence[EventResult], status: str) -> int:
    return sum(1 for r in results if r.status == status)
