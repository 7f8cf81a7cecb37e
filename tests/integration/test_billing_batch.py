"""The billing cron in batches (both backends): usage read for a whole batch equals
period_usage's, the statements of a pass (and of a test clock's advance) do not grow with
the number of subscriptions,
re-pricing at finalization touches only invoices whose usage changed, a charge that raises
leaves only its own invoice pending, and numbers stay gapless per account."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tortoise import connections

from meterbill.db.models import Invoice, InvoiceLine, Meter, PaymentAttempt, Subscription, TestClock
from meterbill.db.usage_sql import is_postgres
from meterbill.services import billing_steps, catalog, test_clocks, usage
from meterbill.services.metered_usage import UsageRequest, metered_quantity, period_usages
from meterbill.services.now import utcnow
from meterbill.services.payments import ChargeResult, TestPaymentProvider, set_provider
from tests.billing_helpers import add_rollup_usage
from tests.integration.billing_setup import (
    Catalog,
    assert_billed_once,
    make_catalog,
    subscribe_many,
)
from tests.integration.usage_support import record, setup_meter
from tests.sql_log import capture_sql

GRACE = 3600


@pytest.fixture(autouse=True)
def grace() -> Iterator[None]:
    billing_steps.configure(GRACE)
    yield
    billing_steps.configure(None)


# ---------------------------------------------------------------- batch usage


async def test_batch_usage_equals_period_usage(db: Any) -> None:
    account, _, cus = await setup_meter()
    other = (await catalog.create_customer(account, catalog.CustomerSpec(name="d"))).id
    meters = {}
    for agg in ("SUM", "COUNT", "LAST"):
        spec = catalog.MeterSpec(agg, f"m_{agg.lower()}", agg, dimension_keys=["model"])
        meters[agg] = await catalog.create_meter(account, spec)
    t0 = utcnow().replace(second=0, microsecond=0) - timedelta(hours=3)
    offsets = [5, 20, 59.5, 60, 61, 600, 3599, 3600, 3600.25, 5400, 7199]
    events = []
    for agg in meters:
        for k, sec in enumerate(offsets):
            for who, value in ((cus, k + 1), (other, Decimal("0.25") * k)):
                payload = {"customer_id": who, "value": value, "model": f"m{k % 3}"}
                at = t0 + timedelta(seconds=sec)
                events.append(usage.EventInput(f"m_{agg.lower()}", payload, None, at))
    assert set(await record(account, events)) == {"ACCEPTED"}
    await usage.drain()
    sums = await usage.list_events(account, meters["SUM"].id, cus, 100)
    await usage.cancel_event(account, "m_sum", sums[3].identifier)
    periods = [
        (t0, t0 + timedelta(hours=2)),  # whole minutes only
        (t0 + timedelta(seconds=10), t0 + timedelta(seconds=3600.5)),  # partial ends
        (t0 + timedelta(seconds=15), t0 + timedelta(seconds=40)),  # inside one minute
        (t0 + timedelta(seconds=59), t0 + timedelta(seconds=61)),  # across one boundary
        (t0 + timedelta(hours=5), t0 + timedelta(hours=6)),  # nothing there
        (t0 + timedelta(seconds=30), t0 + timedelta(seconds=30)),  # empty
    ]
    requests = [
        UsageRequest(await Meter.get(id=m.id), who, a, b)
        for m in meters.values()
        for who in (cus, other)
        for a, b in periods
    ]
    want = [await metered_quantity(r.meter, r.customer_id, r.start, r.end) for r in requests]
    assert await period_usages(requests) == want
    assert any(w != 0 for w in want) and any(w == 0 for w in want)


# ---------------------------------------------------------------- statements


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record.getMessage().lstrip())


@pytest.fixture
def statements() -> Iterator[_Statements]:
    with capture_sql(_Statements()) as handler:
        yield handler


async def _daily(n: int, name: str = "Alpaca AI") -> tuple[Catalog, list[str], datetime]:
    """n subscriptions (1 seat + usage) of a daily catalog, backdated so that their period
    ends within seconds: the test database is shared, and every other wall-clock period in
    it ends later than theirs, so a pass up to their end (+ grace) bills only these."""
    cat = await make_catalog(name, interval="DAY")
    start = utcnow() - timedelta(days=1) + timedelta(seconds=30)
    subs = await subscribe_many(cat, n, backdate=start)
    return cat, subs, start + timedelta(days=1)


async def _due(n: int) -> tuple[list[str], datetime]:
    cat, subs, end = await _daily(n, f"Batch {n}")
    meter = await Meter.get(id=cat.meter_id)
    for s in await Subscription.filter(id__in=subs):
        mid = s.current_period_start + timedelta(hours=12)
        await add_rollup_usage(meter, s.customer_id, Decimal(3000), mid)
    return subs, end + timedelta(seconds=GRACE + 60)


def _counted(seen: list[str]) -> int:
    # SQLite (embedded) reads usage per subscription through period_usage; PostgreSQL reads
    # a batch's usage in two statements, so everything counts there.
    usage_tables = ("usage_rollups", "meter_events", '"meters"')
    pg = is_postgres(connections.get("default"))
    return sum(1 for q in seen if pg or not any(t in q for t in usage_tables))


async def test_a_pass_costs_the_same_statements_for_2_or_8_subscriptions(
    db: Any, statements: _Statements
) -> None:
    counts = []
    for n in (2, 8):
        subs, later = await _due(n)
        statements.seen.clear()
        result = await billing_steps.run_due(later)
        # Grace passed at close: finalized in the close's transaction, counted as such.
        assert (result.closed, result.finalized, result.collected) == (n, n, n)
        counts.append(_counted(statements.seen))
        paid = await Invoice.filter(subscription_id__in=subs, status="PAID", total=18000)
        assert len(paid) == n
    assert counts[0] == counts[1], statements.seen


async def _clocked_due(n: int) -> tuple[str, list[str]]:
    """n subscriptions (1 seat + usage) on a test clock of their own, ADVANCING to a month
    and the grace later: every step of each instant is due for all n at once."""
    cat = await make_catalog(f"Clocked {n}")
    clock = await test_clocks.create_test_clock(
        cat.account_id, datetime(2026, 1, 1, tzinfo=UTC), None
    )
    subs = await subscribe_many(cat, n, clock.id)
    meter = await Meter.get(id=cat.meter_id)
    for s in await Subscription.filter(id__in=subs):
        await add_rollup_usage(
            meter, s.customer_id, Decimal(3000), s.current_period_start + timedelta(days=14)
        )
    first = await Subscription.get(id=subs[0])
    target = first.current_period_end + timedelta(seconds=GRACE + 60)
    await TestClock.filter(id=clock.id).update(status="ADVANCING", frozen_time=target)
    return clock.id, subs


async def test_a_clock_advance_costs_the_same_statements_for_2_or_8_subscriptions(
    db: Any, statements: _Statements
) -> None:
    # Each instant's steps go to the batch functions as one group, not one by one.
    counts = []
    for n in (2, 8):
        clock_id, subs = await _clocked_due(n)
        statements.seen.clear()
        assert await test_clocks.run_test_clock(clock_id)
        counts.append(_counted(statements.seen))
        await assert_billed_once((await TestClock.get(id=clock_id)).account_id, subs, cycles=1)
        paid = await Invoice.filter(
            subscription_id__in=subs,
            billing_reason="SUBSCRIPTION_CYCLE",
            status="PAID",
            total=18000,
        )
        assert len(paid) == n
    assert counts[0] == counts[1], statements.seen


# ---------------------------------------------------------------- finalize


async def _cycle_invoices(cat: Catalog) -> dict[str | None, Invoice]:
    mine = Invoice.filter(account_id=cat.account_id, billing_reason="SUBSCRIPTION_CYCLE")
    return {i.subscription_id: i for i in await mine}


async def test_late_usage_reprices_only_the_invoices_it_changes(db: Any) -> None:
    cat, (late, quiet), end = await _daily(2)
    sub = await Subscription.get(id=late)
    await billing_steps.run_due(end + timedelta(seconds=1))
    drafts = await _cycle_invoices(cat)
    assert {i.status for i in drafts.values()} == {"DRAFT"}
    assert drafts[late].total == 10000
    lines_before = {
        i.id: sorted(await InvoiceLine.filter(invoice_id=i.id).values_list("id", flat=True))
        for i in drafts.values()
    }
    # Usage of the ended period arriving inside the grace period counts.
    meter = await Meter.get(id=cat.meter_id)
    await add_rollup_usage(meter, sub.customer_id, Decimal(3000), end - timedelta(minutes=5))
    await billing_steps.run_due(end + timedelta(seconds=GRACE + 1))
    after = await _cycle_invoices(cat)
    assert after[late].total == 18000 and after[late].status == "PAID"
    assert after[quiet].total == 10000 and after[quiet].status == "PAID"
    quiet_id, late_id = drafts[quiet].id, drafts[late].id
    kept = sorted(await InvoiceLine.filter(invoice_id=quiet_id).values_list("id", flat=True))
    assert kept == lines_before[quiet_id]
    amounts = await InvoiceLine.filter(invoice_id=late_id).values_list("amount", flat=True)
    assert sum(int(a) for a in amounts) == 18000
    await assert_billed_once(cat.account_id, [late, quiet], cycles=1)


async def test_numbers_are_gapless_per_account_in_one_batch(db: Any) -> None:
    made = [await _daily(3, "Alpaca AI"), await _daily(3, "Llama Labs")]
    await billing_steps.run_due(made[1][2] + timedelta(seconds=GRACE + 1))
    for cat, mine, _ in made:
        await assert_billed_once(cat.account_id, mine, cycles=1)


# ---------------------------------------------------------------- collect


class _Flaky(TestPaymentProvider):
    """Raises (a processor outage) for one customer; the test cards for the others."""

    def __init__(self, broken: str) -> None:
        self.broken = broken

    async def charge(self, **kw: Any) -> ChargeResult:
        if kw["customer_id"] == self.broken:
            raise ConnectionError("processor unreachable")
        return await super().charge(**kw)


async def test_a_charge_that_raises_leaves_only_its_invoice_pending(db: Any) -> None:
    cat, subs, end = await _daily(3)
    broken = await Subscription.get(id=subs[1])
    later = end + timedelta(seconds=GRACE + 1)
    set_provider(_Flaky(broken.customer_id))
    try:
        with pytest.raises(ConnectionError):
            await billing_steps.run_due(later)
    finally:
        set_provider(TestPaymentProvider())
    cycle = await _cycle_invoices(cat)
    assert cycle[subs[1]].status == "OPEN" and cycle[subs[1]].collection_pending
    assert not await PaymentAttempt.filter(invoice_id=cycle[subs[1]].id).exists()
    assert {cycle[s].status for s in (subs[0], subs[2])} == {"PAID"}
    # The next pass charges it, once.
    await billing_steps.run_due(later)
    await assert_billed_once(cat.account_id, subs, cycles=1)
