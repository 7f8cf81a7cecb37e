"""Real PostgreSQL and Redis for tests: each run creates (and drops) its own database and
uses its own Redis db number. Without MB_TEST_DATABASE_URL / MB_TEST_REDIS_URL the tests
that need them skip, saying so; with MB_REQUIRE_SERVICES=1 they fail instead."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

REQUIRE = os.environ.get("MB_REQUIRE_SERVICES") == "1"
CLAIM = "mb:test:claim"


def _missing(what: str, var: str) -> None:
    missing(f"{what} not configured", var)


def missing(what: str, var: str) -> None:
    """Skip the test for a missing service, saying which; fail with MB_REQUIRE_SERVICES=1."""
    msg = f"{what}: set {var} to run this test"
    if REQUIRE:
        pytest.fail(msg + " (MB_REQUIRE_SERVICES=1)")
    pytest.skip(msg)


def pg_server_url() -> str | None:
    return os.environ.get("MB_TEST_DATABASE_URL") or None


def redis_server_url() -> str | None:
    return os.environ.get("MB_TEST_REDIS_URL") or None


def require_pg() -> str:
    url = pg_server_url()
    if not url:
        _missing("PostgreSQL", "MB_TEST_DATABASE_URL")
    return url  # type: ignore[return-value]


def require_redis() -> str:
    url = redis_server_url()
    if not url:
        _missing("Redis", "MB_TEST_REDIS_URL")
    return url  # type: ignore[return-value]


def _with_db(url: str, db: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + db))


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database(server_url: str) -> tuple[str, str]:
    name = "mb_test_" + secrets.token_hex(6)
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return name, _with_db(server_url, name)


def drop_pg_database(server_url: str, name: str) -> None:
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def fresh_pg_database(server_url: str) -> Iterator[str]:
    """The url of a new, empty database on `server_url`, dropped afterwards."""
    name, url = create_pg_database(server_url)
    try:
        yield url
    finally:
        drop_pg_database(server_url, name)


@contextlib.contextmanager
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the deployment's kind, as tests/conftest.py picks it:
    PostgreSQL when the services are configured, else a SQLite file. (The ORM's query
    builders, once made for one dialect, stay that dialect's for the process.)"""
    server = pg_server_url()
    if server is None or redis_server_url() is None:
        yield f"sqlite://{tmp_path}/fresh.db"
        return
    with fresh_pg_database(server) as url:
        yield url


async def _pick_redis_db(server_url: str) -> str:
    from redis.asyncio import Redis

    for _ in range(30):
        db = secrets.randbelow(15) + 1
        url = urlunsplit(urlsplit(server_url)._replace(path=f"/{db}"))
        r = Redis.from_url(url)
        try:
            # A claim expires after an hour, so a run that was killed before releasing its
            # db (and left keys behind) does not hold it for ever; the new owner flushes it.
            if await r.set(CLAIM, "1", nx=True, ex=3600):
                await r.flushdb()
                await r.set(CLAIM, "1", ex=3600)
                return url
        finally:
            await r.aclose()
    raise RuntimeError("no free Redis db number on " + server_url)


def claim_redis_db(server_url: str) -> str:
    return asyncio.run(_pick_redis_db(server_url))


async def _flush(url: str) -> None:
    from redis.asyncio import Redis

    r = Redis.from_url(url)
    try:
        await r.flushdb()
    finally:
        await r.aclose()


def release_redis_db(url: str) -> None:
    asyncio.run(_flush(url))
