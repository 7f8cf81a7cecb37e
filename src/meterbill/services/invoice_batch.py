"""Invoice steps over a batch of rows locked by the caller's transaction: usage lines priced
for many invoices at once, finalization with one numbering UPDATE per account, collection.

A statement here does a batch's work (one SELECT ... IN, one executemany, one bulk insert),
so the billing cron's cost per subscription is Python, not round trips. The one-invoice
paths (services/invoices.finalize/collect, test clocks) call the same functions with a
batch of one: there is one implementation of each step."""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.functions import Count

from meterbill.billing import invoice as inv
from meterbill.billing.money import decimal_to_str
from meterbill.db.models import Customer, Invoice, InvoiceLine, PaymentAttempt, Subscription
from meterbill.db.usage_sql import is_postgres
from meterbill.services import plans
from meterbill.services.batch_usage import UsageRequest, period_usages
from meterbill.services.payments import ChargeResult, get_provider

Period = tuple[datetime, datetime]
# Line positions: usage (arrears) first, then licensed fees (advance), then prorations.
_ORDER = {"METERED": 0, "LICENSED": 1000, "PRORATION": 2000}
# Charges of one batch in flight at once: a real processor is a network call each.
CHARGE_CONCURRENCY = 8


def _slot(d: inv.LineDraft) -> int:
    return _ORDER["PRORATION" if d.type == "PRORATION" else d.usage_type]


def line_objects(invoice_id: str, drafts: Sequence[inv.LineDraft]) -> list[InvoiceLine]:
    """Unsaved lines of `invoice_id`, positioned by kind (in the order given within a kind)."""
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
    return rows


