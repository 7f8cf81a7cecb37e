"""Setup for usage integration tests: services against a real database, no HTTP."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import datetime
from decimal import Decimal

from meterbill.db.models import UsageRollup
from meterbill.services import catalog
from meterbill.services.accounts import create_account
from meterbill.services.usage import EventInput, record_events


async def setup_meter(aggregation: str = "SUM") -> tuple[str, str, str]:
    """(account id, meter id, customer id) in a fresh account."""
    account, _ = await create_account("Integration")
    meter = await catalog.create_meter(
        account.id, catalog.MeterSpec("Tokens", "tokens", aggregation)
    )
    customer = await catalog.create_customer(account.id, catalog.CustomerSpec(name="c"))
    return account.id, meter.id, customer.id


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
