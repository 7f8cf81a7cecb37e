"""Invoices: creation from line drafts, finalization (number, usage priced from rollups),
collection through the payment provider, and Stripe's manual transitions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from meterbill.billing import invoice as inv
from meterbill.billing.errors import DomainError, FieldError, not_found
from meterbill.db.models import Invoice, InvoiceLine, PendingItem, Subscription
from meterbill.services import collection, invoice_drafts, invoice_finalization, usage_spans
from meterbill.services.lifecycle import invoices as lifecycle_invoices
from meterbill.services.lifecycle import subscriptions as lifecycle_subscriptions
from meterbill.services.now import clock_now
from meterbill.services.pages import Page, paginate


async def add_lines(invoice_id: str, drafts: Sequence[inv.LineDraft]) -> None:
    await invoice_drafts.insert_lines(invoice_drafts.line_rows(invoice_id, drafts))


def pending_drafts(items: Sequence[PendingItem]) -> list[inv.LineDraft]:
    return [
        inv.LineDraft(
            "PRORATION",
            p.usage_type,
            p.description,
            p.price_id,
            None,
            Decimal(p.quantity),
            None,
            p.amount,
            p.period_start,
            p.period_end,
        )
        for p in items
    ]


async def claim_pending(sub: Subscription, invoice_id: str) -> list[inv.LineDraft]:
    """Move the subscription's unbilled prorations onto `invoice_id` (inside its
    transaction); a changed metered price's span is priced from the usage now, its
    not yet aggregated events too (every caller makes its invoice at once, and it is not
    priced again)."""
    items = await PendingItem.filter(subscription_id=sub.id, invoice_id=None).order_by("id")
    if not items:
        return []
    await PendingItem.filter(id__in=[p.id for p in items]).update(invoice_id=invoice_id)
    drafts = [(sub.customer_id, pending_drafts(items))]
    return (await usage_spans.reprice(drafts, unfolded=True))[0]


async def create_invoice(
    sub: Subscription,
    reason: str,
    period: tuple[datetime, datetime],
    drafts: Sequence[inv.LineDraft],
    created_at: datetime,
    finalizes_at: datetime | None,
    *,
    with_pending: bool = True,
) -> invoice_drafts.NewInvoice:
    """A DRAFT invoice of `sub` (call inside the transaction that changes the subscription)."""
    invoice = invoice_drafts.batch_invoice(sub, reason, period, created_at, finalizes_at)
    all_drafts = list(drafts)
    if with_pending:
        all_drafts += await claim_pending(sub, invoice.id)
    invoice_drafts.set_totals(invoice, [d.amount for d in all_drafts])
    await lifecycle_invoices.insert([invoice])
    await add_lines(invoice.id, all_drafts)
    sub.latest_invoice_id = invoice.id
    return invoice


async def _lock(invoice_id: str, skip_locked: bool = False) -> Invoice | None:
    return await Invoice.filter(id=invoice_id).select_for_update(skip_locked=skip_locked).first()


async def finalize(invoice_id: str, now: datetime, *, skip_locked: bool = False) -> bool:
    """DRAFT -> OPEN with its number (PAID at once when nothing is due). False if not a draft
    (already finalized by someone else) or locked by another worker."""
    async with in_transaction():
        invoice = await _lock(invoice_id, skip_locked)
        if invoice is None or invoice.status != "DRAFT":
            return False
        await invoice_finalization.finalize_invoices([invoice], now)
    return True


async def collect(invoice_id: str, now: datetime, *, skip_locked: bool = False) -> bool:
    """Try the payment method on file once for a just-finalized invoice."""
    async with in_transaction():
        invoice = await _lock(invoice_id, skip_locked)
        if invoice is None or not invoice.collection_pending:
            return False
        error = await collection.collect_invoices([invoice], now)
    if error is not None:
        raise error
    await refresh_subscription_status(invoice.subscription_id, now)
    return True


async def finalize_and_collect(invoice_id: str, now: datetime) -> None:
    await finalize(invoice_id, now)
    await collect(invoice_id, now)


async def refresh_subscription_status(
    subscription_id: str | None, now: datetime | None = None
) -> None:
    """PAST_DUE while one of its open invoices has a failed payment (or, with `now`, is past
    its due date), else ACTIVE."""
    await lifecycle_subscriptions.refresh_statuses([subscription_id], now)


# ---------------------------------------------------------------- manual transitions


async def _own(account_id: str, invoice_id: str) -> Invoice:
    invoice = await Invoice.get_or_none(id=invoice_id, account_id=account_id)
    if invoice is None:
        raise not_found(f"no invoice {invoice_id}", "input", "id")
    return invoice


async def finalize_invoice(account_id: str, invoice_id: str) -> Invoice:
    invoice = await _own(account_id, invoice_id)
    lifecycle_invoices.check(invoice, "OPEN", "finalize")
    now = await clock_now(invoice.test_clock_id)
    if not await finalize(invoice.id, now):
        lifecycle_invoices.check(await Invoice.get(id=invoice.id), "OPEN", "finalize")
    await collect(invoice.id, now)
    return await Invoice.get(id=invoice.id)


async def pay_invoice(account_id: str, invoice_id: str, out_of_band: bool) -> Invoice:
    invoice = await _own(account_id, invoice_id)
    now = await clock_now(invoice.test_clock_id)
    if invoice.status == "DRAFT":  # Stripe finalizes a draft before paying it
        await finalize(invoice.id, now)
    declined: str | None = None
    async with in_transaction():
        locked = await _lock(invoice.id)
        assert locked is not None
        lifecycle_invoices.check(locked, "PAID", "pay")
        locked.collection_pending = False
        if out_of_band:
            event = lifecycle_invoices.paid_out_of_band(locked, now)
        else:
            method = (await collection.methods_on_file([locked.customer_id])).get(
                locked.customer_id
            )
            if method is None:
                raise DomainError(
                    [FieldError("INVALID", "the customer has no payment method", ("input", "id"))]
                )
            attempt = (await collection.attempts_so_far([locked.id])).get(locked.id, 0) + 1
            result = await collection.charge(locked, method, attempt)
            row, event = collection.record_charge(
                locked, method.payment_method, attempt, result, now
            )
            await collection.insert_attempts([row])
            if not result.succeeded:
                declined = result.failure_message or "the payment was declined"
        await lifecycle_invoices.save(locked, [event])
    await refresh_subscription_status(invoice.subscription_id, now)
    if declined is not None:
        raise DomainError([FieldError("INVALID", declined, ("input", "id"))])
    return await Invoice.get(id=invoice.id)


async def _move(account_id: str, invoice_id: str, to: str, action: str) -> Invoice:
    await _own(account_id, invoice_id)
    async with in_transaction():
        locked = await _lock(invoice_id)
        assert locked is not None
        await lifecycle_invoices.move(locked, to, action)
    await refresh_subscription_status(locked.subscription_id)
    return locked


async def void_invoice(account_id: str, invoice_id: str) -> Invoice:
    return await _move(account_id, invoice_id, "VOID", "void")


async def mark_uncollectible(account_id: str, invoice_id: str) -> Invoice:
    return await _move(account_id, invoice_id, "UNCOLLECTIBLE", "mark uncollectible")


# ---------------------------------------------------------------- reads


async def get_invoice(account_id: str, invoice_id: str) -> Invoice | None:
    return await Invoice.get_or_none(id=invoice_id, account_id=account_id)


async def list_invoices(
    account_id: str,
    first: int,
    after: str | None,
    customer_id: str | None = None,
    subscription_id: str | None = None,
    status: str | None = None,
) -> Page[Any]:
    qs = Invoice.filter(account_id=account_id)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if subscription_id:
        qs = qs.filter(subscription_id=subscription_id)
    if status:
        qs = qs.filter(status=status)
    return await paginate(qs, first, after)


async def lines_of(account_id: str, invoice_ids: list[str]) -> list[InvoiceLine]:
    """The lines of the account's invoices among `invoice_ids` (another account's: none)."""
    return await InvoiceLine.filter(
        invoice_id__in=invoice_ids, invoice__account_id=account_id
    ).order_by("position")
