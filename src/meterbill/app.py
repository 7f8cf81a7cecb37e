"""Starlette app factory and lifespan: database, arq pool, and the embedded worker."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arq import create_pool
from arq.connections import RedisSettings
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from tortoise import connections

from meterbill.config import Settings, get_settings
from meterbill.db.setup import close_db, init_db
from meterbill.graphql.http import graphql_app
from meterbill.http import dashboard
from meterbill.http.bulk import BulkMeterEvents
from meterbill.http.limits import BodyLimit
from meterbill.http.openapi import openapi_endpoint
from meterbill.services import billing_steps, key_revocations, payments, queue, webhooks
from meterbill.services.live import hub
from meterbill.services.queue import QUEUE
from meterbill.web.observability import Observe, protected_metrics
from meterbill.web.static import static_mount
from meterbill.worker.embedded import EmbeddedWorker, fake_pool

log = logging.getLogger("meterbill.app")


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _db_ok() -> bool:
    try:
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), 2)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False


async def _redis_ok(pool: object) -> bool:
    try:
        return bool(await asyncio.wait_for(pool.ping(), 2))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        return False


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await init_db(settings)
        billing_steps.configure(settings.invoice_grace_period)
        webhooks.configure(settings)
        payments.configure(settings)
        embedded: EmbeddedWorker | None = None
        if settings.embedded:
            pool = fake_pool()
            embedded = EmbeddedWorker(pool)
            embedded.start()
        else:
            pool = await create_pool(
                RedisSettings.from_dsn(settings.redis_url or ""),
                default_queue_name=QUEUE,
            )
        app.state.pool = pool
        queue.set_pool(pool)
        # Embedded, the one process forgets a revoked key itself.
        revocations = None if embedded else asyncio.create_task(key_revocations.listen(pool))
        forwarder = None
        if not settings.embedded:
            # Workers fold usage in other processes: their announcements come over Redis.
            hub.publish_to(pool)
            listener = Redis.from_url(settings.redis_url or "", health_check_interval=30)
            forwarder = asyncio.create_task(hub.forward(listener), name="meterbill-live")
        # What start-up built (modules, schema, plans, pools) lives as long as the process:
        # moved out of the collector's generations, later collections do not walk it again.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if revocations is not None:
                revocations.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await revocations
            if forwarder is not None:
                forwarder.cancel()
                await asyncio.gather(forwarder, return_exceptions=True)
                await listener.aclose()
                hub.publish_to(None)
            if embedded is not None:
                await embedded.stop()
            else:
                await pool.aclose()
            queue.set_pool(None)
            await payments.close()
            await close_db()

    async def readyz(request: Request) -> JSONResponse:
        db = await _db_ok()
        redis = await _redis_ok(request.app.state.pool)
        body = {"database": "ok" if db else "down", "redis": "ok" if redis else "down"}
        return JSONResponse(body, status_code=200 if db and redis else 503)

    gql = graphql_app(settings)
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/graphql", gql, methods=["GET", "POST"]),
        # Live usage subscriptions (graphql-transport-ws), same path as the API.
        WebSocketRoute("/graphql", gql),
        Route("/metrics", protected_metrics(settings.metrics_token), methods=["GET"]),
        Route("/v1/meter_events", BulkMeterEvents(settings), methods=["POST"]),
        Route("/openapi.json", openapi_endpoint, methods=["GET"]),
        static_mount("graphiql"),
        *dashboard.routes(),
    ]
    # Outermost: every answer, refusals included, gets a request id, a log line, metrics.
    middleware = [Middleware(Observe)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "idempotency-key"],
                max_age=600,
            )
        )
    # After CORS, so that refusals still carry the CORS headers a browser needs to read them.
    middleware.append(
        Middleware(
            BodyLimit,
            max_bytes=settings.max_body_bytes,
            read_timeout=settings.body_read_timeout,
        )
    )
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