def new_invoice(
    sub: Subscription,
    reason: str,
    period: Period,
    created_at: datetime,
    finalizes_at: datetime | None,
) -> Invoice:
    """An unsaved DRAFT invoice of `sub` (its id is set: lines and prorations can point at it
    before it is written)."""
    return Invoice(
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


def set_totals(invoice: Invoice, drafts: Sequence[inv.LineDraft]) -> None:
    t = inv.totals(d.amount for d in drafts)
    invoice.subtotal, invoice.total, invoice.amount_due = t.subtotal, t.total, t.amount_due


_MARK = re.compile(r"\$\d+")


def dialect(conn: Any, sql: str) -> str:
    """`sql` written with PostgreSQL's $n placeholders (each used once, in order) for the
    connection's backend."""
    return sql if is_postgres(conn) else _MARK.sub("?", sql)


async def execute_many(sql: str, rows: list[list[Any]]) -> None:
    """One statement for every row, sent at once: asyncpg pipelines them, SQLite runs them
    in the open transaction."""
    if not rows:
        return
    conn = connections.get("default")
    await conn.execute_many(dialect(conn, sql), rows)


async def usage_drafts(
    plans_by_sub: dict[str, list[plans.PlanItem]], asks: Sequence[tuple[str, str, Period]]
) -> list[list[inv.LineDraft]]:
    """plans.usage() for each (subscription, customer, period), with the usage of all of them
    read at once."""
    requests: list[UsageRequest] = []
    slots: list[tuple[int, plans.PlanItem, Period]] = []
    for k, (sub_id, customer_id, period) in enumerate(asks):
        for p in plans_by_sub.get(sub_id, []):
            if p.metered and p.meter is not None:
                requests.append(UsageRequest(p.meter, customer_id, period[0], period[1]))
                slots.append((k, p, period))
    out: list[list[inv.LineDraft]] = [[] for _ in asks]
    for (k, p, period), q in zip(slots, await period_usages(requests), strict=True):
        out[k] += inv.usage_lines(p.name, p.price.id, p.spec, q, period)
    return out


# ---------------------------------------------------------------- finalize


async def _reprice_usage(cycle: list[Invoice]) -> None:
    """Cycle invoices price the ended period's usage at finalization: events that arrived
    during the grace period count."""
    subs = list({i.subscription_id for i in cycle if i.subscription_id})
    plans_by_sub = await plans.plans(subs)
    drafts = await usage_drafts(
        plans_by_sub,
        [(str(i.subscription_id), i.customer_id, (i.period_start, i.period_end)) for i in cycle],
    )
    await InvoiceLine.filter(
        invoice_id__in=[i.id for i in cycle], usage_type="METERED", type="SUBSCRIPTION"
    ).delete()
    lines = [ln for i, d in zip(cycle, drafts, strict=True) for ln in line_objects(i.id, d)]
    if lines:
        await InvoiceLine.bulk_create(lines)


async def _numbers(invoices: list[Invoice]) -> dict[str, str]:
    """PREFIX-0001 numbers, gapless per account, in the batch's order: one UPDATE per account
    reserves the batch's block of numbers under the account's row lock (held to commit).
    Accounts go in id order, so two batches never wait for each other in a cycle."""
    by_account: dict[str, list[Invoice]] = defaultdict(list)
    for i in invoices:
        by_account[i.account_id].append(i)
    conn = connections.get("default")
    sql = dialect(
        conn,
        "UPDATE accounts SET next_invoice_seq = next_invoice_seq + $1 WHERE id = $2 "
        "RETURNING next_invoice_seq, invoice_prefix",
    )
    out: dict[str, str] = {}
    for account_id in sorted(by_account):
        mine = by_account[account_id]
        rows = await conn.execute_query_dict(sql, [len(mine), account_id])
        first = int(rows[0]["next_invoice_seq"]) - len(mine)
        for n, i in enumerate(mine):
            out[i.id] = f"{rows[0]['invoice_prefix']}-{first + n:04d}"
    return out


_FINALIZED = (
    "UPDATE invoices SET number = $1, status = $2, finalized_at = $3, "
    "automatically_finalizes_at = NULL, due_date = $4, paid_at = $5, collection_pending = $6, "
    "subtotal = $7, total = $8, amount_due = $9 WHERE id = $10"
)


async def finalize_invoices(invoices: list[Invoice], now: datetime) -> None:
    """DRAFT -> OPEN with numbers (PAID at once when nothing is due). The caller holds the
    invoices' row locks and has checked they are drafts; the objects are updated too."""
    if not invoices:
        return
    cycle = [i for i in invoices if i.billing_reason == "SUBSCRIPTION_CYCLE"]
    if cycle:
        await _reprice_usage(cycle)
    amounts: dict[str, list[int]] = defaultdict(list)
    for iid, amount in await InvoiceLine.filter(
        invoice_id__in=[i.id for i in invoices]
    ).values_list("invoice_id", "amount"):
        amounts[str(iid)].append(int(str(amount)))
    numbers = await _numbers(invoices)
    rows = []
    for i in invoices:
        t = inv.totals(amounts[i.id])
        i.subtotal, i.total, i.amount_due = t.subtotal, t.total, t.amount_due
        i.number, i.status, i.finalized_at = numbers[i.id], "OPEN", now
        i.automatically_finalizes_at = None
        if i.collection_method == "SEND_INVOICE":
            i.due_date = now + timedelta(days=i.days_until_due or 0)
        if i.amount_due == 0:
            i.status, i.paid_at = "PAID", now
        elif i.collection_method == "CHARGE_AUTOMATICALLY":
            i.collection_pending = True
        rows.append(
            [
                i.number,
                i.status,
                now,
                i.due_date,
                i.paid_at,
                i.collection_pending,
                i.subtotal,
                i.total,
                i.amount_due,
                i.id,
            ]
        )
    await execute_many(_FINALIZED, rows)


# ---------------------------------------------------------------- collect


async def charge(invoice: Invoice, payment_method: str, attempt: int) -> ChargeResult:
    return await get_provider().charge(
        customer_id=invoice.customer_id,
        payment_method=payment_method,
        amount=invoice.amount_due - invoice.amount_paid,
        currency=invoice.currency,
        idempotency_key=f"{invoice.id}-{attempt}",
    )


def record_charge(
    invoice: Invoice, payment_method: str, attempt: int, result: ChargeResult, now: datetime
) -> PaymentAttempt:
    """The (unsaved) attempt, and the invoice's fields after it."""
    row = PaymentAttempt(
        invoice_id=invoice.id,
        attempt=attempt,
        amount=invoice.amount_due - invoice.amount_paid,
        currency=invoice.currency,
        payment_method=payment_method,
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
    return row


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


_COLLECTED = (
    "UPDATE invoices SET collection_pending = $1, status = $2, paid_at = $3, "
    "amount_paid = $4, payment_failed = $5 WHERE id = $6"
)


async def collect_invoices(invoices: list[Invoice], now: datetime) -> BaseException | None:
    """Try the payment method on file once for each just-finalized invoice (the caller holds
    their row locks and checked collection_pending). A charge that raises leaves its invoice
    pending, untouched, for the next pass; the others are recorded. Returns the first such
    error for the caller to raise after committing."""
    if not invoices:
        return None
    due = [i for i in invoices if i.status == "OPEN"]
    methods: dict[str, str] = {}
    if due:
        methods = {
            str(cid): str(pm)
            for cid, pm in await Customer.filter(
                id__in=list({i.customer_id for i in due})
            ).values_list("id", "default_payment_method")
            if pm
        }
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
    if attempts:
        await PaymentAttempt.bulk_create(attempts)
    rows = []
    for i in invoices:
        if i.id in failed:
            continue
        i.collection_pending = False
        rows.append([False, i.status, i.paid_at, i.amount_paid, i.payment_failed, i.id])
    await execute_many(_COLLECTED, rows)
    return error


async def refresh_statuses(subscription_ids: Sequence[str | None]) -> None:
    """PAST_DUE while one of its open invoices has a failed payment, else ACTIVE. Only rows
    whose status changes are written (each UPDATE its own statement, outside the caller's
    transaction, so it holds no lock beyond itself)."""
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
