"""The billing clock: close ended periods into DRAFT cycle invoices, finalize them once the
grace period has passed, collect. Every step locks its rows (SKIP LOCKED on PostgreSQL, so
several workers share the work) and re-checks its condition under the lock: running a step
twice, or in two workers at once, changes nothing the second time.

The wall-clock cron works in batches: one transaction claims up to BATCH due rows and does
the step for all of them with a fixed number of statements (services/invoice_drafts,
invoice_finalization, collection). Test clocks hand over each instant's rows (close_these,
finalize_these, collect_these: the same code, BATCH rows per transaction); the API's one-row
entry points (invoices.finalize and invoices.collect) run it on a batch of one."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from meterbill.billing import dunning
from meterbill.billing.periods import next_period
from meterbill.config import Settings
from meterbill.db.models import Invoice, PendingItem, Subscription
from meterbill.db.stores import Columns, update_rows
from meterbill.services import (
    collection,
    invoice_drafts,
    invoice_finalization,
    invoices,
    plans,
    usage_spans,
)
from meterbill.services.lifecycle import invoices as lifecycle_invoices
from meterbill.services.lifecycle import outbox
from meterbill.services.lifecycle import subscriptions as lifecycle_subscriptions
from meterbill.services.now import utcnow

log = logging.getLogger("meterbill.billing")
# The claim in close_due is served by a partial index with these statuses (migration 0008).
LIVE = lifecycle_subscriptions.LIVE
# Rows per transaction: ~0.2 statements per subscription, short enough locks and commits
# that invoices show up (and two workers split the work) in steps of a fraction of a second.
BATCH = 200

# Settings are the app's and the worker's to read (services never read the environment):
# they pass the grace period at start-up; a tool that does not gets the setting's default.
_DEFAULT_GRACE: int = Settings.model_fields["invoice_grace_period"].default
_grace_seconds = _DEFAULT_GRACE


def configure(grace_seconds: int | None) -> None:
    """The app and worker pass their Settings' grace period (None: the default)."""
    global _grace_seconds
    _grace_seconds = _DEFAULT_GRACE if grace_seconds is None else grace_seconds


def grace() -> timedelta:
    return timedelta(seconds=_grace_seconds)


async def close_subscriptions(
    subs: list[Subscription], now: datetime
) -> list[invoice_drafts.NewInvoice]:
    """Close the ended period of each subscription (locked by the caller's transaction and
    checked due): a DRAFT cycle invoice (usage so far, licensed fees for the next period,
    pending prorations) and the next period; or, when cancelling at period end, a final
    invoice without licensed fees and status CANCELED. A draft whose grace has already
    passed by `now` (grace 0, or a worker that was down) is finalized in the same
    transaction: its usage, read a moment ago, is what finalizing would read again.
    Statements per batch, not per subscription."""
    if not subs:
        return []
    ids = [s.id for s in subs]
    plans_by_sub = await plans.plans(ids)
    ended = {s.id: (s.current_period_start, s.current_period_end) for s in subs}
    usage = await invoice_drafts.usage_drafts(
        plans_by_sub, [(s.id, s.customer_id, ended[s.id]) for s in subs]
    )
    pending: dict[str, list[PendingItem]] = defaultdict(list)
    for p in await PendingItem.filter(subscription_id__in=ids, invoice_id=None).order_by("id"):
        pending[p.subscription_id].append(p)
    # Prorations as drafts; a changed metered price's span priced from the usage now.
    prorations = await usage_spans.reprice(
        [(s.customer_id, invoices.pending_drafts(pending.get(s.id, []))) for s in subs]
    )
    made, lines, sub_rows, deleted = [], [], [], []
    at_once: dict[str, list[tuple[Any, ...]]] = {}
    for sub, drafts, prorated in zip(subs, usage, prorations, strict=True):
        period = ended[sub.id]
        if sub.cancel_at_period_end:
            deleted.append(lifecycle_subscriptions.mark_canceled(sub, period[1]))
        else:
            nxt = next_period(sub.billing_cycle_anchor, sub.interval, sub.interval_count, period[1])
            drafts += plans.licensed(plans_by_sub.get(sub.id, []), nxt)
            sub.current_period_start, sub.current_period_end = nxt
        invoice = invoice_drafts.batch_invoice(
            sub, "SUBSCRIPTION_CYCLE", period, period[1], period[1] + grace()
        )
        drafts += prorated
        invoice_drafts.set_totals(invoice, [d.amount for d in drafts])
        rows = invoice_drafts.line_rows(invoice.id, drafts)
        if period[1] + grace() <= now:
            at_once[invoice.id] = [r[invoice_drafts.CONTENT] for r in rows]
        made.append(invoice)
        lines += rows
        sub.latest_invoice_id = invoice.id
        sub_rows.append([getattr(sub, c) for c, _ in _CLOSED])
    # Drafts whose grace has already passed are finalized in this transaction: credit
    # grants pay their metered lines, then the customer's balance is applied.
    finalized = [i for i in made if i.id in at_once]
    await lifecycle_invoices.prepare_finalization(finalized, at_once, now)
    await lifecycle_invoices.insert(made)
    await invoice_drafts.insert_lines(lines)
    for invoice in made:  # prorations are rare: one UPDATE per invoice that has some
        mine = pending.get(str(invoice.subscription_id))
        if mine:
            await PendingItem.filter(id__in=[p.id for p in mine]).update(invoice_id=invoice.id)
    await update_rows("subscriptions", _CLOSED, sub_rows)
    await outbox.write(deleted)
    # Last: the numbers hold the account's row lock until commit.
    await lifecycle_invoices.number_finalized([i for i in made if i.status != "DRAFT"])
    return made


