"""Changing a live subscription (updateSubscription, updateSubscriptionItem, cancel with
prorate): items' quantity or price, items added and removed, cancelAtPeriodEnd. Licensed
changes prorate per prorationBehavior (CLASSIC: the unused share of the period at the
current price; FLEXIBLE: the unused share of what was actually billed); a metered item whose
price changes or that is removed bills its usage up to the change at the old price, on the
next cycle invoice, and after it at the new one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from meterbill.billing import invoice as inv
from meterbill.billing.errors import DomainError, FieldError, not_found
from meterbill.billing.periods import proration_fraction
from meterbill.db.models import (
    InvoiceLine,
    PendingItem,
    Price,
    Subscription,
    SubscriptionItem,
)
from meterbill.services import invoices, plans
from meterbill.services.lifecycle import subscriptions as lifecycle_subscriptions
from meterbill.services.now import clock_now

BEHAVIORS = ("CREATE_PRORATIONS", "ALWAYS_INVOICE", "NONE")
MAX_ITEMS = 20
Period = tuple[datetime, datetime]


@dataclass
class ItemChange:
    id: str | None = None
    price_id: str | None = None
    quantity: int | None = None
    deleted: bool = False


@dataclass
class UpdateRequest:
    subscription_id: str
    cancel_at_period_end: bool | None = None
    items: list[ItemChange] | None = None
    proration_behavior: str = "CREATE_PRORATIONS"


@dataclass
class _Op:
    """One validated change: item None adds `price`; price None removes `item`."""

    item: SubscriptionItem | None
    price: Price | None
    quantity: int


def _path(n: int, name: str) -> tuple[str, ...]:
    return ("input", "items", str(n), name)


async def _plan_ops(
    account_id: str, sub: Subscription, changes: list[ItemChange]
) -> tuple[list[_Op], list[FieldError]]:
    items = {i.id: i for i in await SubscriptionItem.filter(subscription_id=sub.id)}
    wanted = {c.price_id for c in changes if c.price_id} | {i.price_id for i in items.values()}
    prices = {p.id: p for p in await Price.filter(account_id=account_id, id__in=list(wanted))}
    errors: list[FieldError] = []
    ops: list[_Op] = []
    on_sub = {i.price_id for i in items.values()}
    seen_items: set[str] = set()
    for n, c in enumerate(changes):
        item = None
        if c.id is not None:
            item = items.get(c.id)
            if item is None or c.id in seen_items:
                msg = f"no item {c.id} on this subscription" if item is None else "listed twice"
                errors.append(
                    FieldError("NOT_FOUND" if item is None else "INVALID", msg, _path(n, "id"))
                )
                continue
            seen_items.add(c.id)
            if c.deleted:
                ops.append(_Op(item, None, 0))
                on_sub.discard(item.price_id)
                continue
        elif c.deleted:
            errors.append(FieldError("REQUIRED", "deleted needs the item's id", _path(n, "id")))
            continue
        elif c.price_id is None:
            errors.append(FieldError("REQUIRED", "a new item needs a priceId", _path(n, "priceId")))
            continue
        price = prices.get(c.price_id or (item.price_id if item else ""))
        if price is None:
            errors.append(FieldError("NOT_FOUND", f"no price {c.price_id}", _path(n, "priceId")))
            continue
        if item is None or price.id != item.price_id:
            if not price.active:
                errors.append(FieldError("INACTIVE", "the price is inactive", _path(n, "priceId")))
            if price.id in on_sub:
                msg = "the price is already on the subscription"
                errors.append(FieldError("INVALID", msg, _path(n, "priceId")))
            if price.currency != sub.currency:
                msg = f"currency {price.currency} differs from the subscription's {sub.currency}"
                errors.append(FieldError("INVALID", msg, _path(n, "priceId")))
            elif (price.interval, price.interval_count) != (sub.interval, sub.interval_count):
                msg = (
                    f"interval {price.interval_count} {price.interval} differs from the "
                    f"subscription's {sub.interval_count} {sub.interval}"
                )
                errors.append(FieldError("INVALID", msg, _path(n, "priceId")))
            on_sub.add(price.id)
            if item is not None:
                on_sub.discard(item.price_id)
        quantity = c.quantity
        if quantity is None:
            quantity = item.quantity if item is not None and price.id == item.price_id else 1
            if price.usage_type == "METERED":
                quantity = 1
        if item is not None and price.id == item.price_id and quantity == item.quantity:
            continue  # no change
        if price.usage_type == "METERED" and quantity != 1:
            msg = "a metered item's quantity is always 1"
            errors.append(FieldError("INVALID", msg, _path(n, "quantity")))
        elif quantity < 1:
            errors.append(
                FieldError("INVALID", "quantity must be at least 1", _path(n, "quantity"))
            )
        ops.append(_Op(item, price, quantity))
    removed = {o.item.id for o in ops if o.item is not None and o.price is None}
    added = sum(1 for o in ops if o.item is None)
    left = len(items) - len(removed) + added
    if not errors and left < 1:
        msg = "a subscription keeps at least one item"
        errors.append(FieldError("INVALID", msg, ("input", "items")))
    elif not errors and left > MAX_ITEMS:
        errors.append(FieldError("INVALID", f"at most {MAX_ITEMS} items", ("input", "items")))
    return ops, errors


async def _billed(
    sub: Subscription, price_id: str, at: datetime, period: Period
) -> list[inv.Billed]:
    """What was billed for `price_id`'s licensed time of the current `period` still ahead of
    `at` (invoiced, voided ones excepted, and pending): FLEXIBLE credits are shares of it.
    A draft cycle invoice's fee for the next period is not part of it."""
    ahead = {"price_id": price_id, "usage_type": "LICENSED", "period_end__gt": at}
    ahead["period_start__lt"] = period[1]
    lines = (
        await InvoiceLine.filter(invoice__subscription_id=sub.id, **ahead)
        .exclude(invoice__status="VOID")
        .values_list("amount", "period_start", "period_end")
    )
    pending = await PendingItem.filter(
        subscription_id=sub.id, invoice_id=None, **ahead
    ).values_list("amount", "period_start", "period_end")
    return [inv.Billed(int(a), s, e) for a, s, e in [*lines, *pending]]


