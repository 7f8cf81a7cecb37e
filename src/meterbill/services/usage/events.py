"""Reading and canceling recorded events."""

from __future__ import annotations

from datetime import timedelta

from tortoise.transactions import in_transaction

from meterbill.billing.errors import DomainError, FieldError
from meterbill.billing.events import identifier_problem
from meterbill.db import stores
from meterbill.db.models import MeterEvent, MeterEventPending
from meterbill.db.stores.rollups import unique_keys
from meterbill.db.usage_sql import take_back_unique
from meterbill.services.live import hub
from meterbill.services.now import utcnow
from meterbill.services.pages import check_first
from meterbill.services.usage.aggregate import recompute_bucket

CANCEL_WINDOW = timedelta(hours=24)


async def list_events(
    account_id: str, meter_id: str, customer_id: str | None, first: int
) -> list[MeterEvent]:
    """Most recently received first (arrival order breaks ties within one batch)."""
    check_first(first)
    qs = MeterEvent.filter(account_id=account_id, meter_id=meter_id)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return list(await qs.order_by("-created_at", "-id").limit(first))


def _error(code: str, message: str) -> DomainError:
    return DomainError([FieldError(code, message, ("input", "identifier"))])


async def cancel_event(account_id: str, event_name: str, identifier: str) -> MeterEvent:
    """Mark the event CANCELED and rebuild its bucket, in one transaction: its usage counts
    as if it had never come.

    Whether its bucket holds it is decided by deleting its pending row. Deleted: no worker
    folded it, and none will (a worker's claim skips a row this transaction holds). Not
    there: a worker folded it; if that worker's transaction is still running, the delete
    waits for it to end (on PostgreSQL), so the rebuild reads its committed rollups. Lock
    order as the workers': pending rows, then a UNIQUE_COUNT value's day and month rows,
    then minutes, then hours."""
    why = identifier_problem(identifier)
    if why:  # and the database would refuse it even as a lookup value
        raise _error("INVALID", f"identifier {why}")
    now = utcnow()
    async with in_transaction() as conn:
        found = await stores.current().events.find(conn, account_id, [identifier], lock=True)
        event = found[0] if found else None
        if event is None or event.event_name != event_name:
            raise _error("NOT_FOUND", f"no {event_name!r} event has identifier {identifier!r}")
        if event.status == "CANCELED":
            raise _error("CONFLICT", f"event {identifier!r} is already canceled")
        if event.created_at < now - CANCEL_WINDOW:
            raise _error(
                "TOO_LATE",
                f"event {identifier!r} was received at {event.created_at.isoformat()}; only "
                "events received in the last 24 hours can be canceled",
            )
        event.status = "CANCELED"
        event.canceled_at = now
        await event.save(using_db=conn, update_fields=["status", "canceled_at"])
        taken_back = await MeterEventPending.filter(event_id=event.id).using_db(conn).delete()
        if not taken_back:
            if event.unique_value is not None:
                # Before the rollups: the workers' claim adds to these rows first too.
                day, month = unique_keys(
                    account_id,
                    event.meter_id,
                    event.customer_id,
                    event.dimensions_key,
                    event.timestamp,
                    event.unique_value,
                )
                await take_back_unique(conn, day, month, event.id)
            await recompute_bucket(conn, event)
    await hub.announce([(account_id, event.meter_id, event.customer_id)])
    return event
