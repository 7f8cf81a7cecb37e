"""Shared fixtures. The deployment under test follows the environment: PostgreSQL + Redis
(with an arq worker on that Redis) when MB_TEST_DATABASE_URL and MB_TEST_REDIS_URL are
set, otherwise the default SQLite file + embedded worker."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest


def pytest_configure(config: pytest.Config) -> None:
    # The embedded default database lives in the user data directory (MB_DATA_DIR's
    # default, via platformdirs): processes a test starts without MB_DATA_DIR must not
    # write to the real one.
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="meterbill-test-xdg-")


from meterbill.app import create_app  # noqa: E402
from meterbill.config import Settings  # noqa: E402
from meterbill.db.setup import run_migrations  # noqa: E402
from tests import services as svc  # noqa: E402


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    pg, redis = svc.pg_server_url(), svc.redis_server_url()
    if pg and redis:
        name, url = svc.create_pg_database(pg)
        redis_url = svc.claim_redis_db(redis)
        settings = Settings(
            database_url=url,
            redis_url=redis_url,
            invoice_grace_period=3600,
            # PostgreSQL deployments encrypt webhook secrets with MB_SECRET_KEY (SQLite
            # makes a key file beside its database).
            secret_key="tests-secret-key",
            # Every test's requests come from 127.0.0.1 and share this Redis for the whole
            # session: one address's failed-authentication budget would leak between
            # tests. tests/api/test_auth_failures.py sets its own.
            auth_failure_rps=0,
        )
        asyncio.run(run_migrations(settings))
        yield settings
        svc.release_redis_db(redis_url)
        svc.drop_pg_database(pg, name)
    else:
        path = tmp_path_factory.mktemp("db") / "meterbill.db"
        settings = Settings(database_url=f"sqlite://{path}", redis_url=None, auth_failure_rps=0)
        asyncio.run(run_migrations(settings))
        yield settings


@pytest.fixture
async def app(deployment: Settings) -> AsyncIterator[Any]:
    from arq import create_pool
    from arq.connections import RedisSettings

    from meterbill.worker.embedded import EmbeddedWorker

    application = create_app(deployment)
    async with application.router.lifespan_context(application):
        worker = None
        if not deployment.embedded:
            # The production path: jobs go through real Redis to an arq worker.
            pool = await create_pool(
                RedisSettings.from_dsn(deployment.redis_url or ""),
                default_queue_name="meterbill:queue",
            )
            worker = EmbeddedWorker(pool)
            worker.start()
        try:
            yield application
        finally:
            if worker is not None:
                await worker.stop()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def checked_status(resp: httpx.Response) -> dict[str, Any]:
    """The body of a /graphql answer whose status must be 200, or 401 (with its Bearer
    challenge) for a request refused for want of a valid key, as the REST endpoint does."""
    body: dict[str, Any] = resp.json()
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
    if "UNAUTHENTICATED" in codes:
        assert resp.status_code == 401, resp.text
        assert resp.headers["www-authenticate"] == "Bearer"
    else:
        assert resp.status_code == 200, resp.text
    return body


@dataclass
class Tenant:
    client: httpx.AsyncClient
    account_id: str
    secret: str

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        hdrs = {"Authorization": f"Bearer {key or self.secret}", **(headers or {})}
        resp = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=hdrs
        )
        return checked_status(resp)

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The data of a query that must not fail."""
        body = await self.gql(query, variables, **kw)
        assert not body.get("errors"), body
        return body["data"]


async def _tenant(client: httpx.AsyncClient, name: str) -> Tenant:
    from meterbill.services.accounts import create_account

    account, secret = await create_account(name)
    return Tenant(client, account.id, secret)


@pytest.fixture
async def tenant(client: httpx.AsyncClient) -> Tenant:
    return await _tenant(client, "Alpaca AI")


@pytest.fixture
async def other_tenant(client: httpx.AsyncClient) -> Tenant:
    return await _tenant(client, "Other Corp")
