"""Billing queries and mutations: test clocks, subscriptions, invoices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry

from meterbill.graphql import inputs as i
from meterbill.graphql.context import Info
from meterbill.graphql.enums import InvoiceStatus, SubscriptionStatus
from meterbill.graphql.errors import mutate, query
from meterbill.graphql.types import billing as t
from meterbill.graphql.types.catalog import TestClock
from meterbill.graphql.types.common import PageInfo
from meterbill.services import invoices, subscription_changes, subscriptions, test_clocks
from meterbill.services.pages import cursor_of


@strawberry.type
class BillingQuery:
    @strawberry.field
    async def subscription(self, info: Info, id: strawberry.ID) -> t.Subscription | None:
        row = await subscriptions.get_subscription(info.context.account_id, id)
        return t.Subscription.of(row) if row else None

    @strawberry.field
    async def subscriptions(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        customer_id: strawberry.ID | None = None,
        status: SubscriptionStatus | None = None,
    ) -> t.SubscriptionConnection:
        page = await query(
            subscriptions.list_subscriptions(
                info.context.account_id,
                20 if first is None else first,
                after,
                customer_id,
                status.value if status else None,
            )
        )
        return t.SubscriptionConnection(
            edges=[
                t.SubscriptionEdge(node=t.Subscription.of(r), cursor=cursor_of(r))
                for r in page.items
            ],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field(
        description="The invoice the subscription would produce at the end of its current "
        "period, with usage recorded (and aggregated) so far: metered usage in arrears for the "
        "current period plus licensed fees in advance for the next one. Not stored; id is null."
    )
    async def upcoming_invoice(
        self, info: Info, subscription_id: strawberry.ID
    ) -> t.Invoice | None:
        preview = await query(
            subscriptions.upcoming_invoice(info.context.account_id, subscription_id)
        )
        return t.Invoice.preview(preview) if preview else None

    @strawberry.field
    async def invoice(self, info: Info, id: strawberry.ID) -> t.Invoice | None:
        row = await invoices.get_invoice(info.context.account_id, id)
        return t.Invoice.of(row) if row else None

    @strawberry.field
    async def invoices(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        customer_id: strawberry.ID | None = None,
        subscription_id: strawberry.ID | None = None,
        status: InvoiceStatus | None = None,
    ) -> t.InvoiceConnection:
        page = await query(
            invoices.list_invoices(
                info.context.account_id,
                20 if first is None else first,
                after,
                customer_id,
                subscription_id,
                status.value if status else None,
            )
        )
        return t.InvoiceConnection(
            edges=[t.InvoiceEdge(node=t.Invoice.of(r), cursor=cursor_of(r)) for r in page.items],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )


def _sub_payload() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    return (
        lambda r: t.SubscriptionPayload(subscription=t.Subscription.of(r)),
        lambda e: t.SubscriptionPayload(user_errors=e),
    )


def _invoice_payload() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    return (
        lambda r: t.InvoicePayload(invoice=t.Invoice.of(r)),
        lambda e: t.InvoicePayload(user_errors=e),
    )


def _clock_payload() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    return (
        lambda r: t.TestClockPayload(test_clock=TestClock.of(r)),
        lambda e: t.TestClockPayload(user_errors=e),
    )


@strawberry.type
class BillingMutation:
    @strawberry.mutation
    async def create_test_clock(
        self, info: Info, input: i.CreateTestClockInput
    ) -> t.TestClockPayload:
        call = test_clocks.create_test_clock(info.context.account_id, input.frozen_time, input.name)
        return await mutate(call, *_clock_payload())

    @strawberry.mutation(
        description="Returns at once with status ADVANCING; the worker bills everything due "
        "up to frozenTime, then READY."
    )
    async def advance_test_clock(
        self, info: Info, input: i.AdvanceTestClockInput
    ) -> t.TestClockPayload:
        call = test_clocks.advance_test_clock(
            info.context.account_id, input.test_clock_id, input.frozen_time
        )
        return await mutate(call, *_clock_payload())

    @strawberry.mutation
    async def create_subscription(
        self, info: Info, input: i.CreateSubscriptionInput
    ) -> t.SubscriptionPayload:
        req = subscriptions.SubscriptionRequest(
            customer_id=input.customer_id,
            items=[subscriptions.ItemRequest(it.price_id, it.quantity) for it in input.items],
            billing_mode=(input.billing_mode or i.BillingMode.FLEXIBLE).value,
            collection_method=(
                input.collection_method or i.CollectionMethod.CHARGE_AUTOMATICALLY
            ).value,
            days_until_due=input.days_until_due,
            billing_cycle_anchor=input.billing_cycle_anchor,
            backdate_start_date=input.backdate_start_date,
        )
        call = subscriptions.create_subscription(info.context.account_id, req)
        return await mutate(call, *_sub_payload())

    @strawberry.mutation
    async def update_subscription_item(
        self, info: Info, input: i.UpdateSubscriptionItemInput
    ) -> t.SubscriptionItemPayload:
        behavior = (input.proration_behavior or i.ProrationBehavior.CREATE_PRORATIONS).value
        call = subscriptions.update_item(
            info.context.account_id, input.item_id, input.quantity, behavior
        )
        return await mutate(
            call,
            lambda r: t.SubscriptionItemPayload(subscription_item=t.SubscriptionItem.of(r)),
            lambda e: t.SubscriptionItemPayload(user_errors=e),
        )

    @strawberry.mutation
    async def cancel_subscription(
        self, info: Info, input: i.CancelSubscriptionInput
    ) -> t.SubscriptionPayload:
        call = subscriptions.cancel(
            info.context.account_id,
            input.subscription_id,
            bool(input.at_period_end),
            bool(input.invoice_now),
            bool(input.prorate),
        )
        return await mutate(call, *_sub_payload())

    @strawberry.mutation
    async def update_subscription(
        self, info: Info, input: i.UpdateSubscriptionInput
    ) -> t.SubscriptionPayload:
        req = subscription_changes.UpdateRequest(
            subscription_id=input.subscription_id,
            cancel_at_period_end=input.cancel_at_period_end,
            items=None
            if input.items is None
            else [
                subscription_changes.ItemChange(it.id, it.price_id, it.quantity, bool(it.deleted))
                for it in input.items
            ],
            proration_behavior=(
                input.proration_behavior or i.ProrationBehavior.CREATE_PRORATIONS
            ).value,
        )
        call = subscription_changes.update_subscription(info.context.account_id, req)
        return await mutate(call, *_sub_payload())

    @strawberry.mutation
    async def finalize_invoice(self, info: Info, input: i.InvoiceIdInput) -> t.InvoicePayload:
        call = invoices.finalize_invoice(info.context.account_id, input.id)
        return await mutate(call, *_invoice_payload())

    @strawberry.mutation
    async def pay_invoice(self, info: Info, input: i.PayInvoiceInput) -> t.InvoicePayload:
        call = invoices.pay_invoice(info.context.account_id, input.id, bool(input.paid_out_of_band))
        return await mutate(call, *_invoice_payload())

    @strawberry.mutation
    async def void_invoice(self, info: Info, input: i.InvoiceIdInput) -> t.InvoicePayload:
        call = invoices.void_invoice(info.context.account_id, input.id)
        return await mutate(call, *_invoice_payload())

    @strawberry.mutation
    async def mark_invoice_uncollectible(
        self, info: Info, input: i.InvoiceIdInput
    ) -> t.InvoicePayload:
        call = invoices.mark_uncollectible(info.context.account_id, input.id)
        return await mutate(call, *_invoice_payload())
