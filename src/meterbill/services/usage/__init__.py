"""Usage: recording meter events, aggregating them into rollups, reading summaries."""

from meterbill.services.usage.aggregate import (
    aggregate_batch,
    drain,
    drain_slot,
    request_aggregation,
    sweep,
)
from meterbill.services.usage.events import cancel_event, list_events
from meterbill.services.usage.record import (
    MAX_BATCH,
    EventInput,
    EventResult,
    count,
    record_event,
    record_events,
)
from meterbill.services.usage.summaries import meter_period_usage, period_usage, summaries

__all__ = [
    "MAX_BATCH",
    "EventInput",
    "EventResult",
    "aggregate_batch",
    "cancel_event",
    "count",
    "drain",
    "drain_slot",
    "list_events",
    "meter_period_usage",
    "period_usage",
    "record_event",
    "record_events",
    "request_aggregation",
    "summaries",
    "sweep",
]
