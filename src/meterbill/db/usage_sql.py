"""Hand-written SQL for usage, where the ORM cannot say it: a multi-row insert whose
duplicates the unique (account, identifier) key decides (each inserted event gets its
pending row in the same statement or transaction), the PostgreSQL claim of pending events,
and the PostgreSQL rollup upsert.

Both work on PostgreSQL (asyncpg, $n placeholders) and SQLite 3.35+ (? placeholders)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from meterbill.billing.aggregation import MEASURES, Rollup, month_start
from meterbill.db.rollup_sql import (
    ROLLUP_VALUE_COLUMNS,
    fold_events,
    merge_rollups,
    upsert_set,
)

# The columns ingest writes; bench/run.py COPYs the same ones.
EVENT_COLUMNS = (
    "account_id",
    "meter_id",
    "customer_id",
    "identifier",
    "event_name",
    "value",
    "timestamp",
    "dimensions_key",
    "status",
    "created_at",
    "unique_value",
)
PENDING_TABLE = "meter_events_pending"
_ROLLUP_COLUMNS = (
    "account_id",
    "meter_id",
    "customer_id",
    "bucket",
    "dimensions_key",
    *ROLLUP_VALUE_COLUMNS,
)


class EventRow(NamedTuple):
    account_id: str
    meter_id: str
    customer_id: str
    identifier: str
    event_name: str
    value: Decimal
    timestamp: datetime
    dimensions_key: str
    created_at: datetime
    # UNIQUE_COUNT meters only: the value's text.
    unique_value: str | None = None


# An event ready to insert as ingest checks it: index in its call or chunk, meter id,
# customer id, identifier, event name, value (the normalized Decimal's plain text: cheaper to
# send than a numeric, and exact), timestamp (UTC), dimensions key, the UNIQUE_COUNT value's
# text (else None).
Row = tuple[int, str, str, str, str, str, datetime, str, str | None]


def event_row(account_id: str, created_at: datetime, row: Row) -> EventRow:
    _, m, c, i, n, v, t, d, u = row
    return EventRow(account_id, m, c, i, n, Decimal(v), t, d, created_at, u)


class RollupKey(NamedTuple):
    account_id: str
    meter_id: str
    customer_id: str
    bucket: datetime
    dimensions_key: str


def is_postgres(conn: Any) -> bool:
    return conn.capabilities.dialect == "postgres"


# What a pending row carries on PostgreSQL besides the event id: what the fold reads.
PENDING_COLUMNS = (
    "account_id",
    "meter_id",
    "customer_id",
    '"timestamp"',
    "dimensions_key",
    "value",
    "unique_value",
)
_PENDING = ", ".join(PENDING_COLUMNS)


def identifier_key(account: str, identifier: str) -> str:
    """SQL of the 16-byte key that stands for (account, identifier) in meter_event_ids:
    md5 of the account id, ':' and the identifier, as a uuid (fixed width, compared as 16
    bytes). Account ids never hold ':' (db/ids.py), so two pairs that differ give two
    different inputs. Collision risk and why md5: ARCHITECTURE.md "Event storage at scale"."""
    return f"md5({account} || ':' || {identifier})::uuid"


def dedupe_insert_ctes(source: str) -> str:
    """WITH items (PostgreSQL) that store the events of the CTE `source` (columns a account,
    m meter, c customer, i identifier, n event name, v value (numeric), t timestamp, d
    dimensions, ca received at, uv unique value, k input order) whose identifier is new,
    ending in `ins` (RETURNING id, account_id, identifier).

    meter_events is partitioned by timestamp, so it has no unique key on (account,
    identifier): meter_event_ids (hash-partitioned by the pair's 16-byte key, the last 36
    days) decides. Of equal identifiers in `source` the first (k) is tried; ids are drawn in
    input order (LAST breaks timestamp ties by id); identifier rows go in key order, so two
    statements sharing identifiers wait on each other's entries in the same order (no
    deadlock), and a concurrent insert of the same identifier is waited for and then
    decides. Each stored event gets its pending row in the same statement (durable
    together; a data-modifying WITH item runs to completion whether or not it is read).
    The sorts compare the uuid keys (16 bytes), not the identifiers' text."""
    return (
        f"keyed AS (SELECT s.*, {identifier_key('s.a', 's.i')} AS key FROM {source} s), "
        "firsts AS (SELECT DISTINCT ON (key) * FROM keyed ORDER BY key, k), "
        "numbered AS (SELECT f.*, nextval('meter_events_id_seq') AS id "
        "FROM (SELECT * FROM firsts ORDER BY k) f), "
        'ids AS (INSERT INTO meter_event_ids (key, event_id, "timestamp", received_at) '
        "SELECT key, id, t, ca FROM numbered ORDER BY key "
        "ON CONFLICT (key) DO NOTHING RETURNING event_id), "
        f"ins AS (INSERT INTO meter_events (id, {', '.join(EVENT_COLUMNS)}) "
        "SELECT nb.id, nb.a, nb.m, nb.c, nb.i, nb.n, nb.v, nb.t, nb.d, 'ACCEPTED', nb.ca, nb.uv "
        "FROM numbered nb JOIN ids ON ids.event_id = nb.id "
        f"RETURNING id, identifier, {_PENDING}), "
        f"pend AS (INSERT INTO {PENDING_TABLE} (event_id, {_PENDING}) "
        f"SELECT id, {_PENDING} FROM ins) "
    )


