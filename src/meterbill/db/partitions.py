"""PostgreSQL: meter_events is partitioned by event timestamp, one partition per UTC week
(Monday 00:00 to Monday 00:00), named meter_events_wYYYYMMDD after its Monday. Why weekly and
not daily, and why a partition is attached rather than created as PARTITION OF:
ARCHITECTURE.md "Event storage at scale".

Every DDL here runs in its own transaction under one transaction-level advisory lock, so
several workers (and ingest creating a partition on demand) never race each other: each
checks what exists after taking the lock. No session state (PgBouncer transaction pooling).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

log = logging.getLogger("meterbill.partitions")
PARENT = "meter_events"
IDS_TABLE = "meter_event_ids"
# Hash partitions of meter_event_ids (fixed at migration 0015).
IDS_PARTITIONS = 8
WEEK = timedelta(days=7)
# date_bin's origin: 2000-01-03 was a Monday.
_MONDAY = datetime(2000, 1, 3, tzinfo=UTC)
_NAME = re.compile(r"^meter_events_w(\d{8})$")
# One key for every partition change of meter_events (pg_advisory_xact_lock's bigint).
LOCK_KEY = 0x6D625F7061727473  # "mb_parts"
# A partition change waits this long for its locks, then gives up (the caller retries):
# never an ingest stall queued behind a long reader.
LOCK_TIMEOUT = "5s"


def week_start(ts: datetime) -> datetime:
    """The Monday 00:00 UTC that starts the partition holding `ts`."""
    weeks = (ts - _MONDAY) // WEEK
    return _MONDAY + weeks * WEEK


def partition_name(start: datetime) -> str:
    return f"{PARENT}_w{start:%Y%m%d}"


def start_of(name: str) -> datetime | None:
    m = _NAME.match(name)
    if m is None:
        return None
    d = date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:]))
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


async def existing(conn: Any) -> set[datetime]:
    """The week starts of the partitions attached to meter_events."""
    rows = await conn.execute_query_dict(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = $1::regclass",
        [PARENT],
    )
    out = set()
    for r in rows:
        start = start_of(str(r["name"]))
        if start is not None:
            out.add(start)
    return out


async def create_weeks(client: Any, starts: Iterable[datetime], now: datetime) -> set[datetime]:
    """Attach a partition for every week start in `starts` that has none; returns the ones
    this call created. Idempotent and safe with concurrent callers (the advisory lock, then
    a look at what exists). Standalone table + ATTACH: the parent is locked SHARE UPDATE
    EXCLUSIVE, so inserts and reads of other weeks go on meanwhile (CREATE TABLE ...
    PARTITION OF would take ACCESS EXCLUSIVE and queue every insert behind any reader)."""
    if not starts:
        return set()
    from tortoise.transactions import in_transaction

    async with in_transaction(client.connection_name) as conn:
        return await attach_weeks(conn, starts, now)


async def attach_weeks(conn: Any, starts: Iterable[datetime], now: datetime) -> set[datetime]:
    """create_weeks on `conn`, inside the caller's transaction (the migration's)."""
    created: set[datetime] = set()
    await conn.execute_query(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])
    have = await existing(conn)
    for start in sorted(set(starts)):
        if start in have:
            continue
        name = partition_name(start)
        await conn.execute_query(f"DROP TABLE IF EXISTS {name}")  # a half-made leftover
        await conn.execute_query(
            f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        await conn.execute_query(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM "
            f"('{start.isoformat()}') TO ('{(start + WEEK).isoformat()}')"
        )
        # When it was made (real time): retention keeps a week made on demand for a test
        # clock far in the past as long as one made in time (see droppable).
        await conn.execute_query(f"COMMENT ON TABLE {name} IS 'created {now.isoformat()}'")
        created.add(start)
    return created


async def created_at(conn: Any, start: datetime) -> datetime | None:
    rows = await conn.execute_query_dict(
        "SELECT obj_description($1::regclass, 'pg_class') AS c", [partition_name(start)]
    )
    text = rows[0]["c"] if rows else None
    if not text or not str(text).startswith("created "):
        return None
    return datetime.fromisoformat(str(text)[len("created ") :])


async def droppable(conn: Any, horizon: datetime) -> list[datetime]:
    """Weeks wholly before `horizon` whose partition was also made before it, and none of
    whose events is still pending (a worker has not folded it yet: never dropped unfolded)."""
    out = []
    for start in sorted(await existing(conn)):
        if start + WEEK > horizon:
            continue
        made = await created_at(conn, start)
        if made is not None and made > horizon:
            continue
        waiting = await conn.execute_query_dict(
            'SELECT 1 AS x FROM meter_events_pending WHERE "timestamp" >= $1 '
            'AND "timestamp" < $2 LIMIT 1',
            [start, start + WEEK],
        )
        if not waiting:
            out.append(start)
    return out


async def drop_weeks(client: Any, starts: Iterable[datetime]) -> int:
    """Detach these weeks' partitions CONCURRENTLY, then drop them; returns how many went.
    DETACH ... CONCURRENTLY takes the parent's SHARE UPDATE EXCLUSIVE lock only (a plain
    DROP of a partition would take ACCESS EXCLUSIVE and stall every insert behind any running
    reader). It runs outside a transaction, in autocommit: a worker that dies half way leaves
    the partition "detach pending" (finished here next time: FINALIZE) or detached but not
    dropped (leftovers()). Two workers at once: the second's DETACH fails and is skipped."""
    dropped = 0
    for start in sorted(starts):
        name = partition_name(start)
        state = await client.execute_query_dict(
            "SELECT inhdetachpending AS pending FROM pg_inherits "
            "WHERE inhrelid = to_regclass($1) AND inhparent = $2::regclass",
            [name, PARENT],
        )
        try:
            if state:
                how = "FINALIZE" if state[0]["pending"] else "CONCURRENTLY"
                await client.execute_script(f"ALTER TABLE {PARENT} DETACH PARTITION {name} {how}")
            await client.execute_script(f"DROP TABLE IF EXISTS {name}")
        except Exception as exc:  # another worker is at it, or a lock was not had
            log.warning("retention: %s not dropped this time: %s", name, exc)
            continue
        dropped += 1
    return dropped


async def leftovers(conn: Any, horizon: datetime) -> list[datetime]:
    """Weeks before `horizon` detached by an earlier drop that died before DROP TABLE."""
    rows = await conn.execute_query_dict(
        "SELECT relname AS name FROM pg_class WHERE relname LIKE 'meter_events\\_w%' "
        "AND relkind = 'r' AND NOT relispartition"
    )
    out = []
    for r in rows:
        start = start_of(str(r["name"]))
        if start is not None and start + WEEK <= horizon:
            out.append(start)
    return out


def weeks_between(lo: datetime, hi: datetime) -> list[datetime]:
    """The week starts of every partition that [lo, hi] touches."""
    out = []
    w = week_start(lo)
    while w <= hi:
        out.append(w)
        w += WEEK
    return out
