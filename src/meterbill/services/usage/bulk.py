"""Bulk ingest (POST /v1/meter_events): the same validation, idempotency and durability as
record_events, shaped for millions of events per request.

Differences that are only about cost, not about the answer:
- meters and customers are looked up once per distinct name / key per REQUEST (cached, misses
  too) instead of once per chunk, and test-clock times once per customer;
- an event goes through a fast check first (plain dict gets, parsed values cached by their
  text); anything unusual (an error, dimensions, an inactive meter) goes through the
  reference check below (validate_event), which says exactly what is wrong;
- one insert per chunk (the event store's: on PostgreSQL one autocommit statement, one
  round trip, and no dict per returned row).

Outcomes are (status, identifier, errors) per event in input order; error paths are relative
to the event (("payload", "value")), with the endpoint's snake_case names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from meterbill.billing.aggregation import canonical_dimensions
from meterbill.billing.errors import FieldError
from meterbill.billing.events import text_errors
from meterbill.db import stores
from meterbill.db.usage_sql import Row
from meterbill.services.now import utcnow
from meterbill.services.usage.aggregate import request_aggregation
from meterbill.services.usage.resolve import Resolver, plain_row

FIELDS = frozenset({"event_name", "payload", "identifier", "timestamp"})
_FIELD_ORDER = ("event_name", "payload", "identifier", "timestamp")
_NO_DIMENSIONS = canonical_dimensions({})

Outcome = tuple[str, str | None, Sequence[FieldError]]  # status, identifier, errors


def _snake(e: FieldError) -> FieldError:
    """validate_event names the event's fields as GraphQL does; this endpoint speaks
    snake_case (payload keys stay as the client wrote them)."""
    if e.field and e.field[0] == "eventName":
        return FieldError(e.code, e.message, ("event_name", *e.field[1:]))
    return e


def _reject(code: str, message: str, *field: str) -> FieldError:
    return FieldError(code, message, tuple(field))


class Shape:
    """A decoded event's fields once its JSON shape is right (the reference path's input)."""

    __slots__ = ("event_name", "identifier", "payload", "timestamp")

    def __init__(
        self, event_name: str, payload: Any, identifier: str | None, timestamp: datetime | None
    ):
        self.event_name = event_name
        self.payload = payload
        self.identifier = identifier
        self.timestamp = timestamp


def shape(obj: Any) -> Shape | FieldError:
    """A decoded JSON value as an event, or the first thing wrong with its shape."""
    if not isinstance(obj, dict):
        return _reject("INVALID", "each event must be a JSON object")
    unknown = sorted(k for k in obj if k not in FIELDS)
    if unknown:
        known = list(_FIELD_ORDER)
        return _reject("INVALID", f"unknown fields {unknown}; known: {known}", unknown[0])
    name = obj.get("event_name")
    if name is None:
        return _reject("REQUIRED", "event_name is required", "event_name")
    if not isinstance(name, str):
        return _reject("INVALID", "event_name must be a string", "event_name")
    if "payload" not in obj:
        return _reject("REQUIRED", "payload is required", "payload")
    ident = obj.get("identifier")
    if ident is not None and not isinstance(ident, str):
        return _reject("INVALID", "identifier must be a string", "identifier")
    raw_ts = obj.get("timestamp")
    ts: datetime | None = None
    if raw_ts is not None:
        try:
            if not isinstance(raw_ts, str):
                raise ValueError
            ts = datetime.fromisoformat(raw_ts)
        except ValueError:
            return _reject("INVALID", "timestamp must be an ISO 8601 date-time", "timestamp")
        if ts.tzinfo is None:
            return _reject("INVALID", "timestamp must include a timezone", "timestamp")
    return Shape(name, obj["payload"], ident, ts)


class BulkIngest:
    """One request's ingest: add() events, take() a chunk and store() it. The caller stores
    chunks one after another, in order, so the first of two equal identifiers in the body
    is the one kept and reported ACCEPTED."""

    def __init__(self, account_id: str):
        self.account_id = account_id
        self._resolver = Resolver(account_id)
        self._open: Chunk | None = None

    async def _resolve(self, objs: Iterable[Any]) -> None:
        await self._resolver.resolve(
            (obj.get("event_name"), obj.get("payload")) for obj in objs if type(obj) is dict
        )

    def _fast(self, i: int, obj: Any, wall: datetime) -> Row | Literal[False] | None:
        """The row of a plainly valid event (billing.events.PlainRule); None when it needs
        the reference check; False when a meter or customer it names is not resolved yet."""
        if type(obj) is not dict or not obj.keys() <= FIELDS:
            return None
        name = obj.get("event_name")
        if type(name) is not str:
            return None
        meters = self._resolver.meters
        if name not in meters:
            return False
        meter = meters[name]
        if meter is None or meter.plain is None:
            return None
        payload = obj.get("payload")
        if type(payload) is not dict:
            return None
        key = payload.get(meter.customer_key)
        if type(key) is not str or not key:
            return None
        customers = self._resolver.customers
        ck = (meter.mapping, key)
        if ck not in customers:
            return False
        customer = customers[ck]
        if customer is None:
            return None
        raw_ts = obj.get("timestamp")
        ts = None
        if raw_ts is not None:
            if type(raw_ts) is not str:
                return None
            try:
                ts = datetime.fromisoformat(raw_ts)
            except ValueError:
                return None
        return plain_row(i, meter, customer, payload, obj.get("identifier"), ts, wall)

    def _reference(self, i: int, obj: Any, wall: datetime) -> Row | Outcome:
        """The reference check of one event (its meter and customer resolved): its row, or
        its outcome with the errors exactly as recordMeterEvents reports them (paths
        relative to the event, in this endpoint's names)."""
        inp = shape(obj)
        if isinstance(inp, FieldError):
            return ("REJECTED", None, [inp])
        # Strings longer than their columns (the payload's text was checked on decoding).
        unstorable = text_errors(inp.event_name, None, inp.identifier)
        if unstorable:
            bad_ident = any(e.field == ("identifier",) for e in unstorable)
            ident = None if bad_ident else inp.identifier
            return ("REJECTED", ident, [_snake(e) for e in unstorable])
        got = self._resolver.reference(
            i, inp.event_name, inp.payload, inp.identifier, inp.timestamp, wall
        )
        if isinstance(got, list):
            return ("REJECTED", inp.identifier, [_snake(e) for e in got])
        return got

    async def add(self, values: Iterable[Any]) -> int:
        """Check the next events (decoded JSON values; a FieldError in place of one is why it
        could not be decoded) into the open chunk; returns how many events it holds. Each
        value is dropped once checked, so a body's dicts die young (cheap for the GC).
        Queries only for meters and customers not seen before in this request."""
        chunk = self._open
        if chunk is None:
            chunk = self._open = Chunk(self.account_id, utcnow())
        wall = chunk.created_at
        out, rows = chunk.out, chunk.rows
        later: list[tuple[int, Any]] = []
        fast = self._fast
        i = len(out)
        for obj in values:
            row = fast(i, obj, wall)
            if row:
                rows.append(row)
                out.append(None)
            elif isinstance(obj, FieldError):
                out.append(("REJECTED", None, (obj,)))
            else:
                later.append((i, obj))
                out.append(None)
            i += 1
        if later:
            await self._resolve([obj for _, obj in later])
            for i, obj in later:
                got = fast(i, obj, wall) or self._reference(i, obj, wall)
                if isinstance(got[0], str):
                    out[i] = got
                else:
                    rows.append(got)
            chunk.sorted = False
        return len(out)

    def take(self) -> Chunk | None:
        """The open chunk, to store; the next add() opens a new one."""
        chunk, self._open = self._open, None
        return chunk


class Chunk:
    """Checked events that go into one INSERT: outcomes of the rejected ones (None where the
    INSERT decides), rows of the valid ones."""

    __slots__ = ("account_id", "created_at", "out", "rows", "sorted")

    def __init__(self, account_id: str, created_at: datetime):
        self.account_id = account_id
        self.created_at = created_at
        self.out: list[Outcome | None] = []
        self.rows: list[Row] = []
        self.sorted = True

    async def store(self) -> list[Outcome]:
        """Insert the valid rows (committed when this returns); every event's outcome in
        input order."""
        out, rows = self.out, self.rows
        if rows:
            if not self.sorted:
                # Input order decides which of two equal identifiers is kept.
                rows.sort(key=_first)
            inserted = await stores.current().events.insert(self.account_id, self.created_at, rows)
            seen: set[str] = set()
            for row in rows:
                ident = row[3]
                if ident not in seen and (inserted is None or ident in inserted):
                    out[row[0]] = ("ACCEPTED", ident, ())
                else:
                    out[row[0]] = ("DUPLICATE", ident, ())
                seen.add(ident)
            if inserted is None or inserted:
                await request_aggregation()
        return out  # type: ignore[return-value]


def _first(row: Row) -> int:
    return row[0]
