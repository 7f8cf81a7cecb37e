"""The database restarting is UNAVAILABLE (HTTP 503 with Retry-After), never INTERNAL
(limits): the errors PostgreSQL sends while it shuts down or starts up, as tortoise raises
them, map to it in the one error-mapping place (graphql/limits.py). tests/integration/
test_faults.py restarts a real server under requests."""

from __future__ import annotations

import pytest
from asyncpg.exceptions import AdminShutdownError, CannotConnectNowError, CrashShutdownError
from tortoise.exceptions import OperationalError

CREATE_PRODUCT = 'mutation { createProduct(input: {name: "p"}) { product { id } } }'


@pytest.mark.parametrize(
    "error",
    [
        CannotConnectNowError("the database system is starting up"),
        CannotConnectNowError("the database system is shutting down"),
        AdminShutdownError("terminating connection due to administrator command"),
        CrashShutdownError("terminating connection because of crash of another process"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_restarting_database_is_503_unavailable(tenant, monkeypatch, error):
    from meterbill.services import catalog

    async def restarting(*a, **kw):  # type: ignore[no-untyped-def]
        # How tortoise's asyncpg client raises it: its own error, caused by asyncpg's.
        raise OperationalError(error) from error

    monkeypatch.setattr(catalog, "create_product", restarting)
    resp = await tenant.client.post(
        "/graphql",
        json={"query": CREATE_PRODUCT},
        headers={"Authorization": f"Bearer {tenant.secret}"},
    )
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "1"
    assert [e["extensions"]["code"] for e in resp.json()["errors"]] == ["UNAVAILABLE"]
