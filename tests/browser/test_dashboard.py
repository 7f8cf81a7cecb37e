"""The dashboard (contract: README section "dashboard") in a real browser against a real
`meterbill serve`: sign in by #key=, customers and search, a customer with its paid invoice
in major units and a usage chart that follows live usage, invoices by status with their
lines; keyboard use, labels (axe-core), clear errors, no secret in any URL or log."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from playwright.async_api import expect

from tests.billing_helpers import advance, catalog, clock, subscribe, utc
from tests.browser.conftest import axe_violations, shot
from tests.conftest import Tenant
from tests.live_support import record, remote_tenant
from tests.processes import Meterbill

START = utc(2026, 1, 1)
# Past January's end and its hour of grace: January's invoice is finalized and paid.
FEB = utc(2026, 2, 1, 2)
NAME = "Alpaca Browser Co"


async def _alpaca_month(tenant: Tenant) -> tuple[dict[str, str], str]:
    """The seed's month: 3,000 tokens in January, then 80.00 of usage + 100.00 of seats."""
    cat = await catalog(tenant)
    clock_id = await clock(tenant, START)
    d = await tenant.data(
        "mutation($c: ID, $n: String) { createCustomer(input: {name: $n, email: "
        '"billing@alpaca.test", externalId: "alp-42", paymentMethod: "pm_card_visa", '
        "testClockId: $c}) { customer { id } } }",
        {"c": clock_id, "n": NAME},
    )
    cus = str(d["createCustomer"]["customer"]["id"])
    sub = await subscribe(
        tenant,
        {"customerId": cus, "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}]},
    )
    assert sub["userErrors"] == [], sub
    await record(tenant, cus, "3000", utc(2026, 1, 1, 0, 2), "alpaca_ai_tokens")
    await _until_usage(tenant, cat["meter"], cus, Decimal(3000))
    await advance(tenant, clock_id, FEB)
    return cat, cus


async def _until_usage(tenant: Tenant, meter: str, cus: str, want: Decimal) -> None:
    import asyncio

    for _ in range(300):
        d = await tenant.data(
            "query($m: ID!, $c: ID!) { meterEventSummaries(meterId: $m, customerId: $c, "
            'startTime: "2026-01-01T00:00:00Z", endTime: "2026-02-01T00:00:00Z") '
            "{ aggregatedValue } }",
            {"m": meter, "c": cus},
        )
        rows = d["meterEventSummaries"]
        if rows and Decimal(rows[0]["aggregatedValue"]) == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("usage not aggregated within 30 s")


async def test_dashboard_end_to_end(server: Meterbill, browser: Any) -> None:
    async with remote_tenant(server) as tenant:
        cat, cus = await _alpaca_month(tenant)
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        page.on("websocket", lambda ws: urls.append(ws.url))

        await page.goto(f"{server.url}/dashboard#key={tenant.secret}")
        await expect(page.get_by_role("heading", name="Customers")).to_be_visible()
        # The key left the address bar at once, and lives in this tab's sessionStorage.
        assert tenant.secret not in page.url
        assert await page.evaluate("sessionStorage.getItem('meterbill.key')") == tenant.secret
        await expect(page.get_by_role("link", name=NAME)).to_be_visible()
        await shot(page, "1-customers")

        # Search by email, then by externalId; nonsense finds nothing.
        search = page.get_by_label("Search by name, email or external ID")
        await search.fill("billing@alpaca")
        await search.press("Enter")
        await expect(page.get_by_role("link", name=NAME)).to_be_visible()
        await search.fill("ALP-4")
        await search.press("Enter")
        await expect(page.get_by_role("link", name=NAME)).to_be_visible()
        await search.fill("nobody-by-this-name")
        await search.press("Enter")
        await expect(page.get_by_text("No customers match.")).to_be_visible()
        await search.fill("")
        await search.press("Enter")

        await page.get_by_role("link", name=NAME).click()
        await expect(page.get_by_role("heading", name=NAME)).to_be_visible()
        invoices = page.get_by_role("table", name="Invoices of this customer, newest first")
        paid = invoices.get_by_role("row").filter(has_text="180.00 USD")
        await expect(paid).to_have_count(1)
        await expect(paid).to_contain_text("PAID")
        # February's usage so far, live: nothing yet, then what an event adds.
        value = page.get_by_test_id("usage-value")
        await expect(value).to_have_text("0")
        await expect(page.get_by_test_id("upcoming-total")).to_have_text("100.00 USD")
        await shot(page, "2-customer")
        await record(tenant, cus, "2500", utc(2026, 2, 1, 2, 1), "alpaca_ai_tokens")
        await expect(value).to_have_text("2500", timeout=15_000)
        # 1,000 free, 1,500 at 4 cents = 60.00 on top of March's 100.00 in advance.
        await expect(page.get_by_test_id("upcoming-total")).to_have_text("160.00 USD")
        await shot(page, "3-customer-live")

        await page.get_by_role("link", name="Invoices", exact=True).click()
        await page.get_by_label("Status").select_option("PAID")
        rows = page.get_by_role("table", name="PAID invoices").get_by_role("row")
        await expect(rows.filter(has_text="180.00 USD")).to_have_count(1)
        await expect(rows.filter(has_text="OPEN")).to_have_count(0)
        await shot(page, "4-invoices")
        await rows.filter(has_text="180.00 USD").get_by_role("link").first.click()
        lines = page.get_by_role("table", name="Lines")
        await expect(lines).to_contain_text("80.00 USD")
        await expect(lines).to_contain_text("100.00 USD")
        await expect(page.get_by_test_id("invoice-total")).to_have_text("180.00 USD")
        await shot(page, "5-invoice")

        assert not [u for u in urls if tenant.secret in u], "the key appeared in a URL"
        await context.close()
    assert tenant.secret not in server.log.read_text(), "the key appeared in the server log"


async def test_keyboard_only_sign_in_and_navigation(server: Meterbill, browser: Any) -> None:
    async with remote_tenant(server, "Keyboard") as tenant:
        await tenant.data(
            'mutation { createCustomer(input: {name: "Keyed Customer"}) { customer { id } } }'
        )
        page = await browser.new_page()
        await page.goto(f"{server.url}/dashboard")
        key = page.get_by_label("Secret API key (READ or ADMIN)")
        await expect(key).to_be_visible()
        assert await axe_violations(page) == []
        await shot(page, "0-sign-in")
        await page.keyboard.press("Tab")
        await expect(key).to_be_focused()
        await page.keyboard.type(tenant.secret)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Customers")).to_be_visible()
        assert await axe_violations(page) == []
        # Tab through the page to the customer's link and open it with Enter.
        link = page.get_by_role("link", name="Keyed Customer")
        for _ in range(20):
            await page.keyboard.press("Tab")
            if await link.evaluate("el => el === document.activeElement"):
                break
        await expect(link).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", name="Keyed Customer")).to_be_visible()
        assert await axe_violations(page) == []
        await page.close()


async def test_a_wrong_key_and_a_server_that_is_down_say_so(
    server: Meterbill, browser: Any
) -> None:
    page = await browser.new_page()
    await page.goto(f"{server.url}/dashboard#key=mb_sk_not_a_key")
    await expect(page.get_by_role("alert")).to_contain_text("This key was not accepted")
    assert "mb_sk_not_a_key" not in page.url
    await shot(page, "6-wrong-key")
    await page.get_by_role("button", name="Sign in with another key").click()
    await page.get_by_label("Secret API key (READ or ADMIN)").fill("mb_sk_still_wrong")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("This key was not accepted")

    # The page is loaded, then the server stops answering.
    await page.route(re.compile(r".*/graphql$"), lambda route: route.abort("connectionrefused"))
    await page.get_by_label("Secret API key (READ or ADMIN)").fill("mb_sk_any")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("cannot be reached")
    await shot(page, "7-server-down")
    await page.close()
    assert "mb_sk_still_wrong" not in server.log.read_text()