def _values(conn: Any, rows: int, width: int) -> str:
    """VALUES tuples with the dialect's placeholders."""
    pg = is_postgres(conn)
    out = []
    for r in range(rows):
        base = r * width
        marks = (f"${base + c + 1}" if pg else "?" for c in range(width))
        out.append("(" + ", ".join(marks) + ")")
    return ", ".join(out)


def _dec(conn: Any, d: Decimal | None) -> Any:
    # SQLite keeps decimals as text: write the plain positional form, never "1E-7".
    if d is None or is_postgres(conn):
        return d
    return format(d, "f")


async def insert_events(conn: Any, rows: Sequence[EventRow]) -> dict[str, int]:
    """SQLite's insert of events (two statements: call it in a transaction), each inserted
    event with its pending row; returns {identifier: id} of the rows actually inserted. An
    identifier already taken (by an earlier call or an earlier row of this batch) is skipped
    by the unique key. PostgreSQL's inserts are the event store's (db/stores/events.py),
    built on dedupe_insert_ctes."""
    if not rows:
        return {}
    params: list[Any] = []
    for r in rows:
        params += [
            r.account_id,
            r.meter_id,
            r.customer_id,
            r.identifier,
            r.event_name,
            _dec(conn, r.value),
            r.timestamp,
            r.dimensions_key,
            "ACCEPTED",
            r.created_at,
            r.unique_value,
        ]
    sql = (
        f"INSERT INTO meter_events ({', '.join(EVENT_COLUMNS)}) "
        f"VALUES {_values(conn, len(rows), len(EVENT_COLUMNS))} "
        "ON CONFLICT (account_id, identifier) DO NOTHING RETURNING id, identifier"
    )
    # execute_query would discard RETURNING rows of an INSERT on asyncpg.
    result = await conn.execute_query_dict(sql, params)
    inserted = {str(row["identifier"]): int(row["id"]) for row in result}
    # SQLite has no INSERT in a WITH: a second statement of the caller's transaction.
    await insert_pending(conn, list(inserted.values()))
    return inserted


async def insert_rollup_if_absent(conn: Any, table: str, key: RollupKey, r: Rollup) -> bool:
    """Insert the rollup row of `key` unless one exists (MINUTE_TABLE or HOUR_TABLE); False
    when one did. A row a concurrent transaction is inserting makes this wait for it to
    commit (and then answer False) instead of failing on the unique key."""
    if table not in (MINUTE_TABLE, HOUR_TABLE):
        raise ValueError(f"not a rollup table: {table}")
    params = [*key, *(_dec(conn, v) if isinstance(v, Decimal) else v for v in _values_of(r))]
    sql = (
        f"INSERT INTO {table} ({', '.join(_ROLLUP_COLUMNS)}) "
        f"VALUES {_values(conn, 1, len(_ROLLUP_COLUMNS))} "
        "ON CONFLICT (meter_id, customer_id, bucket, dimensions_key) DO NOTHING RETURNING id"
    )
    return bool(await conn.execute_query_dict(sql, params))


def _values_of(r: Rollup) -> list[Any]:
    return [getattr(r, c) for c in ROLLUP_VALUE_COLUMNS]