_CLOSED: Columns = (
    ("id", "text"),
    ("status", "text"),
    ("canceled_at", "timestamptz"),
    ("current_period_start", "timestamptz"),
    ("current_period_end", "timestamptz"),
    ("latest_invoice_id", "text"),
)


async def _close_locked(
    query: QuerySet[Subscription], now: datetime
) -> list[invoice_drafts.NewInvoice]:
    """Lock what `query` finds (SKIP LOCKED: concurrent runners take disjoint rows) and
    close the periods still due under the lock: PostgreSQL re-checks the WHERE on rows
    changed since the snapshot, and so does the filter below."""
    async with in_transaction():
        subs = await query.select_for_update(skip_locked=True)
        subs = [s for s in subs if s.status in LIVE and s.current_period_end <= now]
        return await close_subscriptions(subs, now)


async def _finalize_locked(query: QuerySet[Invoice], now: datetime) -> int:
    async with in_transaction():
        drafts = await query.select_for_update(skip_locked=True)
        drafts = [i for i in drafts if i.status == "DRAFT"]
        await invoice_finalization.finalize_invoices(drafts, now)
    return len(drafts)


async def _collect_locked(query: QuerySet[Invoice], now: datetime) -> int:
    """Subscription statuses are refreshed after the charges commit; a charge that raised
    is raised then (its invoice stays pending)."""
    async with in_transaction():
        pending = await query.select_for_update(skip_locked=True)
        pending = [i for i in pending if i.collection_pending]
        error = await collection.collect_invoices(pending, now)
    await lifecycle_subscriptions.refresh_statuses([i.subscription_id for i in pending], now)
    if error is not None:
        raise error
    return len(pending)


async def _retry_locked(query: QuerySet[Invoice], now: datetime) -> int:
    """Dunning: charge the invoices whose next automatic attempt is due (SKIP LOCKED, and
    re-checked under the lock: the attempt moves next_payment_attempt on or clears it, so
    a second runner finds nothing due and no invoice is charged twice)."""
    async with in_transaction():
        due = await query.select_for_update(skip_locked=True)
        due = [
            i
            for i in due
            if i.status == "OPEN"
            and i.next_payment_attempt is not None
            and i.next_payment_attempt <= now
        ]
        error = await collection.collect_invoices(due, now)
    # A subscription whose invoice dunning just marked uncollectible keeps the status
    # subscriptionAfterRetries gave it.
    await lifecycle_subscriptions.refresh_statuses(
        [i.subscription_id for i in due if i.status != "UNCOLLECTIBLE"], now
    )
    if error is not None:
        raise error
    return len(due)


