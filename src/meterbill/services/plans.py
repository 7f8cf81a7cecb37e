"""What a subscription bills: its items with their prices, pricing specs, product names and
meters, loaded in ONE joined query (plain rows, no ORM objects), and the invoice lines they
produce."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from meterbill.billing import invoice as inv
from meterbill.billing.pricing import PriceSpec
from meterbill.db import stores
from meterbill.services.metered_usage import metered_quantity
from meterbill.services.prices import spec_of

Period = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class ItemRow:
    id: str
    subscription_id: str
    price_id: str
    quantity: int
    position: int
    # A metered item bills its usage from here when it is later than the period's start.
    usage_from: datetime | None = None


@dataclass(frozen=True, slots=True)
class PriceRow:
    """The columns of a price that billing reads (named as on the Price model)."""

    id: str
    account_id: str
    product_id: str
    currency: str
    billing_scheme: str
    unit_amount_decimal: str | None
    tiers_mode: str | None
    transform_divide_by: int | None
    transform_round: str | None
    interval: str
    interval_count: int
    usage_type: str
    meter_id: str | None


@dataclass(frozen=True, slots=True)
class TierRow:
    position: int
    up_to: int | None
    unit_amount_decimal: str | None
    flat_amount_decimal: str | None


@dataclass(frozen=True, slots=True)
class MeterRow:
    id: str
    account_id: str
    aggregation: str


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """The columns of a subscription an invoice preview reads, plus its clock's frozen time
    and whether it has unbilled prorations (so the common case needs no query for them)."""

    id: str
    account_id: str
    customer_id: str
    test_clock_id: str | None
    status: str
    currency: str
    interval: str
    interval_count: int
    billing_cycle_anchor: datetime
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    clock_frozen_time: datetime | None
    has_pending: bool
    # The customer's balance in the subscription's currency (0 when in another one).
    balance: int = 0


@dataclass
class PlanItem:
    item: ItemRow
    price: PriceRow
    spec: PriceSpec
    name: str
    meter: MeterRow | None

    @property
    def metered(self) -> bool:
        return self.price.usage_type == "METERED"


def _ts(v: Any) -> datetime:
    # asyncpg returns aware datetimes; SQLite returns the text Tortoise wrote (isoformat(" ")).
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v if v.tzinfo is not None else v.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def _subscription(r: dict[str, Any]) -> SubscriptionRow:
    frozen = r["c_frozen_time"]
    return SubscriptionRow(
        id=r["s_id"],
        account_id=r["s_account_id"],
        customer_id=r["s_customer_id"],
        test_clock_id=r["s_test_clock_id"],
        status=r["s_status"],
        currency=r["s_currency"],
        interval=r["s_interval"],
        interval_count=r["s_interval_count"],
        billing_cycle_anchor=_ts(r["s_anchor"]),
        current_period_start=_ts(r["s_start"]),
        current_period_end=_ts(r["s_end"]),
        cancel_at_period_end=bool(r["s_cancel_at_end"]),
        clock_frozen_time=None if frozen is None else _ts(frozen),
        has_pending=bool(r.get("s_has_pending")),
        balance=int(r.get("s_balance") or 0)
        if r.get("s_balance_currency") in (None, r["s_currency"])
        else 0,
    )


def _price(r: dict[str, Any]) -> PriceRow:
    return PriceRow(
        id=r["i_price_id"],
        account_id=r["p_account_id"],
        product_id=r["p_product_id"],
        currency=r["p_currency"],
        billing_scheme=r["p_billing_scheme"],
        unit_amount_decimal=r["p_unit_amount_decimal"],
        tiers_mode=r["p_tiers_mode"],
        transform_divide_by=r["p_transform_divide_by"],
        transform_round=r["p_transform_round"],
        interval=r["p_interval"],
        interval_count=r["p_interval_count"],
        usage_type=r["p_usage_type"],
        meter_id=r["p_meter_id"],
    )


def _tier(r: dict[str, Any]) -> TierRow:
    return TierRow(
        r["t_position"], r["t_up_to"], r["t_unit_amount_decimal"], r["t_flat_amount_decimal"]
    )


def _plan_items(rows: list[dict[str, Any]]) -> list[PlanItem]:
    """The rows of one subscription (ordered by item, then tier) as its plan."""
    out: list[PlanItem] = []
    i = 0
    while i < len(rows):
        r = rows[i]
        if r["i_id"] is None:  # a subscription without items
            break
        tiers = []
        j = i
        while j < len(rows) and rows[j]["i_id"] == r["i_id"]:
            if rows[j]["t_position"] is not None:
                tiers.append(_tier(rows[j]))
            j += 1
        price = _price(r)
        meter = (
            MeterRow(price.meter_id, r["m_account_id"], r["m_aggregation"])
            if price.meter_id and r["m_account_id"] is not None
            else None
        )
        since = r["i_usage_from"]
        item = ItemRow(
            r["i_id"],
            r["s_id"],
            price.id,
            r["i_quantity"],
            r["i_position"],
            None if since is None else _ts(since),
        )
        out.append(PlanItem(item, price, spec_of(price, tiers), r["pr_name"], meter))
        i = j
    return out


async def plans(subscription_ids: list[str]) -> dict[str, list[PlanItem]]:
    """Each subscription's items (by position) with price, spec, product name and meter:
    one statement for any number of subscriptions."""
    if not subscription_ids:
        return {}
    grouped = await stores.current().plans.rows(list(dict.fromkeys(subscription_ids)), None, False)
    return {sid: items for sid, rows in grouped.items() if (items := _plan_items(rows))}


async def plan(subscription_id: str) -> list[PlanItem]:
    return (await plans([subscription_id])).get(subscription_id, [])


async def subscription_plan(
    account_id: str, subscription_id: str
) -> tuple[SubscriptionRow, list[PlanItem]] | None:
    """The subscription (of this account) and its plan in one statement; None if not found."""
    rows = (await stores.current().plans.rows([subscription_id], account_id, True)).get(
        subscription_id
    )
    if not rows:
        return None
    return _subscription(rows[0]), _plan_items(rows)


def licensed(
    items: list[PlanItem], period: Period, fraction: Fraction = Fraction(1)
) -> list[inv.LineDraft]:
    out: list[inv.LineDraft] = []
    for p in items:
        if not p.metered:
            out += inv.licensed_lines(p.name, p.price.id, p.spec, p.item.quantity, period, fraction)
    return out


async def usage(
    items: list[PlanItem], customer_id: str, period: Period, *, final: bool = False
) -> list[inv.LineDraft]:
    """Usage lines of `period`; `final` (cancel now): up to and at its end, aggregated or
    not."""
    out: list[inv.LineDraft] = []
    for p in items:
        if p.metered and p.meter is not None:
            start = usage_start(p, period)
            q = await metered_quantity(p.meter, customer_id, start, period[1], final=final)
            out += inv.usage_lines(p.name, p.price.id, p.spec, q, period)
    return out


def usage_start(p: PlanItem, period: Period) -> datetime:
    """Where `p`'s usage in `period` starts: its price's change, if inside the period."""
    since = p.item.usage_from
    return since if since is not None and period[0] < since < period[1] else period[0]
