"""Invoice states: DRAFT -> OPEN (or PAID at once when nothing is due) -> PAID, VOID or
UNCOLLECTIBLE, and UNCOLLECTIBLE -> PAID or VOID. Every change of an invoice's status goes
through here and records its event (invoice.created, invoice.finalized, invoice.paid,
invoice.payment_failed, invoice.voided, invoice.marked_uncollectible) in the caller's
transaction. The batch forms take many invoices and write each kind of row with one
statement; the one-invoice paths call them with a batch of one."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from meterbill.billing import dunning
from meterbill.billing.balance import too_small
from meterbill.billing.errors import DomainError, conflict
from meterbill.db import stores
from meterbill.db.models import Invoice
from meterbill.db.stores import Columns, update_rows
from meterbill.db.stores import credits as credit_store
from meterbill.services.credits import apply as credits
from meterbill.services.credits.apply import Content
from meterbill.services.invoice_drafts import AnyInvoice, insert_invoices
from meterbill.services.lifecycle import balances, outbox
from meterbill.services.now import utcnow
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
    "starting_balance",
    "ending_balance",
    "attempt_count",
    "next_payment_attempt",
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


async def prepare_finalization(
    invoices: Sequence[AnyInvoice], lines: Mapping[str, Sequence[Content]], now: datetime
) -> None:
    """DRAFT -> OPEN (or PAID) in memory for a batch whose totals are set (`lines`: each
    invoice's lines as services/invoice_drafts keeps them): credit grants pay the metered
    lines, then each invoice takes its customer's balance (both written now, under the rows'
    locks: one statement reads and locks what the batch's customers hold, the non-zero
    balances and the usable grants of those with something to pay), then mark_finalized.
    Every finalization path comes through here."""
    if not invoices:
        return
    bills = credits.bills_of(invoices, lines)
    held = await credit_store.lock_holdings(
        sorted({i.customer_id for i in invoices}), sorted({b.customer_id for b in bills}), now
    )
    await credits.apply_credits(invoices, bills, held.grants, now)
    await balances.settle_invoices(invoices, now, held.balances)
    for i in invoices:
        mark_finalized(i, now)


def mark_finalized(invoice: AnyInvoice, now: datetime) -> None:
    """DRAFT -> OPEN in memory, totals and balance already applied (PAID at once when
    nothing is due, or when the amount due is below the currency's minimum charge: it was
    carried to the customer's balance)."""
    check(invoice, "OPEN", "finalize")
    invoice.status, invoice.finalized_at = "OPEN", now
    invoice.automatically_finalizes_at = None
    if invoice.collection_method == "SEND_INVOICE":
        invoice.due_date = now + timedelta(days=invoice.days_until_due or 0)
    if invoice.amount_due == 0 or too_small(invoice.amount_due, invoice.currency):
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
    ("starting_balance", "bigint"),
    ("ending_balance", "bigint"),
    ("total_credits_applied", "bigint"),
    ("credit_applications", "text"),
)
_NUMBERED: Columns = (("id", "text"), ("number", "text"))


async def finalize(
    invoices: Sequence[Invoice], lines: Mapping[str, Sequence[Content]], now: datetime
) -> None:
    """DRAFT -> OPEN with numbers (PAID at once when nothing is due), totals already set. The
    caller holds the invoices' row locks and has checked they are drafts; the objects are
    updated too."""
    if not invoices:
        return
    await prepare_finalization(invoices, lines, now)
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
        invoice.next_payment_attempt = None
        return event("invoice.paid", invoice)
    invoice.payment_failed = True
    return event("invoice.payment_failed", invoice)


def automatic_attempt(
    invoice: Invoice, result: ChargeResult, now: datetime, settings: dunning.Settings
) -> tuple[outbox.EventRow, list[outbox.EventRow], bool]:
    """An automatic attempt's outcome in memory (the billing clock's, not payInvoice's): the
    charge's event, the invoice's next attempt by the retry schedule and, once the last one
    failed, invoiceAfterRetries. Returns (the charge's event, further events, whether the
    retries are exhausted: the caller applies subscriptionAfterRetries). A failed first
    invoice of a subscription is not retried (the subscription is INCOMPLETE)."""
    invoice.attempt_count += 1
    charge_event = charged(invoice, result, now)
    if result.succeeded:
        return charge_event, [], False
    if invoice.billing_reason == "SUBSCRIPTION_CREATE":
        invoice.next_payment_attempt = None
        return charge_event, [], False
    invoice.next_payment_attempt = dunning.next_attempt(invoice.attempt_count, now, settings)
    if invoice.next_payment_attempt is not None:
        return charge_event, [], False
    more = []
    if settings.invoice_after == "MARK_UNCOLLECTIBLE" and can_move(invoice, "UNCOLLECTIBLE"):
        invoice.status = "UNCOLLECTIBLE"
        more.append(event("invoice.marked_uncollectible", invoice))
    return charge_event, more, True


_COLLECTED: Columns = (
    ("id", "text"),
    ("collection_pending", "bool"),
    ("status", "text"),
    ("paid_at", "timestamptz"),
    ("amount_paid", "bigint"),
    ("payment_failed", "bool"),
    ("attempt_count", "int"),
    ("next_payment_attempt", "timestamptz"),
)


async def save_collected(invoices: Sequence[Invoice], events: Sequence[outbox.EventRow]) -> None:
    """Write a collection batch's invoices (no longer pending) and its charges' events."""
    rows = []
    for i in invoices:
        i.collection_pending = False
        rows.append(
            [
                i.id,
                False,
                i.status,
                i.paid_at,
                i.amount_paid,
                i.payment_failed,
                i.attempt_count,
                i.next_payment_attempt,
            ]
        )
    await update_rows("invoices", _COLLECTED, rows)
    await outbox.write(events)


def paid_out_of_band(invoice: Invoice, now: datetime) -> outbox.EventRow:
    check(invoice, "PAID", "pay")
    invoice.status, invoice.paid_at = "PAID", now
    invoice.amount_paid, invoice.payment_failed = invoice.amount_due, False
    invoice.next_payment_attempt = None
    return event("invoice.paid", invoice)


async def save(invoice: Invoice, events: Sequence[outbox.EventRow]) -> None:
    """Write one invoice changed in memory (locked by the caller) and its events."""
    await invoice.save()
    await outbox.write(events)


# ---------------------------------------------------------------- manual moves


async def move(invoice: Invoice, to: str, action: str, now: datetime | None = None) -> None:
    """OPEN/UNCOLLECTIBLE -> VOID, OPEN -> UNCOLLECTIBLE (the invoice locked by the caller);
    it is no longer collected."""
    check(invoice, to, action)
    invoice.status = to
    invoice.collection_pending = False
    invoice.next_payment_attempt = None
    if to == "VOID":
        await balances.give_back(invoice, now or utcnow())
        await credits.give_back(invoice)
    await save(invoice, [event(_EVENT_OF[to], invoice)])
