"""Subscription states: ACTIVE <-> PAST_DUE (a failed payment on an open invoice, or one
past its due date), -> UNPAID (dunning's MARK_UNPAID) -> ACTIVE when paid, any of them ->
CANCELED (now, or at the end of the period); INCOMPLETE (its first payment failed) -> ACTIVE
when paid, INCOMPLETE_EXPIRED after 23 hours, or CANCELED now (its first invoice voided);
plus the changes Stripe reports as customer.subscription.updated (items,
cancelAtPeriodEnd). Every such change goes through here and records its event
(customer.subscription.created / updated / deleted) in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from meterbill.billing.errors import DomainError, conflict
from meterbill.db.models import Invoice, Subscription
from meterbill.services.lifecycle import outbox

# Billed every period (UNPAID too: its invoices are finalized, not charged).
LIVE = ("ACTIVE", "PAST_DUE", "UNPAID")
NEXT: dict[str, tuple[str, ...]] = {
    "ACTIVE": ("PAST_DUE", "UNPAID", "CANCELED"),
    "PAST_DUE": ("ACTIVE", "UNPAID", "CANCELED"),
    "UNPAID": ("ACTIVE", "CANCELED"),
    "INCOMPLETE": ("ACTIVE", "INCOMPLETE_EXPIRED", "CANCELED"),
}
# Left for ACTIVE only once every invoice is settled (paid or voided).
_SETTLE_FIRST = ("UNPAID", "INCOMPLETE")
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


def check_cancel(sub: Subscription, at_period_end: bool, *path: str) -> None:
    """A live subscription is cancelled now or at period end; an INCOMPLETE one (Stripe)
    only now, without a final invoice or a proration credit: its first invoice, never
    paid, is voided instead (the caller)."""
    if sub.status == "INCOMPLETE":
        if at_period_end:
            msg = "an incomplete subscription can only be cancelled now"
            raise DomainError.one("INVALID", msg, "input", "atPeriodEnd")
        return
    check_live(sub, "the subscription is already canceled", *path)


async def create(**fields: Any) -> Subscription:
    sub = await Subscription.create(**fields)
    await outbox.write([event("customer.subscription.created", sub)])
    return sub


async def items_changed(sub: Subscription, previous: list[dict[str, Any]]) -> None:
    """Items of `sub` (locked by the caller) changed: `previous` says what the changed and
    removed ones were (id, price, quantity); added items are not in it."""
    await outbox.write([event("customer.subscription.updated", sub, {"items": previous})])


async def cancel_at_period_end(sub: Subscription) -> None:
    """Cancel when the period ends (`sub` locked by the caller and checked live)."""
    await set_cancel_at_period_end(sub, True)


async def set_cancel_at_period_end(sub: Subscription, value: bool) -> None:
    """Schedule (True) or undo (False) the cancellation at period end (`sub` locked by the
    caller and checked live); no change, no event."""
    if sub.cancel_at_period_end == value:
        return
    sub.cancel_at_period_end = value
    await sub.save(update_fields=["cancel_at_period_end"])
    previous = {"cancel_at_period_end": not value}
    await outbox.write([event("customer.subscription.updated", sub, previous)])


def mark_canceled(sub: Subscription, at: datetime) -> outbox.EventRow:
    """LIVE or INCOMPLETE -> CANCELED in memory; returns the event for the caller to write
    with the row."""
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


async def retries_exhausted(subscription_ids: Sequence[str], action: str, at: datetime) -> None:
    """The last retry of an invoice of each subscription failed: subscriptionAfterRetries
    (CANCEL, MARK_UNPAID or LEAVE_PAST_DUE), in the caller's transaction, which holds the
    invoices' locks (invoices, then their subscriptions: the order every path takes)."""
    if action == "LEAVE_PAST_DUE" or not subscription_ids:
        return
    subs = await Subscription.filter(id__in=sorted(set(subscription_ids))).select_for_update()
    events, changed = [], []
    for sub in subs:
        if action == "CANCEL" and sub.status in LIVE:
            sub.cancel_at_period_end = False
            events.append(mark_canceled(sub, at))
            changed.append(sub)
        elif action == "MARK_UNPAID" and "UNPAID" in NEXT.get(sub.status, ()):
            previous = {"status": sub.status}
            sub.status = "UNPAID"
            events.append(event("customer.subscription.updated", sub, previous))
            changed.append(sub)
    for sub in changed:
        await sub.save(update_fields=["status", "canceled_at", "cancel_at_period_end"])
    await outbox.write(events)


