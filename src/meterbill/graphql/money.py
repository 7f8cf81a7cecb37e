"""Customer balance and billing settings (contract extension "money")."""

from __future__ import annotations

import strawberry

from meterbill.graphql.context import Info
from meterbill.graphql.enums import DunningInvoiceAction, DunningSubscriptionAction
from meterbill.graphql.errors import mutate
from meterbill.graphql.scalars import BigInt
from meterbill.graphql.types import money as t
from meterbill.services import balances, billing_settings


@strawberry.input
class CreateCustomerBalanceTransactionInput:
    customer_id: strawberry.ID
    amount: BigInt = strawberry.field(description="Non-zero; negative credits the customer.")
    currency: str
    description: str | None = None


@strawberry.input
class UpdateBillingSettingsInput:
    payment_retry_days: list[int] | None = strawberry.field(
        default=None, description="0 to 8 entries, each 1 to 30; [] turns retries off."
    )
    subscription_after_retries: DunningSubscriptionAction | None = None
    invoice_after_retries: DunningInvoiceAction | None = None


@strawberry.type
class MoneyQuery:
    @strawberry.field
    async def billing_settings(self, info: Info) -> t.BillingSettings:
        return t.BillingSettings.of(await billing_settings.get_settings(info.context.account_id))


@strawberry.type
class MoneyMutation:
    @strawberry.mutation
    async def update_billing_settings(
        self, info: Info, input: UpdateBillingSettingsInput
    ) -> t.BillingSettingsPayload:
        call = billing_settings.update_settings(
            info.context.account_id,
            input.payment_retry_days,
            input.subscription_after_retries.value if input.subscription_after_retries else None,
            input.invoice_after_retries.value if input.invoice_after_retries else None,
        )
        return await mutate(
            call,
            lambda r: t.BillingSettingsPayload(billing_settings=t.BillingSettings.of(r)),
            lambda e: t.BillingSettingsPayload(user_errors=e),
        )

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
