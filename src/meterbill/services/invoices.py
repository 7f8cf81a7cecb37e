"""Invoices: creation from line drafts, finalization (number, usage priced from rollups),
collection through the payment provider, and Stripe's manual transitions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from meterbill.billing import invoice as inv
from meterbill.billing.errors import DomainError, FieldError, conflict, not_found
from meterbill.billing.money import decimal_to_str
from meterbill.db.models import (
    Account,
    Customer,
    Invoice,
    InvoiceLine,
    PaymentAttempt,
    PendingItem,
    Subscription,
)
from meterbill.services import plans
from meterbill.services.clock import clock_now
from meterbill.services.pages import Page, paginate
from meterbill.services.payments import get_provider

# Line positions: usage (arrears) first, then licensed fees (advance), then prorations.
_ORDER = {"METERED": 0, "LICENSED": 1000, "PRORATION": 2000}


def _slot(d: inv.LineDraft) -> int:
    return _ORDER["PRORATION" if d.type == "PRORATION" else d.usage_type]


async def add_lines(invoice_id: str, drafts: Sequence[inv.LineDraft]) -> None:
    counters: dict[int, int] = {}
    rows = []
    for d in drafts:
        base = _slot(d)
        n = counters.get(base, 0)
        counters[base] = n + 1
        rows.append(
            InvoiceLine(
                invoice_id=invoice_id,
                position=base + n,
                type=d.type,
                usage_type=d.usage_type,
                description=d.description[:500],
                price_id=d.price_id,
                tier=d.tier,
                quantity=decimal_to_str(d.quantity),
                unit_amount_decimal=None
                if d.unit_amount is None
                else decimal_to_str(d.unit_amount),
                amount=d.amount,
                period_start=d.period_start,
                period_end=d.period_end,
            )
        )
    if rows:
        await InvoiceLine.bulk_create(rows)


def pending_drafts(items: Sequence[PendingItem]) -> list[inv.LineDraft]:
    return [
        inv.LineDraft(
            "PRORATION",
            "LICENSED",
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


async def claim_pending(subscription_id: str, invoice_id: str) -> list[inv.LineDraft]:
    """Move the subscription's unbilled prorations onto `invoice_id` (inside its transaction)."""
    items = await PendingItem.filter(subscription_id=subscription_id, invoice_id=None).order_by(
        "id"
    )
    if items:
        await PendingItem.filter(id__in=[p.id for p in items]).update(invoice_id=invoice_id)
    return pending_drafts(items)


async def create_invoice(
    sub: Subscription,
    reason: str,
    period: tuple[datetime, datetime],
    drafts: Sequence[inv.LineDraft],
    created_at: datetime,
    finalizes_at: datetime | None,
    *,
    with_pending: bool = True,
) -> Invoice:
    """A DRAFT invoice of `sub` (call inside the transaction that changes the subscription)."""
    invoice = await Invoice.create(
        account_id=sub.account_id,
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        test_clock_id=sub.test_clock_id,
        status="DRAFT",
        billing_reason=reason,
        collection_method=sub.collection_method,
        days_until_due=sub.days_until_due,
        currency=sub.currency,
        period_start=period[0],
        period_end=period[1],
        created_at=created_at,
        automatically_finalizes_at=finalizes_at,
    )
    all_drafts = list(drafts)
    if with_pending:
        all_drafts += await claim_pending(sub.id, invoice.id)
    await add_lines(invoice.id, all_drafts)
    await _set_totals(invoice)
    await invoice.save()
    sub.latest_invoice_id = invoice.id
    return invoice


async def _set_totals(invoice: Invoice) -> None:
    amounts = await InvoiceLine.filter(invoice_id=invoice.id).values_list("amount", flat=True)
    t = inv.totals(int(str(a)) for a in amounts)
    invoice.subtotal, invoice.total, invoice.amount_due = t.subtotal, t.total, t.amount_due


async def _reprice_usage(invoice: Invoice) -> None:
    """Cycle invoices price the ended period's usage at finalization: events that arrived
    during the grace period count."""
    assert invoice.subscription_id is not None
    sub = await Subscription.get(id=invoice.subscription_id)
    items = await plans.plan(sub.id)
    await InvoiceLine.filter(
        invoice_id=invoice.id, usage_type="METERED", type="SUBSCRIPTION"
    ).delete()
    period = (invoice.period_start, invoice.period_end)
    await add_lines(invoice.id, await plans.usage(items, sub.customer_id, period))


async def _next_number(account_id: str) -> str:
    account = await Account.filter(id=account_id).select_for_update().first()
    assert account is not None
    seq = account.next_invoice_seq
    await Account.filter(id=account_id).update(next_invoice_seq=F("next_invoice_seq") + 1)
    return f"{account.invoice_prefix}-{seq:04d}"


async def _lock(invoice_id: str, skip_locked: bool = False) -> Invoice | None:
    return await Invoice.filter(id=invoice_id).select_for_update(skip_locked=skip_locked).first()


async def finalize(invoice_id: str, now: datetime, *, skip_locked: bool = False) -> bool:
    """DRAFT -> OPEN with its number (PAID at once when nothing is due). False if not a draft
    (already finalized by someone else) or locked by another worker."""
    async with in_transaction():
        invoice = await _lock(invoice_id, skip_locked)
        if invoice is None or invoice.status != "DRAFT":
            return False
        if invoice.billing_reason == "SUBSCRIPTION_CYCLE":
            await _reprice_usage(invoice)
        await _set_totals(invoice)
        invoice.number = await _next_number(invoice.account_id)
        invoice.status = "OPEN"
        invoice.finalized_at = now
        invoice.automatically_finalizes_at = None
        if invoice.collection_method == "SEND_INVOICE":
            invoice.due_date = now + timedelta(days=invoice.days_until_due or 0)
        if invoice.amount_due == 0:
            invoice.status, invoice.paid_at = "PAID", now
        elif invoice.collection_method == "CHARGE_AUTOMATICALLY":
            invoice.collection_pending = True
        await invoice.save()
    return True


