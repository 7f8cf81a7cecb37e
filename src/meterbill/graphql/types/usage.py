"""Meter event types, inputs and payloads of the contract."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from meterbill.billing.aggregation import SummaryRow, parse_dimensions
from meterbill.db import models as m
from meterbill.graphql.errors import UserError


@strawberry.enum
class GroupingWindow(Enum):
    HOUR = "HOUR"
    DAY = "DAY"


@strawberry.enum
class MeterEventStatus(Enum):
    ACCEPTED = "ACCEPTED"
    CANCELED = "CANCELED"


@strawberry.enum
class MeterEventResultStatus(Enum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"


@strawberry.type
class MeterEventSummary:
    start_time: datetime
    end_time: datetime
    aggregated_value: Decimal
    dimensions: JSON = strawberry.field(
        description="Values of the groupBy keys for this row; {} when not grouped."
    )

    @classmethod
    def of(cls, r: SummaryRow) -> MeterEventSummary:
        return cls(
            start_time=r.start,
            end_time=r.end,
            aggregated_value=r.value,
            dimensions=cast(JSON, r.dimensions),
        )


@strawberry.type
class MeterEvent:
    identifier: str
    event_name: str
    customer_id: strawberry.ID
    value: Decimal
    timestamp: datetime
    dimensions: JSON
    status: MeterEventStatus
    created_at: datetime = strawberry.field(description="When meterbill received it.")

    @classmethod
    def of(cls, r: m.MeterEvent) -> MeterEvent:
        return cls(
            identifier=r.identifier,
            event_name=r.event_name,
            customer_id=strawberry.ID(r.customer_id),
            value=Decimal(r.value),
            timestamp=r.timestamp,
            dimensions=cast(JSON, parse_dimensions(r.dimensions_key)),
            status=MeterEventStatus(r.status),
            created_at=r.created_at,
        )


@strawberry.input
class MeterEventInput:
    event_name: str
    payload: JSON = strawberry.field(
        description="Customer key, value key and dimension keys; values are strings or numbers."
    )
    identifier: str | None = strawberry.field(
        default=None,
        description="Up to 100 characters; generated when absent. Unique per account for at "
        "least 35 days.",
    )
    timestamp: datetime | None = strawberry.field(
        default=None,
        description="Defaults to now (the customer's test clock time, if any). Accepted: "
        "[now - 35 days, now + 5 minutes].",
    )


def _event_input_from(cls: type, value: Mapping[str, Any], _ctx: Any) -> Any:
    """Builds a MeterEventInput straight from graphql-core's coerced value. Its fields are
    all leaves (String, JSON, DateTime: already parsed by their scalars), so nothing is left
    to convert; strawberry's generic path re-resolved every field's type and name for each
    of the 1000 events of a batch (34% of the API's CPU while ingesting batches)."""
    return cls(
        event_name=value["eventName"],
        payload=value["payload"],
        identifier=value.get("identifier"),
        timestamp=value.get("timestamp"),
    )


# The hook strawberry offers integrations that build their own inputs (see
# StrawberryObjectDefinition.from_input).
MeterEventInput.__strawberry_definition__.from_input = _event_input_from  # type: ignore[attr-defined]


@strawberry.input
class CancelMeterEventInput:
    event_name: str
    identifier: str


@strawberry.type
class RecordMeterEventPayload:
    meter_event: MeterEvent | None = None
    duplicate: bool = strawberry.field(
        default=False,
        description="true when the identifier was already recorded: nothing was counted again.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MeterEventResult:
    index: int = strawberry.field(description="Position in the input list.")
    identifier: str | None
    status: MeterEventResultStatus
    user_errors: list[UserError]


@strawberry.type
class RecordMeterEventsPayload:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    results: list[MeterEventResult] = strawberry.field(
        default_factory=list, description="One per input event, in input order."
    )
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Errors about the batch as a whole (e.g. too many events); then nothing "
        "was recorded.",
    )


@strawberry.type
class CancelMeterEventPayload:
    meter_event: MeterEvent | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