async def insert_pending(conn: Any, event_ids: Sequence[int]) -> None:
    """Mark events as not yet folded (SQLite; in the transaction that inserts them)."""
    for lo in range(0, len(event_ids), 5000):
        part = event_ids[lo : lo + 5000]
        await conn.execute_query(
            f"INSERT INTO {PENDING_TABLE} (event_id) VALUES {_values(conn, len(part), 1)}",
            list(part),
        )


MINUTE_TABLE = "usage_rollups"
HOUR_TABLE = "usage_rollups_hourly"

_ROLLUP_CONFLICT = "ON CONFLICT (meter_id, customer_id, bucket, dimensions_key) DO UPDATE SET "
_MEASURE_LIST = ", ".join(ROLLUP_VALUE_COLUMNS)


UNIQUE_TABLE = "usage_unique_values"
_UNIQUE_COLUMNS = (
    "account_id",
    "meter_id",
    "customer_id",
    "grain",
    "bucket",
    "value",
    "dimensions_key",
    "events",
)
UNIQUE_UPSERT_HEAD = f"INSERT INTO {UNIQUE_TABLE} ({', '.join(_UNIQUE_COLUMNS)})"
_UNIQUE_CONFLICT = "ON CONFLICT (meter_id, customer_id, grain, bucket, value, dimensions_key) "
# Month rows: `events` counts the value's day rows in the month.
UNIQUE_UPSERT_TAIL = (
    f"{_UNIQUE_CONFLICT}DO UPDATE SET events = {UNIQUE_TABLE}.events + excluded.events"
)
# Day rows are never updated (their `events` is not kept: whether a value still has a
# folded event in its day is read from the events when one is canceled). An existing row is
# only locked (DO UPDATE ... WHERE false locks the row and writes no row version: no new
# tuple, index entry or dead row per event, a third of the fold's PostgreSQL CPU), so that
# a cancel's check of the same row waits for this fold's commit (take_back_unique).
DAY_UPSERT_TAIL = f"{_UNIQUE_CONFLICT}DO UPDATE SET events = {UNIQUE_TABLE}.events WHERE false"


COUNT_TABLE = "usage_unique_counts"
_COUNT_COLUMNS = (
    "account_id",
    "meter_id",
    "customer_id",
    "grain",
    "bucket",
    "dimensions_key",
    "distinct_values",
)
_COUNT_KEY = "meter_id, customer_id, grain, bucket, dimensions_key"
COUNT_UPSERT_HEAD = f"INSERT INTO {COUNT_TABLE} ({', '.join(_COUNT_COLUMNS)})"
COUNT_UPSERT_TAIL = (
    f"ON CONFLICT ({_COUNT_KEY}) DO UPDATE SET "
    f"distinct_values = {COUNT_TABLE}.distinct_values + excluded.distinct_values"
)


class UniqueKey(NamedTuple):
    account_id: str
    meter_id: str
    customer_id: str
    grain: str  # day | month
    bucket: datetime
    value: str
    dimensions_key: str


_UNIQUE_WHERE = (
    "meter_id = {0} AND customer_id = {1} AND grain = {2} AND bucket = {3} AND value = {4} "
    "AND dimensions_key = {5}"
)


def _unique_where(conn: Any) -> str:
    pg = is_postgres(conn)
    return _UNIQUE_WHERE.format(*(f"${n}" if pg else "?" for n in range(1, 7)))


def _where_params(k: UniqueKey) -> list[Any]:
    return [k.meter_id, k.customer_id, k.grain, k.bucket, k.value, k.dimensions_key]


async def add_uniques(conn: Any, days: Mapping[UniqueKey, int]) -> None:
    """SQLite's form of the PostgreSQL claim's first-seen rows (its single writer looks up
    each key first): the values' day rows (`days`: day keys; an existing one is left as it
    is), one day to the month row of each value new to its day, and the values new to their
    day or month to the counts."""
    new_days = await _add_values(conn, days, DAY_UPSERT_TAIL)
    months: dict[UniqueKey, int] = {}
    for k in new_days:
        m = k._replace(grain="month", bucket=month_start(k.bucket))
        months[m] = months.get(m, 0) + 1
    new_months = await _add_values(conn, months, UNIQUE_UPSERT_TAIL)
    fresh: dict[tuple[Any, ...], int] = {}
    for k in (*new_days, *new_months):
        group = (k.account_id, k.meter_id, k.customer_id, k.grain, k.bucket, k.dimensions_key)
        fresh[group] = fresh.get(group, 0) + 1
    if fresh:
        counts = sorted(fresh.items(), key=lambda kv: kv[0][1:])
        params = [v for group, n in counts for v in (*group, n)]
        sql = (
            f"{COUNT_UPSERT_HEAD} VALUES {_values(conn, len(counts), len(_COUNT_COLUMNS))} "
            f"{COUNT_UPSERT_TAIL}"
        )
        await conn.execute_query(sql, params)