async def _expire_locked(query: QuerySet[Subscription], now: datetime) -> int:
    """INCOMPLETE for INCOMPLETE_EXPIRY: INCOMPLETE_EXPIRED, the first invoice VOID (it gives
    back what it took from the balance). Invoices, then subscriptions, locked (SKIP LOCKED)
    and re-checked: a first invoice paid meanwhile keeps its subscription."""
    ids = [str(i) for i in await query.values_list("id", flat=True)]
    if not ids:
        return 0
    async with in_transaction():
        first = {
            str(i.subscription_id): i
            for i in await Invoice.filter(
                subscription_id__in=ids, billing_reason="SUBSCRIPTION_CREATE"
            ).select_for_update(skip_locked=True)
        }
        subs = await Subscription.filter(id__in=ids, status="INCOMPLETE").select_for_update(
            skip_locked=True
        )
        events = []
        done = 0
        for sub in subs:
            invoice = first.get(sub.id)
            if sub.created_at + dunning.INCOMPLETE_EXPIRY > now:
                continue
            if invoice is not None and invoice.status == "PAID":
                continue  # paid meanwhile: refresh_statuses makes it ACTIVE
            if invoice is not None and lifecycle_invoices.can_move(invoice, "VOID"):
                await lifecycle_invoices.move(invoice, "VOID", "void", now)
            events.append(lifecycle_subscriptions.mark_expired(sub))
            await sub.save(update_fields=["status"])
            done += 1
        await outbox.write(events)
    return done


async def _overdue(query: QuerySet[Invoice], now: datetime) -> int:
    """SEND_INVOICE invoices still OPEN at their due date: their ACTIVE subscriptions become
    PAST_DUE (refresh_statuses, which takes its own locks)."""
    subs = {str(s) for s in await query.values_list("subscription_id", flat=True) if s}
    await lifecycle_subscriptions.refresh_statuses(sorted(subs), now)
    return len(subs)


async def close_due(now: datetime, limit: int = BATCH) -> tuple[int, int]:
    """Close up to `limit` ended periods of wall-clock subscriptions (oldest first) in one
    transaction; returns (closed, of which finalized at once)."""
    made = await _close_locked(
        Subscription.filter(test_clock_id=None, status__in=LIVE, current_period_end__lte=now)
        .order_by("current_period_end")
        .limit(limit),
        now,
    )
    return len(made), sum(1 for i in made if i.status != "DRAFT")


async def finalize_due(now: datetime, limit: int = BATCH) -> int:
    """Finalize up to `limit` wall-clock drafts whose grace has passed, in one transaction."""
    return await _finalize_locked(
        Invoice.filter(test_clock_id=None, status="DRAFT", automatically_finalizes_at__lte=now)
        .order_by("automatically_finalizes_at", "id")
        .limit(limit),
        now,
    )


async def collect_due(now: datetime, limit: int = BATCH) -> int:
    """Collect up to `limit` wall-clock invoices waiting for their charge, in one
    transaction."""
    return await _collect_locked(
        Invoice.filter(test_clock_id=None, collection_pending=True).limit(limit), now
    )


async def retry_due(now: datetime, limit: int = BATCH) -> int:
    """Retry up to `limit` wall-clock invoices whose next automatic attempt is due."""
    return await _retry_locked(
        Invoice.filter(test_clock_id=None, status="OPEN", next_payment_attempt__lte=now)
        .order_by("next_payment_attempt", "id")
        .limit(limit),
        now,
    )


