"""Subscription, SubscriptionItem, Invoice and InvoiceLine types; relations go through
request-scoped dataloaders, so a page of N subscriptions costs a fixed number of queries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from meterbill.billing.credits import Application, applications_from_text
from meterbill.billing.invoice import LineDraft
from meterbill.db import models as m
from meterbill.graphql import loaders
from meterbill.graphql.context import Info
from meterbill.graphql.enums import (
    BillingMode,
    BillingReason,
    CollectionMethod,
    InvoiceLineType,
    InvoiceStatus,
    SubscriptionStatus,
)
from meterbill.graphql.errors import UserError
from meterbill.graphql.scalars import BigInt
from meterbill.graphql.types.catalog import Customer, Price, TestClock
from meterbill.graphql.types.common import Node, PageInfo
from meterbill.graphql.types.credits import CreditApplication, invoice_credit_applications
from meterbill.services import invoices, subscriptions
from meterbill.services.subscriptions import Preview


def _items_loader(info: Info):  # type: ignore[no-untyped-def]
    account_id = info.context.account_id

    async def fetch(ids: list[str]) -> list[m.SubscriptionItem]:
        items = await subscriptions.items_of(account_id, ids)
        # Their prices, products and meters came joined in: later loads cost nothing.
        for item in items:
            price = item.price
            loaders.by_id(info.context, m.Price).prime(price.id, price)
            loaders.by_id(info.context, m.Product).prime(price.product_id, price.product)
            if price.meter_id is not None:
                loaders.by_id(info.context, m.Meter).prime(price.meter_id, price.meter)
        return items

    return loaders.many_by(info.context, "subscription_items", fetch, lambda r: r.subscription_id)


def _lines_loader(info: Info):  # type: ignore[no-untyped-def]
    account_id = info.context.account_id

    async def fetch(ids: list[str]) -> list[m.InvoiceLine]:
        return await invoices.lines_of(account_id, ids)

    return loaders.many_by(info.context, "invoice_lines", fetch, lambda r: r.invoice_id)


async def _price(info: Info, price_id: str | None) -> Price | None:
    if price_id is None:
        return None
    row = await loaders.by_id(info.context, m.Price).load(price_id)
    return Price.of(row) if row else None


async def _customer(info: Info, customer_id: str) -> Customer:
    return Customer.of(await loaders.by_id(info.context, m.Customer).load(customer_id))


@strawberry.type
class SubscriptionItem:
    id: strawberry.ID
    price_id: strawberry.Private[str]
    quantity: int = strawberry.field(description="Seats for LICENSED prices; always 1 for METERED.")

    @strawberry.field
    async def price(self, info: Info) -> Price:
        found = await _price(info, self.price_id)
        assert found is not None
        return found

    @classmethod
    def of(cls, r: m.SubscriptionItem) -> SubscriptionItem:
        return cls(id=strawberry.ID(r.id), price_id=r.price_id, quantity=r.quantity)


@strawberry.type
class Subscription(Node):
    id: strawberry.ID
    customer_id: strawberry.Private[str]
    latest_invoice_id: strawberry.Private[str | None]
    status: SubscriptionStatus
    billing_mode: BillingMode
    collection_method: CollectionMethod
    days_until_due: int | None
    currency: str
    billing_cycle_anchor: datetime
    start_date: datetime
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    canceled_at: datetime | None
    created_at: datetime

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await _customer(info, self.customer_id)

    @strawberry.field
    async def items(self, info: Info) -> list[SubscriptionItem]:
        return [SubscriptionItem.of(r) for r in await _items_loader(info).load(str(self.id))]

    @strawberry.field
    async def latest_invoice(self, info: Info) -> Invoice | None:
        if self.latest_invoice_id is None:
            return None
        row = await loaders.by_id(info.context, m.Invoice).load(self.latest_invoice_id)
        return Invoice.of(row) if row else None

    @strawberry.field
    async def test_clock(self, info: Info) -> TestClock | None:
        customer = await loaders.by_id(info.context, m.Customer).load(self.customer_id)
        if customer is None or customer.test_clock_id is None:
            return None
        row = await loaders.by_id(info.context, m.TestClock).load(customer.test_clock_id)
        return TestClock.of(row) if row else None

    @classmethod
    def of(cls, r: m.Subscription) -> Subscription:
        return cls(
            id=strawberry.ID(r.id),
            customer_id=r.customer_id,
            latest_invoice_id=r.latest_invoice_id,
            status=SubscriptionStatus(r.status),
            billing_mode=BillingMode(r.billing_mode),
            collection_method=CollectionMethod(r.collection_method),
            days_until_due=r.days_until_due,
            currency=r.currency,
            billing_cycle_anchor=r.billing_cycle_anchor,
            start_date=r.start_date,
            current_period_start=r.current_period_start,
            current_period_end=r.current_period_end,
            cancel_at_period_end=r.cancel_at_period_end,
            canceled_at=r.canceled_at,
            created_at=r.created_at,
        )


@strawberry.type
class InvoiceLine:
    id: strawberry.ID | None = strawberry.field(description="Null on a preview.")
    type: InvoiceLineType
    description: str
    price_id: strawberry.Private[str | None]
    tier: int | None = strawberry.field(
        description="For a tiered price: the 1-based tier this line prices; null otherwise."
    )
    quantity: Decimal
    unit_amount_decimal: Decimal | None
    amount: BigInt = strawberry.field(
        description="Minor units, rounded half-up (ROUND_HALF_UP) from the exact amount of "
        "this line."
    )
    period_start: datetime
    period_end: datetime

    @strawberry.field
    async def price(self, info: Info) -> Price | None:
        return await _price(info, self.price_id)

    @classmethod
    def of(cls, r: m.InvoiceLine) -> InvoiceLine:
        return cls(
            id=strawberry.ID(r.id),
            type=InvoiceLineType(r.type),
            description=r.description,
            price_id=r.price_id,
            tier=r.tier,
            quantity=Decimal(r.quantity),
            unit_amount_decimal=None
            if r.unit_amount_decimal is None
            else Decimal(r.unit_amount_decimal),
            amount=BigInt(r.amount),
            period_start=r.period_start,
            period_end=r.period_end,
        )

    @classmethod
    def draft(cls, d: LineDraft) -> InvoiceLine:
        return cls(
            id=None,
            type=InvoiceLineType(d.type),
            description=d.description,
            price_id=d.price_id,
            tier=d.tier,
            quantity=d.quantity,
            unit_amount_decimal=d.unit_amount,
            amount=BigInt(d.amount),
            period_start=d.period_start,
            period_end=d.period_end,
        )


@strawberry.type
class Invoice:
    id: strawberry.ID | None = strawberry.field(description="Null on a preview (upcomingInvoice).")
    number: str | None = strawberry.field(
        description="Per-account sequence like ALPACA-0001; null until finalized."
    )
    customer_id: strawberry.Private[str]
    subscription_id: strawberry.Private[str | None]
    preview_lines: strawberry.Private[list[LineDraft] | None]
    # What paid it (a preview: what would pay now).
    credits: strawberry.Private[list[Application]]
    status: InvoiceStatus
    billing_reason: BillingReason
    currency: str
    period_start: datetime
    period_end: datetime
    subtotal: BigInt = strawberry.field(description="Sum of line amounts.")
    total: BigInt
    amount_due: BigInt
    amount_paid: BigInt
    amount_remaining: BigInt
    total_credits_applied: BigInt = strawberry.field(
        description="Credits applied at finalization; 0 before."
    )
    created_at: datetime
    automatically_finalizes_at: datetime | None = strawberry.field(
        description="When a DRAFT will be finalized by the worker (end of the grace period)."
    )
    finalized_at: datetime | None
    paid_at: datetime | None
    due_date: datetime | None
    starting_balance: BigInt = strawberry.field(
        description="The customer's balance when this invoice was finalized (0 before)."
    )
    ending_balance: BigInt | None = strawberry.field(
        description="The customer's balance after this invoice took from it; null until finalized."
    )
    attempt_count: int = strawberry.field(description="Automatic payment attempts made so far.")
    next_payment_attempt: datetime | None = strawberry.field(
        description="When the next automatic attempt is scheduled; null when none is."
    )

    @strawberry.field
    async def customer(self, info: Info) -> Customer:
        return await _customer(info, self.customer_id)

    @strawberry.field
    async def subscription(self, info: Info) -> Subscription | None:
        if self.subscription_id is None:
            return None
        row = await loaders.by_id(info.context, m.Subscription).load(self.subscription_id)
        return Subscription.of(row) if row else None

    @strawberry.field
    async def lines(self, info: Info) -> list[InvoiceLine]:
        if self.preview_lines is not None:
            return [InvoiceLine.draft(d) for d in self.preview_lines]
        return [InvoiceLine.of(r) for r in await _lines_loader(info).load(str(self.id))]

    @strawberry.field(
        description="The credit grants that paid for it at finalization (on an upcoming "
        "invoice: those that would apply now)."
    )
    def credit_applications(self) -> list[CreditApplication]:
        return invoice_credit_applications(self.credits)

    @classmethod
    def of(cls, r: m.Invoice) -> Invoice:
        remaining = 0 if r.status in ("VOID", "PAID") else r.amount_due - r.amount_paid
        return cls(
            id=strawberry.ID(r.id),
            number=r.number,
            customer_id=r.customer_id,
            subscription_id=r.subscription_id,
            preview_lines=None,
            credits=applications_from_text(r.id, r.credit_applications),
            status=InvoiceStatus(r.status),
            billing_reason=BillingReason(r.billing_reason),
            currency=r.currency,
            period_start=r.period_start,
            period_end=r.period_end,
            subtotal=BigInt(r.subtotal),
            total=BigInt(r.total),
            amount_due=BigInt(r.amount_due),
            amount_paid=BigInt(r.amount_paid),
            amount_remaining=BigInt(remaining),
            total_credits_applied=BigInt(r.total_credits_applied),
            created_at=r.created_at,
            automatically_finalizes_at=r.automatically_finalizes_at,
            finalized_at=r.finalized_at,
            paid_at=r.paid_at,
            due_date=r.due_date,
            starting_balance=BigInt(r.starting_balance),
            ending_balance=None if r.ending_balance is None else BigInt(r.ending_balance),
            attempt_count=r.attempt_count,
            next_payment_attempt=r.next_payment_attempt,
        )

    @classmethod
    def preview(cls, p: Preview) -> Invoice:
        sub: Any = p.subscription
        return cls(
            id=None,
            number=None,
            customer_id=sub.customer_id,
            subscription_id=sub.id,
            preview_lines=p.lines,
            credits=p.credits,
            status=InvoiceStatus.DRAFT,
            billing_reason=BillingReason.UPCOMING,
            currency=sub.currency,
            period_start=p.period_start,
            period_end=p.period_end,
            subtotal=BigInt(p.totals.subtotal),
            total=BigInt(p.totals.total),
            amount_due=BigInt(p.totals.amount_due),
            amount_paid=BigInt(0),
            amount_remaining=BigInt(p.totals.amount_due),
            total_credits_applied=BigInt(sum(a.amount for a in p.credits)),
            created_at=p.created_at,
            automatically_finalizes_at=None,
            finalized_at=None,
            paid_at=None,
            due_date=None,
            starting_balance=BigInt(p.starting_balance),
            ending_balance=None,
            attempt_count=0,
            next_payment_attempt=None,
        )


@strawberry.type
class SubscriptionEdge:
    node: Subscription
    cursor: str


@strawberry.type
class SubscriptionConnection:
    edges: list[SubscriptionEdge]
    page_info: PageInfo


@strawberry.type
class InvoiceEdge:
    node: Invoice
    cursor: str


@strawberry.type
class InvoiceConnection:
    edges: list[InvoiceEdge]
    page_info: PageInfo


@strawberry.type
class TestClockPayload:
    test_clock: TestClock | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SubscriptionPayload:
    subscription: Subscription | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SubscriptionItemPayload:
    subscription_item: SubscriptionItem | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class InvoicePayload:
    invoice: Invoice | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
