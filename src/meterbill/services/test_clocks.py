"""Test clocks: customers on a clock live at its frozen time. Advancing sets the new time
and ADVANCING; the worker then runs every billing step that fell due, in time order, and
reports READY. Steps are the billing clock's own, so a clock that two workers advance at
once (the job and the cron's pick-up) still bills everything exactly once."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from itertools import groupby

from meterbill.billing import dunning
from meterbill.billing.errors import DomainError, conflict, not_found
from meterbill.billing.periods import OutOfCalendar, boundary
from meterbill.db.models import Invoice, Subscription, TestClock
from meterbill.services import billing_steps, queue

log = logging.getLogger("meterbill.test_clocks")
LIVE = billing_steps.LIVE
# At one instant: collect what was finalized, finalize what is due, close periods, then
# retry failed payments that are due.
_OVERDUE, _EXPIRE, _RETRY, _CLOSE, _FINALIZE, _COLLECT = 5, 4, 3, 2, 1, 0


async def create_test_clock(account_id: str, frozen_time: datetime, name: str | None) -> TestClock:
    if name is not None and len(name) > 200:
        raise DomainError.one("INVALID", "name must be at most 200 characters", "input", "name")
    return await TestClock.create(account_id=account_id, frozen_time=frozen_time, name=name)


async def advance_test_clock(account_id: str, clock_id: str, frozen_time: datetime) -> TestClock:
    clock = await TestClock.get_or_none(id=clock_id, account_id=account_id)
    if clock is None:
        raise not_found(f"no test clock {clock_id}", "input", "testClockId")
    if frozen_time <= clock.frozen_time:
        msg = "frozenTime must be later than the clock's current frozenTime"
        raise DomainError.one("INVALID", msg, "input", "frozenTime")
    await _check_reach(clock, frozen_time)
    updated = await TestClock.filter(id=clock.id, status="READY").update(
        status="ADVANCING", frozen_time=frozen_time
    )
    if not updated:
        raise conflict(f"the clock is {clock.status}, not READY", "input", "testClockId")
    await queue.enqueue(
        "advance_test_clock", clock.id, job_id=f"advance:{clock.id}:{frozen_time.isoformat()}"
    )
    return await TestClock.get(id=clock.id)


async def _check_reach(clock: TestClock, frozen_time: datetime) -> None:
    """Stripe's rule: a clock moves at most two intervals of the shortest recurring
    interval among its live subscriptions, so one advance bills a bounded number of
    periods; and never so far that a period after it would end past the calendar."""
    intervals = set(
        await Subscription.filter(test_clock_id=clock.id, status__in=LIVE).values_list(
            "interval", "interval_count"
        )
    )
    for interval, count in intervals:
        try:
            limit = boundary(clock.frozen_time, interval, count, 2)
        except OutOfCalendar:
            limit = None
        if limit is not None and frozen_time > limit:
            raise DomainError.one(
                "OUT_OF_RANGE",
                f"frozenTime may be at most two intervals ({count} {interval.lower()} each) "
                f"after the clock's current time, i.e. at most {limit.isoformat()}: advance "
                "in steps",
                "input",
                "frozenTime",
            )
        try:
            boundary(frozen_time, interval, count, 1)
        except OutOfCalendar as exc:
            msg = (
                "frozenTime is too close to 9999-12-31: the next billing period would end after it"
            )
            raise DomainError.one("OUT_OF_RANGE", msg, "input", "frozenTime") from exc


async def _due(clock_id: str, target: datetime) -> list[tuple[datetime, int, str]]:
    subs = await Subscription.filter(
        test_clock_id=clock_id, status__in=LIVE, current_period_end__lte=target
    ).values_list("current_period_end", "id")
    drafts = await Invoice.filter(
        test_clock_id=clock_id, status="DRAFT", automatically_finalizes_at__lte=target
    ).values_list("automatically_finalizes_at", "id")
    pending = await Invoice.filter(test_clock_id=clock_id, collection_pending=True).values_list(
        "finalized_at", "id"
    )
    retries = await Invoice.filter(
        test_clock_id=clock_id, status="OPEN", next_payment_attempt__lte=target
    ).values_list("next_payment_attempt", "id")
    incomplete = await Subscription.filter(
        test_clock_id=clock_id,
        status="INCOMPLETE",
        created_at__lte=target - dunning.INCOMPLETE_EXPIRY,
    ).values_list("created_at", "id")
    overdue = await Invoice.filter(
        test_clock_id=clock_id,
        status="OPEN",
        collection_method="SEND_INVOICE",
        due_date__lte=target,
        subscription__status="ACTIVE",
    ).values_list("due_date", "id")
    events = [(t, _CLOSE, str(i)) for t, i in subs]
    events += [(t, _RETRY, str(i)) for t, i in retries]
    events += [(t + dunning.INCOMPLETE_EXPIRY, _EXPIRE, str(i)) for t, i in incomplete]
    events += [(t, _OVERDUE, str(i)) for t, i in overdue]
    events += [(t, _FINALIZE, str(i)) for t, i in drafts]
    events += [(t or target, _COLLECT, str(i)) for t, i in pending]
    events.sort()
    return events


async def _steps(kind: int, ids: list[str], at: datetime) -> bool:
    """One instant's steps of one kind, in batches: True if any was done here."""
    if kind == _CLOSE:
        return await billing_steps.close_these(ids, at) > 0
    if kind == _FINALIZE:
        return await billing_steps.finalize_these(ids, at) > 0
    if kind == _RETRY:
        return await billing_steps.retry_these(ids, at) > 0
    if kind == _EXPIRE:
        return await billing_steps.expire_these(ids, at) > 0
    if kind == _OVERDUE:
        return await billing_steps.overdue_these(ids, at) > 0
    return await billing_steps.collect_these(ids, at) > 0


async def run_test_clock(clock_id: str) -> bool:
    """Bill everything due up to the clock's frozen time, in time order; then READY."""
    clock = await TestClock.get_or_none(id=clock_id)
    if clock is None or clock.status != "ADVANCING":
        return False
    target = clock.frozen_time
    try:
        while events := await _due(clock_id, target):
            progress = False
            # A step creates work no earlier than its own time (a close: a draft due after the
            # grace; a finalization: a collection at once), so the round stops at the earliest
            # new work and picks it up, in order, in the next round.
            horizon = target
            for (at, kind), group in groupby(events, key=lambda e: (e[0], e[1])):
                if at > horizon:
                    break
                # Steps at the same instant touch different rows: one batch of them.
                done = await _steps(kind, [oid for _, _, oid in group], at)
                progress = progress or done
                if kind == _CLOSE:
                    horizon = min(horizon, at + billing_steps.grace())
                elif kind == _FINALIZE:
                    horizon = min(horizon, at)
            if not progress:
                # Another worker holds these rows; let it finish them.
                await asyncio.sleep(0.05)
    except Exception:
        log.exception("advancing test clock %s failed", clock_id)
        await TestClock.filter(id=clock_id, status="ADVANCING").update(status="INTERNAL_FAILURE")
        raise
    await TestClock.filter(id=clock_id, status="ADVANCING", frozen_time=target).update(
        status="READY"
    )
    return True


async def advancing_clocks() -> list[str]:
    return [str(i) for i in await TestClock.filter(status="ADVANCING").values_list("id", flat=True)]
