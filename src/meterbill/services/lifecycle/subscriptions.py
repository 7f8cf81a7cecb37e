"""Subscription states: ACTIVE <-> PAST_DUE (a failed payment on an open invoice), either ->
CANCELED (now, or at the end of the period), plus the changes Stripe reports as
customer.subscription.updated (items, cancelAtPeriodEnd). Every such change goes through here
and records its event (customer.subscription.created / updated / deleted) in the caller's
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from meterbill.billing.errors import conflict
from meterbill.db.models import Invoice, Subscription
from meterbill.services.lifecycle import outbox

LIVE = ("ACTIVE", "PAST_DUE")
NEXT: dict[str, tuple[str, ...]] = {
    "ACTIVE": ("PAST_DUE", "CANCELED"),
    "PAST_DUE": ("ACTIVE", "CANCELED"),
}
_FIELDS = (
    "id",
    "customer_id",
    "status",
    "billing_mode",
    "collection_method",
    "days_until_due",
    "currency",
    "test_clock_id",
    "billing_cycle_anchor",
    "start_date",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "canceled_at",
    "latest_invoice_id",
    "created_at",
)


def snapshot(sub: Subscription) -> dict[str, Any]:
    return outbox.snapshot("subscription", sub, _FIELDS)


def event(type_: str, sub: Subscription, previous: dict[str, Any] | None = None) -> outbox.EventRow:
    data = snapshot(sub)
    if previous is not None:  # Stripe's previous_attributes: what the update changed
        data["previousAttributes"] = {
            outbox.camel(k): outbox.api_value(v) for k, v in previous.items()
        }
    return outbox.event(sub.account_id, type_, sub.id, data)


def check_live(sub: Subscription, message: str, *path: str) -> None:
    if sub.status not in LIVE:
        raise conflict(message, *path)


async def create(**fields: Any) -> Subscription:
    sub = await Subscription.create(**fields)
    await outbox.write([event("customer.subscription.created", sub)])
    return sub


async def items_changed(sub: Subscription, previous: dict[str, Any]) -> None:
    """An item of `sub` (locked by the caller) changed: `previous` says what it was."""
    await outbox.write([event("customer.subscription.updated", sub, {"items": previous})])


async def cancel_at_period_end(sub: Subscription) -> None:
    """Cancel when the period ends (`sub` locked by the caller and checked live)."""
    sub.cancel_at_period_end = True
    await sub.save(update_fields=["cancel_at_period_end"])
    previous = {"cancel_at_period_end": False}
    await outbox.write([event("customer.subscription.updated", sub, previous)])


def mark_canceled(sub: Subscription, at: datetime) -> outbox.EventRow:
    """LIVE -> CANCELED in memory; returns the event for the caller to write with the row."""
    if "CANCELED" not in NEXT.get(sub.status, ()):
        raise conflict("the subscription is already canceled", "input", "subscriptionId")
    sub.status, sub.canceled_at = "CANCELED", at
    return event("customer.subscription.deleted", sub)


async def cancel_now(sub: Subscription, at: datetime) -> None:
    """Cancel `sub` (locked by the caller) at `at`, writing every field changed in memory."""
    sub.cancel_at_period_end = False
    deleted = mark_canceled(sub, at)
    await sub.save()
    await outbox.write([deleted])


async def _move(ids: list[str], frm: str, to: str) -> None:
    """`frm` -> `to` for those of `ids` still in `frm` under their row lock (another runner
    that changed one first leaves it alone here): one event per row changed."""
    async with in_transaction():
        subs = await Subscription.filter(id__in=ids, status=frm).select_for_update()
        if not subs:
            return
        await Subscription.filter(id__in=[s.id for s in subs]).update(status=to)
        events = []
        for s in subs:
            s.status = to
            events.append(event("customer.subscription.updated", s, {"status": frm}))
        await outbox.write(events)


async def refresh_statuses(subscription_ids: Sequence[str | None]) -> None:
    """PAST_DUE while one of its open invoices has a failed payment, else ACTIVE. Each
    direction is a transaction of its own, outside the caller's, so it holds no lock beyond
    itself."""
    ids = sorted({s for s in subscription_ids if s is not None})
    if not ids:
        return
    failing = {
        str(s)
        for s in await Invoice.filter(subscription_id__in=ids, status="OPEN", payment_failed=True)
        .distinct()
        .values_list("subscription_id", flat=True)
    }
    past = [s for s in ids if s in failing]
    fine = [s for s in ids if s not in failing]
    if past:
        await _move(past, "ACTIVE", "PAST_DUE")
    if fine:
        await _move(fine, "PAST_DUE", "ACTIVE")
