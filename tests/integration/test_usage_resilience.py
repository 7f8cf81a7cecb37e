"""The usage pipeline on PostgreSQL + real Redis under failure: concurrent retries of one
identifier, a worker process SIGKILLed mid-backlog, Redis unreachable at record time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from arq import create_pool
from arq.connections import RedisSettings

from meterbill.app import create_app
from meterbill.config import Settings
from meterbill.db.models import MeterEvent
from meterbill.db.setup import close_db, init_db, run_migrations
from meterbill.services import usage
from meterbill.services.accounts import create_account
from meterbill.services.now import utcnow
from meterbill.services.usage.aggregate import waiting
from meterbill.worker.embedded import EmbeddedWorker
from tests import services as svc
from tests.integration.usage_support import (
    RedisServer,
    event,
    record,
    rollup_sum,
    setup_meter,
)


async def test_concurrent_retries_of_one_identifier_count_once(deployment):
    svc.require_pg()
    svc.require_redis()
    await init_db(deployment.model_copy(update={"db_pool_max": 40}))
    try:
        account, meter, cus = await setup_meter()
        ts = utcnow()
        calls = [usage.record_events(account, [event(cus, 1, ts, "same")]) for _ in range(30)]
        results = [r for rs in await asyncio.gather(*calls) for r in rs]
        statuses = sorted(r.status for r in results)
        assert statuses == ["ACCEPTED"] + ["DUPLICATE"] * 29
        # Every duplicate answers with the one original event.
        assert len({r.event.id for r in results if r.event}) == 1
        assert await MeterEvent.filter(account_id=account).count() == 1
        await usage.drain()
        assert await rollup_sum(meter) == (Decimal(1), 1)
    finally:
        await close_db()


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "meterbill"
    env = {
        **os.environ,
        "MB_DATABASE_URL": settings.database_url,
        "MB_REDIS_URL": settings.redis_url or "",
        "MB_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [str(exe), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def _aggregated_sums(meter: str) -> tuple[Decimal, int]:
    folded = MeterEvent.filter(meter_id=meter, status="ACCEPTED").exclude(id__in=waiting())
    rows = await folded.values_list("value", flat=True)
    return sum((Decimal(v) for v in rows), Decimal(0)), len(rows)


async def test_worker_killed_mid_backlog_loses_and_doubles_nothing():
    pg, redis = svc.require_pg(), svc.require_redis()
    name, url = await asyncio.to_thread(svc.create_pg_database, pg)
    redis_url = await asyncio.to_thread(svc.claim_redis_db, redis)
    settings = Settings(database_url=url, redis_url=redis_url)
    worker = None
    try:
        await run_migrations(settings)
        await init_db(settings)
        account, meter, cus = await setup_meter()
        ts = utcnow() - timedelta(minutes=10)
        n = 40_000
        for start in range(0, n, 1000):
            batch = [
                event(cus, f"0.{(i % 9) + 1}", ts + timedelta(microseconds=i))
                for i in range(start, start + 1000)
            ]
            assert set(await record(account, batch)) == {"ACCEPTED"}
        expected = sum((Decimal(f"0.{(i % 9) + 1}") for i in range(n)), Decimal(0))

        worker = _worker(settings)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while (done := n - await MeterEvent.filter(meter_id=meter, id__in=waiting()).count()) == 0:
            assert loop.time() < deadline and worker.poll() is None, "worker made no progress"
            await asyncio.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert done < n, "the backlog was drained before the kill; make it larger"
        # Whatever the kill interrupted: the rollups hold exactly the events no longer pending.
        assert await rollup_sum(meter) == await _aggregated_sums(meter)

        worker = _worker(settings)
        deadline = loop.time() + 120
        while await MeterEvent.filter(meter_id=meter, id__in=waiting()).exists():
            assert loop.time() < deadline and worker.poll() is None, "backlog not drained"
            await asyncio.sleep(0.1)
        assert await rollup_sum(meter) == (expected, n)
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(20)
        await close_db()
        await asyncio.to_thread(svc.release_redis_db, redis_url)
        await asyncio.to_thread(svc.drop_pg_database, pg, name)


async def test_redis_down_at_record_time(deployment):
    svc.require_pg()
    svc.require_redis()
    redis = RedisServer()
    redis.start()
    settings = deployment.model_copy(update={"redis_url": redis.url})
    app = create_app(settings)
    worker = None
    try:
        async with app.router.lifespan_context(app):
            account, secret = await create_account("Redis down")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

                async def gql(q: str, v: dict) -> dict:
                    r = await client.post(
                        "/graphql",
                        json={"query": q, "variables": v},
                        headers={"Authorization": f"Bearer {secret}"},
                    )
                    assert r.status_code == 200, r.text
                    body = r.json()
                    assert not body.get("errors"), body
                    return body["data"]

                m = await gql(
                    'mutation { createMeter(input: {displayName: "t", eventName: "t",'
                    " aggregation: SUM}) { meter { id } } }",
                    {},
                )
                meter = m["createMeter"]["meter"]["id"]
                c = await gql("mutation { createCustomer(input: {}) { customer { id } } }", {})
                cus = c["createCustomer"]["customer"]["id"]
                redis.stop()
                rec = await gql(
                    "mutation($i: [MeterEventInput!]!) { recordMeterEvents(input: $i) "
                    "{ accepted userErrors { code } } }",
                    {
                        "i": [{"eventName": "t", "payload": {"customer_id": cus, "value": "2.5"}}]
                        * 4
                    },
                )
                assert rec["recordMeterEvents"] == {"accepted": 4, "userErrors": []}
                assert await MeterEvent.filter(meter_id=meter, id__in=waiting()).count() == 4

                # Redis comes back; nothing re-enqueues the lost job: the sweep catches up.
                redis.start()
                pool = await create_pool(
                    RedisSettings.from_dsn(redis.url), default_queue_name="meterbill:queue"
                )
                worker = EmbeddedWorker(pool)
                worker.start()
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20
                while await MeterEvent.filter(meter_id=meter, id__in=waiting()).exists():
                    assert loop.time() < deadline, "the sweep did not aggregate"
                    await asyncio.sleep(0.1)
                assert await rollup_sum(meter) == (Decimal(10), 4)
                await worker.stop()
                worker = None
    finally:
        if worker is not None:
            await worker.stop()
        redis.stop()
