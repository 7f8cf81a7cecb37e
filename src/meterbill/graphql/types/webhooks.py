"""Event, WebhookEndpoint and WebhookDelivery types (contract extension "events")."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import cast

import orjson
import strawberry
from strawberry.scalars import JSON

from meterbill.db import models as m
from meterbill.graphql.errors import UserError
from meterbill.graphql.types.common import Node, PageInfo
from meterbill.services.webhooks.endpoints import enabled_events


@strawberry.enum
class WebhookEndpointStatus(Enum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type
class Event(Node):
    id: strawberry.ID = strawberry.field(description="evt_...")
    type: str = strawberry.field(
        description="e.g. invoice.paid; the types are listed in README.md."
    )
    object_id: strawberry.ID = strawberry.field(
        description="Id of the object the event is about (in_..., sub_..., cus_..., ...)."
    )
    data: JSON = strawberry.field(
        description="Snapshot of the object when it happened: its GraphQL scalar and enum "
        'fields (camelCase, the same serialization as the API) plus "object": "invoice", '
        '"subscription", "customer", ...'
    )
    created_at: datetime

    @classmethod
    def of(cls, r: m.DomainEvent) -> Event:
        return cls(
            id=strawberry.ID(r.id),
            type=r.type,
            object_id=strawberry.ID(r.object_id),
            data=cast(JSON, orjson.loads(r.data)),
            created_at=r.created_at,
        )


@strawberry.type
class EventEdge:
    node: Event
    cursor: str


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo


@strawberry.type
class WebhookEndpoint(Node):
    id: strawberry.ID = strawberry.field(description="we_...")
    url: str
    description: str | None
    enabled_events: list[str] = strawberry.field(
        description='Event types delivered; ["*"] means all.'
    )
    status: WebhookEndpointStatus
    created_at: datetime

    @classmethod
    def of(cls, r: m.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(r.id),
            url=r.url,
            description=r.description,
            enabled_events=enabled_events(r),
            status=WebhookEndpointStatus(r.status),
            created_at=r.created_at,
        )


@strawberry.type
class WebhookDelivery(Node):
    id: strawberry.ID = strawberry.field(description="whd_...")
    event: Event
    endpoint: WebhookEndpoint
    status: WebhookDeliveryStatus
    attempt_count: int
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = strawberry.field(
        description="Null when no further attempt is scheduled."
    )
    last_response_status: int | None = strawberry.field(
        description="HTTP status of the last attempt; null when it got no response."
    )
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed (timeout, connection refused, non-2xx ...)."
    )

    @classmethod
    def of(
        cls, r: m.WebhookDelivery, event: m.DomainEvent, endpoint: m.WebhookEndpoint
    ) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(r.id),
            event=Event.of(event),
            endpoint=WebhookEndpoint.of(endpoint),
            status=WebhookDeliveryStatus(r.status),
            attempt_count=r.attempt_count,
            last_attempt_at=r.last_attempt_at,
            next_attempt_at=r.next_attempt_at if r.status == "PENDING" else None,
            last_response_status=r.last_response_status,
            last_error=r.last_error,
        )


@strawberry.type
class WebhookDeliveryEdge:
    node: WebhookDelivery
    cursor: str


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo


@strawberry.type
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None, description="whsec_ + base64 of 24 or more random bytes; shown once."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeliveryPayload:
    webhook_delivery: WebhookDelivery | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
