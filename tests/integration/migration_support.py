"""A database migrated to a point of its history, for the tests of one migration: fill it
at the migration before, then check it after the newest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from meterbill.config import Settings
from meterbill.db.setup import init_db, run_migrations, tortoise_config


@asynccontextmanager
async def database_at(settings: Settings, target: str | None = None) -> AsyncIterator[None]:
    """The ORM connected, for the block, to the database of `settings` migrated up to
    `target` (e.g. "models.0019_slim_event_ids"; None: the newest migration)."""
    if target is None:
        await run_migrations(settings)
    else:
        await migrate(config=tortoise_config(settings), target=target)
        await Tortoise.close_connections()
    await init_db(settings)
    try:
        yield
    finally:
        await Tortoise.close_connections()
