"""Invoice states: DRAFT -> OPEN (or PAID at once when nothing is due) -> PAID, VOID or
UNCOLLECTIBLE, and UNCOLLECTIBLE -> PAID or VOID. Every change of an invoice's status goes
through here and records its event (invoice.created, invoice.finalized, invoice.paid,
invoice.payment_failed, invoice.voided, invoice.marked_uncollectible) in the caller's
transaction. The batch forms take many invoices and write each kind of row with one
statement; the one-invoice paths call them with a batch of one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from meterbill.billing.errors import DomainError, conflict
from meterbill.db import stores
from meterbill.db.models import Invoice
from meterbill.db.stores import Columns, update_rows
from meterbill.services.clock import clock_now
from meterbill.services.credits import apply as credits
from meterbill.services.invoice_rows import AnyInvoice, insert_invoices
from meterbill.services.lifecycle import outbox
from meterbill.services.payments import ChargeResult

# status -> the statuses it may move to (a draft with nothing due is finalized OPEN, then
# PAID at once).
NEXT: dict[str, tuple[str, ...]] = {
    "DRAFT": ("OPEN",),
    "OPEN": ("PAID", "VOID", "UNCOLLECTIBLE"),
    "UNCOLLECTIBLE": ("PAID", "VOID"),
}
_EVENT_OF = {
    "PAID": "invoice.paid",
    "VOID": "invoice.voided",
    "UNCOLLECTIBLE": "invoice.marked_uncollectible",
}
_FIELDS = (
    "id",
    "number",
    "status",
    "billing_reason",
    "collection_method",
    "currency",
    "customer_id",
    "subscription_id",
    "test_clock_id",
    "period_start",
    "period_end",
    "subtotal",
    "total",
    "amount_due",
    "amount_paid",
    "total_credits_applied",
    "created_at",
    "automatically_finalizes_at",
    "finalized_at",
    "paid_at",
    "due_date",
)


def snapshot(invoice: AnyInvoice) -> dict[str, Any]:
    data = outbox.snapshot("invoice", invoice, _FIELDS)
    data["amountRemaining"] = invoice.amount_due - invoice.amount_paid
    return data


def event(type_: str, invoice: AnyInvoice) -> outbox.EventRow:
    return outbox.event(invoice.account_id, type_, invoice.id, snapshot(invoice))


def can_move(invoice: AnyInvoice, to: str) -> bool:
    return to in NEXT.get(invoice.status, ())


def _bad_transition(invoice: AnyInvoice, action: str) -> DomainError:
    return conflict(f"cannot {action} an invoice that is {invoice.status}", "input", "id")


def check(invoice: AnyInvoice, to: str, action: str) -> None:
    if not can_move(invoice, to):
        raise _bad_transition(invoice, action)


# ---------------------------------------------------------------- creation


async def insert(invoices: Sequence[AnyInvoice]) -> None:
    """Write new invoices (DRAFT, or finalized at once by mark_finalized) and their
    invoice.created events."""
    if invoices:
        await insert_invoices(invoices)
        await outbox.write([event("invoice.created", i) for i in invoices])


# ---------------------------------------------------------------- finalization


def mark_finalized(invoice: AnyInvoice, now: datetime) -> None:
    """DRAFT -> OPEN in memory, totals already set (PAID at once when nothing is due)."""
    check(invoice, "OPEN", "finalize")
    invoice.status, invoice.finalized_at = "OPEN", now
    invoice.automatically_finalizes_at = None
    if invoice.collection_method == "SEND_INVOICE":
        invoice.due_date = now + timedelta(days=invoice.days_until_due or 0)
    if invoice.amount_due == 0:
        invoice.status, invoice.paid_at = "PAID", now
    elif invoice.collection_method == "CHARGE_AUTOMATICALLY":
        invoice.collection_pending = True


def _finalized_events(invoices: Sequence[AnyInvoice]) -> list[outbox.EventRow]:
    out = []
    for i in invoices:
        out.append(event("invoice.finalized", i))
        if i.status == "PAID":
            out.append(event("invoice.paid", i))
    return out


async def _assign_numbers(invoices: Sequence[AnyInvoice]) -> None:
    """PREFIX-0001 numbers, gapless per account, in the batch's order: one UPDATE per account
    reserves the batch's block under the account's row lock, which is held to commit, so
    call this last in the transaction. Accounts go in id order: two batches never wait for
    each other in a cycle."""
    by_account: dict[str, list[AnyInvoice]] = defaultdict(list)
    for i in invoices:
        by_account[i.account_id].append(i)
    for account_id in sorted(by_account):
        mine = by_account[account_id]
        first, prefix = await stores.reserve_invoice_numbers(account_id, len(mine))
        for n, i in enumerate(mine):
            i.number = f"{prefix}-{first + n:04d}"


_FINALIZED: Columns = (
    ("id", "text"),
    ("number", "text"),
    ("status", "text"),
    ("finalized_at", "timestamptz"),
    ("automatically_finalizes_at", "timestamptz"),
    ("due_date", "timestamptz"),
    ("paid_at", "timestamptz"),
    ("collection_pending", "bool"),
    ("subtotal", "bigint"),
    ("total", "bigint"),
    ("amount_due", "bigint"),
    ("total_credits_applied", "bigint"),
)
_NUMBERED: Columns = (("id", "text"), ("number", "text"))


async def finalize(invoices: Sequence[Invoice], now: datetime) -> None:
    """DRAFT -> OPEN with numbers (PAID at once when nothing is due), totals already set. The
    caller holds the invoices' row locks and has checked they are drafts; the objects are
    updated too."""
    if not invoices:
        return
    for i in invoices:
        mark_finalized(i, now)
    await _assign_numbers(invoices)
    names = [c for c, _ in _FINALIZED]
    await update_rows("invoices", _FINALIZED, [[getattr(i, c) for c in names] for i in invoices])
    await outbox.write(_finalized_events(invoices))


async def number_finalized(invoices: Sequence[AnyInvoice]) -> None:
    """Numbers and events for invoices written finalized (mark_finalized before insert) in
    this transaction. Last in the transaction: the numbers hold the account's row lock."""
    if invoices:
        await _assign_numbers(invoices)
        await update_rows("invoices", _NUMBERED, [(i.id, i.number) for i in invoices])
        await outbox.write(_finalized_events(invoices))


