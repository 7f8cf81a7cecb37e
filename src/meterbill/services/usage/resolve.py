"""The one resolve and the one reference check of ingest (recordMeterEvent(s) and bulk).

A Resolver looks up the meters and customers events name, once per distinct name or key
(misses too) for as long as it lives: one GraphQL call, or one whole bulk request. The
reference check (`reference`) is validate_event plus the lookups' own errors; the fast path
(billing.events.PlainRule) is the cheap way through the same rule for plain events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from meterbill.billing.aggregation import canonical_dimensions
from meterbill.billing.errors import DomainError, FieldError
from meterbill.billing.events import (
    MAX_EVENT_NAME_LENGTH,
    MeterDef,
    PlainRule,
    customer_key_fits,
    validate_event,
)
from meterbill.db import ids
from meterbill.db.models import Customer, Meter
from meterbill.db.usage_sql import Row
from meterbill.services.now import customer_times

NO_DIMENSIONS = canonical_dimensions({})


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


class MeterInfo:
    """What the checks need of a meter, read once."""

    __slots__ = ("customer_key", "definition", "id", "mapping", "model", "name", "plain")

    def __init__(self, m: Meter):
        self.model = m
        self.id = m.id
        self.name = m.event_name
        self.definition = meter_def(m)
        self.mapping = m.customer_mapping_type
        self.customer_key = m.customer_payload_key
        self.plain = PlainRule.of(self.definition)


# A customer found: (id, its test clock's frozen time or None, the row).
Found = tuple[str, datetime | None, Customer]


class Resolver:
    def __init__(self, account_id: str):
        self.account_id = account_id
        self.meters: dict[str, MeterInfo | None] = {}  # None: no meter has that name
        self.customers: dict[tuple[str, str], Found | None] = {}  # (mapping, key); None: none

    async def resolve(self, events: Iterable[tuple[Any, Any]]) -> None:
        """Look up the meters and customers of these (event name, payload) that are not
        known yet: at most three queries."""
        events = list(events)
        names = set()
        for name, _ in events:
            if type(name) is str and name not in self.meters:
                if len(name) <= MAX_EVENT_NAME_LENGTH:
                    names.add(name)
                else:
                    self.meters[name] = None  # no meter has it; the reference check says why
        if names:
            found = {
                m.event_name: m
                for m in await Meter.filter(account_id=self.account_id, event_name__in=names)
            }
            for name in names:
                m = found.get(name)
                self.meters[name] = MeterInfo(m) if m is not None else None
        by_id: set[str] = set()
        by_ext: set[str] = set()
        for name, payload in events:
            meter = self.meter(name)
            key = self.customer_key(meter, payload)
            if key is not None and meter is not None and (meter.mapping, key) not in self.customers:
                (by_id if meter.mapping == "BY_ID" else by_ext).add(key)
        cols = ("id", "external_id", "test_clock_id")
        rows: list[tuple[tuple[str, str], Customer]] = []
        if by_id:
            qs = Customer.filter(account_id=self.account_id, id__in=by_id).only(*cols)
            rows += [(("BY_ID", c.id), c) for c in await qs]
        if by_ext:
            qs = Customer.filter(account_id=self.account_id, external_id__in=by_ext).only(*cols)
            rows += [(("BY_EXTERNAL_ID", c.external_id or ""), c) for c in await qs]
        clocked = [c for _, c in rows if c.test_clock_id]
        frozen = await customer_times(clocked) if clocked else {}
        self.customers.update({("BY_ID", k): None for k in by_id})
        self.customers.update({("BY_EXTERNAL_ID", k): None for k in by_ext})
        for mk, c in rows:
            self.customers[mk] = (c.id, frozen.get(c.id), c)

    def meter(self, name: Any) -> MeterInfo | None:
        return self.meters.get(name) if type(name) is str else None

    @staticmethod
    def customer_key(meter: MeterInfo | None, payload: Any) -> str | None:
        """The customer key an event's payload names, if it can name one (validate_event
        says what is wrong otherwise)."""
        if meter is None or not isinstance(payload, Mapping):
            return None
        raw = payload.get(meter.customer_key)
        if isinstance(raw, str) and raw and customer_key_fits(meter.mapping, raw):
            return raw
        return None

    def found(self) -> dict[tuple[str, str], Customer]:
        return {k: v[2] for k, v in self.customers.items() if v is not None}

    def known_meters(self) -> dict[str, Meter]:
        return {name: m.model for name, m in self.meters.items() if m is not None}

    def reference(
        self,
        index: int,
        event_name: str,
        payload: Any,
        identifier: str | None,
        timestamp: datetime | None,
        wall: datetime,
    ) -> Row | list[FieldError]:
        """The reference check of one event whose meter and customer are resolved: its row,
        or everything wrong with it (paths relative to the event, GraphQL's names)."""
        meter = self.meter(event_name)
        if meter is None:
            msg = f"no meter has eventName {event_name!r}"
            return [FieldError("NOT_FOUND", msg, ("eventName",))]
        key = self.customer_key(meter, payload)
        customer = self.customers.get((meter.mapping, key)) if key else None
        now = (customer[1] or wall) if customer else wall
        errors: list[FieldError] = []
        try:
            valid = validate_event(meter.definition, payload, identifier, timestamp, now)
        except DomainError as e:
            errors, valid = list(e.errors), None
        if key is not None and customer is None:
            how = "id" if meter.mapping == "BY_ID" else "externalId"
            msg = f"no customer has {how} {key!r} (payload.{meter.customer_key})"
            errors.append(FieldError("NOT_FOUND", msg, ("payload", meter.customer_key)))
        if errors or valid is None or customer is None:
            return errors
        return (
            index,
            meter.id,
            customer[0],
            valid.identifier or ids.event_id(),
            meter.name,
            format(valid.value, "f"),
            valid.timestamp,
            valid.dimensions_key,
            valid.unique_value,
        )

    def plain(
        self,
        index: int,
        event_name: Any,
        payload: Any,
        identifier: Any,
        timestamp: datetime | None,
        wall: datetime,
    ) -> Row | None:
        """The row of a plainly valid event whose meter and customer are resolved, else
        None: the reference check then decides."""
        meter = self.meter(event_name)
        if meter is None or meter.plain is None or type(payload) is not dict:
            return None
        key = payload.get(meter.customer_key)
        if type(key) is not str or not key:
            return None
        customer = self.customers.get((meter.mapping, key))
        if customer is None:
            return None
        return plain_row(index, meter, customer, payload, identifier, timestamp, wall)


def plain_row(
    index: int,
    meter: MeterInfo,
    customer: Found,
    payload: dict[str, Any],
    identifier: Any,
    timestamp: datetime | None,
    wall: datetime,
) -> Row | None:
    """The row of a plainly valid event of this meter (one with a PlainRule) and customer
    (billing.events.PlainRule), else None."""
    assert meter.plain is not None
    got = meter.plain.check(payload, identifier, timestamp, customer[1] or wall)
    if got is None:
        return None
    value, unique, ts = got
    ident = ids.event_id() if identifier is None else identifier
    return (index, meter.id, customer[0], ident, meter.name, value, ts, NO_DIMENSIONS, unique)
