"""Connection setup and migrations for both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate as migrate_api

from meterbill.config import Settings
from meterbill.db import stores
from meterbill.db.migration_lock import migration_lock

APP = "models"


class StatelessConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection released without asyncpg's reset query (`SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`): one round trip per
    release, ~3-5% of the API's CPU per recordMeterEvent. That query undoes session state,
    and meterbill creates none: no SET outside SET LOCAL, no session advisory locks, no
    LISTEN, no WITH HOLD cursors (tests/unit/test_no_session_state.py keeps it so). asyncpg
    still rolls back a transaction left open and drops listeners on every release
    (Connection._reset runs whatever get_reset_query returns)."""

    def get_reset_query(self) -> str:
        return ""


def _connection(url: str, settings: Settings) -> str | dict[str, Any]:
    url = _with_pool(url, settings)
    if not url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        return url
    conf = expand_db_url(url)
    conf["credentials"]["connection_class"] = StatelessConnection
    if settings.db_pgbouncer:
        # PgBouncer in transaction pooling (1.18-1.20, Debian 12's) hands each transaction
        # any server connection: a statement asyncpg prepared on one is missing on the next.
        conf["credentials"]["statement_cache_size"] = 0
    return conf


def _with_pool(url: str, settings: Settings) -> str:
    if not url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    # Tortoise's default asyncpg pool is 1-5 connections; size it from settings.
    query.setdefault("minsize", str(settings.db_pool_min))
    query.setdefault("maxsize", str(settings.db_pool_max))
    return urlunsplit(parts._replace(query=urlencode(query)))


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(settings.database_url, settings)},
        "apps": {
            APP: {
                "models": ["meterbill.db.models"],
                "default_connection": "default",
                "migrations": "meterbill.db.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_dir(url: str) -> None:
    """The embedded database's folder (MB_DATA_DIR) exists before SQLite opens the file."""
    if url.startswith("sqlite://") and ":memory:" not in url:
        Path(url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


async def init_db(settings: Settings) -> None:
    _ensure_sqlite_dir(settings.database_url)
    # The global fallback lets worker tasks and request tasks share one ORM context.
    _forget_queries()
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    stores.configure(connections.get("default").capabilities.dialect)


async def close_db() -> None:
    await Tortoise.close_connections()
    stores.configure(None)


async def run_migrations(settings: Settings) -> None:
    """Apply pending migrations. Safe to run on every start, also from several processes at
    once: they take turns (db/migration_lock.py), and the later ones find nothing to do."""
    _ensure_sqlite_dir(settings.database_url)
    async with migration_lock(settings.database_url):
        try:
            await migrate_api(config=tortoise_config(settings))
        finally:
            await Tortoise.close_connections()
            _forget_queries()


def _forget_queries() -> None:
    """Tortoise caches each table's INSERT per (connection, table), whichever model class
    built it first: a migration's historical model (e.g. usage_rollups as of 0006, without
    max_value) would otherwise leave an INSERT that silently drops the columns added since."""
    EXECUTOR_CACHE.clear()
