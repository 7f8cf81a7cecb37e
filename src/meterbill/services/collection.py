"""Collecting a batch of finalized invoices locked by the caller's transaction: one charge
per invoice through the payment provider (a few in flight at once), the attempts and the
invoices written with one statement each; subscription statuses refreshed after commit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.functions import Count

from meterbill.db.models import Customer, Invoice, PaymentAttempt, Subscription
from meterbill.services.batch_sql import Columns, insert_rows, update_rows
from meterbill.services.payments import ChargeResult, get_provider

# Charges of one batch in flight at once: with a real processor each is a network call.
CHARGE_CONCURRENCY = 8

ATTEMPT_COLUMNS: Columns = (
    ("invoice_id", "text"),
    ("attempt", "int"),
    ("amount", "bigint"),
    ("currency", "text"),
    ("payment_method", "text"),
    ("succeeded", "bool"),
    ("failure_message", "text"),
    ("provider_reference", "text"),
    ("created_at", "timestamptz"),
)
_COLLECTED: Columns = (
    ("id", "text"),
    ("collection_pending", "bool"),
    ("status", "text"),
    ("paid_at", "timestamptz"),
    ("amount_paid", "bigint"),
    ("payment_failed", "bool"),
)


async def attempts_so_far(invoice_ids: list[str]) -> dict[str, int]:
    if not invoice_ids:
        return {}
    rows = (
        await PaymentAttempt.filter(invoice_id__in=invoice_ids)
        .group_by("invoice_id")
        .annotate(n=Count("id"))
        .values_list("invoice_id", "n")
    )
    return {str(iid): int(n) for iid, n in rows}


async def charge(invoice: Invoice, payment_method: str, attempt: int) -> ChargeResult:
    # The key is stable per invoice attempt: a processor that honours it charges a retried
    # job once.
    return await get_provider().charge(
        customer_id=invoice.customer_id,
        payment_method=payment_method,
        amount=invoice.amount_due - invoice.amount_paid,
        currency=invoice.currency,
        idempotency_key=f"{invoice.id}-{attempt}",
    )


def record_charge(
    invoice: Invoice, payment_method: str, attempt: int, result: ChargeResult, now: datetime
) -> list[Any]:
    """The attempt's row (ATTEMPT_COLUMNS); the invoice's fields are set after it."""
    row = [
        invoice.id,
        attempt,
        invoice.amount_due - invoice.amount_paid,
        invoice.currency,
        payment_method,
        result.succeeded,
        result.failure_message,
        result.reference,
        now,
    ]
    if result.succeeded:
        invoice.status, invoice.paid_at = "PAID", now
        invoice.amount_paid = invoice.amount_due
        invoice.payment_failed = False
    else:
        invoice.payment_failed = True
    return row


async def insert_attempts(rows: Sequence[Sequence[Any]]) -> None:
    await insert_rows("payment_attempts", ATTEMPT_COLUMNS, rows)


async def collect_invoices(invoices: list[Invoice], now: datetime) -> BaseException | None:
    """Try the payment method on file once for each just-finalized invoice (the caller holds
    their row locks and checked collection_pending). A charge that raises leaves its invoice
    pending and untouched for a later pass; the others are recorded. Returns the first such
    error, for the caller to raise after committing."""
    if not invoices:
        return None
    due = [i for i in invoices if i.status == "OPEN"]
    methods: dict[str, str] = {}
    if due:
        customers = Customer.filter(id__in=list({i.customer_id for i in due}))
        for cid, pm in await customers.values_list("id", "default_payment_method"):
            if pm:
                methods[str(cid)] = str(pm)
    to_charge = [i for i in due if i.customer_id in methods]
    counts = await attempts_so_far([i.id for i in to_charge])
    gate = asyncio.Semaphore(CHARGE_CONCURRENCY)

    async def one(i: Invoice) -> ChargeResult:
        async with gate:
            return await charge(i, methods[i.customer_id], counts.get(i.id, 0) + 1)

    results = await asyncio.gather(*(one(i) for i in to_charge), return_exceptions=True)
    error: BaseException | None = None
    failed: set[str] = set()
    attempts = []
    for i, result in zip(to_charge, results, strict=True):
        if isinstance(result, BaseException):
            error = error or result
            failed.add(i.id)
            continue
        attempt = counts.get(i.id, 0) + 1
        attempts.append(record_charge(i, methods[i.customer_id], attempt, result, now))
    await insert_attempts(attempts)
    rows = []
    for i in invoices:
        if i.id not in failed:
            i.collection_pending = False
            rows.append([i.id, False, i.status, i.paid_at, i.amount_paid, i.payment_failed])
    await update_rows("invoices", _COLLECTED, rows)
    return error


async def refresh_statuses(subscription_ids: Sequence[str | None]) -> None:
    """PAST_DUE while one of its open invoices has a failed payment, else ACTIVE. Only rows
    whose status changes are written, each UPDATE a statement of its own outside the
    caller's transaction, so it holds no lock beyond itself."""
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
        await Subscription.filter(id__in=past, status="ACTIVE").update(status="PAST_DUE")
    if fine:
        await Subscription.filter(id__in=fine, status="PAST_DUE").update(status="ACTIVE")
