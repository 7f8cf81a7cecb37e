"""The root subscription type Live (contract extension live), served over graphql-transport-ws
on /graphql: the caller is authenticated once, by the connection_init payload (graphql/http.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from decimal import Decimal

import strawberry

from meterbill.graphql.context import Info
from meterbill.graphql.errors import query
from meterbill.graphql.scalars import BigInt
from meterbill.services.live import usage as live


@strawberry.type(name="LiveUsage")
class LiveUsage:
    meter_id: strawberry.ID
    customer_id: strawberry.ID
    period_start: datetime = strawberry.field(
        description="Start of the customer's current billing period (UTC calendar month "
        "without a subscription)."
    )
    value: Decimal = strawberry.field(
        description="Aggregated usage in the period so far, as meterEventSummaries would return it."
    )
    upcoming_total: BigInt | None = strawberry.field(
        description="Amount of the upcoming invoice so far, minor units; null without a "
        "subscription."
    )
    updated_at: datetime

    @classmethod
    def of(cls, u: live.LiveUsage) -> LiveUsage:
        return cls(
            meter_id=strawberry.ID(u.meter_id),
            customer_id=strawberry.ID(u.customer_id),
            period_start=u.period_start,
            value=u.value,
            upcoming_total=None if u.upcoming_total is None else BigInt(u.upcoming_total),
            updated_at=u.updated_at,
        )


async def _first(stream: AsyncGenerator[live.LiveUsage, None]) -> live.LiveUsage:
    return await anext(stream)


@strawberry.type(name="Live")
class LiveSubscription:
    @strawberry.subscription(
        description="The current value at once, then a message each time new usage is aggregated."
    )
    async def usage(
        self, info: Info, meter_id: strawberry.ID, customer_id: strawberry.ID
    ) -> AsyncGenerator[LiveUsage, None]:
        stream = live.watch(info.context.account_id, str(meter_id), str(customer_id))
        try:
            # The first value through the one error mapping: an unknown id is BAD_USER_INPUT.
            yield LiveUsage.of(await query(_first(stream)))
            async for u in stream:
                yield LiveUsage.of(u)
        finally:
            await stream.aclose()
