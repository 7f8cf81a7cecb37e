"""Connection setup and migrations for both backends."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise
from tortoise.migrations.api import migrate as migrate_api

from meterbill.config import Settings

APP = "models"


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
        "connections": {"default": _with_pool(settings.database_url, settings)},
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


async def init_db(settings: Settings) -> None:
    # The global fallback lets worker tasks and request tasks share one ORM context.
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


async def run_migrations(settings: Settings) -> None:
    """Apply pending migrations. Safe to run on every start."""
    await migrate_api(config=tortoise_config(settings))
    await Tortoise.close_connections()
