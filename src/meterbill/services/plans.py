"""What a subscription bills: its items with their prices, pricing specs, product names and
meters, loaded in a few batched queries, and the invoice lines they produce."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from meterbill.billing import invoice as inv
from meterbill.billing.pricing import PriceSpec
from meterbill.db.models import Meter, Price, PriceTier, Product, SubscriptionItem
from meterbill.services.billing_usage import metered_quantity
from meterbill.services.prices import spec_of

Period = tuple[datetime, datetime]


@dataclass
class PlanItem:
    item: SubscriptionItem
    price: Price
    spec: PriceSpec
    name: str
    meter: Meter | None

    @property
    def metered(self) -> bool:
        return self.price.usage_type == "METERED"


async def price_context(
    price_ids: list[str],
) -> dict[str, tuple[Price, PriceSpec, str, Meter | None]]:
    prices = await Price.filter(id__in=price_ids)
    tiers: dict[str, list[PriceTier]] = defaultdict(list)
    for t in await PriceTier.filter(price_id__in=price_ids):
        tiers[t.price_id].append(t)
    products = {p.id: p for p in await Product.filter(id__in=list({p.product_id for p in prices}))}
    meter_ids = [p.meter_id for p in prices if p.meter_id]
    meters = {m.id: m for m in await Meter.filter(id__in=meter_ids)} if meter_ids else {}
    return {
        p.id: (
            p,
            spec_of(p, tiers[p.id]),
            products[p.product_id].name,
            meters.get(p.meter_id) if p.meter_id else None,
        )
        for p in prices
    }


async def plans(subscription_ids: list[str]) -> dict[str, list[PlanItem]]:
    items = await SubscriptionItem.filter(subscription_id__in=subscription_ids).order_by(
        "position", "id"
    )
    ctx = await price_context(list({i.price_id for i in items}))
    out: dict[str, list[PlanItem]] = defaultdict(list)
    for i in items:
        price, spec, name, meter = ctx[i.price_id]
        out[i.subscription_id].append(PlanItem(i, price, spec, name, meter))
    return out


async def plan(subscription_id: str) -> list[PlanItem]:
    return (await plans([subscription_id])).get(subscription_id, [])


def licensed(items: list[PlanItem], period: Period, fraction: Fraction = Fraction(1)) -> list:
    out: list[inv.LineDraft] = []
    for p in items:
        if not p.metered:
            out += inv.licensed_lines(p.name, p.price.id, p.spec, p.item.quantity, period, fraction)
    return out


async def usage(items: list[PlanItem], customer_id: str, period: Period) -> list:
    out: list[inv.LineDraft] = []
    for p in items:
        if p.metered and p.meter is not None:
            q = await metered_quantity(p.meter, customer_id, period[0], period[1])
            out += inv.usage_lines(p.name, p.price.id, p.spec, q, period)
    return out
