"""Helpers for the usage API tests: meters, customers, recording, waiting for aggregation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from meterbill.services.now import utcnow

RECORD = """
mutation($input: MeterEventInput!) {
  recordMeterEvent(input: $input) {
    duplicate
    meterEvent { identifier eventName customerId value timestamp dimensions status createdAt }
    userErrors { field code message }
  }
}"""

RECORD_MANY = """
mutation($input: [MeterEventInput!]!) {
  recordMeterEvents(input: $input) {
    accepted duplicates rejected
    results { index identifier status userErrors { field code message } }
    userErrors { field code message }
  }
}"""

CANCEL = """
mutation($input: CancelMeterEventInput!) {
  cancelMeterEvent(input: $input) {
    meterEvent { identifier status value }
    userErrors { field code message }
  }
}"""

SUMMARIES = """
query($m: ID!, $c: ID!, $s: DateTime!, $e: DateTime!, $w: GroupingWindow, $f: JSON,
      $g: [String!]) {
  meterEventSummaries(meterId: $m, customerId: $c, startTime: $s, endTime: $e,
                      valueGroupingWindow: $w, filter: $f, groupBy: $g) {
    startTime endTime aggregatedValue dimensions
  }
}"""

EVENTS = """
query($m: ID!, $c: ID, $first: Int) {
  meterEvents(meterId: $m, customerId: $c, first: $first) {
    identifier value status customerId dimensions
  }
}"""


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def this_minute() -> datetime:
    return utcnow().replace(second=0, microsecond=0)


async def make_meter(tenant: Any, event_name: str = "tokens", **fields: Any) -> dict[str, Any]:
    spec = {"displayName": event_name, "eventName": event_name, "aggregation": "SUM", **fields}
    d = await tenant.data(
        "mutation($i: CreateMeterInput!) { createMeter(input: $i) { meter { id eventName "
        "customerPayloadKey valuePayloadKey } userErrors { code message } } }",
        {"i": spec},
    )
    assert d["createMeter"]["userErrors"] == [], d
    return d["createMeter"]["meter"]


async def make_customer(tenant: Any, **fields: Any) -> str:
    d = await tenant.data(
        "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } "
        "userErrors { code message } } }",
        {"i": fields},
    )
    assert d["createCustomer"]["userErrors"] == [], d
    return d["createCustomer"]["customer"]["id"]


async def record(tenant: Any, **inp: Any) -> dict[str, Any]:
    return (await tenant.data(RECORD, {"input": inp}))["recordMeterEvent"]


async def record_many(tenant: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    return (await tenant.data(RECORD_MANY, {"input": events}))["recordMeterEvents"]


async def summary(
    tenant: Any, meter: str, customer: str, start: datetime, end: datetime, **kw: Any
) -> list[dict[str, Any]]:
    v = {"m": meter, "c": customer, "s": iso(start), "e": iso(end), **kw}
    return (await tenant.data(SUMMARIES, v))["meterEventSummaries"]


async def wait_aggregated(account_id: str, limit: float = 10.0) -> None:
    """Poll until the worker has aggregated every event of the account (bounded)."""
    from meterbill.db.models import MeterEvent
    from meterbill.services.usage.aggregate import waiting

    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while await MeterEvent.filter(account_id=account_id, id__in=waiting()).exists():
        assert loop.time() < deadline, f"events still not aggregated after {limit}s"
        await asyncio.sleep(0.05)


async def total(tenant: Any, meter: str, customer: str, **kw: Any) -> str:
    """The ungrouped value over the last day, once everything is aggregated."""
    await wait_aggregated(tenant.account_id)
    start = this_minute() - timedelta(days=1)
    end = this_minute() + timedelta(minutes=10)
    rows = await summary(tenant, meter, customer, start, end, **kw)
    assert len(rows) == 1, rows
    return rows[0]["aggregatedValue"]
