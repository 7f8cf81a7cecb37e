"""Subscriptions: creation with its first invoice, seat changes with prorations, cancellation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from tortoise.transactions import in_transaction

from meterbill.billing import balance as balance_rule
from meterbill.billing import invoice as inv
from meterbill.billing.credits import Application
from meterbill.billing.errors import DomainError, FieldError, conflict, not_found
from meterbill.billing.periods import (
    OutOfCalendar,
    boundary,
    first_period,
    first_period_fraction,
    next_period,
)
from meterbill.db.models import (
    Customer,
    Invoice,
    PendingItem,
    Price,
    Subscription,
    SubscriptionItem,
)
from meterbill.db.pinned import pinned
from meterbill.services import invoices, plans, subscription_changes, usage_spans
from meterbill.services.credits.apply import preview as credit_preview
from meterbill.services.lifecycle import invoices as lifecycle_invoices
from meterbill.services.lifecycle import subscriptions as lifecycle_subscriptions
from meterbill.services.now import as_utc, clock_now, utcnow
from meterbill.services.pages import Page, paginate

MODES = ("CLASSIC", "FLEXIBLE")
COLLECTION = ("CHARGE_AUTOMATICALLY", "SEND_INVOICE")
BEHAVIORS = ("CREATE_PRORATIONS", "ALWAYS_INVOICE", "NONE")
LIVE = lifecycle_subscriptions.LIVE
Period = tuple[datetime, datetime]


@dataclass
class ItemRequest:
    price_id: str
    quantity: int | None = 1


@dataclass
class SubscriptionRequest:
    customer_id: str
    items: list[ItemRequest] = field(default_factory=list)
    billing_mode: str = "FLEXIBLE"
    collection_method: str = "CHARGE_AUTOMATICALLY"
    days_until_due: int | None = None
    billing_cycle_anchor: datetime | None = None
    backdate_start_date: datetime | None = None


def _item_path(i: int, name: str) -> tuple[str, ...]:
    return ("input", "items", str(i), name)


async def _validate_items(
    account_id: str, items: list[ItemRequest]
) -> tuple[list[FieldError], list[tuple[Price, int]]]:
    errors: list[FieldError] = []
    if not items:
        return [FieldError("REQUIRED", "at least one item is required", ("input", "items"))], []
    if len(items) > 20:
        return [FieldError("INVALID", "at most 20 items", ("input", "items"))], []
    found = {
        p.id: p
        for p in await Price.filter(account_id=account_id, id__in=[i.price_id for i in items])
    }
    out: list[tuple[Price, int]] = []
    first: Price | None = None
    seen: set[str] = set()
    for n, item in enumerate(items):
        price = found.get(item.price_id)
        if price is None:
            errors.append(
                FieldError("NOT_FOUND", f"no price {item.price_id}", _item_path(n, "priceId"))
            )
            continue
        if not price.active:
            errors.append(FieldError("INACTIVE", "the price is inactive", _item_path(n, "priceId")))
        if price.id in seen:
            errors.append(
                FieldError("INVALID", "a price may appear once", _item_path(n, "priceId"))
            )
        seen.add(price.id)
        if first is None:
            first = price
        elif price.currency != first.currency:
            msg = f"currency {price.currency} differs from the first item's {first.currency}"
            errors.append(FieldError("INVALID", msg, _item_path(n, "priceId")))
        elif (price.interval, price.interval_count) != (first.interval, first.interval_count):
            msg = (
                f"interval {price.interval_count} {price.interval} differs from the first "
                f"item's {first.interval_count} {first.interval}"
            )
            errors.append(FieldError("INVALID", msg, _item_path(n, "priceId")))
        quantity = 1 if item.quantity is None else item.quantity
        if price.usage_type == "METERED" and quantity != 1:
            msg = "a metered item's quantity is always 1"
            errors.append(FieldError("INVALID", msg, _item_path(n, "quantity")))
        elif quantity < 1:
            errors.append(
                FieldError("INVALID", "quantity must be at least 1", _item_path(n, "quantity"))
            )
        out.append((price, quantity))
    return errors, out


def _option_errors(req: SubscriptionRequest) -> list[FieldError]:
    errors = []
    if req.billing_mode not in MODES:
        errors.append(FieldError("INVALID", "unknown billing mode", ("input", "billingMode")))
    if req.collection_method not in COLLECTION:
        errors.append(
            FieldError("INVALID", "unknown collection method", ("input", "collectionMethod"))
        )
    path = ("input", "daysUntilDue")
    if req.collection_method == "SEND_INVOICE":
        if req.days_until_due is None:
            errors.append(FieldError("REQUIRED", "SEND_INVOICE needs daysUntilDue", path))
        elif not 0 <= req.days_until_due <= 730:
            errors.append(FieldError("OUT_OF_RANGE", "daysUntilDue must be 0-730", path))
    elif req.days_until_due is not None:
        msg = "daysUntilDue applies to SEND_INVOICE only"
        errors.append(FieldError("INVALID", msg, path))
    return errors


# Stripe's limit for backdating: the first invoice holds at most this many lines, so a
# backdate covers at most this many periods (each bills at least one line per licensed item).
MAX_FIRST_INVOICE_LINES = 250


def _too_many_lines(what: str) -> DomainError:
    return DomainError.one(
        "OUT_OF_RANGE",
        f"the first invoice would hold more than {MAX_FIRST_INVOICE_LINES} lines ({what}); "
        "backdate less far",
        "input",
        "backdateStartDate",
    )


def _periods(
    start: datetime,
    anchor: datetime | None,
    interval: str,
    count: int,
    now: datetime,
    latest_anchor: datetime | None = None,
) -> list[Period]:
    """The first period and every later one up to the one containing `now`."""
    periods = [first_period(start, anchor, interval, count, latest_anchor)]
    cycle_anchor = anchor or start
    while periods[-1][1] <= now:
        if len(periods) >= MAX_FIRST_INVOICE_LINES:
            raise _too_many_lines(f"more than {MAX_FIRST_INVOICE_LINES} billing periods")
        periods.append(next_period(cycle_anchor, interval, count, periods[-1][1]))
    return periods


async def create_subscription(account_id: str, req: SubscriptionRequest) -> Subscription:
    errors = _option_errors(req)
    customer = await Customer.get_or_none(id=req.customer_id, account_id=account_id)
    if customer is None:
        errors.append(
            FieldError("NOT_FOUND", f"no customer {req.customer_id}", ("input", "customerId"))
        )
    item_errors, priced = await _validate_items(account_id, req.items)
    errors += item_errors
    if errors or customer is None:
        raise DomainError(errors)
    ref = priced[0][0]
    now = await clock_now(customer.test_clock_id)
    start = req.backdate_start_date or now
    if start > now:
        raise DomainError.one(
            "INVALID", "backdateStartDate must not be in the future", "input", "backdateStartDate"
        )
    anchor = req.billing_cycle_anchor
    if anchor is not None and anchor < start:
        raise DomainError.one(
            "INVALID",
            "billingCycleAnchor must not be before the start",
            "input",
            "billingCycleAnchor",
        )
    try:
        # Backdated: the anchor may be up to one interval after the creation (Stripe).
        latest = boundary(now, ref.interval, ref.interval_count, 1) if start < now else None
        periods = _periods(start, anchor, ref.interval, ref.interval_count, now, latest)
        fraction = first_period_fraction(start, anchor, ref.interval, ref.interval_count, latest)
    except OutOfCalendar as exc:
        # The start (the customer's test clock, or the backdate) is at the calendar's end.
        field = "backdateStartDate" if req.backdate_start_date else "customerId"
        raise DomainError.one("OUT_OF_RANGE", str(exc), "input", field) from exc
    except ValueError as exc:
        raise DomainError.one("INVALID", str(exc), "input", "billingCycleAnchor") from exc
    current = periods[-1]
    async with in_transaction():
        sub = await lifecycle_subscriptions.create(
            account_id=account_id,
            customer_id=customer.id,
            test_clock_id=customer.test_clock_id,
            status="ACTIVE",
            billing_mode=req.billing_mode,
            collection_method=req.collection_method,
            days_until_due=req.days_until_due,
            currency=ref.currency,
            interval=ref.interval,
            interval_count=ref.interval_count,
            billing_cycle_anchor=anchor or start,
            start_date=start,
            current_period_start=current[0],
            current_period_end=current[1],
            created_at=now,
        )
        await SubscriptionItem.bulk_create(
            [
                SubscriptionItem(
                    account_id=account_id,
                    subscription_id=sub.id,
                    price_id=price.id,
                    quantity=quantity,
                    position=n,
                    created_at=now,
                )
                for n, (price, quantity) in enumerate(priced)
            ]
        )
        items = await plans.plan(sub.id)
        drafts = await _first_lines(items, customer.id, periods, fraction, req.billing_mode)
        if len(drafts) > MAX_FIRST_INVOICE_LINES:
            raise _too_many_lines(f"{len(drafts)} lines")  # rolls the subscription back
        invoice = None
        if drafts:
            invoice = await invoices.create_invoice(
                sub, "SUBSCRIPTION_CREATE", (start, current[1]), drafts, now, now
            )
            await sub.save()
    if invoice is not None:
        await invoices.finalize_and_collect(invoice.id, now)
        await lifecycle_subscriptions.mark_incomplete(sub.id, invoice.id)
    return await Subscription.get(id=sub.id)


async def _first_lines(
    items: list[plans.PlanItem],
    customer_id: str,
    periods: list[Period],
    fraction: Fraction,
    mode: str,
) -> list[inv.LineDraft]:
    drafts: list[inv.LineDraft] = []
    # Backdated whole periods that have already ended bill their usage in arrears now.
    for period in periods[:-1]:
        drafts += await plans.usage(items, customer_id, period)
    for n, period in enumerate(periods):
        drafts += plans.licensed(items, period, fraction if n == 0 else Fraction(1))
    if mode == "CLASSIC":
        for p in items:
            if p.metered:
                drafts.append(inv.zero_usage_line(p.name, p.price.id, p.spec, periods[-1]))
    return drafts


# ---------------------------------------------------------------- seat changes


async def update_item(
    account_id: str, item_id: str, quantity: int, behavior: str
) -> SubscriptionItem:
    """updateSubscriptionItem: a seat change, as updateSubscription makes it."""
    item = await SubscriptionItem.get_or_none(id=item_id, account_id=account_id)
    if item is None:
        raise not_found(f"no subscription item {item_id}", "input", "itemId")
    if behavior not in BEHAVIORS:
        raise DomainError.one("INVALID", "unknown proration behavior", "input", "prorationBehavior")
    price = await Price.get(id=item.price_id)
    if price.usage_type == "METERED" and quantity != 1:
        raise DomainError.one(
            "INVALID", "a metered item's quantity is always 1", "input", "quantity"
        )
    if quantity < 1:
        raise DomainError.one("INVALID", "quantity must be at least 1", "input", "quantity")
    sub = await Subscription.get(id=item.subscription_id)
    if sub.status not in LIVE:
        raise conflict("the subscription is canceled", "input", "itemId")
    change = subscription_changes.ItemChange(id=item.id, quantity=quantity)
    request = subscription_changes.UpdateRequest(sub.id, None, [change], behavior)
    try:
        await subscription_changes.update_subscription(account_id, request)
    except DomainError as exc:  # the subscription changed meanwhile
        errors = [FieldError(e.code, e.message, ("input", "itemId")) for e in exc.errors]
        raise DomainError(errors) from exc
    return await SubscriptionItem.get(id=item.id)


# ---------------------------------------------------------------- cancellation


async def cancel(
    account_id: str,
    subscription_id: str,
    at_period_end: bool,
    invoice_now: bool,
    prorate: bool = False,
) -> Subscription:
    """Cancel at period end, or now; now with invoiceNow: a final invoice of the usage not
    yet invoiced; with prorate: it also credits the unused licensed time (a final invoice is
    made for the credit even without invoiceNow, so it reaches the customer's balance). An
    INCOMPLETE subscription is cancelled now only, its open first invoice voided."""
    sub = await Subscription.get_or_none(id=subscription_id, account_id=account_id)
    if sub is None:
        raise not_found(f"no subscription {subscription_id}", "input", "subscriptionId")
    if at_period_end and invoice_now:
        msg = "invoiceNow applies when cancelling now"
        raise DomainError.one("INVALID", msg, "input", "invoiceNow")
    if at_period_end and prorate:
        msg = "prorate applies when cancelling now"
        raise DomainError.one("INVALID", msg, "input", "prorate")
    invoice_id = None
    async with in_transaction():
        # An INCOMPLETE subscription's open first invoice is voided with it: invoices, then
        # the subscription, locked (the order every path takes). Locked whatever the status
        # read above: the subscription may have become INCOMPLETE since.
        first = await Invoice.filter(
            subscription_id=sub.id, billing_reason="SUBSCRIPTION_CREATE", status="OPEN"
        ).select_for_update()
        locked = await Subscription.filter(id=sub.id).select_for_update().first()
        assert locked is not None
        lifecycle_subscriptions.check_cancel(locked, at_period_end, "input", "subscriptionId")
        now = await clock_now(locked.test_clock_id)
        if locked.status == "INCOMPLETE":
            for name, asked in (("invoiceNow", invoice_now), ("prorate", prorate)):
                if asked:
                    msg = f"{name} does not apply to an incomplete subscription"
                    raise DomainError.one("INVALID", msg, "input", name)
            for unpaid in first:
                await lifecycle_invoices.move(unpaid, "VOID", "void", now)
            await lifecycle_subscriptions.cancel_now(locked, now)
            return locked
        if at_period_end:
            await lifecycle_subscriptions.cancel_at_period_end(locked)
            return locked
        if invoice_now or prorate:
            period = (locked.current_period_start, max(now, locked.current_period_start))
            items = await plans.plan(locked.id)
            drafts = await plans.usage(items, locked.customer_id, period, final=True)
            if prorate:
                drafts += await subscription_changes.unused_time_credits(locked, now)
            invoice = await invoices.create_invoice(
                locked, "SUBSCRIPTION_CANCEL", period, drafts, now, now
            )
            invoice_id = invoice.id
        await lifecycle_subscriptions.cancel_now(locked, now)
    if invoice_id is not None:
        await invoices.finalize_and_collect(invoice_id, now)
    return await Subscription.get(id=sub.id)


# ---------------------------------------------------------------- reads


async def get_subscription(account_id: str, subscription_id: str) -> Subscription | None:
    return await Subscription.get_or_none(id=subscription_id, account_id=account_id)


async def list_subscriptions(
    account_id: str,
    first: int,
    after: str | None,
    customer_id: str | None = None,
    status: str | None = None,
) -> Page[Any]:
    qs = Subscription.filter(account_id=account_id)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if status:
        qs = qs.filter(status=status)
    return await paginate(qs, first, after)


@dataclass
class Preview:
    """An invoice that is not stored (upcomingInvoice)."""

    subscription: plans.SubscriptionRow
    period_start: datetime
    period_end: datetime
    created_at: datetime
    lines: list[inv.LineDraft]
    totals: inv.Totals
    starting_balance: int = 0
    credits: list[Application] = field(default_factory=list)


async def upcoming_invoice(account_id: str, subscription_id: str) -> Preview | None:
    # The hot read path: subscription, clock, items, prices, tiers, products and meters in one
    # statement, then the usage; all on one pooled connection.
    async with pinned():
        found = await plans.subscription_plan(account_id, subscription_id)
        if found is None or found[0].status not in LIVE:
            return None
        sub, items = found
        if sub.test_clock_id is None:
            now = utcnow()
        else:
            frozen = sub.clock_frozen_time
            now = as_utc(frozen) if frozen else await clock_now(sub.test_clock_id)
        period = (sub.current_period_start, sub.current_period_end)
        drafts = await plans.usage(items, sub.customer_id, period)
        if not sub.cancel_at_period_end:
            nxt = next_period(sub.billing_cycle_anchor, sub.interval, sub.interval_count, period[1])
            drafts += plans.licensed(items, nxt)
        if sub.has_pending:
            pending = await PendingItem.filter(subscription_id=sub.id, invoice_id=None).order_by(
                "id"
            )
            spans = await usage_spans.reprice([(sub.customer_id, invoices.pending_drafts(pending))])
            drafts += spans[0]
        order = {"METERED": 0, "LICENSED": 1}
        drafts.sort(key=lambda d: 2 if d.type == "PRORATION" else order[d.usage_type])
        t = inv.totals(d.amount for d in drafts)
        # What finalizing it now would apply: the credits first, then the customer's balance.
        applied = await credit_preview(sub.customer_id, sub.currency, drafts, t.total, now)
    taken = sum(a.amount for a in applied)
    due = balance_rule.settle(t.total - taken, sub.balance, sub.currency).amount_due
    totals = inv.Totals(t.subtotal, t.total, due)
    return Preview(sub, period[0], period[1], now, drafts, totals, sub.balance, applied)


async def latest_invoices(ids: list[str]) -> list[Invoice]:
    return await Invoice.filter(id__in=ids)


async def items_of(account_id: str, subscription_ids: list[str]) -> list[SubscriptionItem]:
    """The items of the account's subscriptions among `subscription_ids`, each with its
    price, the price's product and meter joined in (one statement where a page showing the
    items would otherwise read prices, products and meters one table each)."""
    return (
        await SubscriptionItem.filter(subscription_id__in=subscription_ids, account_id=account_id)
        .select_related("price__product", "price__meter")
        .order_by("position", "id")
    )