def _seats(p: plans.PlanItem) -> inv.Seats:
    return inv.Seats(p.name, p.price.id, p.spec, p.item.quantity)


async def _change_drafts(
    sub: Subscription,
    ops: list[_Op],
    before: list[plans.PlanItem],
    after: list[plans.PlanItem],
    now: datetime,
    period: Period,
) -> list[inv.LineDraft]:
    """Proration lines of the licensed changes (old item from the plan `before` them, new
    from the plan `after`) and usage lines up to `now` of the metered items whose price
    changed or that were removed."""
    old_by_item = {p.item.id: p for p in before}
    new_by_price = {p.price.id: p for p in after}
    fraction = proration_fraction(period[0], period[1], now, period[1])
    drafts: list[inv.LineDraft] = []
    for op in ops:
        old = old_by_item.get(op.item.id) if op.item is not None else None
        new = new_by_price.get(op.price.id) if op.price is not None else None
        if old is not None and new is not None and old.price.id == new.price.id:
            if old.item.quantity == new.item.quantity:
                continue
        some = old or new
        if some is None:
            continue
        if some.metered:
            if old is not None and (new is None or new.price.id != old.price.id):
                # The line's period is the span the old price billed (from an earlier
                # change of this period, if any): services/usage_spans prices it again.
                span = (plans.usage_start(old, period), now)
                drafts += await plans.usage([old], sub.customer_id, span)
            continue
        credit = None
        if old is not None and sub.billing_mode == "FLEXIBLE":
            credit = inv.unused_credit(await _billed(sub, old.price.id, now, period), now)
        drafts += inv.change_lines(
            None if old is None else _seats(old),
            None if new is None else _seats(new),
            period,
            now,
            fraction,
            credit,
        )
    return drafts