async def _add_values(conn: Any, deltas: Mapping[UniqueKey, int], tail: str) -> list[UniqueKey]:
    """Upsert first-seen rows in key order (`tail`: what an existing row gets); returns the
    keys that had none."""
    ordered = sorted(deltas.items(), key=lambda kv: kv[0][1:])
    new: list[UniqueKey] = []
    where = _unique_where(conn)
    for k, _ in ordered:
        found = await conn.execute_query_dict(
            f"SELECT 1 AS x FROM {UNIQUE_TABLE} WHERE {where}", _where_params(k)
        )
        if not found:
            new.append(k)
    for lo in range(0, len(ordered), 500):
        part = ordered[lo : lo + 500]
        params: list[Any] = []
        for k, n in part:
            params += [*k, n]
        sql = f"{UNIQUE_UPSERT_HEAD} VALUES {_values(conn, len(part), len(_UNIQUE_COLUMNS))} {tail}"
        await conn.execute_query(sql, params)
    return new


async def take_back_unique(conn: Any, day: UniqueKey, month: UniqueKey, event_id: int) -> None:
    """Folded event `event_id` (already CANCELED in this transaction) of `day` (its value's
    day row; `month`: its month's) was canceled. The day row
    goes when no other folded ACCEPTED event of the value is left in that day (read from the
    events: the (meter, customer, timestamp) index, one customer-day of them); a day row
    that goes takes one day from its month row, which goes at 0; a row that goes takes one
    from its count. The day row is locked before the events are read (PostgreSQL): a fold
    that has locked or inserted it commits first and its events read as folded; a fold that
    comes later finds no row and inserts it again. Locks as the claim: day row, month row,
    then their counts."""
    pg = is_postgres(conn)
    where, params = _unique_where(conn), _where_params(day)
    lock = " FOR UPDATE" if pg else ""  # SQLite: one writer
    if not await conn.execute_query_dict(
        f"SELECT id FROM {UNIQUE_TABLE} WHERE {where}{lock}", params
    ):
        return
    if await _still_seen(conn, day, event_id):
        return
    await conn.execute_query(f"DELETE FROM {UNIQUE_TABLE} WHERE {where}", params)
    gone = [day]
    if await _take_one(conn, month):
        gone.append(month)
    marks = [f"${n}" if pg else "?" for n in range(1, 6)]
    count_where = (
        f"meter_id = {marks[0]} AND customer_id = {marks[1]} AND grain = {marks[2]} AND "
        f"bucket = {marks[3]} AND dimensions_key = {marks[4]}"
    )
    for k in gone:
        await conn.execute_query(
            f"UPDATE {COUNT_TABLE} SET distinct_values = distinct_values - 1 WHERE {count_where}",
            [k.meter_id, k.customer_id, k.grain, k.bucket, k.dimensions_key],
        )


async def _still_seen(conn: Any, day: UniqueKey, event_id: int) -> bool:
    """Whether another folded (not pending) ACCEPTED event has the value in that day."""
    pg = is_postgres(conn)
    m = [f"${n}" if pg else "?" for n in range(1, 8)]
    sql = (
        "SELECT 1 AS x FROM meter_events e WHERE "
        f"e.meter_id = {m[0]} AND e.customer_id = {m[1]} AND e.timestamp >= {m[2]} "
        f"AND e.timestamp < {m[3]} AND e.unique_value = {m[4]} AND e.dimensions_key = {m[5]} "
        f"AND e.id <> {m[6]} AND e.status = 'ACCEPTED' "
        f"AND NOT EXISTS (SELECT 1 FROM {PENDING_TABLE} p WHERE p.event_id = e.id) LIMIT 1"
    )
    end = day.bucket + timedelta(days=1)
    params = [day.meter_id, day.customer_id, day.bucket, end, day.value, day.dimensions_key]
    return bool(await conn.execute_query_dict(sql, [*params, event_id]))


