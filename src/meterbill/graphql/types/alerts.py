"""BillingAlert and BillingAlertTrigger (contract extension "alerts")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from meterbill.db import models as m
from meterbill.graphql import loaders
from meterbill.graphql.context import Info
from meterbill.graphql.errors import UserError
from meterbill.graphql.types.catalog import Customer, Meter
from meterbill.graphql.types.common import Node, PageInfo


@strawberry.enum
class BillingAlertStatus(Enum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


@strawberry.type
class BillingAlert(Node):
    id: strawberry.ID = strawberry.field(description="alrt_...")
    title: str
    threshold: Decimal = strawberry.field(
        description="Triggers when a customer's usage in its current billing period reaches "
        "this (>=)."
    )
    status: BillingAlertStatus
    created_at: datetime
    meter_id: strawberry.Private[str]
    customer_id: strawberry.Private[str | None]

    @strawberry.field
    async def meter(self, info: Info) -> Meter:
        return Meter.of(await loaders.by_id(info.context, m.Meter).load(self.meter_id))

    @strawberry.field(description="Null: every customer.")
    async def customer(self, info: Info) -> Customer | None:
        if self.customer_id is None:
            return None
        row = await loaders.by_id(info.context, m.Customer).load(self.customer_id)
        return Customer.of(row) if row else None

    @classmethod
    def of(cls, r: m.BillingAlert) -> BillingAlert:
        return cls(
            id=strawberry.ID(r.id),
            title=r.title,
            threshold=Decimal(r.threshold),
            status=BillingAlertStatus(r.status),
            created_at=r.created_at,
            meter_id=r.meter_id,
            customer_id=r.customer_id,
        )


@strawberry.type
class BillingAlertTrigger:
    value: Decimal = strawberry.field(
        description="Usage in the period when it triggered (>= threshold)."
    )
    period_start: datetime
    triggered_at: datetime
    alert_id: strawberry.Private[str]
    customer_id: strawberry.Private[str]

    @strawberry.field
    async def alert(self, info: Info) -> BillingAlert:
        return BillingAlert.of(
            await loaders.by_id(info.context, m.BillingAlert).load(self.alert_id)
        )

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return Customer.of(await loaders.by_id(info.context, m.Customer).load(self.customer_id))

    @classmethod
    def of(cls, r: m.BillingAlertTrigger) -> BillingAlertTrigger:
        return cls(
            value=Decimal(r.value),
            period_start=r.period_start,
            triggered_at=r.created_at,
            alert_id=r.alert_id,
            customer_id=r.customer_id,
        )


@strawberry.type
class BillingAlertTriggerEdge:
    node: BillingAlertTrigger
    cursor: str


@strawberry.type
class BillingAlertTriggerConnection:
    edges: list[BillingAlertTriggerEdge]
    page_info: PageInfo


@strawberry.type
class BillingAlertPayload:
    billing_alert: BillingAlert | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
