"""Prometheus metrics: one small API for the rest of the code, and what /metrics serves.

Counters and histograms: with one process, in prometheus_client's default registry. With
`meterbill serve --workers N`, the command sets PROMETHEUS_MULTIPROC_DIR (a folder it creates
and removes) before the processes start: prometheus_client then keeps every process's values
in files there, and a scrape of any process returns the sum over all of them, dead processes
included, so a counter never goes backwards while meterbill runs.

Gauges that describe shared state (queue depth, aggregation lag, invoices by status) are
computed from Redis / the database when /metrics is scraped, by the process scraped: they are
kept out of the per-process files (ScrapeGauge) and exported once, never summed."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger("meterbill.metrics")

REQUESTS = Counter(
    "meterbill_requests_total",
    "HTTP requests by GraphQL operation (root fields) and outcome.",
    ["operation", "status"],
)
LATENCY = Histogram(
    "meterbill_request_duration_seconds",
    "Request latency by GraphQL operation (root fields).",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Counter(
    "meterbill_meter_events_total",
    "Meter events received, by outcome: accepted, duplicate, rejected.",
    ["status"],
)
PAYMENT_FAILURES = Counter(
    "meterbill_payment_failures_total", "Invoice payment attempts that failed."
)
RATE_LIMITED = Counter("meterbill_rate_limited_total", "Requests refused by the rate limiter.")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ScrapeGauge(Collector):
    """A whole-system gauge set at scrape time by the process scraped: one plain value in
    this process (prometheus_client's Gauge would write per-process files in multiprocess
    mode, and a scrape would export one series per process)."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...] = ()):
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.values: dict[tuple[str, ...], float] = {}

    def set(self, value: float) -> None:
        self.values[()] = float(value)

    def labels(self, *values: str) -> _Child:
        return _Child(self, tuple(values))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, value in sorted(self.values.items()):
            family.add_metric(list(labels), value)
        yield family


class _Child:
    def __init__(self, gauge: ScrapeGauge, labels: tuple[str, ...]):
        self.gauge, self.key = gauge, labels

    def set(self, value: float) -> None:
        self.gauge.values[self.key] = float(value)


AGGREGATION_LAG = ScrapeGauge(
    "meterbill_aggregation_lag_seconds",
    "Age of the oldest meter event not yet aggregated (0 when none is waiting).",
)
QUEUE_DEPTH = ScrapeGauge("meterbill_queue_depth", "Jobs waiting in the arq queue.")
INVOICES = ScrapeGauge("meterbill_invoices", "Invoices by status.", ("status",))
_SCRAPE_GAUGES = (AGGREGATION_LAG, QUEUE_DEPTH, INVOICES)


def _registry() -> CollectorRegistry:
    """What a scrape exports: this process's metrics, or every process's (multiprocess)."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    for gauge in _SCRAPE_GAUGES:
        registry.register(gauge)
    return registry


if not os.environ.get(MULTIPROC_ENV):
    for _g in _SCRAPE_GAUGES:
        REGISTRY.register(_g)

EVENT_STATUSES = ("accepted", "duplicate", "rejected")
for _s in EVENT_STATUSES:
    EVENTS.labels(_s)  # exported as 0 before the first event


def events_recorded(status: str, n: int = 1) -> None:
    """Count meter events by outcome (accepted / duplicate / rejected)."""
    if status not in EVENT_STATUSES:
        raise ValueError(f"unknown event status {status!r}")
    if n:
        EVENTS.labels(status).inc(n)


def payment_failed(n: int = 1) -> None:
    PAYMENT_FAILURES.inc(n)


def rate_limited() -> None:
    RATE_LIMITED.inc()


# The children of a label set, looked up once: labels() builds a key and takes a lock on
# every call (~5 us a request). Operations are root field names and known paths, so few.
_request_children: dict[tuple[str, str], tuple[Any, Any]] = {}


def request_done(operation: str, status: str, seconds: float) -> None:
    children = _request_children.get((operation, status))
    if children is None:
        children = (REQUESTS.labels(operation, status), LATENCY.labels(operation))
        if len(_request_children) < 1000:
            _request_children[(operation, status)] = children
    children[0].inc()
    children[1].observe(seconds)


def set_invoice_counts(counts: dict[str, int]) -> None:
    for status, n in counts.items():
        INVOICES.labels(status).set(n)


# Refreshers run on every scrape (each guarded: one failing source never breaks /metrics).
# The invoicing code adds one that calls set_invoice_counts(); the app adds queue depth.
Refresher = Callable[[], Awaitable[None]]
_refreshers: dict[str, Refresher] = {}


def on_scrape(name: str, refresh: Refresher) -> None:
    _refreshers[name] = refresh


async def aggregation_lag() -> None:
    from meterbill.db.models import MeterEvent, MeterEventPending
    from meterbill.services.now import utcnow

    # The head of the pending table (its primary key), then that one event: by its
    # timestamp too where the pending row has it (PostgreSQL: one partition, not all).
    head = (
        await MeterEventPending.all().order_by("event_id").limit(1).values("event_id", "timestamp")
    )
    oldest = None
    if head:
        qs = MeterEvent.filter(id=head[0]["event_id"])
        if head[0]["timestamp"] is not None:
            qs = qs.filter(timestamp=head[0]["timestamp"])
        oldest = await qs.first()
    AGGREGATION_LAG.set(max(0.0, (utcnow() - oldest.created_at).total_seconds()) if oldest else 0.0)


INVOICES_STATUSES = ("DRAFT", "OPEN", "PAID", "UNCOLLECTIBLE", "VOID")


async def invoice_counts() -> None:
    from tortoise.functions import Count

    from meterbill.db.models import Invoice

    rows = await Invoice.all().group_by("status").annotate(n=Count("id")).values("status", "n")
    counts = {status: 0 for status in INVOICES_STATUSES}
    counts.update({r["status"]: r["n"] for r in rows})
    set_invoice_counts(counts)


on_scrape("aggregation_lag", aggregation_lag)
on_scrape("invoices", invoice_counts)


async def render(extra: dict[str, Refresher] | None = None) -> tuple[bytes, str]:
    for name, refresh in {**_refreshers, **(extra or {})}.items():
        try:
            await refresh()
        except Exception as exc:  # noqa: BLE001 - a down source leaves its last value
            log.warning("metrics source %s failed: %s", name, type(exc).__name__)
    return generate_latest(_registry()), CONTENT_TYPE_LATEST


def sample(name: str, labels: dict[str, Any] | None = None) -> float | None:
    """The current value of one sample (for tests and the CLI)."""
    return _registry().get_sample_value(name, labels or {})
