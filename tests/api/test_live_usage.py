"""Live usage (contract extension live) against a running `meterbill serve` on the default
path (SQLite + embedded worker: in-process fan-out), with gql's websockets transport."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
import websockets

from tests.billing_helpers import catalog, clock, customer, subscribe, utc
from tests.live_support import (
    embedded_server,
    live_usage,
    meter_and_customer,
    next_message,
    record,
    remote_tenant,
    ws_url,
)
from tests.processes import Meterbill

# A customer on a test clock in the middle of March 2026: its period is that calendar month.
AT = utc(2026, 3, 10, 12)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Meterbill]:
    with embedded_server(tmp_path_factory.mktemp("live")) as srv:
        yield srv


async def test_first_message_is_the_current_value_then_one_per_change(server: Meterbill) -> None:
    async with remote_tenant(server) as tenant:
        meter_id, customer_id = await meter_and_customer(tenant, AT)
        await record(tenant, customer_id, "2", utc(2026, 3, 1))
        # Recorded before subscribing and not aggregated yet, or aggregated: either way the
        # subscription starts from what the summaries say now, and reaches 2.
        async with live_usage(server, tenant.secret, meter_id, customer_id) as messages:
            first = await next_message(messages)
            assert first["meterId"] == meter_id and first["customerId"] == customer_id
            assert first["periodStart"] == "2026-03-01T00:00:00Z"
            assert first["upcomingTotal"] is None
            seen = Decimal(first["value"])
            if seen != 2:
                assert seen == 0
                seen = Decimal((await next_message(messages))["value"])
            assert seen == 2

            await record(tenant, customer_id, "5", utc(2026, 3, 10, 11))
            assert Decimal((await next_message(messages))["value"]) == 7
            # Outside the period: not part of the value, and no message for it.
            await record(tenant, customer_id, "100", utc(2026, 2, 28, 23))
            await record(tenant, customer_id, "0.5", utc(2026, 3, 10, 11, 30))
            assert Decimal((await next_message(messages))["value"]) == Decimal("7.5")


async def _close_code(server: Meterbill, init: dict[str, object]) -> int | None:
    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        try:
            reply = json.loads(await ws.recv())
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        assert reply["type"] == "connection_ack"
        return None


async def test_connection_init_needs_a_read_or_admin_key(server: Meterbill) -> None:
    async with remote_tenant(server) as tenant:
        assert await _close_code(server, {"Authorization": f"Bearer {tenant.secret}"}) is None
        assert await _close_code(server, {"Authorization": "Bearer mb_sk_wrong"}) == 4403
        assert await _close_code(server, {}) == 4403
        keys = {}
        for scope in ("READ", "USAGE_WRITE"):
            d = await tenant.data(
                'mutation($s: [ApiKeyScope!]!) { createApiKey(input: {name: "k", '
                "scopes: $s}) { secret } }",
                {"s": [scope]},
            )
            keys[scope] = d["createApiKey"]["secret"]
        assert await _close_code(server, {"Authorization": f"Bearer {keys['READ']}"}) is None
        assert await _close_code(server, {"Authorization": f"Bearer {keys['USAGE_WRITE']}"}) == 4403


async def test_subscribe_before_connection_ack_is_unauthorized(server: Meterbill) -> None:
    async with websockets.connect(ws_url(server), subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(
            json.dumps({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        )
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_an_unknown_or_foreign_meter_is_an_error_naming_it(server: Meterbill) -> None:
    async with remote_tenant(server) as tenant, remote_tenant(server, "Other") as other:
        meter_id, customer_id = await meter_and_customer(other, AT)
        async with live_usage(server, tenant.secret, meter_id, customer_id) as messages:
            with pytest.raises(Exception) as failed:
                await next_message(messages)
        assert "no meter" in str(failed.value) and meter_id in str(failed.value)


async def test_a_key_revoked_while_subscribed_ends_the_subscription(server: Meterbill) -> None:
    async with remote_tenant(server) as tenant:
        meter_id, customer_id = await meter_and_customer(tenant, AT)
        d = await tenant.data(
            'mutation { createApiKey(input: {name: "live", scopes: [READ]}) '
            "{ apiKey { id } secret } }"
        )
        key_id, secret = d["createApiKey"]["apiKey"]["id"], d["createApiKey"]["secret"]
        async with live_usage(server, secret, meter_id, customer_id) as messages:
            assert Decimal((await next_message(messages))["value"]) == 0
            await tenant.data(
                "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { id } } }",
                {"id": key_id},
            )
            with pytest.raises(Exception) as ended:
                await next_message(messages)
        assert "revoked" in str(ended.value)


VALUE_ONLY = """
subscription($m: ID!, $c: ID!) { usage(meterId: $m, customerId: $c) { value periodStart } }
"""
BY_FRAGMENT = """
subscription($m: ID!, $c: ID!) { usage(meterId: $m, customerId: $c) { value ...Money } }
fragment Money on LiveUsage { upcomingTotal }
"""


async def test_the_upcoming_total_follows_usage_when_asked_for(server: Meterbill) -> None:
    """The Alpaca subscription in January: the total is the next period's license (100.00)
    plus the usage so far; asked for through a fragment too. A document without it gets the
    same values without the total."""
    async with remote_tenant(server) as tenant:
        cat = await catalog(tenant)
        cus = await customer(tenant, await clock(tenant, utc(2026, 1, 1)))
        sub = await subscribe(
            tenant,
            {"customerId": cus, "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}]},
        )
        assert sub["userErrors"] == [], sub
        meter = cat["meter"]
        async with (
            live_usage(server, tenant.secret, meter, cus, BY_FRAGMENT) as with_total,
            live_usage(server, tenant.secret, meter, cus, VALUE_ONLY) as value_only,
        ):
            first = await next_message(with_total)
            assert (Decimal(first["value"]), first["upcomingTotal"]) == (0, 10000)
            plain = await next_message(value_only)
            assert plain == {"value": "0", "periodStart": "2026-01-01T00:00:00Z"}
            await record(tenant, cus, "3000", utc(2026, 1, 1, 0, 2), "alpaca_ai_tokens")
            changed = await next_message(with_total)
            # 1,000 free, 2,000 at 4 cents: 80.00 of usage on top of the 100.00 license.
            assert (Decimal(changed["value"]), changed["upcomingTotal"]) == (3000, 18000)
            assert Decimal((await next_message(value_only))["value"]) == 3000
