"""Collecting a batch of finalized invoices locked by the caller's transaction: one charge
per invoice through the payment provider (a few in flight at once), the attempts and the
invoices and their events written with one statement each (services/lifecycle/invoices);
subscription statuses refreshed after commit (services/lifecycle/subscriptions)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.functions import Count

from meterbill.billing import dunning
from meterbill.db.models import Customer, Invoice, PaymentAttempt, Subscription
from meterbill.db.stores import Columns, insert_rows
from meterbill.services import billing_settings
from meterbill.services.lifecycle import invoices as lifecycle_invoices
from meterbill.services.lifecycle import outbox
from meterbill.services.lifecycle import subscriptions as lifecycle_subscriptions
from meterbill.services.payments import ChargeResult, CustomerIds, MethodOnFile, get_provider

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
    ("failure_code", "text"),
    ("decline_code", "text"),
    ("needs_customer_action", "bool"),
    ("provider_reference", "text"),
    ("created_at", "timestamptz"),
)
# A retry's outcome when the customer has no payment method the provider can charge.
NO_METHOD = ChargeResult(
    False, failure_message="the customer has no payment method", failure_code="no_payment_method"
)
# What a processor may say is longer than the columns hold (payment_attempts).
_MESSAGE_MAX, _CODE_MAX = 300, 100


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


async def methods_on_file(customer_ids: Sequence[str]) -> dict[str, MethodOnFile]:
    """What the configured provider would charge for each customer that has something it
    can charge (the test cards' defaultPaymentMethod, or the customer's Stripe ids)."""
    if not customer_ids:
        return {}
    provider = get_provider()
    rows = await Customer.filter(id__in=list(set(customer_ids))).values_list(
        "id", "default_payment_method", "stripe_customer_id", "stripe_payment_method_id"
    )
    out = {}
    for cid, pm, stripe_customer, stripe_pm in rows:
        method = provider.method_on_file(CustomerIds(pm, stripe_customer, stripe_pm))
        if method is not None:
            out[str(cid)] = method
    return out


async def charge(invoice: Invoice, method: MethodOnFile, attempt: int) -> ChargeResult:
    # The key is stable per invoice attempt: a processor that honours it charges a retried
    # job once (the attempt number only grows once an attempt is recorded).
    return await get_provider().charge(
        customer_id=invoice.customer_id,
        payment_method=method.payment_method,
        amount=invoice.amount_due - invoice.amount_paid,
        currency=invoice.currency,
        idempotency_key=f"{invoice.id}-{attempt}",
        provider_customer_id=method.provider_customer_id,
        invoice_id=invoice.id,
        invoice_number=invoice.number,
    )


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def record_charge(
    invoice: Invoice, payment_method: str, attempt: int, result: ChargeResult, now: datetime
) -> tuple[list[Any], outbox.EventRow]:
    """The attempt's row (ATTEMPT_COLUMNS) and the charge's event; the invoice's fields are
    set after the row is made."""
    row = attempt_row(invoice, payment_method, attempt, result, now)
    return row, lifecycle_invoices.charged(invoice, result, now)


def attempt_row(
    invoice: Invoice, payment_method: str, attempt: int, result: ChargeResult, now: datetime
) -> list[Any]:
    return [
        invoice.id,
        attempt,
        invoice.amount_due - invoice.amount_paid,
        invoice.currency,
        payment_method,
        result.succeeded,
        _cut(result.failure_message, _MESSAGE_MAX),
        _cut(result.failure_code, _CODE_MAX),
        _cut(result.decline_code, _CODE_MAX),
        result.needs_customer_action,
        _cut(result.reference, _CODE_MAX),
        now,
    ]


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
    unpaid = await _unpaid([i.subscription_id for i in due])
    due = [i for i in due if i.subscription_id not in unpaid]
    methods = await methods_on_file([i.customer_id for i in due])
    to_charge = [i for i in due if i.customer_id in methods]
    counts = await attempts_so_far([i.id for i in to_charge])
    gate = asyncio.Semaphore(CHARGE_CONCURRENCY)

    async def one(i: Invoice) -> ChargeResult:
        async with gate:
            return await charge(i, methods[i.customer_id], counts.get(i.id, 0) + 1)

    results = await asyncio.gather(*(one(i) for i in to_charge), return_exceptions=True)
    outcomes: list[tuple[Invoice, ChargeResult | BaseException]] = list(
        zip(to_charge, results, strict=True)
    )
    # A scheduled retry with nothing to charge fails, as Stripe's does: the schedule goes
    # on, then the dunning end action applies (no charge was made: no attempt row). A
    # just-finalized invoice without a method is not attempted (it stays OPEN).
    outcomes += [
        (i, NO_METHOD)
        for i in due
        if i.customer_id not in methods and i.next_payment_attempt is not None
    ]
    declined = [
        i.account_id for i, r in outcomes if isinstance(r, ChargeResult) and not r.succeeded
    ]
    settings = await billing_settings.settings_of(declined) if declined else {}
    error: BaseException | None = None
    failed: set[str] = set()
    attempts, events = [], []
    exhausted: dict[str, list[str]] = defaultdict(list)  # action -> subscriptions
    for i, result in outcomes:
        if isinstance(result, BaseException):
            error = error or result
            failed.add(i.id)
            continue
        if i.customer_id in methods:
            attempt = counts.get(i.id, 0) + 1
            pm = methods[i.customer_id].payment_method
            attempts.append(attempt_row(i, pm, attempt, result, now))
        rules = settings.get(i.account_id, dunning.DEFAULT)
        event, more, done = lifecycle_invoices.automatic_attempt(i, result, now, rules)
        events += [event, *more]
        if done and i.subscription_id is not None:
            exhausted[rules.subscription_after].append(i.subscription_id)
    attempted = {i.id for i, _ in outcomes}
    for i in invoices:
        if i.id not in attempted:  # a new one without a method, or UNPAID: no retry either
            i.next_payment_attempt = None
    await insert_attempts(attempts)
    await lifecycle_invoices.save_collected([i for i in invoices if i.id not in failed], events)
    for action, subscription_ids in exhausted.items():
        await lifecycle_subscriptions.retries_exhausted(subscription_ids, action, now)
    return error


async def _unpaid(subscription_ids: Sequence[str | None]) -> set[str]:
    """Those of the subscriptions that are UNPAID: their invoices are not charged."""
    ids = list({s for s in subscription_ids if s is not None})
    if not ids:
        return set()
    found = await Subscription.filter(id__in=ids, status="UNPAID").values_list("id", flat=True)
    return {str(s) for s in found}
