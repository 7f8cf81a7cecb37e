"""Setup for usage integration tests: services against a real database, no HTTP."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import datetime
from decimal import Decimal

from tortoise import connections

from meterbill.db import ids
from meterbill.db.models import UsageRollup
from meterbill.services import catalog
from meterbill.services.accounts import create_account
from meterbill.services.now import utcnow
from meterbill.services.usage import EventInput, record_events


async def setup_meter(
    aggregation: str = "SUM", *, old_schema: bool = False
) -> tuple[str, str, str]:
    """(account id, meter id, customer id) in a fresh account. `old_schema`: the customer
    is written with the columns it has had since migration 0001, for tests that fill a
    database migrated only part of the way (the model may have columns it lacks yet)."""
    account, _ = await create_account("Integration")
    meter = await catalog.create_meter(
        account.id, catalog.MeterSpec("Tokens", "tokens", aggregation)
    )
    if old_schema:
        return account.id, meter.id, await customer_row(account.id)
    customer = await catalog.create_customer(account.id, catalog.CustomerSpec(name="c"))
    return account.id, meter.id, customer.id


async def customer_row(account_id: str) -> str:
    """A customer named c, inserted with the columns of migration 0001."""
    cid = ids.customer_id()
    conn = connections.get("default")
    marks = "$1, $2, $3, $4" if conn.capabilities.dialect == "postgres" else "?, ?, ?, ?"
    await conn.execute_query(
        f"INSERT INTO customers (id, account_id, name, created_at) VALUES ({marks})",
        [cid, account_id, "c", utcnow()],
    )
    return cid


def event(customer: str, value: object, ts: datetime | None = None, ident: str | None = None):
    return EventInput("tokens", {"customer_id": customer, "value": value}, ident, ts)


async def record(account: str, events: list[EventInput]) -> list[str]:
    return [r.status for r in await record_events(account, events)]


async def rollup_sum(meter: str) -> tuple[Decimal, int]:
    total, count = Decimal(0), 0
    for r in await UsageRollup.filter(meter_id=meter):
        total += Decimal(r.sum)
        count += r.count
    return total, count


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private redis-server on a free port, for tests that stop Redis."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
