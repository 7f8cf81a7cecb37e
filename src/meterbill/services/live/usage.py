"""What a live usage subscription is told: the customer's usage of a meter in its current
billing period, as meterEventSummaries would return it, and the upcoming invoice's total."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from meterbill.billing.errors import not_found
from meterbill.billing.periods import calendar_month
from meterbill.db.models import Customer, Meter, Subscription
from meterbill.services.live import hub
from meterbill.services.now import clock_now, utcnow
from meterbill.services.subscriptions import LIVE, upcoming_invoice
from meterbill.services.usage.known import meter_definition
from meterbill.services.usage.summaries import meter_period_usage

RECHECK_SECONDS = 1.0


@dataclass(frozen=True)
class LiveUsage:
    meter_id: str
    customer_id: str
    period_start: datetime
    value: Decimal
    upcoming_total: int | None
    updated_at: datetime

    def same_as(self, other: LiveUsage) -> bool:
        return (self.period_start, self.value, self.upcoming_total) == (
            other.period_start,
            other.value,
            other.upcoming_total,
        )


async def _subscription(account_id: str, meter_id: str, customer_id: str) -> Subscription | None:
    """The customer's live subscription that bills this meter, the newest if several."""
    return (
        await Subscription.filter(
            account_id=account_id,
            customer_id=customer_id,
            status__in=LIVE,
            items__price__meter_id=meter_id,
        )
        .order_by("-created_at", "-id")
        .first()
    )


async def current(
    meter: Meter,
    customer_id: str,
    customer_clock: Callable[[], Awaitable[str | None]],
    with_upcoming: bool = True,
) -> LiveUsage:
    """`customer_clock` gives the customer's test clock id: asked only without a
    subscription (a subscription found under the account proves the customer is its own).
    The upcoming invoice (two reads) only when the caller wants its total."""
    sub = await _subscription(meter.account_id, meter.id, customer_id)
    total: int | None = None
    if sub is not None:
        start, end = sub.current_period_start, sub.current_period_end
        if with_upcoming:
            preview = await upcoming_invoice(meter.account_id, sub.id)
            total = preview.totals.total if preview is not None else None
    else:
        start, end = calendar_month(await clock_now(await customer_clock()))
    value = await meter_period_usage(meter, customer_id, start, end)
    return LiveUsage(meter.id, customer_id, start, value, total, utcnow())


async def watch(
    account_id: str,
    meter_id: str,
    customer_id: str,
    still_allowed: Callable[[], Awaitable[bool]] | None = None,
    recheck_seconds: float = RECHECK_SECONDS,
    with_upcoming: bool = True,
) -> AsyncGenerator[LiveUsage, None]:
    """The current value at once, then a new one each time announced usage changes it.
    Ends when `still_allowed` says no (checked every `recheck_seconds`): a key revoked while
    its subscription is open stops it as it would stop a request."""
    meter = await meter_definition(account_id, meter_id)
    if meter is None:
        raise not_found(f"no meter {meter_id!r}", "meterId")
    clock: list[str | None] = []

    async def customer_clock() -> str | None:
        if not clock:
            customer = await Customer.get_or_none(id=customer_id, account_id=account_id)
            if customer is None:
                raise not_found(f"no customer {customer_id!r}", "customerId")
            clock.append(customer.test_clock_id)
        return clock[0]

    def read() -> Awaitable[LiveUsage]:
        return current(meter, customer_id, customer_clock, with_upcoming)

    # Listening before the first read: a change committed in between wakes the loop.
    with hub.listen((account_id, meter_id, customer_id)) as changed:
        last = await read()
        yield last
        while True:
            try:
                await asyncio.wait_for(changed.wait(), recheck_seconds)
            except TimeoutError:
                if still_allowed is not None and not await still_allowed():
                    return
                continue
            changed.clear()
            now = await read()
            if not now.same_as(last):
                last = now
                yield now
