"""The root subscription type Live (contract extension live), served over graphql-transport-ws
on /graphql: the caller is authenticated once, by the connection_init payload (graphql/http.py)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from meterbill.graphql.context import Info
from meterbill.graphql.errors import GqlError, query
from meterbill.graphql.scalars import BigInt
from meterbill.services.accounts import authenticate
from meterbill.services.live import usage as live

# Scopes that may open a live usage subscription (contract extension live).
LIVE_SCOPES = frozenset({"READ", "ADMIN"})


def connection_secret(params: dict[str, Any] | None) -> str | None:
    """The key of a graphql-transport-ws connection_init payload: {"Authorization": "Bearer
    mb_sk_..."} (browsers cannot set headers on a WebSocket)."""
    header = (params or {}).get("Authorization", (params or {}).get("authorization"))
    if not isinstance(header, str):
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def key_still_valid(params: dict[str, Any] | None, key_id: str | None) -> bool:
    secret = connection_secret(params)
    try:
        principal = await authenticate(secret) if secret else None
    except Exception:  # noqa: BLE001 - the database does not answer: keep the stream
        return True
    return principal is not None and principal.key_id == key_id


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


def _selects(fields: Any, name: str) -> bool:
    """Whether the document asks for `name` anywhere under these fields (fragments too):
    the upcoming invoice costs two reads a message, and a chart asking only for the value
    should not pay them."""
    for f in fields or ():
        if getattr(f, "name", None) == name or _selects(getattr(f, "selections", None), name):
            return True
    return False


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
        ctx = info.context
        key_id = ctx.principal.key_id if ctx.principal else None

        async def still_allowed() -> bool:
            return await key_still_valid(ctx.connection_params, key_id)

        stream = live.watch(
            ctx.account_id,
            str(meter_id),
            str(customer_id),
            still_allowed,
            with_upcoming=_selects(info.selected_fields, "upcomingTotal"),
        )
        try:
            # The first value through the one error mapping: an unknown id is BAD_USER_INPUT.
            yield LiveUsage.of(await query(_first(stream)))
            async for u in stream:
                yield LiveUsage.of(u)
        finally:
            await stream.aclose()
        # The stream ends only when the key stopped being valid.
        raise GqlError("UNAUTHENTICATED", "the API key of this connection was revoked")
