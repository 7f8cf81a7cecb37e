"""Aggregation (data flow 2), run by workers: fold pending events (those with a row in
meter_events_pending) into per-minute and per-hour rollups and delete their pending rows in
the same transaction. Jobs are at-least-once; the effect is exactly-once because an event is
folded only by the transaction that deletes its pending row. An hour rollup is always the
merge of its minutes: every change to a minute changes its hour in the same transaction
(readers take whole hours from the hour table).

How a backend folds is its rollup store's (db/stores/rollups.py): on PostgreSQL several
workers split the backlog with FOR UPDATE SKIP LOCKED and one statement claims, folds and
upserts (no event or rollup row comes back to the worker); SQLite has a single writer, so it
reads, merges in Python with Decimal, and writes back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from meterbill.billing.aggregation import Rollup, fold_all, hour_bucket, merge, minute_bucket
from meterbill.db import stores
from meterbill.db.models import MeterEvent, MeterEventPending, UsageRollup, UsageRollupHourly
from meterbill.db.stores.rollups import fields_of as _fields
from meterbill.db.stores.rollups import rollup_of
from meterbill.db.usage_sql import RollupKey, Touched, insert_rollup_if_absent
from meterbill.services import queue
from meterbill.services.live import hub
from meterbill.services.now import utcnow
from meterbill.services.usage import alert_checks

log = logging.getLogger("meterbill.usage")

BATCH = 2000
# A job drains at most this many batches; the sweep cron (or the next request) does the rest.
MAX_BATCHES_PER_JOB = 50
JOB = "aggregate_usage"
# Requests within one slot share one queued job (arq ignores a second enqueue of a job id
# while the first is queued), so ingest at any rate costs at most 10 jobs a second.
_SLOT_SECONDS = 0.1


_enqueued: tuple[int, int] | None = None  # (id of the queue pool, slot)


async def request_aggregation() -> bool:
    """arq would ignore a second job of the same slot anyway; remembering the slot this
    process already enqueued saves the Redis round trips (a WATCH/MULTI pipeline, ~15% of the
    API's CPU for single events). A failed enqueue is not remembered: the next request
    tries again, and the sweep catches up regardless."""
    global _enqueued
    slot = int(utcnow().timestamp() / _SLOT_SECONDS)
    # Keyed by the pool too: a new pool (an app restarted in-process) may be a new queue.
    key = (id(queue.get_pool()), slot)
    if key == _enqueued:
        return True
    ok = await queue.enqueue(JOB, (slot + 1) * _SLOT_SECONDS, job_id=f"{JOB}:{slot}")
    if ok:
        _enqueued = key
    return ok


# Clocks of API and worker hosts may differ by this much; a job lingers at most _MAX_LINGER
# whatever a skewed clock asked.
_SLOT_MARGIN = 0.05
_MAX_LINGER = 1.0


async def drain_slot(slot_end: float | None = None) -> int:
    """The job of one slot. Every request of the slot commits its events before it asks for
    aggregation, and asks only once per process (the memo above): an event committed after
    this job's drain would otherwise wait for the next slot's request or the 5 s sweep. So a
    job that finishes before its slot ends drains once more after it."""
    total = await _drain_in_turn()
    if slot_end is not None:
        wait = slot_end + _SLOT_MARGIN - utcnow().timestamp()
        if wait > 0:
            await asyncio.sleep(min(wait, _MAX_LINGER))
            total += await _drain_in_turn()
    return total


class _Turn:
    """One drain at a time in a worker process. Folds of one process running at once wait
    for each other on the same (hot) rollup rows, and each one's claim skips the rows the
    others hold locked: on a backlog of 1M events of 10,000 customers
    (bench/fold_backlog.py), 10 drains at once folded 15-30 % more events per second than
    one, at 45-65 % more CPU per event; CPU is what a worker sharing its machine (with
    ingest, other workers, PostgreSQL) runs out of, and more throughput comes from more
    worker processes, which split the backlog (SKIP LOCKED). A job that finds a drain
    running asks it to go round once more (so an event committed meanwhile is not left to
    the sweep) and returns at once, instead of holding one of the worker's job slots."""

    running = False
    again = False


# A drain that was asked to go round again keeps going at most this long: the slot's next
# job (or the 5 s sweep) takes over well before arq's job timeout.
_TURN_SECONDS = 30.0


async def _drain_in_turn() -> int:
    if _Turn.running:
        _Turn.again = True
        return 0
    _Turn.running, total = True, 0
    deadline = asyncio.get_running_loop().time() + _TURN_SECONDS
    try:
        while True:
            _Turn.again = False
            total += await drain()
            if not _Turn.again or asyncio.get_running_loop().time() > deadline:
                return total
    finally:
        _Turn.running = False


def waiting() -> Subquery:
    """The ids of the events no worker has folded yet: MeterEvent.filter(id__in=waiting())."""
    return Subquery(MeterEventPending.all().values("event_id"))


async def aggregate_batch(limit: int = BATCH) -> int:
    """Fold up to `limit` pending events, oldest first; returns how many were taken."""
    taken, touched = await fold_batch(limit)
    if not taken:
        return 0
    # Committed: tell live usage subscriptions (contract extension live) what changed, and
    # check the alerts of what changed (contract extension alerts): once per batch.
    await hub.announce(touched)
    await alert_checks.evaluate_quietly(touched)
    return taken


async def fold_batch(limit: int = BATCH) -> tuple[int, set[Touched]]:
    """The transaction of aggregate_batch: (events taken, the (account, meter, customer)
    keys whose usage changed). The fold also marks the keys of meters with alerts due an
    evaluation (alert_checks_due), so that a worker dying after this commit leaves them to
    the sweep."""
    async with in_transaction() as conn:
        return await stores.current().rollups.fold(conn, limit)


async def sweep() -> int:
    """The worker's sweep (every 5 s): fold what a lost or never-enqueued job left behind,
    then evaluate the alerts of folds whose evaluation was lost (a worker that died between
    its fold's commit and the evaluation). Returns the events folded."""
    folded = await _drain_in_turn()
    await alert_checks.sweep_quietly()
    return folded


_RollupModel = type[UsageRollup] | type[UsageRollupHourly]


async def drain(max_batches: int = MAX_BATCHES_PER_JOB, batch: int = BATCH) -> int:
    """Aggregate until nothing is pending (or max_batches); returns events taken."""
    total = 0
    for _ in range(max_batches):
        n = await aggregate_batch(batch)
        total += n
        if n < batch:
            break
    return total


async def recompute_bucket(conn: Any, event: MeterEvent) -> None:
    """Rebuild the rollup of `event`'s minute from its raw ACCEPTED, already folded events
    (pending ones are still to be added by a worker), then its hour's from the minutes.
    Each rollup row is locked before what it is rebuilt from is read, minute before hour as
    the workers lock them: an aggregation that already changed the row has committed and its
    effects read here (its pending rows are gone); one that has not yet will add its delta
    on top of the rebuilt row (PostgreSQL's upsert re-reads the row it waited for), and its
    claimed events still read as pending here (their deletes are not committed)."""
    minute = minute_bucket(event.timestamp)
    where = {
        "meter_id": event.meter_id,
        "customer_id": event.customer_id,
        "dimensions_key": event.dimensions_key,
    }

    async def minute_rollup() -> Rollup:
        events = (
            await MeterEvent.filter(
                **where,
                timestamp__gte=minute,
                timestamp__lt=minute + timedelta(minutes=1),
                status="ACCEPTED",
            )
            .using_db(conn)
            .values_list("value", "timestamp", "id")
        )
        # The minute's few pending events by their ids (an index probe each), not a scan of
        # the whole backlog.
        pending: set[Any] = set()
        if events:
            qs = MeterEventPending.filter(event_id__in=[i for _, _, i in events]).using_db(conn)
            pending.update(await qs.values_list("event_id", flat=True))
        return fold_all((Decimal(v), t, i) for v, t, i in events if i not in pending)

    hour = hour_bucket(event.timestamp)

    async def hour_rollup() -> Rollup:
        minutes = await UsageRollup.filter(
            **where, bucket__gte=hour, bucket__lt=hour + timedelta(hours=1)
        ).using_db(conn)
        h = Rollup.empty()
        for m in minutes:
            h = merge(h, rollup_of(m))
        return h

    await _rebuild(conn, UsageRollup, minute_rollup, event.account_id, bucket=minute, **where)
    await _rebuild(conn, UsageRollupHourly, hour_rollup, event.account_id, bucket=hour, **where)


async def _rebuild(
    conn: Any,
    model: _RollupModel,
    compute: Callable[[], Awaitable[Rollup]],
    account_id: str,
    **key: Any,
) -> None:
    """Make the rollup of `key` what `compute` reads, under the row's lock. With no row to
    lock, a worker's fold may be inserting one meanwhile: the insert then waits for that
    worker's commit and gives way (an upsert, never a unique-key failure), and the rebuild
    starts again under the lock of the row the worker made, reading what it committed."""
    row = await _locked(conn, model, **key)
    r = await compute()
    if row is None and r.count:
        table = model._meta.db_table
        rk = RollupKey(
            account_id, key["meter_id"], key["customer_id"], key["bucket"], key["dimensions_key"]
        )
        if await insert_rollup_if_absent(conn, table, rk, r):
            return
        row = await _locked(conn, model, **key)
        r = await compute()
    await _store(conn, row, r)


async def _locked(conn: Any, model: _RollupModel, **key: Any) -> Any:
    return await model.filter(**key).select_for_update().using_db(conn).first()


async def _store(conn: Any, row: Any, r: Rollup) -> None:
    """Make an existing rollup row equal `r` (None: there is none, and `r` is empty); no row
    for an empty one, so no empty group in summaries (as if the bucket had never seen an
    event)."""
    if row is None:
        return
    if r.count == 0:
        await row.delete(using_db=conn)
        return
    for name, value in _fields(r).items():
        setattr(row, name, value)
    await row.save(using_db=conn, update_fields=list(_fields(r)))
