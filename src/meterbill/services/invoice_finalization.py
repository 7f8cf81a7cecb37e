"""Finalizing a batch of invoices locked by the caller's transaction: usage re-priced for all
of them from one read, then the transition (services/lifecycle/invoices: numbers from one
UPDATE per account, one UPDATE of the invoices, one INSERT of their events).

The one-invoice paths (services/invoices.finalize, the manual finalizeInvoice, test clocks)
call the same functions with a batch of one: there is one implementation of each step."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterbill.billing import invoice as inv
from meterbill.db.models import Invoice, InvoiceLine
from meterbill.services import plans, usage_spans
from meterbill.services.invoice_drafts import (
    AMOUNT,
    CONTENT,
    DESCRIPTION,
    LINE_COLUMNS,
    PERIOD_END,
    PERIOD_START,
    PRICE_ID,
    QUANTITY,
    TIER,
    TYPE,
    USAGE_TYPE,
    insert_lines,
    line_rows,
    set_totals,
    usage_drafts,
)
from meterbill.services.lifecycle import invoices as lifecycle_invoices

Content = tuple[Any, ...]


def _is_priced_usage(content: Content) -> bool:
    # The lines a cycle invoice re-prices at finalization: the period's usage, and the
    # usage of a metered price changed during it (services/usage_spans).
    return inv.bills_usage(content[TYPE], content[USAGE_TYPE])


def _span_drafts(contents: list[Content]) -> list[inv.LineDraft]:
    """The invoice's span lines as drafts: what usage_spans.reprice reads of them."""
    return [
        inv.LineDraft(
            c[TYPE],
            c[USAGE_TYPE],
            c[DESCRIPTION],
            c[PRICE_ID],
            c[TIER],
            Decimal(c[QUANTITY]),
            None,
            int(c[AMOUNT]),
            c[PERIOD_START],
            c[PERIOD_END],
        )
        for c in contents
        if usage_spans.is_span(c[TYPE], c[USAGE_TYPE])
    ]


async def _reprice_usage(cycle: list[Invoice], lines: dict[str, list[Content]]) -> None:
    """Cycle invoices price the ended period's usage at finalization: events that arrived
    during the grace period count (also those of a changed metered price's span, at its
    price). `lines` (each invoice's lines without id and invoice) is updated; an invoice
    whose usage lines come out the same keeps its rows."""
    plans_by_sub = await plans.plans(list({str(i.subscription_id) for i in cycle}))
    drafts = await usage_drafts(
        plans_by_sub,
        [(str(i.subscription_id), i.customer_id, (i.period_start, i.period_end)) for i in cycle],
    )
    spans = await usage_spans.reprice([(i.customer_id, _span_drafts(lines[i.id])) for i in cycle])
    changed, new_rows = [], []
    for i, d, s in zip(cycle, drafts, spans, strict=True):
        rows = line_rows(i.id, d + s)
        fresh = [r[CONTENT] for r in rows]
        if fresh == [c for c in lines[i.id] if _is_priced_usage(c)]:
            continue
        changed.append(i.id)
        new_rows += rows
        lines[i.id] = [c for c in lines[i.id] if not _is_priced_usage(c)] + fresh
    if changed:
        await InvoiceLine.filter(
            invoice_id__in=changed, usage_type="METERED", type__in=["SUBSCRIPTION", "PRORATION"]
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


async def finalize_invoices(invoices: list[Invoice], now: datetime) -> None:
    """DRAFT -> OPEN with numbers (PAID at once when nothing is due), usage re-priced. The
    caller holds the invoices' row locks and has checked they are drafts; the objects are
    updated too."""
    if not invoices:
        return
    lines = await _lines([i.id for i in invoices])
    cycle = [i for i in invoices if i.billing_reason == "SUBSCRIPTION_CYCLE"]
    if cycle:
        await _reprice_usage(cycle, lines)
    for i in invoices:
        set_totals(i, [int(c[AMOUNT]) for c in lines[i.id]])
    await lifecycle_invoices.finalize(invoices, lines, now)