async def _move(ids: list[str], frm: tuple[str, ...], to: str) -> None:
    """One of `frm` -> `to` for those of `ids` still in it under their row lock (another
    runner that changed one first leaves it alone here): one event per row changed."""
    async with in_transaction():
        subs = await Subscription.filter(id__in=ids, status__in=frm).select_for_update()
        unpaid = [s.id for s in subs if s.status in _SETTLE_FIRST]
        if unpaid:
            # UNPAID and INCOMPLETE are left once every invoice is settled (paid or voided),
            # not merely when none has a failed attempt: their invoices are not retried.
            owing = set(
                await Invoice.filter(
                    subscription_id__in=unpaid, status__in=("OPEN", "UNCOLLECTIBLE")
                ).values_list("subscription_id", flat=True)
            )
            subs = [s for s in subs if s.id not in owing]
        if not subs:
            return
        await Subscription.filter(id__in=[s.id for s in subs]).update(status=to)
        events = []
        for s in subs:
            previous = {"status": s.status}
            s.status = to
            events.append(event("customer.subscription.updated", s, previous))
        await outbox.write(events)


async def refresh_statuses(
    subscription_ids: Sequence[str | None], now: datetime | None = None
) -> None:
    """PAST_DUE while one of its open invoices has a failed payment or (with `now`, the
    subscriptions' clock) is past its due date; ACTIVE again (from PAST_DUE, or from UNPAID
    once none is OPEN or UNCOLLECTIBLE) when none is. Each direction is a transaction of its
    own, outside the caller's, so it holds no lock beyond itself."""
    ids = sorted({s for s in subscription_ids if s is not None})
    if not ids:
        return
    # A failed first invoice makes the subscription INCOMPLETE instead (mark_incomplete).
    overdue = Q(payment_failed=True) & ~Q(billing_reason="SUBSCRIPTION_CREATE")
    if now is not None:
        overdue |= Q(due_date__lte=now)
    failing = {
        str(s)
        for s in await Invoice.filter(overdue, subscription_id__in=ids, status="OPEN")
        .distinct()
        .values_list("subscription_id", flat=True)
    }
    past = [s for s in ids if s in failing]
    fine = [s for s in ids if s not in failing]
    if past:
        await _move(past, ("ACTIVE",), "PAST_DUE")
    if fine:
        await _move(fine, ("PAST_DUE", *_SETTLE_FIRST), "ACTIVE")


async def mark_incomplete(subscription_id: str, invoice_id: str) -> None:
    """The first invoice's automatic payment failed at creation: ACTIVE -> INCOMPLETE (the
    invoice, then the subscription, locked: the order every path takes)."""
    async with in_transaction():
        invoice = await Invoice.filter(id=invoice_id).select_for_update().first()
        if invoice is None or invoice.status != "OPEN" or not invoice.payment_failed:
            return
        sub = await Subscription.filter(id=subscription_id).select_for_update().first()
        if sub is None or sub.status != "ACTIVE":
            return
        sub.status = "INCOMPLETE"
        await sub.save(update_fields=["status"])
        await outbox.write([event("customer.subscription.updated", sub, {"status": "ACTIVE"})])


def mark_expired(sub: Subscription) -> outbox.EventRow:
    """INCOMPLETE -> INCOMPLETE_EXPIRED in memory (locked by the caller); returns the event."""
    sub.status = "INCOMPLETE_EXPIRED"
    return event("customer.subscription.updated", sub, {"status": "INCOMPLETE"})
