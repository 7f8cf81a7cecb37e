"""Integration fixtures: the ORM initialised on the deployment's database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from meterbill.config import Settings
from meterbill.db.setup import close_db, init_db


@pytest.fixture
async def db(deployment: Settings) -> AsyncIterator[Settings]:
    await init_db(deployment)
    try:
        yield deployment
    finally:
        await close_db()
