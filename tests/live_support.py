"""A running `meterbill serve` and live usage clients for the live and dashboard tests:
set-up over its HTTP API, subscriptions through gql's websockets transport (a standard
graphql-transport-ws client)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tests.billing_helpers import clock, iso
from tests.conftest import Tenant
from tests.processes import VENV_BIN, Meterbill

LIVE_USAGE = """
subscription($m: ID!, $c: ID!) {
  usage(meterId: $m, customerId: $c) {
    meterId customerId periodStart value upcomingTotal updatedAt
  }
}
"""


@contextmanager
def embedded_server(base: Path) -> Iterator[Meterbill]:
    """`meterbill serve` on the default path: a SQLite file, the embedded worker."""
    srv = Meterbill(base, {"MB_DATABASE_URL": f"sqlite://{base}/meterbill.db"})
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def create_account(server: Meterbill, name: str = "Alpaca AI") -> tuple[str, str]:
    out = subprocess.run(
        [str(VENV_BIN / "meterbill"), "accounts", "create", "--name", name],
        env=server.env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    row = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return str(row["account_id"]), str(row["secret_key"])


@asynccontextmanager
async def remote_tenant(server: Meterbill, name: str = "Alpaca AI") -> AsyncIterator[Tenant]:
    """The tests' Tenant helper, talking to the running server over HTTP."""
    account_id, secret = create_account(server, name)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Tenant(client=client, account_id=account_id, secret=secret)


async def meter_and_customer(tenant: Tenant, at: datetime) -> tuple[str, str]:
    """A SUM meter and a customer on a test clock frozen at `at` (usage in a fixed month)."""
    d = await tenant.data(
        'mutation { createMeter(input: {displayName: "Tokens", eventName: "tokens", '
        "aggregation: SUM}) { meter { id } } }"
    )
    meter_id = str(d["createMeter"]["meter"]["id"])
    clock_id = await clock(tenant, at)
    d = await tenant.data(
        'mutation($c: ID) { createCustomer(input: {name: "Live Co", testClockId: $c}) '
        "{ customer { id } } }",
        {"c": clock_id},
    )
    return meter_id, str(d["createCustomer"]["customer"]["id"])


async def record(
    tenant: Tenant, customer_id: str, value: str, at: datetime, event: str = "tokens"
) -> None:
    d = await tenant.data(
        "mutation($i: MeterEventInput!) { recordMeterEvent(input: $i) "
        "{ meterEvent { status } userErrors { field message } } }",
        {
            "i": {
                "eventName": event,
                "payload": {"customer_id": customer_id, "value": value},
                "timestamp": iso(at),
            }
        },
    )
    assert d["recordMeterEvent"]["meterEvent"]["status"] == "ACCEPTED", d


def ws_url(server: Meterbill) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def live_usage(
    server: Meterbill, secret: str, meter_id: str, customer_id: str, document: str = LIVE_USAGE
) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """The usage subscription's messages (their `usage` objects), as gql receives them."""
    transport = WebsocketsTransport(
        url=ws_url(server),
        init_payload={"Authorization": f"Bearer {secret}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        request = GraphQLRequest(document, variable_values={"m": meter_id, "c": customer_id})

        async def messages() -> AsyncIterator[dict[str, Any]]:
            async for result in session.subscribe(request):
                yield result["usage"]

        stream = messages()
        try:
            yield stream
        finally:
            # Ends the subscription (complete) before the session closes the socket.
            await stream.aclose()  # type: ignore[attr-defined]


async def next_message(messages: AsyncIterator[dict[str, Any]], timeout: float = 30) -> Any:
    """A deadline against a hung test, not a latency assertion (bench/ measures latency)."""
    return await asyncio.wait_for(anext(messages), timeout)  # type: ignore[arg-type]
