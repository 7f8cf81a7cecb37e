"""Event log and webhook queries and mutations (contract extension "events")."""

from __future__ import annotations

import strawberry

from meterbill.graphql.context import Info
from meterbill.graphql.errors import mutate, query
from meterbill.graphql.types import webhooks as t
from meterbill.graphql.types.common import PageInfo
from meterbill.services.pages import cursor_of
from meterbill.services.webhooks import deliveries, endpoints, events


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="http or https.")
    description: str | None = None
    enabled_events: list[str] | None = strawberry.field(default_factory=lambda: ["*"])


@strawberry.input
class UpdateWebhookEndpointInput:
    id: strawberry.ID
    url: str | None = None
    description: str | None = None
    enabled_events: list[str] | None = None
    status: t.WebhookEndpointStatus | None = None


@strawberry.input
class WebhookEndpointIdInput:
    id: strawberry.ID


@strawberry.input
class ResendWebhookEventInput:
    event_id: strawberry.ID
    endpoint_id: strawberry.ID


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Newest first.")
    async def events(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        type: str | None = None,
        object_id: strawberry.ID | None = None,
    ) -> t.EventConnection:
        page = await query(
            events.list_events(
                info.context.account_id, 20 if first is None else first, after, type, object_id
            )
        )
        return t.EventConnection(
            edges=[t.EventEdge(node=t.Event.of(r), cursor=cursor_of(r)) for r in page.items],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field
    async def event(self, info: Info, id: strawberry.ID) -> t.Event | None:
        row = await events.get_event(info.context.account_id, id)
        return t.Event.of(row) if row else None

    @strawberry.field
    async def webhook_endpoints(self, info: Info) -> list[t.WebhookEndpoint]:
        rows = await endpoints.list_endpoints(info.context.account_id)
        return [t.WebhookEndpoint.of(r) for r in rows]

    @strawberry.field(description="Newest first.")
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID,
        event_id: strawberry.ID | None = None,
        status: t.WebhookDeliveryStatus | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> t.WebhookDeliveryConnection:
        page, evs, endpoint = await query(
            deliveries.list_deliveries(
                info.context.account_id,
                endpoint_id,
                event_id,
                status.value if status else None,
                20 if first is None else first,
                after,
            )
        )
        return t.WebhookDeliveryConnection(
            edges=[
                t.WebhookDeliveryEdge(
                    node=t.WebhookDelivery.of(d, evs[d.event_id], endpoint), cursor=cursor_of(d)
                )
                for d in page.items
                if d.event_id in evs
            ],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> t.CreateWebhookEndpointPayload:
        call = endpoints.create_endpoint(
            info.context.account_id, input.url, input.description, input.enabled_events
        )
        return await mutate(
            call,
            lambda r: t.CreateWebhookEndpointPayload(
                webhook_endpoint=t.WebhookEndpoint.of(r[0]), secret=r[1]
            ),
            lambda e: t.CreateWebhookEndpointPayload(user_errors=e),
        )

    @strawberry.mutation
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> t.WebhookEndpointPayload:
        change = endpoints.EndpointChange(
            url=input.url,
            description=input.description,
            enabled_events=input.enabled_events,
            status=input.status.value if input.status else None,
        )
        call = endpoints.update_endpoint(info.context.account_id, input.id, change)
        return await mutate(call, *_endpoint_payload())

    @strawberry.mutation
    async def delete_webhook_endpoint(
        self, info: Info, input: WebhookEndpointIdInput
    ) -> t.WebhookEndpointPayload:
        call = endpoints.delete_endpoint(info.context.account_id, input.id)
        return await mutate(call, *_endpoint_payload())

    @strawberry.mutation(description="Deliver an event to an endpoint again, as a new delivery.")
    async def resend_webhook_event(
        self, info: Info, input: ResendWebhookEventInput
    ) -> t.WebhookDeliveryPayload:
        call = deliveries.resend(info.context.account_id, input.event_id, input.endpoint_id)
        return await mutate(
            call,
            lambda r: t.WebhookDeliveryPayload(webhook_delivery=t.WebhookDelivery.of(*r)),
            lambda e: t.WebhookDeliveryPayload(user_errors=e),
        )


def _endpoint_payload():  # type: ignore[no-untyped-def]
    return (
        lambda r: t.WebhookEndpointPayload(webhook_endpoint=t.WebhookEndpoint.of(r)),
        lambda e: t.WebhookEndpointPayload(user_errors=e),
    )