# ---------------------------------------------------------------- payment


def charged(invoice: Invoice, result: ChargeResult, now: datetime) -> outbox.EventRow:
    """A charge's outcome in memory: PAID, or payment_failed (the invoice stays as it is).
    Returns its event, for save() or save_collected() to write."""
    if result.succeeded:
        check(invoice, "PAID", "pay")
        invoice.status, invoice.paid_at = "PAID", now
        invoice.amount_paid = invoice.amount_due
        invoice.payment_failed = False
        return event("invoice.paid", invoice)
    invoice.payment_failed = True
    return event("invoice.payment_failed", invoice)


_COLLECTED: Columns = (
    ("id", "text"),
    ("collection_pending", "bool"),
    ("status", "text"),
    ("paid_at", "timestamptz"),
    ("amount_paid", "bigint"),
    ("payment_failed", "bool"),
)


async def save_collected(invoices: Sequence[Invoice], events: Sequence[outbox.EventRow]) -> None:
    """Write a collection batch's invoices (no longer pending) and its charges' events."""
    rows = []
    for i in invoices:
        i.collection_pending = False
        rows.append([i.id, False, i.status, i.paid_at, i.amount_paid, i.payment_failed])
    await update_rows("invoices", _COLLECTED, rows)
    await outbox.write(events)


def paid_out_of_band(invoice: Invoice, now: datetime) -> outbox.EventRow:
    check(invoice, "PAID", "pay")
    invoice.status, invoice.paid_at = "PAID", now
    invoice.amount_paid, invoice.payment_failed = invoice.amount_due, False
    return event("invoice.paid", invoice)


async def save(invoice: Invoice, events: Sequence[outbox.EventRow]) -> None:
    """Write one invoice changed in memory (locked by the caller) and its events."""
    await invoice.save()
    await outbox.write(events)


# ---------------------------------------------------------------- manual moves


async def move(invoice: Invoice, to: str, action: str) -> None:
    """OPEN/UNCOLLECTIBLE -> VOID, OPEN -> UNCOLLECTIBLE (the invoice locked by the caller);
    it is no longer collected."""
    check(invoice, to, action)
    invoice.status = to
    invoice.collection_pending = False
    if to == "VOID":
        await credits.give_back(invoice.id, await clock_now(invoice.test_clock_id))
    await save(invoice, [event(_EVENT_OF[to], invoice)])
