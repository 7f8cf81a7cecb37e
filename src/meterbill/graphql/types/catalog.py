"""Meter, Product, Price, Customer, TestClock and ApiKey types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from meterbill.db import models as m
from meterbill.graphql import loaders
from meterbill.graphql.context import Info
from meterbill.graphql.enums import (
    AggregationFormula,
    ApiKeyScope,
    BillingScheme,
    CustomerMappingType,
    MeterStatus,
    RecurringInterval,
    RoundingDirection,
    TestClockStatus,
    TiersMode,
    UsageType,
)
from meterbill.graphql.errors import UserError, query
from meterbill.graphql.scalars import BigInt
from meterbill.graphql.types.common import Node, PageInfo
from meterbill.graphql.types.money import (
    CustomerBalanceTransaction,
    CustomerBalanceTransactionConnection,
    CustomerBalanceTransactionEdge,
)
from meterbill.services import balances, prices
from meterbill.services.pages import cursor_of

if TYPE_CHECKING:
    from meterbill.graphql.types.credits import CreditGrantConnection


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@strawberry.type
class Meter(Node):
    id: strawberry.ID
    display_name: str
    event_name: str = strawberry.field(
        description="Unique per account among meters (active or not)."
    )
    aggregation: AggregationFormula
    customer_mapping_type: CustomerMappingType
    customer_payload_key: str = strawberry.field(
        description='Payload key holding the customer; default "customer_id".'
    )
    value_payload_key: str = strawberry.field(
        description='Payload key holding the numeric value; default "value". Ignored by COUNT.'
    )
    dimension_keys: list[str] = strawberry.field(
        description="Payload keys recorded as dimensions for filtering and grouping."
    )
    status: MeterStatus
    created_at: datetime
    deactivated_at: datetime | None

    @classmethod
    def of(cls, r: m.Meter) -> Meter:
        return cls(
            id=strawberry.ID(r.id),
            display_name=r.display_name,
            event_name=r.event_name,
            aggregation=AggregationFormula(r.aggregation),
            customer_mapping_type=CustomerMappingType(r.customer_mapping_type),
            customer_payload_key=r.customer_payload_key,
            value_payload_key=r.value_payload_key,
            dimension_keys=list(r.dimension_keys),
            status=MeterStatus(r.status),
            created_at=r.created_at,
            deactivated_at=r.deactivated_at,
        )


@strawberry.type
class MeterEdge:
    node: Meter
    cursor: str


@strawberry.type
class MeterConnection:
    edges: list[MeterEdge]
    page_info: PageInfo


@strawberry.type
class Product(Node):
    id: strawberry.ID
    name: str
    description: str | None
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, r: m.Product) -> Product:
        return cls(
            id=strawberry.ID(r.id),
            name=r.name,
            description=r.description,
            active=r.active,
            created_at=r.created_at,
        )


@strawberry.type
class PriceTier:
    up_to: BigInt | None = strawberry.field(
        description="Inclusive upper bound in units; null on the last tier (infinity)."
    )
    unit_amount_decimal: Decimal | None
    flat_amount_decimal: Decimal | None


@strawberry.type
class TransformQuantity:
    divide_by: int
    round: RoundingDirection


@strawberry.type
class Recurring:
    interval: RecurringInterval
    interval_count: int
    usage_type: UsageType
    meter_id: strawberry.Private[str | None]

    @strawberry.field
    async def meter(self, info: Info) -> Meter | None:
        if self.meter_id is None:
            return None
        row = await loaders.by_id(info.context, m.Meter).load(self.meter_id)
        return Meter.of(row) if row else None


def _whole(d: Decimal | None) -> int | None:
    return int(d) if d is not None and d == d.to_integral_value() else None


@strawberry.type
class Price(Node):
    id: strawberry.ID
    product_id: strawberry.Private[str]
    currency: str
    nickname: str | None
    active: bool
    billing_scheme: BillingScheme
    unit_amount_decimal: Decimal | None
    tiers_mode: TiersMode | None
    transform_quantity: TransformQuantity | None
    recurring: Recurring
    created_at: datetime

    @strawberry.field(
        description="Minor units; null when the price is tiered or not a whole number of "
        "minor units."
    )
    def unit_amount(self) -> BigInt | None:
        return _whole(self.unit_amount_decimal)  # type: ignore[return-value]

    @strawberry.field
    async def product(self, info: Info) -> Product:
        return Product.of(await loaders.by_id(info.context, m.Product).load(self.product_id))

    @strawberry.field
    async def tiers(self, info: Info) -> list[PriceTier] | None:
        if self.billing_scheme != BillingScheme.TIERED:
            return None
        rows = await tiers_loader(info).load(str(self.id))
        return [
            PriceTier(
                up_to=t.up_to,
                unit_amount_decimal=_dec(t.unit_amount_decimal),
                flat_amount_decimal=_dec(t.flat_amount_decimal),
            )
            for t in sorted(rows, key=lambda t: t.position)
        ]

    @classmethod
    def of(cls, r: m.Price) -> Price:
        transform = None
        if r.transform_divide_by:
            transform = TransformQuantity(
                divide_by=r.transform_divide_by, round=RoundingDirection(r.transform_round)
            )
        return cls(
            id=strawberry.ID(r.id),
            product_id=r.product_id,  # type: ignore[attr-defined]
            currency=r.currency,
            nickname=r.nickname,
            active=r.active,
            billing_scheme=BillingScheme(r.billing_scheme),
            unit_amount_decimal=_dec(r.unit_amount_decimal),
            tiers_mode=TiersMode(r.tiers_mode) if r.tiers_mode else None,
            transform_quantity=transform,
            recurring=Recurring(
                interval=RecurringInterval(r.interval),
                interval_count=r.interval_count,
                usage_type=UsageType(r.usage_type),
                meter_id=r.meter_id,
            ),  # type: ignore[attr-defined]
            created_at=r.created_at,
        )


def tiers_loader(info: Info):  # type: ignore[no-untyped-def]
    account_id = info.context.account_id

    async def fetch(ids: list[str]) -> list[m.PriceTier]:
        return await prices.tiers_of(account_id, ids)

    return loaders.many_by(info.context, "price_tiers", fetch, lambda t: t.price_id)


@strawberry.type
class TestClock(Node):
    id: strawberry.ID
    name: str | None
    frozen_time: datetime
    status: TestClockStatus
    created_at: datetime

    @classmethod
    def of(cls, r: m.TestClock) -> TestClock:
        return cls(
            id=strawberry.ID(r.id),
            name=r.name,
            frozen_time=r.frozen_time,
            status=TestClockStatus(r.status),
            created_at=r.created_at,
        )


@strawberry.type
class Customer(Node):
    id: strawberry.ID
    name: str | None
    email: str | None
    description: str | None
    external_id: str | None = strawberry.field(
        description="The caller's own key for this customer; unique per account."
    )
    default_payment_method: str | None = strawberry.field(
        description="Default payment method, e.g. pm_card_visa; null when none is on file."
    )
    stripe_customer_id: str | None = strawberry.field(
        description="The customer's id at Stripe (cus_...); null when none is set."
    )
    stripe_payment_method_id: str | None = strawberry.field(
        description="The Stripe PaymentMethod (pm_...) that MB_PAYMENT_PROVIDER=stripe "
        "charges; null when none is set."
    )
    test_clock_id: strawberry.Private[str | None]
    created_at: datetime
    balance: BigInt = strawberry.field(
        description="Stripe's customer balance, minor units of balanceCurrency: negative is "
        "credit the customer holds (taken by the next invoices), positive is debt the next "
        "invoice adds."
    )
    balance_currency: str | None = strawberry.field(
        description="Null until the first balance transaction."
    )

    @strawberry.field
    async def test_clock(self, info: Info) -> TestClock | None:
        if self.test_clock_id is None:
            return None
        row = await loaders.by_id(info.context, m.TestClock).load(self.test_clock_id)
        return TestClock.of(row) if row else None

    @strawberry.field(description="Newest first.")
    async def balance_transactions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> CustomerBalanceTransactionConnection:
        page = await query(
            balances.list_transactions(
                info.context.account_id, str(self.id), 20 if first is None else first, after
            )
        )
        return CustomerBalanceTransactionConnection(
            edges=[
                CustomerBalanceTransactionEdge(
                    node=CustomerBalanceTransaction.of(r), cursor=cursor_of(r)
                )
                for r in page.items
            ],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field(description="Newest first.")
    async def credit_grants(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Annotated[CreditGrantConnection, strawberry.lazy("meterbill.graphql.types.credits")]:
        from meterbill.graphql.types import credits

        return await credits.customer_credit_grants(info, str(self.id), first, after)

    @strawberry.field(
        description="Sum of availableAmount over grants in effect now (customer's clock), not "
        "expired or voided."
    )
    async def credit_balance(self, info: Info, currency: str) -> BigInt:
        from meterbill.graphql.types import credits

        return await credits.customer_credit_balance(info, str(self.id), currency)

    @classmethod
    def of(cls, r: m.Customer) -> Customer:
        return cls(
            id=strawberry.ID(r.id),
            name=r.name,
            email=r.email,
            description=r.description,
            external_id=r.external_id,
            default_payment_method=r.default_payment_method,
            stripe_customer_id=r.stripe_customer_id,
            stripe_payment_method_id=r.stripe_payment_method_id,
            test_clock_id=r.test_clock_id,  # type: ignore[attr-defined]
            created_at=r.created_at,
            balance=BigInt(r.balance),
            balance_currency=r.balance_currency,
        )


@strawberry.type
class CustomerEdge:
    node: Customer
    cursor: str


@strawberry.type
class CustomerConnection:
    edges: list[CustomerEdge]
    page_info: PageInfo


@strawberry.type
class ProductEdge:
    node: Product
    cursor: str


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    page_info: PageInfo


@strawberry.type
class PriceEdge:
    node: Price
    cursor: str


@strawberry.type
class PriceConnection:
    edges: list[PriceEdge]
    page_info: PageInfo


@strawberry.type
class ApiKey(Node):
    id: strawberry.ID
    name: str
    scopes: list[ApiKeyScope]
    prefix: str = strawberry.field(description="First characters of the secret, for recognition.")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, r: m.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(r.id),
            name=r.name,
            scopes=[ApiKeyScope(s) for s in r.scopes.split()],
            prefix=r.prefix,
            created_at=r.created_at,
            revoked_at=r.revoked_at,
        )


# ------------------------------------------------------------------ payloads


@strawberry.type
class MeterPayload:
    meter: Meter | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProductPayload:
    product: Product | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PricePayload:
    price: Price | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CustomerPayload:
    customer: Customer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateApiKeyPayload:
    api_key: ApiKey | None = None
    secret: str | None = strawberry.field(
        default=None, description="Shown once; only a hash is stored."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ApiKeyPayload:
    api_key: ApiKey | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
