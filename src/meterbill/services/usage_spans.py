"""The usage of a metered price up to its change (or its item's removal), billed at that
price on the subscription's next invoice (Stripe bills usage before and after a change at
their prices).

The change leaves the span [start, change) as pending METERED proration lines
(services/subscription_changes). Events of the span may still arrive after the change
(timestamps reach 35 days back), so the span is priced again, read whole from the usage of
that moment, wherever its lines are billed: the cycle invoice when the period closes and
again when it is finalized, an invoice made at once (ALWAYS_INVOICE, cancel now), the
upcoming invoice. Reading the whole span each time (never adding to what was billed) is
what keeps an event from counting twice; the new price bills from the change on.

An invoice made at once also counts the span's events the worker has not folded yet, as
its current price's usage does (they would be missed: that invoice is not priced again);
the span stays half open, its end instant being the new price's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from meterbill.billing import invoice as inv
from meterbill.billing.pricing import PriceSpec
from meterbill.db.models import Price, PriceTier
from meterbill.services.metered_usage import MeterRef, UsageRequest, metered_quantity, period_usages
from meterbill.services.prices import spec_of

Span = tuple[str, datetime, datetime]  # (price, start, end)


def is_span(type_: str, usage_type: str) -> bool:
    """A pending line of a metered price's usage up to its change (no other line is both)."""
    return type_ == "PRORATION" and usage_type == "METERED"


@dataclass(frozen=True, slots=True)
class _Priced:
    name: str
    spec: PriceSpec
    meter: MeterRef


async def _prices(price_ids: set[str]) -> dict[str, _Priced]:
    prices = await Price.filter(id__in=list(price_ids)).select_related("product", "meter")
    tiers: dict[str, list[PriceTier]] = {}
    if any(p.billing_scheme == "TIERED" for p in prices):
        for t in await PriceTier.filter(price_id__in=list(price_ids)):
            tiers.setdefault(t.price_id, []).append(t)
    return {
        p.id: _Priced(p.product.name, spec_of(p, tiers.get(p.id, [])), p.meter)
        for p in prices
        if p.meter is not None
    }


async def reprice(
    asks: Sequence[tuple[str, Sequence[inv.LineDraft]]], *, unfolded: bool = False
) -> list[list[inv.LineDraft]]:
    """Each (customer, drafts) with its spans' lines priced again from the usage now, in
    the place of the span's first line; the other drafts as they are. No statement when
    no draft is a span. `unfolded` (an invoice made now, in the caller's transaction): the
    pending events of the spans count too, locked until it commits."""
    spans: list[dict[Span, list[inv.LineDraft]]] = []
    for _, drafts in asks:
        mine: dict[Span, list[inv.LineDraft]] = {}
        for d in drafts:
            if is_span(d.type, d.usage_type) and d.price_id is not None:
                mine.setdefault((d.price_id, d.period_start, d.period_end), []).append(d)
        spans.append(mine)
    if not any(spans):
        return [list(drafts) for _, drafts in asks]
    priced = await _prices({price for mine in spans for price, _, _ in mine})
    requests, keys = [], []
    for k, ((customer_id, _), mine) in enumerate(zip(asks, spans, strict=True)):
        for span in mine:
            if span[0] in priced:
                requests.append(UsageRequest(priced[span[0]].meter, customer_id, *span[1:]))
                keys.append((k, span))
    fresh: dict[tuple[int, Span], list[inv.LineDraft]] = {}
    if unfolded:
        # One customer's few spans (cancel now, ALWAYS_INVOICE): read one by one, each
        # pending part locked before its rollups are read.
        quantities = [
            await metered_quantity(r.meter, r.customer_id, r.start, r.end, unfolded=True)
            for r in requests
        ]
    else:
        quantities = await period_usages(requests)
    for (k, span), q in zip(keys, quantities, strict=True):
        p = priced[span[0]]
        lines = inv.usage_lines(p.name, span[0], p.spec, q, (span[1], span[2]))
        fresh[(k, span)] = [replace(d, type="PRORATION") for d in lines]
    out: list[list[inv.LineDraft]] = []
    for k, (_, drafts) in enumerate(asks):
        done: set[Span] = set()
        mine_out: list[inv.LineDraft] = []
        for d in drafts:
            key = (d.price_id or "", d.period_start, d.period_end)
            if (k, key) not in fresh or not is_span(d.type, d.usage_type):
                mine_out.append(d)
            elif key not in done:
                done.add(key)
                mine_out += fresh[(k, key)]
        out.append(mine_out)
    return out
