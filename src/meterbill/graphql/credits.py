"""Credit grant queries and mutations (contract extension "credits")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import strawberry

from meterbill.graphql.context import Info
from meterbill.graphql.errors import mutate
from meterbill.graphql.types import credits as t
from meterbill.services.credits import grants


@strawberry.input
class CreateCreditGrantInput:
    customer_id: strawberry.ID
    amount: t.BigInt = strawberry.field(description="Positive, minor units.")
    currency: str
    category: t.CreditGrantCategory | None = t.CreditGrantCategory.PAID
    name: str | None = None
    price_ids: list[strawberry.ID] | None = strawberry.field(default_factory=list)
    priority: int | None = 50
    effective_at: datetime | None = strawberry.field(
        default=None, description="Defaults to now (the customer's clock)."
    )
    expires_at: datetime | None = None


@strawberry.input
class CreditGrantIdInput:
    id: strawberry.ID


def _payload() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    return (
        lambda r: t.CreditGrantPayload(credit_grant=t.CreditGrant.of(r)),
        lambda e: t.CreditGrantPayload(user_errors=e),
    )


@strawberry.type
class CreditsQuery:
    @strawberry.field
    async def credit_grant(self, info: Info, id: strawberry.ID) -> t.CreditGrant | None:
        row = await grants.get_credit_grant(info.context.account_id, id)
        return t.CreditGrant.of(row) if row else None


@strawberry.type
class CreditsMutation:
    @strawberry.mutation
    async def create_credit_grant(
        self, info: Info, input: CreateCreditGrantInput
    ) -> t.CreditGrantPayload:
        req = grants.GrantRequest(
            customer_id=input.customer_id,
            amount=input.amount,
            currency=input.currency,
            category=(input.category or t.CreditGrantCategory.PAID).value,
            name=input.name,
            price_ids=[str(p) for p in input.price_ids or []],
            priority=50 if input.priority is None else input.priority,
            effective_at=input.effective_at,
            expires_at=input.expires_at,
        )
        return await mutate(grants.create_credit_grant(info.context.account_id, req), *_payload())

    @strawberry.mutation(description="Unapplied credit of a voided grant is never applied.")
    async def void_credit_grant(
        self, info: Info, input: CreditGrantIdInput
    ) -> t.CreditGrantPayload:
        call = grants.void_credit_grant(info.context.account_id, input.id)
        return await mutate(call, *_payload())
