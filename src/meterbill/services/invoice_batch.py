"""Finalizing a batch of invoices locked by the caller's transaction: usage re-priced for all
of them from one read, numbers from one UPDATE per account, one UPDATE of the invoices.

The one-invoice paths (services/invoices.finalize, the manual finalizeInvoice, test clocks)
call the same functions with a batch of one: there is one implementation of each step."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections

from meterbill.db.models import Invoice, InvoiceLine
from meterbill.services import plans
from meterbill.services.batch_sql import Columns, dialect, update_rows
from meterbill.services.invoice_rows import (
    AMOUNT,
    CONTENT,
    LINE_COLUMNS,
    TYPE,
    USAGE_TYPE,
    AnyInvoice,
    insert_lines,
    line_rows,
    set_totals,
    usage_drafts,
)

Content = tuple[Any, ...]


def _is_priced_usage(content: Content) -> bool:
    # The lines a cycle invoice re-prices at finalization.
    return bool(content[TYPE] == "SUBSCRIPTION" and content[USAGE_TYPE] == "METERED")


async def _reprice_usage(cycle: list[Invoice], lines: dict[str, list[Content]]) -> None:
    """Cycle invoices price the ended period's usage at finalization: events that arrived
    during the grace period count. `lines` (each invoice's lines without id and invoice)
    is updated; an invoice whose usage lines come out the same keeps its rows."""
    plans_by_sub = await plans.plans(list({str(i.subscription_id) for i in cycle}))
    drafts = await usage_drafts(
        plans_by_sub,
        [(str(i.subscription_id), i.customer_id, (i.period_start, i.period_end)) for i in cycle],
    )
    changed, new_rows = [], []
    for i, d in zip(cycle, drafts, strict=True):
        rows = line_rows(i.id, d)
        fresh = [r[CONTENT] for r in rows]
        if fresh == [c for c in lines[i.id] if _is_priced_usage(c)]:
            continue
        changed.append(i.id)
        new_rows += rows
        lines[i.id] = [c for c in lines[i.id] if not _is_priced_usage(c)] + fresh
    if changed:
        await InvoiceLine.filter(
            invoice_id__in=changed, usage_type="METERED", type="SUBSCRIPTION"
        ).delete()
        await insert_lines(new_rows)


async def _lines(invoice_ids: list[str]) -> dict[str, list[Content]]:
    out: dict[str, list[Content]] = defaultdict(list)
    names = [c for c, _ in LINE_COLUMNS][1:]
    for row in (
        await InvoiceLine.filter(invoice_id__in=invoice_ids)
        .order_by("invoice_id", "position")
        .values_list(*names)
    ):
        content = list(row[1:])
        content[AMOUNT] = int(str(content[AMOUNT]))  # as line_rows() has it
        out[str(row[0])].append(tuple(content))
    return out


def mark_finalized(invoice: AnyInvoice, now: datetime) -> None:
    """DRAFT -> OPEN in memory, totals already set (PAID at once when nothing is due)."""
    invoice.status, invoice.finalized_at = "OPEN", now
    invoice.automatically_finalizes_at = None
    if invoice.collection_method == "SEND_INVOICE":
        invoice.due_date = now + timedelta(days=invoice.days_until_due or 0)
    if invoice.amount_due == 0:
        invoice.status, invoice.paid_at = "PAID", now
    elif invoice.collection_method == "CHARGE_AUTOMATICALLY":
        invoice.collection_pending = True


async def assign_numbers(invoices: Sequence[AnyInvoice]) -> None:
    """PREFIX-0001 numbers, gapless per account, in the batch's order: one UPDATE per account
    reserves the batch's block under the account's row lock, which is held to commit, so
    call this last in the transaction. Accounts go in id order: two batches never wait for
    each other in a cycle."""
    by_account: dict[str, list[AnyInvoice]] = defaultdict(list)
    for i in invoices:
        by_account[i.account_id].append(i)
    conn = connections.get("default")
    sql = dialect(
        conn,
        "UPDATE accounts SET next_invoice_seq = next_invoice_seq + $1 WHERE id = $2 "
        "RETURNING next_invoice_seq, invoice_prefix",
    )
    for account_id in sorted(by_account):
        mine = by_account[account_id]
        row = (await conn.execute_query_dict(sql, [len(mine), account_id]))[0]
        first = int(row["next_invoice_seq"]) - len(mine)
        for n, i in enumerate(mine):
            i.number = f"{row['invoice_prefix']}-{first + n:04d}"


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
)
_NUMBERED: Columns = (("id", "text"), ("number", "text"))


async def save_numbers(invoices: Sequence[AnyInvoice]) -> None:
    """assign_numbers() for invoices already written finalized in this transaction."""
    if invoices:
        await assign_numbers(invoices)
        await update_rows("invoices", _NUMBERED, [(i.id, i.number) for i in invoices])


async def finalize_invoices(invoices: list[Invoice], now: datetime) -> None:
    """DRAFT -> OPEN with numbers (PAID at once when nothing is due). The caller holds the
    invoices' row locks and has checked they are drafts; the objects are updated too."""
    if not invoices:
        return
    lines = await _lines([i.id for i in invoices])
    cycle = [i for i in invoices if i.billing_reason == "SUBSCRIPTION_CYCLE"]
    if cycle:
        await _reprice_usage(cycle, lines)
    for i in invoices:
        set_totals(i, [int(c[AMOUNT]) for c in lines[i.id]])
        mark_finalized(i, now)
    await assign_numbers(invoices)
    names = [c for c, _ in _FINALIZED]
    await update_rows("invoices", _FINALIZED, [[getattr(i, c) for c in names] for i in invoices])
