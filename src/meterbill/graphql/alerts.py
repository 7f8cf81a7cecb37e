"""Usage alerts: queries and mutations (contract extension "alerts")."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from meterbill.graphql.context import Info
from meterbill.graphql.errors import mutate, query
from meterbill.graphql.types import alerts as t
from meterbill.graphql.types.common import PageInfo
from meterbill.services import alerts
from meterbill.services.pages import cursor_of


@strawberry.input
class CreateBillingAlertInput:
    title: str
    meter_id: strawberry.ID
    customer_id: strawberry.ID | None = None
    threshold: Decimal = strawberry.field(description="Positive.")


@strawberry.input
class BillingAlertIdInput:
    id: strawberry.ID


def _payload(r: object) -> t.BillingAlertPayload:
    return t.BillingAlertPayload(billing_alert=t.BillingAlert.of(r))  # type: ignore[arg-type]


def _failed(errors: list) -> t.BillingAlertPayload:  # type: ignore[type-arg]
    return t.BillingAlertPayload(user_errors=errors)


@strawberry.type
class AlertsQuery:
    @strawberry.field
    async def billing_alerts(self, info: Info) -> list[t.BillingAlert]:
        return [t.BillingAlert.of(r) for r in await alerts.list_alerts(info.context.account_id)]

    @strawberry.field(description="Newest first.")
    async def billing_alert_triggers(
        self, info: Info, alert_id: strawberry.ID, first: int | None = 20, after: str | None = None
    ) -> t.BillingAlertTriggerConnection:
        page = await query(
            alerts.list_triggers(
                info.context.account_id, alert_id, 20 if first is None else first, after
            )
        )
        return t.BillingAlertTriggerConnection(
            edges=[
                t.BillingAlertTriggerEdge(node=t.BillingAlertTrigger.of(r), cursor=cursor_of(r))
                for r in page.items
            ],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )


@strawberry.type
class AlertsMutation:
    @strawberry.mutation
    async def create_billing_alert(
        self, info: Info, input: CreateBillingAlertInput
    ) -> t.BillingAlertPayload:
        call = alerts.create_alert(
            info.context.account_id, input.title, input.meter_id, input.customer_id, input.threshold
        )
        return await mutate(call, _payload, _failed)

    @strawberry.mutation
    async def archive_billing_alert(
        self, info: Info, input: BillingAlertIdInput
    ) -> t.BillingAlertPayload:
        call = alerts.archive_alert(info.context.account_id, input.id)
        return await mutate(call, _payload, _failed)
