"""Invoices and their lines as rows, for writing many at once: unsaved Invoice objects,
line tuples, and the usage lines of many invoices priced from one read of their usage.

Lines are plain tuples, not models: a batch of the billing cron writes thousands, and a
Tortoise model per line cost more than the rest of closing the period."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meterbill.billing import invoice as inv
from meterbill.billing.money import decimal_to_str
from meterbill.db import ids
from meterbill.db.models import Invoice, Subscription
from meterbill.db.stores import Columns, insert_rows
from meterbill.services import plans
from meterbill.services.metered_usage import UsageRequest, period_usages

Period = tuple[datetime, datetime]
# Line positions: usage (arrears) first, then the usage of metered prices changed in the
# period (METERED prorations: re-priced with the usage, services/usage_spans), licensed fees
# (advance), then prorations.
_ORDER = {"METERED": 0, "SPAN": 500, "LICENSED": 1000, "PRORATION": 2000}

LINE_COLUMNS: Columns = (
    ("id", "text"),
    ("invoice_id", "text"),
    ("position", "int"),
    ("type", "text"),
    ("usage_type", "text"),
    ("description", "text"),
    ("price_id", "text"),
    ("tier", "int"),
    ("quantity", "text"),
    ("unit_amount_decimal", "text"),
    ("amount", "bigint"),
    ("period_start", "timestamptz"),
    ("period_end", "timestamptz"),
)
# A line without its id and invoice: what re-pricing compares.
CONTENT = slice(2, None)
_NAMES = [c for c, _ in LINE_COLUMNS]
AMOUNT = _NAMES.index("amount") - 2
TYPE, USAGE_TYPE, DESCRIPTION, PRICE_ID, TIER, QUANTITY = 1, 2, 3, 4, 5, 6
PERIOD_START, PERIOD_END = _NAMES.index("period_start") - 2, _NAMES.index("period_end") - 2

INVOICE_COLUMNS: Columns = (
    ("id", "text"),
    ("account_id", "text"),
    ("customer_id", "text"),
    ("subscription_id", "text"),
    ("test_clock_id", "text"),
    ("number", "text"),
    ("status", "text"),
    ("billing_reason", "text"),
    ("collection_method", "text"),
    ("days_until_due", "int"),
    ("currency", "text"),
    ("period_start", "timestamptz"),
    ("period_end", "timestamptz"),
    ("subtotal", "bigint"),
    ("total", "bigint"),
    ("amount_due", "bigint"),
    ("amount_paid", "bigint"),
    ("total_credits_applied", "bigint"),
    ("credit_applications", "text"),
    ("collection_pending", "bool"),
    ("payment_failed", "bool"),
    ("created_at", "timestamptz"),
    ("automatically_finalizes_at", "timestamptz"),
    ("finalized_at", "timestamptz"),
    ("paid_at", "timestamptz"),
    ("due_date", "timestamptz"),
    ("starting_balance", "bigint"),
    ("ending_balance", "bigint"),
    ("attempt_count", "int"),
    ("next_payment_attempt", "timestamptz"),
)


@dataclass(slots=True)
class NewInvoice:
    """An invoice a batch is making, with the Invoice model's columns: building a Tortoise
    model per invoice cost as much as pricing it."""

    id: str
    account_id: str
    customer_id: str
    subscription_id: str | None
    test_clock_id: str | None
    billing_reason: str
    collection_method: str
    days_until_due: int | None
    currency: str
    period_start: datetime
    period_end: datetime
    created_at: datetime
    automatically_finalizes_at: datetime | None
    number: str | None = None
    status: str = "DRAFT"
    subtotal: int = 0
    total: int = 0
    amount_due: int = 0
    amount_paid: int = 0
    total_credits_applied: int = 0
    credit_applications: str = ""
    collection_pending: bool = False
    payment_failed: bool = False
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    due_date: datetime | None = None
    starting_balance: int = 0
    ending_balance: int | None = None
    attempt_count: int = 0
    next_payment_attempt: datetime | None = None


AnyInvoice = Invoice | NewInvoice


def _fields(
    sub: Subscription,
    reason: str,
    period: Period,
    created_at: datetime,
    finalizes_at: datetime | None,
) -> dict[str, Any]:
    return {
        "account_id": sub.account_id,
        "customer_id": sub.customer_id,
        "subscription_id": sub.id,
        "test_clock_id": sub.test_clock_id,
        "billing_reason": reason,
        "collection_method": sub.collection_method,
        "days_until_due": sub.days_until_due,
        "currency": sub.currency,
        "period_start": period[0],
        "period_end": period[1],
        "created_at": created_at,
        "automatically_finalizes_at": finalizes_at,
    }


def batch_invoice(
    sub: Subscription,
    reason: str,
    period: Period,
    created_at: datetime,
    finalizes_at: datetime | None,
) -> NewInvoice:
    """An unsaved DRAFT invoice of `sub` (its id is set: lines and prorations can point at it
    before it is written by services/lifecycle/invoices.insert)."""
    return NewInvoice(id=ids.invoice_id(), **_fields(sub, reason, period, created_at, finalizes_at))


def set_totals(invoice: AnyInvoice, amounts: Sequence[int]) -> None:
    t = inv.totals(amounts)
    invoice.subtotal, invoice.total, invoice.amount_due = t.subtotal, t.total, t.amount_due


async def insert_invoices(invoices: Sequence[AnyInvoice]) -> None:
    names = [c for c, _ in INVOICE_COLUMNS]
    rows = [[getattr(i, c) for c in names] for i in invoices]
    await insert_rows("invoices", INVOICE_COLUMNS, rows)


def _slot(d: inv.LineDraft) -> int:
    if d.type == "PRORATION":
        return _ORDER["SPAN" if d.usage_type == "METERED" else "PRORATION"]
    return _ORDER[d.usage_type]


def line_rows(invoice_id: str, drafts: Sequence[inv.LineDraft]) -> list[tuple[Any, ...]]:
    """Rows (LINE_COLUMNS) of `invoice_id`'s lines, positioned by kind (in the order given
    within a kind)."""
    counters: dict[int, int] = {}
    rows = []
    for d in drafts:
        base = _slot(d)
        n = counters.get(base, 0)
        counters[base] = n + 1
        rows.append(
            (
                ids.invoice_line_id(),
                invoice_id,
                base + n,
                d.type,
                d.usage_type,
                d.description[:500],
                d.price_id,
                d.tier,
                decimal_to_str(d.quantity),
                None if d.unit_amount is None else decimal_to_str(d.unit_amount),
                d.amount,
                d.period_start,
                d.period_end,
            )
        )
    return rows


async def insert_lines(rows: Sequence[tuple[Any, ...]]) -> None:
    await insert_rows("invoice_lines", LINE_COLUMNS, rows)


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
                start = plans.usage_start(p, period)
                requests.append(UsageRequest(p.meter, customer_id, start, period[1]))
                slots.append((k, p, period))
    out: list[list[inv.LineDraft]] = [[] for _ in asks]
    for (k, p, period), q in zip(slots, await period_usages(requests), strict=True):
        out[k] += inv.usage_lines(p.name, p.price.id, p.spec, q, period)
    return out
