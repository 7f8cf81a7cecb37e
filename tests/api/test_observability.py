"""Structured request logs and Prometheus metrics."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from meterbill.logs import JsonFormatter, RequestContext, log_config
from meterbill.services import metrics

PAYLOAD_VALUE = "payload-value-8c1f"
CREATE = "mutation Named($n: String) { createCustomer(input: {name: $n}) { customer { id } } }"


@pytest.fixture
def json_lines(caplog):  # type: ignore[no-untyped-def]
    """Every meterbill record, formatted exactly as production prints it."""
    caplog.handler.addFilter(RequestContext())
    caplog.set_level(logging.DEBUG, logger="meterbill")
    fmt = JsonFormatter()

    def lines() -> list[dict]:
        return [json.loads(fmt.format(r)) for r in caplog.records if r.name.startswith("meterbill")]

    return lines


async def test_request_log_line_has_ids_operation_and_duration_but_no_secrets(
    tenant, json_lines, client
):
    r = await client.post(
        "/graphql",
        json={"query": CREATE, "variables": {"n": PAYLOAD_VALUE}, "operationName": "Named"},
        headers={"Authorization": f"Bearer {tenant.secret}", "X-Request-Id": "req-123"},
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == "req-123"
    lines = [line for line in json_lines() if line["message"] == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "req-123"
    assert line["account_id"] == tenant.account_id
    assert line["operation"] == "createCustomer"
    assert line["operation_type"] == "mutation"
    assert line["operation_name"] == "Named"
    assert line["status"] == 200 and line["duration_ms"] >= 0
    text = json.dumps(json_lines())
    for secret in (tenant.secret, tenant.secret[6:], PAYLOAD_VALUE, "createCustomer(input"):
        assert secret not in text


async def test_request_ids_are_generated_and_insane_ones_replaced(client, json_lines):
    r = await client.get("/healthz")
    generated = r.headers["x-request-id"]
    assert len(generated) == 32
    r = await client.get("/healthz", headers={"X-Request-Id": "bad id\nwith newline"})
    assert r.headers["x-request-id"] != "bad id\nwith newline"
    assert len(r.headers["x-request-id"]) == 32


async def test_errors_codes_are_logged_and_every_line_in_a_request_has_its_id(
    tenant, json_lines, monkeypatch
):
    from meterbill.services import catalog

    async def broken(*a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog, "get_meter", broken)
    await tenant.gql('{ meter(id: "mtr_x") { id } }', headers={"X-Request-Id": "req-err"})
    lines = json_lines()
    internal = [x for x in lines if x["message"].startswith("internal error")]
    assert internal and internal[0]["request_id"] == "req-err"
    assert internal[0]["account_id"] == tenant.account_id
    assert "boom" in internal[0]["exc"]  # the operator sees it; the client does not
    request = [x for x in lines if x["message"] == "request"][0]
    assert request["error_codes"] == ["INTERNAL"]


async def test_refusals_before_graphql_are_logged_and_counted(client, json_lines):
    before = metrics.sample("meterbill_requests_total", {"operation": "/graphql", "status": "400"})
    r = await client.post("/graphql", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400
    after = metrics.sample("meterbill_requests_total", {"operation": "/graphql", "status": "400"})
    assert (after or 0) == (before or 0) + 1
    assert [x["status"] for x in json_lines() if x["message"] == "request"] == [400]


def test_log_config_is_valid_and_json():
    import logging.config

    cfg = log_config("INFO")
    logging.config.dictConfig(cfg)
    try:
        root = logging.getLogger()
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert logging.getLogger("strawberry.execution").level == logging.CRITICAL
    finally:
        for h in list(logging.getLogger().handlers):
            if isinstance(h.formatter, JsonFormatter):
                logging.getLogger().removeHandler(h)


async def test_metrics_endpoint_counts_operations_and_latency(tenant, client):
    labels = {"operation": "createCustomer", "status": "200"}
    before = metrics.sample("meterbill_requests_total", labels) or 0
    await tenant.data(CREATE, {"n": "x"})
    await tenant.data(CREATE, {"n": "y"})
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert metrics.sample("meterbill_requests_total", labels) == before + 2
    assert 'meterbill_request_duration_seconds_count{operation="createCustomer"}' in r.text
    for name in (
        "meterbill_meter_events_total",
        "meterbill_aggregation_lag_seconds",
        "meterbill_queue_depth",
        "meterbill_payment_failures_total",
        "meterbill_rate_limited_total",
    ):
        assert name in r.text, name
    assert PAYLOAD_VALUE not in r.text and tenant.secret not in r.text


async def test_event_and_payment_counters_api():
    acc = metrics.sample("meterbill_meter_events_total", {"status": "accepted"}) or 0
    dup = metrics.sample("meterbill_meter_events_total", {"status": "duplicate"}) or 0
    metrics.events_recorded("accepted", 3)
    metrics.events_recorded("duplicate")
    assert metrics.sample("meterbill_meter_events_total", {"status": "accepted"}) == acc + 3
    assert metrics.sample("meterbill_meter_events_total", {"status": "duplicate"}) == dup + 1
    with pytest.raises(ValueError):
        metrics.events_recorded("lost", 1)
    failures = metrics.sample("meterbill_payment_failures_total") or 0
    metrics.payment_failed()
    assert metrics.sample("meterbill_payment_failures_total") == failures + 1
    metrics.set_invoice_counts({"OPEN": 2, "PAID": 5})
    assert metrics.sample("meterbill_invoices", {"status": "PAID"}) == 5


async def _scrape_depth(pool, client) -> tuple[float, int, int]:
    """The gauge, bracketed by the queue's length read just before and after the scrape.
    Other jobs may come and go meanwhile on a shared queue (a bracket cannot hold if one
    comes and another goes), so scrape again until the queue kept its length across one."""
    for _ in range(50):
        before = await pool.zcard("meterbill:queue")
        await client.get("/metrics")
        after = await pool.zcard("meterbill:queue")
        if before == after:
            break
    return metrics.sample("meterbill_queue_depth") or 0, before, after


async def test_queue_depth_reads_the_arq_queue(app, client):
    pool = app.state.pool
    jobs = [await pool.enqueue_job("housekeeping", _defer_by=timedelta(hours=1)) for _ in range(3)]
    try:
        depth, lo, hi = await _scrape_depth(pool, client)
        assert depth >= 3
        assert min(lo, hi) <= depth <= max(lo, hi)
    finally:
        for job in jobs:
            await pool.zrem("meterbill:queue", job.job_id)
    depth, lo, hi = await _scrape_depth(pool, client)
    assert min(lo, hi) <= depth <= max(lo, hi)


async def test_aggregation_lag_is_the_oldest_waiting_event(tenant, client):
    from meterbill.db.models import Customer, Meter, MeterEvent, MeterEventPending
    from meterbill.services.now import utcnow

    meter = await Meter.create(
        account_id=tenant.account_id, display_name="m", event_name="lag", aggregation="SUM"
    )
    customer = await Customer.create(account_id=tenant.account_id)
    event = await MeterEvent.create(
        account_id=tenant.account_id,
        meter_id=meter.id,
        customer_id=customer.id,
        identifier="lag-1",
        event_name="lag",
        value=1,
        timestamp=utcnow(),
    )
    await MeterEvent.filter(id=event.id).update(created_at=utcnow() - timedelta(minutes=10))
    # Waiting for a worker, as ingest leaves it (the ORM's create writes no pending row).
    await MeterEventPending.create(event_id=event.id)
    try:
        await client.get("/metrics")
        assert (metrics.sample("meterbill_aggregation_lag_seconds") or 0) >= 600
        # Folded, as a worker leaves it.
        await MeterEventPending.filter(event_id=event.id).delete()
        await client.get("/metrics")
        assert metrics.sample("meterbill_aggregation_lag_seconds") == 0
    finally:
        await MeterEventPending.filter(event_id=event.id).delete()
        await MeterEvent.filter(id=event.id).delete()


async def test_rate_limited_requests_are_counted(deployment):
    from tests.apps import new_key, running

    before = metrics.sample("meterbill_rate_limited_total") or 0
    async with running(deployment, rate_limit_rps=0.001, rate_limit_burst=1) as client:
        _, key = await new_key()
        for _ in range(3):
            await client.post(
                "/graphql",
                json={"query": "{ __typename }"},
                headers={"Authorization": f"Bearer {key}"},
            )
    assert metrics.sample("meterbill_rate_limited_total") == before + 2
