"""`meterbill demo`: the seed's Alpaca AI month, end to end, on a throwaway SQLite database.

It goes through the same services and the same (embedded) worker as the API does."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from meterbill.billing.money import decimal_to_str, format_amount
from meterbill.billing.price_rules import PriceInput
from meterbill.config import Settings
from meterbill.db.models import Invoice, InvoiceLine, MeterEvent, TestClock
from meterbill.db.setup import close_db, init_db, run_migrations
from meterbill.services import (
    accounts,
    billing_steps,
    catalog,
    prices,
    queue,
    subscriptions,
    test_clocks,
    usage,
)
from meterbill.services.usage.aggregate import waiting
from meterbill.services.usage.record import EventInput, record_events
from meterbill.worker.embedded import EmbeddedWorker, fake_pool

START = datetime(2026, 1, 1, tzinfo=UTC)


def _when(dt: datetime | None) -> str:
    if dt is None:
        return "-"
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _table(rows: list[list[str]], header: list[str], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    line = "-" * len(fmt(header))
    return "\n".join([fmt(header), line, *(fmt(r) for r in rows)])


def _line_rows(lines: list[Any], currency: str) -> list[list[str]]:
    return [
        [
            ln.description,
            f"{_when(ln.period_start)[:10]} – {_when(ln.period_end)[:10]}",
            decimal_to_str(Decimal(ln.quantity)),
            format_amount(ln.amount, currency),
        ]
        for ln in lines
    ]


def _print_invoice(title: str, lines: list[Any], total: int, currency: str) -> None:
    print(title)
    rows = _line_rows(lines, currency)
    rows.append(["Total", "", "", format_amount(total, currency)])
    print(_table(rows, ["Description", "Period", "Qty", "Amount"], {2, 3}))
    print()


async def _price(account_id: str, product: str, **kw: Any) -> Any:
    prod = await catalog.create_product(account_id, product, None)
    pricing = PriceInput(**kw)
    return await prices.create_price(account_id, prices.PriceRequest(prod.id, None, pricing))


async def _run(db_path: Path) -> int:
    settings = Settings(database_url=f"sqlite://{db_path}", redis_url=None)
    await run_migrations(settings)
    await init_db(settings)
    billing_steps.configure(settings.invoice_grace_period)
    pool = fake_pool()
    worker = EmbeddedWorker(pool)
    worker.start()
    queue.set_pool(pool)
    try:
        return await _story(settings)
    finally:
        await worker.stop()
        queue.set_pool(None)
        await close_db()


async def _story(settings: Settings) -> int:
    account, _secret = await accounts.create_account("Alpaca AI")
    aid = account.id
    meter = await catalog.create_meter(
        aid, catalog.MeterSpec("Alpaca AI tokens", "alpaca_ai_tokens", "SUM")
    )
    usage_price = await _price(
        aid,
        "Alpaca AI usage",
        currency="usd",
        interval="MONTH",
        usage_type="METERED",
        meter_id=meter.id,
        billing_scheme="TIERED",
        tiers_mode="GRADUATED",
        tiers=[
            {"up_to": 1000, "unit_amount_decimal": "0"},
            {"up_to": None, "unit_amount_decimal": "4"},
        ],
    )
    license_price = await _price(
        aid, "Alpaca AI license fee", currency="usd", interval="MONTH", unit_amount=10000
    )
    clock = await test_clocks.create_test_clock(aid, START, "Alpaca demo")
    customer = await catalog.create_customer(
        aid,
        catalog.CustomerSpec(
            name="John Doe", payment_method="pm_card_visa", test_clock_id=clock.id
        ),
    )
    sub = await subscriptions.create_subscription(
        aid,
        subscriptions.SubscriptionRequest(
            customer_id=customer.id,
            items=[
                subscriptions.ItemRequest(usage_price.id),
                subscriptions.ItemRequest(license_price.id, 1),
            ],
        ),
    )
    print("meterbill demo — the Alpaca AI flat fee + overages month (Stripe's seed example)")
    print(f"database: {settings.database_url} (temporary)\n")
    print(f"Customer John Doe ({customer.id}), card pm_card_visa, test clock at {_when(START)}")
    print(
        f"Subscription {sub.id}: license 100.00 USD per user per month in advance, "
        "usage 0-1000 tokens free then 0.04 USD per token in arrears"
    )
    print(f"Current period: {_when(sub.current_period_start)} – {_when(sub.current_period_end)}\n")
    first = await Invoice.get(id=sub.latest_invoice_id)
    first_lines = await InvoiceLine.filter(invoice_id=first.id).order_by("position")
    _print_invoice(
        f"First invoice {first.number} (SUBSCRIPTION_CREATE): {first.status}",
        first_lines,
        first.total,
        first.currency,
    )

    # Mid-month on the customer's clock, John's integration sends 3,000 tokens.
    used_at = START + timedelta(days=14, hours=9)
    await _advance(aid, clock.id, used_at)
    recorded = await record_events(
        aid,
        [EventInput("alpaca_ai_tokens", {"customer_id": customer.id, "value": 3000}, "demo-1")],
        batch=False,
    )
    assert recorded[0].status == "ACCEPTED", recorded[0].errors
    await _aggregated(aid)
    rows = await usage.summaries(
        aid, meter.id, customer.id, sub.current_period_start, sub.current_period_end, "DAY"
    )
    print(f"Recorded 3,000 alpaca_ai_tokens at {_when(used_at)} (recordMeterEvent).")
    print("Usage summary (meterEventSummaries, DAY windows with usage):")
    for row in rows:
        if row.value:
            print(f"  {_when(row.start)[:10]}: {decimal_to_str(row.value.normalize())} tokens")
    total_used = sum((r.value for r in rows), Decimal(0))
    print(
        f"  {_when(sub.current_period_start)} – {_when(sub.current_period_end)}: "
        f"{decimal_to_str(total_used.normalize())} tokens\n"
    )
    upcoming = await subscriptions.upcoming_invoice(aid, sub.id)
    assert upcoming is not None
    _print_invoice(
        "Upcoming invoice (preview, not stored) for the period ending "
        + _when(sub.current_period_end),
        upcoming.lines,
        upcoming.totals.total,
        sub.currency,
    )

    target = sub.current_period_end + billing_steps.grace() + timedelta(minutes=1)
    await _advance(aid, clock.id, target)
    print(
        f"Advanced the test clock to {_when(target)} (period end + {billing_steps.grace()} grace)."
    )
    invoice = await Invoice.filter(
        subscription_id=sub.id, billing_reason="SUBSCRIPTION_CYCLE"
    ).first()
    assert invoice is not None
    lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("position")
    _print_invoice(
        f"Invoice {invoice.number} (SUBSCRIPTION_CYCLE) for {_when(invoice.period_start)} – "
        f"{_when(invoice.period_end)}: {invoice.status}, finalized {_when(invoice.finalized_at)}, "
        f"paid {_when(invoice.paid_at)}",
        lines,
        invoice.total,
        invoice.currency,
    )
    print(
        f"Amount due {format_amount(invoice.amount_due, invoice.currency)}, "
        f"paid {format_amount(invoice.amount_paid, invoice.currency)}."
    )
    return 0 if invoice.total == 18000 and invoice.status == "PAID" else 1


async def _advance(account_id: str, clock_id: str, to: datetime) -> None:
    await test_clocks.advance_test_clock(account_id, clock_id, to)
    # The embedded worker runs the advance job; its result is the clock's status in the db.
    while (await TestClock.get(id=clock_id)).status == "ADVANCING":  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def _aggregated(account_id: str) -> None:
    # The embedded worker folds the event into its rollup right after the commit.
    left = MeterEvent.filter(account_id=account_id, id__in=waiting())
    while await left.exists():  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def run() -> int:
    with tempfile.TemporaryDirectory(prefix="meterbill-demo-") as tmp:
        return asyncio.run(_run(Path(tmp) / "demo.db"))