async def expire_due(now: datetime, limit: int = BATCH) -> int:
    """Expire up to `limit` wall-clock INCOMPLETE subscriptions created 23 hours ago."""
    return await _expire_locked(
        Subscription.filter(
            test_clock_id=None, status="INCOMPLETE", created_at__lte=now - dunning.INCOMPLETE_EXPIRY
        )
        .order_by("created_at")
        .limit(limit),
        now,
    )


def _overdue_query() -> QuerySet[Invoice]:
    return Invoice.filter(
        status="OPEN", collection_method="SEND_INVOICE", subscription__status="ACTIVE"
    )


async def overdue_due(now: datetime, limit: int = BATCH) -> int:
    """Past-due wall-clock SEND_INVOICE invoices: their subscriptions become PAST_DUE."""
    return await _overdue(
        _overdue_query().filter(test_clock_id=None, due_date__lte=now).limit(limit), now
    )


# The same steps for given rows (a test clock's steps at one instant), BATCH rows per
# transaction; each returns how many it did (rows another runner holds are skipped).


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    ordered = sorted(ids)
    return [ordered[k : k + BATCH] for k in range(0, len(ordered), BATCH)]


async def close_these(subscription_ids: Sequence[str], now: datetime) -> int:
    done = 0
    for chunk in _chunks(subscription_ids):
        query = Subscription.filter(id__in=chunk, status__in=LIVE, current_period_end__lte=now)
        done += len(await _close_locked(query.order_by("id"), now))
    return done


async def finalize_these(invoice_ids: Sequence[str], now: datetime) -> int:
    done = 0
    for chunk in _chunks(invoice_ids):
        query = Invoice.filter(id__in=chunk, status="DRAFT").order_by("id")
        done += await _finalize_locked(query, now)
    return done


async def collect_these(invoice_ids: Sequence[str], now: datetime) -> int:
    done = 0
    for chunk in _chunks(invoice_ids):
        query = Invoice.filter(id__in=chunk, collection_pending=True).order_by("id")
        done += await _collect_locked(query, now)
    return done


async def retry_these(invoice_ids: Sequence[str], now: datetime) -> int:
    done = 0
    for chunk in _chunks(invoice_ids):
        query = Invoice.filter(id__in=chunk, status="OPEN", next_payment_attempt__lte=now)
        done += await _retry_locked(query.order_by("id"), now)
    return done


async def expire_these(subscription_ids: Sequence[str], now: datetime) -> int:
    done = 0
    for chunk in _chunks(subscription_ids):
        done += await _expire_locked(Subscription.filter(id__in=chunk), now)
    return done


async def overdue_these(invoice_ids: Sequence[str], now: datetime) -> int:
    done = 0
    for chunk in _chunks(invoice_ids):
        done += await _overdue(_overdue_query().filter(id__in=chunk, due_date__lte=now), now)
    return done


@dataclass
class CronResult:
    closed: int = 0
    finalized: int = 0
    collected: int = 0
    retried: int = 0


async def run_due(now: datetime | None = None, batch: int = BATCH) -> CronResult:
    """One pass of the wall-clock billing cron over subscriptions not on a test clock: batches
    of closes, finalizations and collections until nothing is left that this worker can
    take (rows another worker holds are its to finish)."""
    result = CronResult()
    first = True
    while True:
        at = now or utcnow()
        closed, finalized_at_close = await close_due(at, batch)
        finalized = await finalize_due(at, batch)
        collected = await collect_due(at, batch)
        retried = 0
        # Dunning's steps (retries, INCOMPLETE expiry, SEND_INVOICE past due) at the pass's
        # start and once the period work is done, not after every batch of it: they rarely
        # find anything, and each look costs up to five statements per batch of 200.
        if first or not (closed or finalized or collected):
            retried = await retry_due(at, batch)
            retried += await expire_due(at, batch)
            await overdue_due(at, batch)  # moves no row of its own: never a reason to loop
        first = False
        result.closed += closed
        result.finalized += finalized_at_close + finalized
        result.collected += collected
        result.retried += retried
        if not (closed or finalized or collected or retried):
            return result
