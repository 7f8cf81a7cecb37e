"""Catalog inputs of the contract."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from meterbill.graphql.enums import (
    AggregationFormula,
    ApiKeyScope,
    BillingMode,
    BillingScheme,
    CollectionMethod,
    CustomerMappingType,
    ProrationBehavior,
    RecurringInterval,
    RoundingDirection,
    TiersMode,
    UsageType,
)
from meterbill.graphql.scalars import BigInt


@strawberry.input
class CreateMeterInput:
    display_name: str
    event_name: str
    aggregation: AggregationFormula
    customer_mapping_type: CustomerMappingType | None = CustomerMappingType.BY_ID
    customer_payload_key: str | None = "customer_id"
    value_payload_key: str | None = "value"
    dimension_keys: list[str] | None = strawberry.field(default_factory=list)


@strawberry.input
class UpdateMeterInput:
    id: strawberry.ID
    display_name: str


@strawberry.input
class MeterIdInput:
    id: strawberry.ID


@strawberry.input
class CreateProductInput:
    name: str
    description: str | None = None


@strawberry.input
class PriceTierInput:
    up_to: BigInt | None = strawberry.field(
        default=None, description="Inclusive upper bound; omit or null for the last tier only."
    )
    unit_amount: BigInt | None = None
    unit_amount_decimal: Decimal | None = None
    flat_amount: BigInt | None = None
    flat_amount_decimal: Decimal | None = None


@strawberry.input
class TransformQuantityInput:
    divide_by: int
    round: RoundingDirection


@strawberry.input
class RecurringInput:
    interval: RecurringInterval
    interval_count: int | None = 1
    usage_type: UsageType | None = UsageType.LICENSED
    meter_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for METERED, forbidden for LICENSED."
    )


@strawberry.input
class CreatePriceInput:
    product_id: strawberry.ID
    currency: str = strawberry.field(description="ISO-4217, lower case.")
    recurring: RecurringInput
    nickname: str | None = None
    billing_scheme: BillingScheme | None = BillingScheme.PER_UNIT
    unit_amount: BigInt | None = strawberry.field(
        default=None, description="PER_UNIT: exactly one of unitAmount / unitAmountDecimal."
    )
    unit_amount_decimal: Decimal | None = None
    tiers_mode: TiersMode | None = strawberry.field(
        default=None,
        description="TIERED: required, with at least one tier; upTo strictly increasing; "
        "last tier open-ended.",
    )
    tiers: list[PriceTierInput] | None = None
    transform_quantity: TransformQuantityInput | None = strawberry.field(
        default=None, description="PER_UNIT only."
    )


_STRIPE_CUSTOMER = "The customer's id at Stripe (cus_...): charged with MB_PAYMENT_PROVIDER=stripe."
_STRIPE_PM = (
    "A PaymentMethod id at Stripe (pm_...) saved on stripeCustomerId: what "
    "MB_PAYMENT_PROVIDER=stripe charges, off-session."
)


@strawberry.input
class CreateCustomerInput:
    name: str | None = None
    email: str | None = None
    description: str | None = None
    external_id: str | None = None
    payment_method: str | None = strawberry.field(
        default=None,
        description="A test payment method: pm_card_visa (succeeds) or pm_card_chargeDeclined "
        "(declines).",
    )
    test_clock_id: strawberry.ID | None = None
    stripe_customer_id: str | None = strawberry.field(default=None, description=_STRIPE_CUSTOMER)
    stripe_payment_method_id: str | None = strawberry.field(default=None, description=_STRIPE_PM)


@strawberry.input
class AttachPaymentMethodInput:
    customer_id: strawberry.ID
    payment_method: str | None = strawberry.field(
        default=None,
        description="A test payment method (see CreateCustomerInput.paymentMethod); "
        "required unless stripePaymentMethodId is given.",
    )
    stripe_customer_id: str | None = strawberry.field(default=None, description=_STRIPE_CUSTOMER)
    stripe_payment_method_id: str | None = strawberry.field(default=None, description=_STRIPE_PM)


@strawberry.input
class CreateApiKeyInput:
    name: str
    scopes: list[ApiKeyScope]


@strawberry.input
class RevokeApiKeyInput:
    id: strawberry.ID


# ---------------------------------------------------------------- billing


@strawberry.input
class CreateTestClockInput:
    frozen_time: datetime
    name: str | None = None


@strawberry.input
class AdvanceTestClockInput:
    test_clock_id: strawberry.ID
    frozen_time: datetime = strawberry.field(
        description="Must be later than the clock's current frozenTime."
    )


@strawberry.input
class SubscriptionItemInput:
    price_id: strawberry.ID
    quantity: int | None = 1


@strawberry.input
class CreateSubscriptionInput:
    customer_id: strawberry.ID
    items: list[SubscriptionItemInput] = strawberry.field(
        description="All prices share one currency and one recurring interval."
    )
    billing_mode: BillingMode | None = BillingMode.FLEXIBLE
    collection_method: CollectionMethod | None = CollectionMethod.CHARGE_AUTOMATICALLY
    days_until_due: int | None = None
    billing_cycle_anchor: datetime | None = strawberry.field(
        default=None, description="Defaults to the start date."
    )
    backdate_start_date: datetime | None = strawberry.field(
        default=None, description="Start in the past; the first invoice covers the backdated time."
    )


@strawberry.input
class UpdateSubscriptionItemInput:
    item_id: strawberry.ID
    quantity: int
    proration_behavior: ProrationBehavior | None = ProrationBehavior.CREATE_PRORATIONS


@strawberry.input
class CancelSubscriptionInput:
    subscription_id: strawberry.ID
    at_period_end: bool | None = strawberry.field(
        default=False,
        description="true: stay active until currentPeriodEnd, then cancel with a final cycle "
        "invoice.",
    )
    invoice_now: bool | None = strawberry.field(
        default=False,
        description="When cancelling now: invoice the usage not yet invoiced immediately.",
    )
    prorate: bool | None = strawberry.field(
        default=False,
        description="When cancelling now: credit the unused time of licensed items on the "
        "final invoice.",
    )


@strawberry.input
class InvoiceIdInput:
    id: strawberry.ID


@strawberry.input
class PayInvoiceInput:
    id: strawberry.ID
    paid_out_of_band: bool | None = strawberry.field(
        default=False, description="Mark paid without charging (money received elsewhere)."
    )


@strawberry.input
class SubscriptionItemUpdateInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="An item of this subscription; omit to add a new item."
    )
    price_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A new price for the item (same currency and interval), or the price of "
        "a new item.",
    )
    quantity: int | None = None
    deleted: bool | None = strawberry.field(default=False, description="true removes the item.")


@strawberry.input
class UpdateSubscriptionInput:
    subscription_id: strawberry.ID
    cancel_at_period_end: bool | None = strawberry.field(
        default=None, description="false undoes a scheduled cancellation; true schedules one."
    )
    items: list[SubscriptionItemUpdateInput] | None = None
    proration_behavior: ProrationBehavior | None = ProrationBehavior.CREATE_PRORATIONS
