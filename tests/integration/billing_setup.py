"""Catalog and subscriptions created through the services, for worker-level billing tests
and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from meterbill.billing.price_rules import PriceInput
from meterbill.db.models import Invoice, PaymentAttempt
from meterbill.services import accounts, catalog, prices, subscriptions


@dataclass
class Catalog:
    account_id: str
    meter_id: str
    usage_price: str
    license_price: str


async def make_catalog(name: str = "Alpaca AI", interval: str = "MONTH") -> Catalog:
    account, _ = await accounts.create_account(name)
    aid = account.id
    meter = await catalog.create_meter(aid, catalog.MeterSpec("Tokens", "tokens", "SUM"))
    ids = []
    for product, kw in (
        (
            "Alpaca AI usage",
            {
                "usage_type": "METERED",
                "meter_id": meter.id,
                "billing_scheme": "TIERED",
                "tiers_mode": "GRADUATED",
                "tiers": [
                    {"up_to": 1000, "unit_amount_decimal": "0"},
                    {"up_to": None, "unit_amount_decimal": "4"},
                ],
            },
        ),
        ("Alpaca AI license fee", {"unit_amount": 10000}),
    ):
        prod = await catalog.create_product(aid, product, None)
        pricing = PriceInput(currency="usd", interval=interval, **kw)  # type: ignore[arg-type]
        price = await prices.create_price(aid, prices.PriceRequest(prod.id, None, pricing))
        ids.append(price.id)
    return Catalog(aid, meter.id, ids[0], ids[1])


async def subscribe_many(
    cat: Catalog,
    n: int,
    clock_id: str | None = None,
    backdate: datetime | None = None,
) -> list[str]:
    out = []
    for k in range(n):
        spec = catalog.CustomerSpec(
            name=f"Customer {k}", payment_method="pm_card_visa", test_clock_id=clock_id
        )
        out.append(await subscribe(cat, spec, backdate))
    return out


async def subscribe(
    cat: Catalog, customer: catalog.CustomerSpec, backdate: datetime | None = None
) -> str:
    """A new customer subscribed to the catalog's usage price and one seat."""
    cus = await catalog.create_customer(cat.account_id, customer)
    sub = await subscriptions.create_subscription(
        cat.account_id,
        subscriptions.SubscriptionRequest(
            customer_id=cus.id,
            items=[
                subscriptions.ItemRequest(cat.usage_price),
                subscriptions.ItemRequest(cat.license_price, 1),
            ],
            backdate_start_date=backdate,
        ),
    )
    return sub.id


async def assert_billed_once(account_id: str, sub_ids: list[str], cycles: int) -> None:
    """Every subscription has exactly `cycles` cycle invoices, each PAID by exactly one
    successful charge; invoice numbers are unique and gapless."""
    invoices = await Invoice.filter(account_id=account_id)
    by_sub: dict[str | None, list[Invoice]] = {}
    for inv in invoices:
        by_sub.setdefault(inv.subscription_id, []).append(inv)
    for sid in sub_ids:
        mine = by_sub.get(sid, [])
        cycle = [i for i in mine if i.billing_reason == "SUBSCRIPTION_CYCLE"]
        assert len(cycle) == cycles, (sid, [(i.billing_reason, i.period_start) for i in mine])
        assert len({i.period_start for i in cycle}) == cycles
        assert all(i.status == "PAID" for i in mine), [(i.id, i.status) for i in mine]
    attempts = await PaymentAttempt.filter(invoice__account_id=account_id)
    per_invoice: dict[str, int] = {}
    for a in attempts:
        assert a.succeeded
        per_invoice[a.invoice_id] = per_invoice.get(a.invoice_id, 0) + 1
    assert set(per_invoice.values()) == {1}
    assert set(per_invoice) == {i.id for i in invoices if i.amount_due > 0}
    numbers = sorted(int(str(i.number).rsplit("-", 1)[1]) for i in invoices)
    assert numbers == list(range(1, len(invoices) + 1))