async def _take_one(conn: Any, k: UniqueKey) -> bool:
    """Take one from the row of `k`; True when that left it at 0 and it was deleted."""
    where, params = _unique_where(conn), _where_params(k)
    await conn.execute_query(f"UPDATE {UNIQUE_TABLE} SET events = events - 1 WHERE {where}", params)
    gone = await conn.execute_query_dict(
        f"DELETE FROM {UNIQUE_TABLE} WHERE {where} AND events <= 0 RETURNING id", params
    )
    return bool(gone)


# alert_checks_due (db/models/alerts.py): one row per (meter, customer) with folds whose
# alerts are still to be evaluated; every fold adds one to `folds`.
ALERTS_DUE_TABLE = "alert_checks_due"
ALERTS_DUE_HEAD = f"INSERT INTO {ALERTS_DUE_TABLE} (account_id, meter_id, customer_id, folds)"
ALERTS_DUE_TAIL = (
    f"ON CONFLICT (meter_id, customer_id) DO UPDATE SET folds = {ALERTS_DUE_TABLE}.folds + 1"
)


# What the SQLite worker reads of each pending event (it folds in Python).
CLAIMED_COLUMNS = (
    "id",
    "account_id",
    "meter_id",
    "customer_id",
    "dimensions_key",
    "value",
    "timestamp",
    "status",
    "unique_value",
)


