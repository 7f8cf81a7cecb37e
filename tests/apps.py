"""An app with other settings than the session's deployment, running for one test.

Tortoise's connections are process-global, so run one app at a time (do not combine with
the `app` fixture in the same test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from meterbill.app import create_app
from meterbill.config import Settings


@asynccontextmanager
async def running(settings: Settings, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings.model_copy(update=overrides))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def new_key(name: str = "Acme") -> tuple[str, str]:
    """(account_id, ADMIN secret) of a fresh account; needs a running app."""
    from meterbill.services.accounts import create_account

    account, secret = await create_account(name)
    return account.id, secret
