"""The billing clock: close ended periods into DRAFT cycle invoices, finalize them once the
grace period has passed, collect. Every step locks its row (SKIP LOCKED on PostgreSQL, so
several workers share the work) and re-checks its condition under the lock: running a step
twice, or in two workers at once, changes nothing the second time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from meterbill.billing.periods import next_period
from meterbill.config import get_settings
from meterbill.db.models import Invoice, Subscription
from meterbill.services import invoices, plans
from meterbill.services.clock import utcnow

log = logging.getLogger("meterbill.billing")
LIVE = ("ACTIVE", "PAST_DUE")
BATCH = 500

_grace_override: int | None = None


def configure(grace_seconds: int | None) -> None:
    """The app and worker pass their Settings' grace period (default: MB_ environment)."""
    global _grace_override
    _grace_override = grace_seconds


def grace() -> timedelta:
    seconds = _grace_override
    if seconds is None:
        seconds = get_settings().invoice_grace_period
    return timedelta(seconds=seconds)


async def close_period(subscription_id: str, now: datetime, *, skip_locked: bool = True) -> bool:
    """If the current period has ended by `now`: a DRAFT cycle invoice (usage so far, licensed
    fees for the next period, pending prorations) and the next period; or, when cancelling at
    period end, a final invoice without licensed fees and status CANCELED."""
    async with in_transaction():
        sub = (
            await Subscription.filter(id=subscription_id, status__in=LIVE)
            .select_for_update(skip_locked=skip_locked)
            .first()
        )
        if sub is None or sub.current_period_end > now:
            return False
        ended = (sub.current_period_start, sub.current_period_end)
        items = await plans.plan(sub.id)
        drafts = await plans.usage(items, sub.customer_id, ended)
        if sub.cancel_at_period_end:
            sub.status, sub.canceled_at = "CANCELED", ended[1]
        else:
            nxt = next_period(sub.billing_cycle_anchor, sub.interval, sub.interval_count, ended[1])
            drafts += plans.licensed(items, nxt)
            sub.current_period_start, sub.current_period_end = nxt
        await invoices.create_invoice(
            sub, "SUBSCRIPTION_CYCLE", ended, drafts, ended[1], ended[1] + grace()
        )
        await sub.save()
    return True


async def finalize_due(invoice_id: str, now: datetime) -> bool:
    """Finalize a draft whose grace has passed, then collect it."""
    done = await invoices.finalize(invoice_id, now, skip_locked=True)
    await invoices.collect(invoice_id, now, skip_locked=True)
    return done


@dataclass
class CronResult:
    closed: int = 0
    finalized: int = 0
    collected: int = 0


async def run_due(now: datetime | None = None) -> CronResult:
    """One pass of the wall-clock billing cron over subscriptions not on a test clock."""
    result = CronResult()
    while True:
        at = now or utcnow()
        progress = False
        due = await (
            Subscription.filter(test_clock_id=None, status__in=LIVE, current_period_end__lte=at)
            .order_by("current_period_end")
            .limit(BATCH)
            .values_list("id", flat=True)
        )
        for sid in due:
            if await close_period(str(sid), at):
                result.closed += 1
                progress = True
        drafts = await (
            Invoice.filter(test_clock_id=None, status="DRAFT", automatically_finalizes_at__lte=at)
            .order_by("automatically_finalizes_at")
            .limit(BATCH)
            .values_list("id", flat=True)
        )
        for iid in drafts:
            if await invoices.finalize(str(iid), at, skip_locked=True):
                result.finalized += 1
                progress = True
        pending = await (
            Invoice.filter(test_clock_id=None, collection_pending=True)
            .limit(BATCH)
            .values_list("id", flat=True)
        )
        for iid in pending:
            if await invoices.collect(str(iid), at, skip_locked=True):
                result.collected += 1
                progress = True
        if not progress:
            return result
