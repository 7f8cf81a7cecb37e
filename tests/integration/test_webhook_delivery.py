"""Webhook delivery by a worker's loop (worker/webhook_loop.py) to real HTTP receivers on
127.0.0.1 that verify every request with the `standardwebhooks` package: signatures,
retries with the same webhook-id, timeouts and refused connections as failures, no
redirects, SSRF refusal at delivery, bounded concurrency per endpoint, and a delivery that
outlives the worker that was attempting it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from tortoise.transactions import in_transaction

from meterbill.db.models import DomainEvent, WebhookDelivery, WebhookPending
from meterbill.services import accounts, catalog, webhooks
from meterbill.services.webhooks import endpoints, fanout
from meterbill.worker.webhook_loop import WebhookLoop
from tests.processes import free_port
from tests.webhook_receiver import Receiver, wait_until

FAST = {
    "allow_private": True,
    "timeout": 2.0,
    "retry_schedule": (0.2, 0.2),
    "lease_margin": 0.5,
    "secret_key": "tests-webhook-key",
}


@pytest.fixture
def hooks(db: Any) -> Iterator[None]:
    webhooks.configure(None, **FAST)
    yield
    webhooks.configure(None)


@pytest.fixture
async def loop(hooks: None) -> AsyncIterator[WebhookLoop]:
    running = WebhookLoop(poll=0.05)
    running.start()
    yield running
    await running.stop()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.close()


async def _account(name: str = "Hooks") -> str:
    return (await accounts.create_account(name))[0].id


async def _endpoint(account_id: str, rec: Receiver, events: list[str] | None = None) -> str:
    ep, secret = await endpoints.create_endpoint(account_id, rec.url, None, events)
    rec.secrets.append(secret)
    return ep.id


async def _customer(account_id: str, name: str = "c") -> str:
    return (await catalog.create_customer(account_id, catalog.CustomerSpec(name=name))).id


async def _deliveries(endpoint_id: str) -> list[WebhookDelivery]:
    return list(await WebhookDelivery.filter(endpoint_id=endpoint_id).order_by("created_at"))


async def _settled(endpoint_id: str, n: int = 1) -> list[WebhookDelivery]:
    async def done() -> list[WebhookDelivery] | None:
        rows = await _deliveries(endpoint_id)
        return rows if len(rows) >= n and all(r.status != "PENDING" for r in rows) else None

    return await wait_until(done, f"{n} deliveries of {endpoint_id} to settle")  # type: ignore[no-any-return]


async def test_an_event_reaches_the_receiver_signed_per_standard_webhooks(
    loop: WebhookLoop, receiver: Receiver
) -> None:
    acct = await _account()
    ep = await _endpoint(acct, receiver)
    cus = await _customer(acct, "Signed")
    (d,) = await _settled(ep)
    assert (d.status, d.attempt_count, d.last_response_status, d.last_error) == (
        "SUCCEEDED",
        1,
        200,
        None,
    )
    (got,) = receiver.got
    assert got.verified, "standardwebhooks could not verify the signature"
    event = await DomainEvent.get(object_id=cus, type="customer.created")
    assert got.webhook_id == event.id == d.event_id
    assert got.payload == {
        "id": event.id,
        "type": "customer.created",
        "timestamp": event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": orjson.loads(event.data),
    }
    assert got.payload["data"]["name"] == "Signed" and got.payload["data"]["object"] == "customer"
    assert got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - got.at) < 60


async def test_failures_retry_with_the_same_webhook_id_then_fail(
    loop: WebhookLoop, receiver: Receiver
) -> None:
    receiver.respond = lambda r: 500
    acct = await _account()
    ep = await _endpoint(acct, receiver)
    await _customer(acct)
    (d,) = await _settled(ep)
    # One attempt, then one per entry of the schedule (two), then FAILED.
    assert (d.status, d.attempt_count, d.last_response_status) == ("FAILED", 3, 500)
    assert d.last_error is not None and d.last_error.startswith("HTTP 500")
    assert d.next_attempt_at is None
    assert len(receiver.got) == 3 and receiver.ids() == {d.event_id}
    assert all(r.verified for r in receiver.got)


async def test_a_failure_then_success_succeeds_on_the_retry(
    loop: WebhookLoop, receiver: Receiver
) -> None:
    receiver.respond = lambda r: 503 if len(receiver.got) == 1 else 204
    acct = await _account()
    ep = await _endpoint(acct, receiver)
    await _customer(acct)
    (d,) = await _settled(ep)
    assert (d.status, d.attempt_count, d.last_response_status) == ("SUCCEEDED", 2, 204)
    assert [r.webhook_id for r in receiver.got] == [d.event_id, d.event_id]


async def test_a_timeout_counts_as_a_failure(loop: WebhookLoop, receiver: Receiver) -> None:
    webhooks.configure(None, **{**FAST, "timeout": 0.3, "retry_schedule": ()})

    async def slow(r: Any) -> int:
        await asyncio.sleep(2)
        return 200

    receiver.respond = slow
    acct = await _account()
    ep = await _endpoint(acct, receiver)
    await _customer(acct)
    (d,) = await _settled(ep)
    assert (d.status, d.attempt_count, d.last_response_status) == ("FAILED", 1, None)
    assert d.last_error is not None and d.last_error.startswith("timeout")


async def test_a_refused_connection_counts_as_a_failure(hooks: None, loop: WebhookLoop) -> None:
    acct = await _account()
    ep, _ = await endpoints.create_endpoint(
        acct, f"http://127.0.0.1:{free_port()}/nobody", None, None
    )
    await _customer(acct)
    (d,) = await _settled(ep.id)
    assert (d.status, d.attempt_count, d.last_response_status) == ("FAILED", 3, None)
    assert d.last_error is not None and "Connect" in d.last_error


async def test_redirects_are_not_followed(loop: WebhookLoop, receiver: Receiver) -> None:
    webhooks.configure(None, **{**FAST, "retry_schedule": ()})
    receiver.respond = lambda r: 302
    acct = await _account()
    ep = await _endpoint(acct, receiver)
    await _customer(acct)
    (d,) = await _settled(ep)
    assert (d.status, d.last_response_status) == ("FAILED", 302)
    assert "redirect not followed" in (d.last_error or "")
    assert [r.path for r in receiver.got] == ["/hook"]  # never /moved


async def test_a_private_address_is_refused_at_delivery_without_connecting(
    loop: WebhookLoop, receiver: Receiver
) -> None:
    acct = await _account()
    ep = await _endpoint(acct, receiver)  # allowed when it was created
    webhooks.configure(None, **{**FAST, "allow_private": False})
    await _customer(acct)
    (d,) = await _settled(ep)
    assert (d.status, d.attempt_count, d.last_response_status) == ("FAILED", 1, None)
    assert "non-public address (127.0.0.1)" in (d.last_error or "")
    assert receiver.got == []


async def test_enabled_events_and_disabled_endpoints(loop: WebhookLoop, receiver: Receiver) -> None:
    acct = await _account()
    everything = await _endpoint(acct, receiver)
    paid_only = await _endpoint(acct, receiver, ["invoice.paid"])
    disabled = await _endpoint(acct, receiver)
    await endpoints.update_endpoint(acct, disabled, endpoints.EndpointChange(status="DISABLED"))
    await _customer(acct)
    await _settled(everything)
    await fanout.fan_out()
    assert len(await _deliveries(everything)) == 1
    assert await _deliveries(paid_only) == []
    assert await _deliveries(disabled) == []
    assert len(receiver.got) == 1


async def test_a_slow_endpoint_does_not_hold_up_another(hooks: None) -> None:
    webhooks.configure(None, **{**FAST, "timeout": 30.0, "endpoint_concurrency": 2})
    slow = await Receiver(gate=asyncio.Event()).start()
    fast = await Receiver().start()
    running = WebhookLoop(poll=0.05)
    running.start()
    try:
        acct = await _account()
        slow_ep = await _endpoint(acct, slow)
        fast_ep = await _endpoint(acct, fast)
        for n in range(6):
            await _customer(acct, f"c{n}")
        await _settled(fast_ep, 6)
        # Every fast delivery is done while the slow endpoint holds all of its slots (two)
        # and has answered none.
        assert len(fast.ids()) == 6
        assert slow.answered == 0 and slow.max_in_flight == 2
        assert slow.gate is not None
        slow.gate.set()
        rows = await _settled(slow_ep, 6)
        assert {r.status for r in rows} == {"SUCCEEDED"}
        assert slow.max_in_flight == 2
    finally:
        await running.stop()
        await slow.close()
        await fast.close()


async def test_a_pending_delivery_outlives_a_stopped_worker(hooks: None) -> None:
    # The first attempt hangs; its worker stops meanwhile (no outcome written). Another
    # worker takes the delivery again when the lease ends: the receiver gets it twice
    # with one webhook-id (it deduplicates by it), and the delivery succeeds.
    receiver = await Receiver(gate=asyncio.Event()).start()
    first = WebhookLoop(poll=0.05)
    first.start()
    second = WebhookLoop(poll=0.05)
    try:
        acct = await _account()
        ep = await _endpoint(acct, receiver)
        await _customer(acct)
        await wait_until(lambda: receiver.got, "the first attempt to arrive")
        await first.stop()
        (d,) = await _deliveries(ep)
        assert (d.status, d.attempt_count) == ("PENDING", 0)
        assert receiver.gate is not None
        receiver.gate.set()
        second.start()
        (d,) = await _settled(ep)
        assert (d.status, d.attempt_count) == ("SUCCEEDED", 1)
        assert len(receiver.got) == 2 and receiver.ids() == {d.event_id}
    finally:
        await first.stop()
        await second.stop()
        await receiver.close()


async def test_fan_out_is_once_per_event_and_never_for_a_rolled_back_change(
    hooks: None, receiver: Receiver
) -> None:
    acct = await _account()
    ep = await _endpoint(acct, receiver)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await catalog.create_customer(acct, catalog.CustomerSpec(name="gone"))
            raise RuntimeError("roll back")
    cus = await _customer(acct)
    event = await DomainEvent.get(object_id=cus)
    assert await WebhookPending.filter(event_id=event.id).exists()
    await fanout.fan_out()
    await fanout.fan_out()
    rows = await _deliveries(ep)
    assert [r.event_id for r in rows] == [event.id]
    assert not await WebhookPending.filter(event_id=event.id).exists()
    assert await DomainEvent.filter(account_id=acct).count() == 1
    assert rows[0].created_at <= datetime.now(UTC)


async def test_no_attempt_starts_while_the_billing_pass_runs(
    hooks: None, receiver: Receiver
) -> None:
    billing_busy = True
    running = WebhookLoop(poll=0.05, yield_to=lambda: billing_busy)
    running.start()
    try:
        acct = await _account()
        ep = await _endpoint(acct, receiver)
        await _customer(acct)
        await asyncio.sleep(0.5)  # several passes of the loop
        assert receiver.got == [] and (await _deliveries(ep)) == []
        billing_busy = False
        (d,) = await _settled(ep)
        assert d.status == "SUCCEEDED" and len(receiver.got) == 1
    finally:
        await running.stop()