async def _charge(invoice: Invoice, customer: Customer, now: datetime) -> tuple[bool, str | None]:
    """Charge the payment method on file once and record the attempt (inside the lock)."""
    pm = customer.default_payment_method
    assert pm is not None
    attempt = await PaymentAttempt.filter(invoice_id=invoice.id).count() + 1
    result = await get_provider().charge(
        customer_id=customer.id,
        payment_method=pm,
        amount=invoice.amount_due - invoice.amount_paid,
        currency=invoice.currency,
        idempotency_key=f"{invoice.id}-{attempt}",
    )
    await PaymentAttempt.create(
        invoice_id=invoice.id,
        attempt=attempt,
        amount=invoice.amount_due - invoice.amount_paid,
        currency=invoice.currency,
        payment_method=pm,
        succeeded=result.succeeded,
        failure_message=result.failure_message,
        provider_reference=result.reference,
        created_at=now,
    )
    if result.succeeded:
        invoice.status, invoice.paid_at = "PAID", now
        invoice.amount_paid = invoice.amount_due
        invoice.payment_failed = False
    else:
        invoice.payment_failed = True
    return result.succeeded, result.failure_message


async def collect(invoice_id: str, now: datetime, *, skip_locked: bool = False) -> bool:
    """Try the payment method on file once for a just-finalized invoice."""
    async with in_transaction():
        invoice = await _lock(invoice_id, skip_locked)
        if invoice is None or not invoice.collection_pending:
            return False
        invoice.collection_pending = False
        if invoice.status == "OPEN":
            customer = await Customer.get(id=invoice.customer_id)
            if customer.default_payment_method:
                await _charge(invoice, customer, now)
        await invoice.save()
    await refresh_subscription_status(invoice.subscription_id)
    return True


async def finalize_and_collect(invoice_id: str, now: datetime) -> None:
    await finalize(invoice_id, now)
    await collect(invoice_id, now)


async def refresh_subscription_status(subscription_id: str | None) -> None:
    """PAST_DUE while one of its open invoices has a failed payment, else ACTIVE."""
    if subscription_id is None:
        return
    failing = await Invoice.exists(
        subscription_id=subscription_id, status="OPEN", payment_failed=True
    )
    status = "PAST_DUE" if failing else "ACTIVE"
    await Subscription.filter(id=subscription_id, status__in=("ACTIVE", "PAST_DUE")).update(
        status=status
    )


# ---------------------------------------------------------------- manual transitions


async def _own(account_id: str, invoice_id: str) -> Invoice:
    invoice = await Invoice.get_or_none(id=invoice_id, account_id=account_id)
    if invoice is None:
        raise not_found(f"no invoice {invoice_id}", "input", "id")
    return invoice


def _bad_transition(invoice: Invoice, action: str) -> DomainError:
    return conflict(f"cannot {action} an invoice that is {invoice.status}", "input", "id")


async def finalize_invoice(account_id: str, invoice_id: str) -> Invoice:
    invoice = await _own(account_id, invoice_id)
    if invoice.status != "DRAFT":
        raise _bad_transition(invoice, "finalize")
    now = await clock_now(invoice.test_clock_id)
    if not await finalize(invoice.id, now):
        raise _bad_transition(await Invoice.get(id=invoice.id), "finalize")
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
        if locked.status not in ("OPEN", "UNCOLLECTIBLE"):
            raise _bad_transition(locked, "pay")
        locked.collection_pending = False
        if out_of_band:
            locked.status, locked.paid_at = "PAID", now
            locked.amount_paid, locked.payment_failed = locked.amount_due, False
        else:
            customer = await Customer.get(id=locked.customer_id)
            if not customer.default_payment_method:
                raise DomainError(
                    [FieldError("INVALID", "the customer has no payment method", ("input", "id"))]
                )
            ok, message = await _charge(locked, customer, now)
            if not ok:
                declined = message or "the payment was declined"
        await locked.save()
    await refresh_subscription_status(invoice.subscription_id)
    if declined is not None:
        raise DomainError([FieldError("INVALID", declined, ("input", "id"))])
    return await Invoice.get(id=invoice.id)


async def _move(
    account_id: str, invoice_id: str, allowed: tuple[str, ...], to: str, action: str
) -> Invoice:
    await _own(account_id, invoice_id)
    async with in_transaction():
        locked = await _lock(invoice_id)
        assert locked is not None
        if locked.status not in allowed:
            raise _bad_transition(locked, action)
        locked.status = to
        locked.collection_pending = False
        await locked.save()
    await refresh_subscription_status(locked.subscription_id)
    return locked


async def void_invoice(account_id: str, invoice_id: str) -> Invoice:
    return await _move(account_id, invoice_id, ("OPEN", "UNCOLLECTIBLE"), "VOID", "void")


async def mark_uncollectible(account_id: str, invoice_id: str) -> Invoice:
    return await _move(account_id, invoice_id, ("OPEN",), "UNCOLLECTIBLE", "mark uncollectible")


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