async def _apply_ops(sub: Subscription, ops: list[_Op], now: datetime) -> dict[str, Any]:
    """Write the items; returns what they were (previousAttributes' items)."""
    previous: list[dict[str, Any]] = []
    position = max(
        [i.position for i in await SubscriptionItem.filter(subscription_id=sub.id)] or [0]
    )
    for op in ops:
        if op.item is None:
            assert op.price is not None
            position += 1
            await SubscriptionItem.create(
                account_id=sub.account_id,
                subscription_id=sub.id,
                price_id=op.price.id,
                quantity=op.quantity,
                position=position,
                created_at=now,
                usage_from=now if op.price.usage_type == "METERED" else None,
            )
            continue
        previous.append({"id": op.item.id, "price": op.item.price_id, "quantity": op.item.quantity})
        if op.price is None:
            await op.item.delete()
            continue
        if op.price.id != op.item.price_id and op.price.usage_type == "METERED":
            op.item.usage_from = now
        op.item.price_id, op.item.quantity = op.price.id, op.quantity
        await op.item.save(update_fields=["price_id", "quantity", "usage_from"])
    return {"items": previous}


async def _pend(sub: Subscription, drafts: list[inv.LineDraft], now: datetime) -> None:
    await PendingItem.bulk_create(
        [
            PendingItem(
                account_id=sub.account_id,
                subscription_id=sub.id,
                price_id=d.price_id,
                usage_type=d.usage_type,
                description=d.description,
                quantity=str(d.quantity),
                amount=d.amount,
                period_start=d.period_start,
                period_end=d.period_end,
                created_at=now,
            )
            for d in drafts
        ]
    )


async def update_subscription(account_id: str, req: UpdateRequest) -> Subscription:
    sub = await Subscription.get_or_none(id=req.subscription_id, account_id=account_id)
    if sub is None:
        raise not_found(f"no subscription {req.subscription_id}", "input", "subscriptionId")
    if req.proration_behavior not in BEHAVIORS:
        raise DomainError.one("INVALID", "unknown proration behavior", "input", "prorationBehavior")
    changes = req.items or []
    ops, errors = await _plan_ops(account_id, sub, changes)
    if errors:
        raise DomainError(errors)
    invoice_id = None
    async with in_transaction():
        locked = await Subscription.filter(id=sub.id).select_for_update().first()
        assert locked is not None
        lifecycle_subscriptions.check_live(
            locked, "the subscription is canceled", "input", "subscriptionId"
        )
        now = await clock_now(locked.test_clock_id)
        period = (locked.current_period_start, locked.current_period_end)
        # Re-read under the lock: the items may have changed since they were validated.
        ops, errors = await _plan_ops(account_id, locked, changes)
        if errors:
            raise DomainError(errors)
        drafts: list[inv.LineDraft] = []
        if ops:
            before = await plans.plan(locked.id)
            previous = await _apply_ops(locked, ops, now)
            after = await plans.plan(locked.id)
            drafts = await _change_drafts(locked, ops, before, after, now, period)
            await lifecycle_subscriptions.items_changed(locked, previous["items"])
        if req.proration_behavior == "NONE":
            drafts = [d for d in drafts if d.usage_type == "METERED"]
        if drafts:
            await _pend(locked, drafts, now)
        if req.cancel_at_period_end is not None:
            await lifecycle_subscriptions.set_cancel_at_period_end(locked, req.cancel_at_period_end)
        if req.proration_behavior == "ALWAYS_INVOICE" and any(
            d.usage_type == "LICENSED" for d in drafts
        ):
            invoice = await invoices.create_invoice(
                locked, "SUBSCRIPTION_UPDATE", (now, period[1]), [], now, now
            )
            await locked.save(update_fields=["latest_invoice_id"])
            invoice_id = invoice.id
    if invoice_id is not None:
        await invoices.finalize_and_collect(invoice_id, now)
    return await Subscription.get(id=sub.id)


async def unused_time_credits(sub: Subscription, now: datetime) -> list[inv.LineDraft]:
    """Cancel now with prorate: credit lines for the unused time of every licensed item
    (the final invoice bills the usage itself)."""
    period = (sub.current_period_start, sub.current_period_end)
    licensed = [p for p in await plans.plan(sub.id) if not p.metered]
    ops = [_Op(await SubscriptionItem.get(id=p.item.id), None, 0) for p in licensed]
    return await _change_drafts(sub, ops, licensed, [], now, period)
