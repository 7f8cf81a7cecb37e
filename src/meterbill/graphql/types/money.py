"""The customer balance's types (contract extension "money")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from meterbill.billing import dunning
from meterbill.db import models as m
from meterbill.graphql import loaders
from meterbill.graphql.context import Info
from meterbill.graphql.enums import (
    CustomerBalanceTransactionType,
    DunningInvoiceAction,
    DunningSubscriptionAction,
)
from meterbill.graphql.errors import UserError
from meterbill.graphql.scalars import BigInt
from meterbill.graphql.types.common import Node, PageInfo

if TYPE_CHECKING:
    from meterbill.graphql.types.billing import Invoice


@strawberry.type
class CustomerBalanceTransaction(Node):
    id: strawberry.ID = strawberry.field(description="cbtxn_...")
    type: CustomerBalanceTransactionType
    amount: BigInt = strawberry.field(
        description="Minor units; negative adds credit, positive adds debt (Stripe's sign "
        "convention)."
    )
    currency: str
    ending_balance: BigInt = strawberry.field(
        description="The customer's balance after this transaction."
    )
    invoice_id: strawberry.Private[str | None]
    description: str | None
    created_at: datetime

    @strawberry.field
    async def invoice(
        self, info: Info
    ) -> Annotated[Invoice, strawberry.lazy("meterbill.graphql.types.billing")] | None:
        from meterbill.graphql.types.billing import Invoice

        if self.invoice_id is None:
            return None
        row = await loaders.by_id(info.context, m.Invoice).load(self.invoice_id)
        return Invoice.of(row) if row else None

    @classmethod
    def of(cls, r: m.CustomerBalanceTransaction) -> CustomerBalanceTransaction:
        return cls(
            id=strawberry.ID(r.id),
            type=CustomerBalanceTransactionType(r.type),
            amount=BigInt(r.amount),
            currency=r.currency,
            ending_balance=BigInt(r.ending_balance),
            invoice_id=r.invoice_id,
            description=r.description,
            created_at=r.created_at,
        )


@strawberry.type
class CustomerBalanceTransactionEdge:
    node: CustomerBalanceTransaction
    cursor: str


@strawberry.type
class CustomerBalanceTransactionConnection:
    edges: list[CustomerBalanceTransactionEdge]
    page_info: PageInfo


@strawberry.type
class CustomerBalanceTransactionPayload:
    customer_balance_transaction: CustomerBalanceTransaction | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class BillingSettings:
    payment_retry_days: list[int] = strawberry.field(
        description="Retry k+1 happens paymentRetryDays[k] days after attempt k+1 failed; "
        "default [3, 5, 7]."
    )
    subscription_after_retries: DunningSubscriptionAction = strawberry.field(
        description="Default CANCEL."
    )
    invoice_after_retries: DunningInvoiceAction = strawberry.field(
        description="Default LEAVE_OPEN."
    )

    @classmethod
    def of(cls, s: dunning.Settings) -> BillingSettings:
        return cls(
            payment_retry_days=list(s.retry_days),
            subscription_after_retries=DunningSubscriptionAction(s.subscription_after),
            invoice_after_retries=DunningInvoiceAction(s.invoice_after),
        )


@strawberry.type
class BillingSettingsPayload:
    billing_settings: BillingSettings | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
