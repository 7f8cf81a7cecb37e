"""The GraphQL dataloaders fetch children through account-scoped service functions: another
account's price, invoice or subscription id returns nothing (the tier and line loaders had
no account filter and relied on their parents having been scoped)."""

from __future__ import annotations

from typing import Any

from meterbill.services import invoices, prices, subscriptions
from tests.integration.billing_setup import make_catalog, subscribe_many


async def test_a_foreign_id_returns_no_children(db: Any) -> None:
    mine = await make_catalog("Loader scope mine")
    theirs = await make_catalog("Loader scope theirs")
    (sub,) = await subscribe_many(theirs, 1)
    invoice = (await subscriptions.get_subscription(theirs.account_id, sub)).latest_invoice_id
    assert invoice is not None
    # Their own account sees the children...
    assert await prices.tiers_of(theirs.account_id, [theirs.usage_price])
    assert await invoices.lines_of(theirs.account_id, [invoice])
    assert await subscriptions.items_of(theirs.account_id, [sub])
    # ...another account asking for the same ids gets none.
    assert await prices.tiers_of(mine.account_id, [theirs.usage_price]) == []
    assert await invoices.lines_of(mine.account_id, [invoice]) == []
    assert await subscriptions.items_of(mine.account_id, [sub]) == []
