"""Run a block's statements on one pooled PostgreSQL connection, without a transaction.

Each ORM or raw statement outside a transaction acquires and releases a pool connection
(asyncpg's reset query on release is skipped: db/setup.StatelessConnection). A read path of
several statements pins one connection instead: one acquire, one release. Unlike
in_transaction() it sends no BEGIN/COMMIT; reads see each statement's own snapshot, as they
would unpinned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise import connections
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper

ALIAS = "default"


@asynccontextmanager
async def pinned() -> AsyncIterator[None]:
    client = connections.get(ALIAS)
    # SQLite has one connection anyway; inside a transaction the connection is already one.
    if type(client) is not AsyncpgDBClient:
        yield
        return
    async with client.acquire_connection() as conn:
        # TransactionWrapper is Tortoise's client bound to one connection (what in_transaction
        # sets for the task); no begin() is called, so it is a plain pinned connection.
        wrapper = TransactionWrapper(client)
        wrapper._connection = conn
        token = connections.set(ALIAS, wrapper)
        try:
            yield
        finally:
            connections.reset(token)
