"""Collecting a batch of finalized invoices locked by the caller's transaction: one charge
per invoice through the payment provider (a few in flight at once), the attempts and the
invoices and their events written with one statement each (services/lifecycle/invoices);
subscription statuses refreshed after commit (services/lifecycle/subscriptions)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.functions import Count

from meterbill.db.models import Customer, Invoice, PaymentAttempt
from meterbill.db.stores import Columns, insert_rows
from meterbill.services.lifecycle import invoices as lifecycle_invoices
from meterbill.services.lifecycle import outbox
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
) -> tuple[list[Any], outbox.EventRow]:
    """The attempt's row (ATTEMPT_COLUMNS) and the charge's event; the invoice's fields are
    set after the row is made."""
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
    return row, lifecycle_invoices.charged(invoice, result, now)


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
    attempts, events = [], []
    for i, result in zip(to_charge, results, strict=True):
        if isinstance(result, BaseException):
            error = error or result
            failed.add(i.id)
            continue
        attempt = counts.get(i.id, 0) + 1
        row, event = record_charge(i, methods[i.customer_id], attempt, result, now)
        attempts.append(row)
        events.append(event)
    await insert_attempts(attempts)
    await lifecycle_invoices.save_collected([i for i in invoices if i.id not in failed], events)
    return error
