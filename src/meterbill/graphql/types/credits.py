"""CreditGrant and CreditApplication types, and the credits fields of Customer and Invoice
(contract extension "credits")."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from meterbill.billing.credits import Application
from meterbill.db import models as m
from meterbill.graphql import loaders
from meterbill.graphql.context import Info
from meterbill.graphql.errors import UserError, query
from meterbill.graphql.scalars import BigInt
from meterbill.graphql.types.common import Node, PageInfo
from meterbill.services.credits import grants
from meterbill.services.lifecycle.credit_grants import price_ids
from meterbill.services.pages import cursor_of

if TYPE_CHECKING:
    from meterbill.graphql.types.catalog import Customer


@strawberry.enum
class CreditGrantCategory(Enum):
    PAID = "PAID"
    PROMOTIONAL = "PROMOTIONAL"


@strawberry.type
class CreditGrant(Node):
    id: strawberry.ID = strawberry.field(description="credgr_...")
    customer_id: strawberry.Private[str]
    name: str | None
    category: CreditGrantCategory
    currency: str
    amount: BigInt = strawberry.field(description="Granted, minor units.")
    available_amount: BigInt = strawberry.field(
        description="Not yet applied to an invoice, minor units (also after expiry or "
        "voiding, for the record)."
    )
    price_ids: list[strawberry.ID] = strawberry.field(
        description="Prices it may pay for; empty means every METERED price in its currency."
    )
    priority: int = strawberry.field(description="0 to 100; lower is applied first. Default 50.")
    effective_at: datetime
    expires_at: datetime | None
    voided_at: datetime | None
    created_at: datetime

    @strawberry.field
    async def customer(
        self, info: Info
    ) -> Annotated[Customer, strawberry.lazy("meterbill.graphql.types.catalog")]:
        from meterbill.graphql.types.catalog import Customer

        return Customer.of(await loaders.by_id(info.context, m.Customer).load(self.customer_id))

    @classmethod
    def of(cls, r: m.CreditGrant) -> CreditGrant:
        return cls(
            id=strawberry.ID(r.id),
            customer_id=r.customer_id,
            name=r.name,
            category=CreditGrantCategory(r.category),
            currency=r.currency,
            amount=BigInt(r.amount),
            available_amount=BigInt(r.available_amount),
            price_ids=[strawberry.ID(p) for p in price_ids(r)],
            priority=r.priority,
            effective_at=r.effective_at,
            expires_at=r.expires_at,
            voided_at=r.voided_at,
            created_at=r.created_at,
        )


@strawberry.type
class CreditGrantEdge:
    node: CreditGrant
    cursor: str


@strawberry.type
class CreditGrantConnection:
    edges: list[CreditGrantEdge]
    page_info: PageInfo


@strawberry.type
class CreditApplication:
    grant_id: strawberry.Private[str]
    amount: BigInt = strawberry.field(
        description="Minor units taken from the grant by this invoice."
    )

    @strawberry.field
    async def credit_grant(self, info: Info) -> CreditGrant:
        row = await loaders.by_id(info.context, m.CreditGrant).load(self.grant_id)
        return CreditGrant.of(row)


@strawberry.type
class CreditGrantPayload:
    credit_grant: CreditGrant | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


# ---------------------------------------------------------------- Customer and Invoice fields


async def customer_credit_grants(
    info: Info, customer_id: str, first: int | None, after: str | None
) -> CreditGrantConnection:
    page = await query(
        grants.list_credit_grants(
            info.context.account_id, customer_id, 20 if first is None else first, after
        )
    )
    return CreditGrantConnection(
        edges=[CreditGrantEdge(node=CreditGrant.of(r), cursor=cursor_of(r)) for r in page.items],
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
    )


async def customer_credit_balance(info: Info, customer_id: str, currency: str) -> BigInt:
    call = grants.credit_balance(info.context.account_id, customer_id, currency)
    return BigInt(await query(call))


def invoice_credit_applications(applications: list[Application]) -> list[CreditApplication]:
    return [CreditApplication(grant_id=a.grant_id, amount=BigInt(a.amount)) for a in applications]
