"""One migration run at a time per database: `meterbill migrate`, `meterbill serve`'s start-up
migration and `accounts create` may start together (several API replicas, a compose
`migrate` service next to an old api). Two runs applying the same migration at once fail
half-way or apply it twice.

PostgreSQL: a transaction-level advisory lock taken in a transaction kept open, on a
connection of its own, for as long as the migrations run, then closed: never a pooled
connection, and no session state. Through PgBouncer in transaction pooling mode the open
transaction keeps this client on one server connection, so the lock holds there too (a
session lock would stay behind on whichever server connection took it).

SQLite: an exclusive flock on a file beside the database."""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tortoise.backends.base.config_generator import expand_db_url

log = logging.getLogger("meterbill.migrate")

# Any fixed 64-bit number: the advisory lock key every meterbill process agrees on.
LOCK_KEY = 0x6D62_6D69_6772_6174  # "mbmigrat"
_PG = ("postgres://", "postgresql://", "asyncpg://", "psycopg://")


@asynccontextmanager
async def migration_lock(database_url: str) -> AsyncIterator[None]:
    if database_url.startswith(_PG):
        async with _pg_lock(database_url):
            yield
    elif database_url.startswith("sqlite://") and ":memory:" not in database_url:
        async with _file_lock(Path(database_url.removeprefix("sqlite://") + ".migrate-lock")):
            yield
    else:
        yield


@asynccontextmanager
async def _pg_lock(database_url: str) -> AsyncIterator[None]:
    import asyncpg

    creds = expand_db_url(database_url)["credentials"]
    conn = await asyncpg.connect(
        host=creds.get("host"),
        port=int(creds.get("port") or 5432),
        user=creds.get("user"),
        password=creds.get("password") or None,
        database=creds.get("database"),
        statement_cache_size=0,  # nothing prepared outlives the transaction (PgBouncer)
    )
    try:
        await conn.execute("BEGIN")
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", LOCK_KEY):
            log.warning("another process is applying migrations: waiting for it")
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        yield
    finally:
        # Closing ends the transaction and its lock, also when no ROLLBACK can be sent.
        await conn.close()


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another process is applying migrations: waiting for it")
            await asyncio.to_thread(fcntl.flock, f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
