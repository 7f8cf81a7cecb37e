"""Relations of subscriptions and invoices load in batches: the number of queries for a page
does not grow with the number of subscriptions on it (no N+1)."""

from __future__ import annotations

import logging
import re

import pytest

from tests import billing_helpers as b
from tests.billing_helpers import utc
from tests.sql_log import capture_sql

PAGE = """query($n: Int) { subscriptions(first: $n) { edges { node {
  id customer { name testClock { id } }
  items { quantity price { id product { name } recurring { meter { id } } } }
  latestInvoice { id lines { price { id } } customer { id } subscription { id } } } } } }"""

WATCHED = (
    "subscription_items",
    "customers",
    "prices",
    "products",
    "invoice_lines",
    "invoices",
    "meters",
    "test_clocks",
)
_FROM = re.compile(r'FROM "?(\w+)"?', re.IGNORECASE)


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.tables: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        m = _FROM.search(record.getMessage())
        if (
            m
            and m.group(1) in WATCHED
            and record.getMessage().lstrip().upper().startswith("SELECT")
        ):
            self.tables.append(m.group(1))


@pytest.fixture
def sql():
    with capture_sql(_Count()) as handler:
        yield handler


async def _queries(tenant, sql, n):
    sql.tables.clear()
    d = await tenant.data(PAGE, {"n": n})
    assert len(d["subscriptions"]["edges"]) == n
    assert all(e["node"]["latestInvoice"]["lines"] for e in d["subscriptions"]["edges"])
    return sorted(sql.tables)


async def test_a_page_costs_the_same_queries_for_2_or_6_subscriptions(tenant, sql):
    cat = await b.catalog(tenant)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    for _ in range(6):
        cus = await b.customer(tenant, clock)
        await b.subscribe(
            tenant,
            {
                "customerId": cus,
                "billingMode": "CLASSIC",
                "items": [{"priceId": cat["usage"]}, {"priceId": cat["license"]}],
            },
        )
    two = await _queries(tenant, sql, 2)
    six = await _queries(tenant, sql, 6)
    assert two == six
    assert len(six) <= 10, six
