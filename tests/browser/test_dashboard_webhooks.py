"""The dashboard's webhook deliveries (contract: README section "dashboard") in a real browser
against a real `meterbill serve` delivering to real receivers on 127.0.0.1: the endpoints,
then one endpoint's delivery log (status, attempts, last response, next attempt), filtered."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import axe_violations, shot
from tests.conftest import Tenant
from tests.live_support import remote_tenant
from tests.processes import Meterbill
from tests.webhook_receiver import Receiver


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Meterbill]:
    base = tmp_path_factory.mktemp("dashboard-webhooks")
    env = {
        "MB_DATABASE_URL": f"sqlite://{base}/meterbill.db",
        # The receivers listen on 127.0.0.1, which the SSRF rule refuses by default.
        "MB_WEBHOOK_ALLOW_PRIVATE": "true",
        # A failed delivery waits an hour for its next attempt: it stays PENDING here.
        "MB_WEBHOOK_RETRY_SCHEDULE": "3600",
    }
    srv = Meterbill(base, env)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


async def _endpoint(tenant: Tenant, url: str, description: str) -> str:
    d = await tenant.data(
        "mutation($u: String!, $d: String) { createWebhookEndpoint(input: {url: $u, "
        'description: $d, enabledEvents: ["customer.created"]}) { webhookEndpoint { id } '
        "secret userErrors { message } } }",
        {"u": url, "d": description},
    )
    return str(d["createWebhookEndpoint"]["webhookEndpoint"]["id"])


async def _delivered(tenant: Tenant, endpoint: str, want: int) -> None:
    for _ in range(300):
        d = await tenant.data(
            "query($e: ID!) { webhookDeliveries(endpointId: $e) "
            "{ edges { node { attemptCount } } } }",
            {"e": endpoint},
        )
        attempts = [e["node"]["attemptCount"] for e in d["webhookDeliveries"]["edges"]]
        if len(attempts) == want and all(a >= 1 for a in attempts):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{want} deliveries not attempted within 30 s")


async def test_webhook_endpoints_and_their_deliveries(server: Meterbill, browser: Any) -> None:
    ok, down = await Receiver().start(), await Receiver(respond=lambda _: 500).start()
    try:
        async with remote_tenant(server, "Hooks Co") as tenant:
            good = await _endpoint(tenant, ok.url, "billing sync")
            bad = await _endpoint(tenant, down.url + "/broken", "legacy CRM")
            for name in ("Ada", "Grace"):
                await tenant.data(
                    "mutation($n: String) { createCustomer(input: {name: $n}) "
                    "{ customer { id } } }",
                    {"n": name},
                )
            await _delivered(tenant, good, 2)
            await _delivered(tenant, bad, 2)

            context = await browser.new_context(viewport={"width": 1300, "height": 900})
            page = await context.new_page()
            await page.goto(f"{server.url}/dashboard#key={tenant.secret}")
            await page.get_by_role("link", name="Webhooks").click()
            await expect(page.get_by_role("heading", name="Webhooks")).to_be_visible()
            table = page.get_by_role("table", name="Webhook endpoints")
            await expect(table.get_by_role("row")).to_have_count(3)  # header + 2
            await expect(table).to_contain_text("legacy CRM")
            await expect(table).to_contain_text("customer.created")
            await shot(page, "6-webhooks")
            assert await axe_violations(page) == []

            await table.get_by_role("link", name=down.url + "/broken").click()
            log = page.get_by_role("table", name="Deliveries, newest first")
            rows = log.get_by_role("row").filter(has_text="customer.created")
            await expect(rows).to_have_count(2)
            # Answered 500, so not yet delivered: one attempt, the status, a next attempt.
            await expect(rows.first).to_contain_text("PENDING")
            await expect(rows.first).to_contain_text("500")
            await expect(rows.first.get_by_role("cell").nth(3)).to_have_text("1")
            await shot(page, "7-deliveries")
            assert await axe_violations(page) == []
            await page.get_by_label("Status").select_option("SUCCEEDED")
            await expect(page.get_by_text("No deliveries.")).to_be_visible()

            await page.goto(f"{server.url}/dashboard#/webhooks/{good}?status=SUCCEEDED")
            log = page.get_by_role("table", name="SUCCEEDED deliveries, newest first")
            await expect(log.get_by_role("row").filter(has_text="SUCCEEDED")).to_have_count(2)
            await expect(log).to_contain_text("200")
            await context.close()
    finally:
        await ok.close()
        await down.close()
