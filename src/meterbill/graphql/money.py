"""Customer balance mutations (contract extension "money")."""

from __future__ import annotations

import strawberry

from meterbill.graphql.context import Info
from meterbill.graphql.errors import mutate
from meterbill.graphql.scalars import BigInt
from meterbill.graphql.types import money as t
from meterbill.services import balances


@strawberry.input
class CreateCustomerBalanceTransactionInput:
    customer_id: strawberry.ID
    amount: BigInt = strawberry.field(description="Non-zero; negative credits the customer.")
    currency: str
    description: str | None = None


@strawberry.type
class MoneyMutation:
    @strawberry.mutation
    async def create_customer_balance_transaction(
        self, info: Info, input: CreateCustomerBalanceTransactionInput
    ) -> t.CustomerBalanceTransactionPayload:
        call = balances.create_transaction(
            info.context.account_id,
            input.customer_id,
            int(input.amount),
            input.currency,
            input.description,
        )
        return await mutate(
            call,
            lambda r: t.CustomerBalanceTransactionPayload(
                customer_balance_transaction=t.CustomerBalanceTransaction.of(r)
            ),
            lambda e: t.CustomerBalanceTransactionPayload(user_errors=e),
        )