# The pending rows are deleted (not the wide event rows rewritten); the events are only read,
# and folded per minute here, so the worker gets one row per rollup key instead of one per
# event (each measure folded by its rule: db/rollup_sql.fold_events).
# = ANY(ARRAY(...)), not IN (...): the planner turns IN into a hash semi join over a
# sequential scan of the whole backlog (14 ms of a 33 ms claim at 200,000 pending); an array
# is probed through the primary key. date_bin, not date_trunc: independent of the session's
# time zone. `taken` counts every pending row taken, also of canceled or deleted events.
# UNIQUE_COUNT events (unique_value set) also add to their value's first-seen rows in the
# same statement (data-modifying WITH items, each in key order like the rollups): first the
# day rows (one per distinct value and day of the batch: inserted, or locked if there);
# then only the day rows it inserted (a value new to its day) touch their month row, whose
# events counts days: a value already seen that day (every repeat of an active user) costs
# one locked row, not two updated ones. The month upsert's inserted rows (xmax = 0: not an
# updated row version) and the new day rows are added to the counts. The sorts and groups
# compare text bytewise (COLLATE "C"): the database's collation would call strcoll for every
# comparison of every key column. Every writer of these rows (this statement, a cancel:
# take_back_unique) locks day rows before month rows and value rows before count rows.
_FOLD_PG = (
    f"WITH picked AS (DELETE FROM {PENDING_TABLE} WHERE event_id = ANY(ARRAY("
    f"SELECT event_id FROM {PENDING_TABLE} ORDER BY event_id LIMIT $1 FOR UPDATE SKIP LOCKED"
    f")) RETURNING event_id AS id, {_PENDING}), "
    # The pending row carries the event's fold inputs (no join by id into every partition
    # of meter_events); a canceled event has no pending row (the cancel deleted it).
    'ev AS (SELECT id, account_id, meter_id COLLATE "C" AS meter_id, '
    'customer_id COLLATE "C" AS customer_id, timestamp, '
    'dimensions_key COLLATE "C" AS dimensions_key, value, '
    'unique_value COLLATE "C" AS unique_value FROM picked), '
    "folded AS (SELECT e.account_id, e.meter_id, e.customer_id, "
    "date_bin('1 minute', e.timestamp, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, "
    f"e.dimensions_key, {fold_events(MEASURES)} "
    "FROM ev e GROUP BY 1, 2, 3, 4, 5), "
    f"days AS ({UNIQUE_UPSERT_HEAD} "
    "SELECT min(account_id), meter_id, customer_id, 'day', "
    "date_bin('1 day', timestamp, TIMESTAMPTZ '2000-01-01 00:00:00+00'), unique_value, "
    "dimensions_key, 1 FROM ev WHERE unique_value IS NOT NULL "
    f"GROUP BY 2, 3, 5, 6, 7 ORDER BY 2, 3, 5, 6, 7 {DAY_UPSERT_TAIL} "
    # Only inserted rows come back (an existing row is locked, not updated).
    "RETURNING account_id, meter_id, customer_id, bucket, value, dimensions_key), "
    'new_days AS (SELECT account_id, meter_id COLLATE "C" AS meter_id, '
    'customer_id COLLATE "C" AS customer_id, bucket, value COLLATE "C" AS value, '
    'dimensions_key COLLATE "C" AS dimensions_key FROM days), '
    f"months AS ({UNIQUE_UPSERT_HEAD} "
    "SELECT min(account_id), meter_id, customer_id, 'month', "
    "date_trunc('month', bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', value, "
    "dimensions_key, count(*) FROM new_days "
    f"GROUP BY 2, 3, 5, 6, 7 ORDER BY 2, 3, 5, 6, 7 {UNIQUE_UPSERT_TAIL} "
    "RETURNING account_id, meter_id, customer_id, bucket, dimensions_key, "
    "(xmax = 0) AS fresh), "
    "new_values AS (SELECT account_id, meter_id, customer_id, 'day' AS grain, bucket, "
    "dimensions_key FROM new_days UNION ALL SELECT account_id, meter_id, customer_id, "
    "'month', bucket, dimensions_key FROM months WHERE fresh), "
    f"counted AS ({COUNT_UPSERT_HEAD} "
    "SELECT min(account_id), meter_id, customer_id, grain, bucket, dimensions_key, count(*) "
    f"FROM new_values GROUP BY 2, 3, 4, 5, 6 ORDER BY 2, 3, 4, 5, 6 {COUNT_UPSERT_TAIL} "
    "RETURNING 1), "
    # The folded (meter, customer) pairs of meters with ACTIVE alerts are due an alert
    # evaluation, durably with the fold (services/usage/alert_checks.py). COLLATE "default":
    # the alerts' (meter_id, status) index serves the probe.
    f"due AS ({ALERTS_DUE_HEAD} SELECT min(f.account_id), f.meter_id, f.customer_id, 1 "
    "FROM folded f WHERE EXISTS (SELECT 1 FROM billing_alerts a "
    "WHERE a.meter_id = f.meter_id COLLATE \"default\" AND a.status = 'ACTIVE') "
    f"GROUP BY 2, 3 ORDER BY 2, 3 {ALERTS_DUE_TAIL}), "
    # The minute deltas added to the minute rollups, then merged per hour and added to the
    # hour rollups, in key order. Each upsert waits for the one before it (a one-time filter
    # on its row count): value rows, then minutes, then hours, the order a cancel locks them
    # in (take_back_unique, then aggregate.recompute_bucket).
    f"mins AS (INSERT INTO {MINUTE_TABLE} ({', '.join(_ROLLUP_COLUMNS)}) "
    f"SELECT account_id, meter_id, customer_id, bucket, dimensions_key, {_MEASURE_LIST} "
    "FROM folded WHERE (SELECT count(*) FROM counted) >= 0 "
    f"ORDER BY meter_id, customer_id, bucket, dimensions_key {_ROLLUP_CONFLICT}"
    f"{upsert_set(MINUTE_TABLE)} RETURNING 1), "
    f"hours AS (INSERT INTO {HOUR_TABLE} ({', '.join(_ROLLUP_COLUMNS)}) "
    "SELECT min(account_id), meter_id, customer_id, "
    "date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00'), dimensions_key, "
    f"{merge_rollups(MEASURES)} FROM folded WHERE (SELECT count(*) FROM mins) >= 0 "
    f"GROUP BY 2, 3, 4, 5 ORDER BY 2, 3, 4, 5 {_ROLLUP_CONFLICT}{upsert_set(HOUR_TABLE)}) "
    "SELECT t.taken, k.* FROM (SELECT count(*) AS taken FROM picked) t "
    "LEFT JOIN (SELECT DISTINCT account_id, meter_id, customer_id FROM folded) k ON true"
)


# (account, meter, customer) of a folded usage change.
Touched = tuple[str, str, str]


async def fold_pending_pg(conn: Any, limit: int) -> tuple[int, set[Touched]]:
    """Take up to `limit` pending events, oldest first, skipping those another worker (or a
    cancel) holds, delete their pending rows and add them to the minute and hour rollups:
    one statement, in the caller's transaction. Returns how many were taken and the
    (account, meter, customer) keys whose usage changed."""
    _, rows = await conn.execute_query(_FOLD_PG, [limit])
    touched = {(r[1], r[2], r[3]) for r in rows if r[1] is not None}
    return int(rows[0][0]), touched
