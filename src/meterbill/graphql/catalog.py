"""Catalog queries and mutations: meters, products, prices, customers, API keys."""

from __future__ import annotations

from typing import Any

import strawberry

from meterbill.graphql import inputs as i
from meterbill.graphql.context import Info
from meterbill.graphql.enums import MeterStatus
from meterbill.graphql.errors import mutate, query
from meterbill.graphql.types import catalog as t
from meterbill.graphql.types.common import PageInfo
from meterbill.services import accounts, catalog, prices
from meterbill.services.pages import cursor_of


@strawberry.type
class CatalogQuery:
    @strawberry.field
    async def meter(self, info: Info, id: strawberry.ID) -> t.Meter | None:
        row = await catalog.get_meter(info.context.account_id, id)
        return t.Meter.of(row) if row else None

    @strawberry.field
    async def meters(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        status: MeterStatus | None = None,
    ) -> t.MeterConnection:
        page = await query(
            catalog.list_meters(
                info.context.account_id,
                20 if first is None else first,
                after,
                status.value if status else None,
            )
        )
        return t.MeterConnection(
            edges=[t.MeterEdge(node=t.Meter.of(r), cursor=cursor_of(r)) for r in page.items],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field
    async def customer(self, info: Info, id: strawberry.ID) -> t.Customer | None:
        row = await catalog.get_customer(info.context.account_id, id)
        return t.Customer.of(row) if row else None

    @strawberry.field
    async def customers(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        search: str | None = strawberry.UNSET,
    ) -> t.CustomerConnection:
        page = await query(
            catalog.list_customers(
                info.context.account_id, 20 if first is None else first, after, search or None
            )
        )
        return t.CustomerConnection(
            edges=[t.CustomerEdge(node=t.Customer.of(r), cursor=cursor_of(r)) for r in page.items],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field
    async def product(self, info: Info, id: strawberry.ID) -> t.Product | None:
        row = await catalog.get_product(info.context.account_id, id)
        return t.Product.of(row) if row else None

    @strawberry.field(description="Newest first.")
    async def products(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        active: bool | None = None,
    ) -> t.ProductConnection:
        page = await query(
            catalog.list_products(
                info.context.account_id, 20 if first is None else first, after, active
            )
        )
        return t.ProductConnection(
            edges=[t.ProductEdge(node=t.Product.of(r), cursor=cursor_of(r)) for r in page.items],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field(description="Newest first.")
    async def prices(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        product_id: strawberry.ID | None = None,
        active: bool | None = None,
    ) -> t.PriceConnection:
        page = await query(
            prices.list_prices(
                info.context.account_id,
                20 if first is None else first,
                after,
                str(product_id) if product_id else None,
                active,
            )
        )
        return t.PriceConnection(
            edges=[t.PriceEdge(node=t.Price.of(r), cursor=cursor_of(r)) for r in page.items],
            page_info=PageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor),
        )

    @strawberry.field
    async def price(self, info: Info, id: strawberry.ID) -> t.Price | None:
        row = await prices.get_price(info.context.account_id, id)
        return t.Price.of(row) if row else None

    @strawberry.field
    async def test_clock(self, info: Info, id: strawberry.ID) -> t.TestClock | None:
        row = await catalog.get_test_clock(info.context.account_id, id)
        return t.TestClock.of(row) if row else None

    @strawberry.field
    async def api_keys(self, info: Info) -> list[t.ApiKey]:
        return [t.ApiKey.of(k) for k in await accounts.list_api_keys(info.context.account_id)]


def _meter_ok(r):  # type: ignore[no-untyped-def]
    return t.MeterPayload(meter=t.Meter.of(r))


def _meter_fail(errors):  # type: ignore[no-untyped-def]
    return t.MeterPayload(user_errors=errors)


def _customer_ok(r):  # type: ignore[no-untyped-def]
    return t.CustomerPayload(customer=t.Customer.of(r))


def _customer_fail(errors):  # type: ignore[no-untyped-def]
    return t.CustomerPayload(user_errors=errors)


@strawberry.type
class CatalogMutation:
    @strawberry.mutation
    async def create_meter(self, info: Info, input: i.CreateMeterInput) -> t.MeterPayload:
        spec = catalog.MeterSpec(
            display_name=input.display_name,
            event_name=input.event_name,
            aggregation=input.aggregation.value,
            customer_mapping_type=str(
                (input.customer_mapping_type or i.CustomerMappingType.BY_ID).value
            ),
            customer_payload_key=input.customer_payload_key or "customer_id",
            value_payload_key=input.value_payload_key or "value",
            dimension_keys=list(input.dimension_keys or []),
        )
        return await mutate(
            catalog.create_meter(info.context.account_id, spec), _meter_ok, _meter_fail
        )

    @strawberry.mutation
    async def update_meter(self, info: Info, input: i.UpdateMeterInput) -> t.MeterPayload:
        call = catalog.update_meter(info.context.account_id, input.id, input.display_name)
        return await mutate(call, _meter_ok, _meter_fail)

    @strawberry.mutation(
        description="Events for an inactive meter are rejected with code "
        "INACTIVE; usage already recorded stays billable."
    )
    async def deactivate_meter(self, info: Info, input: i.MeterIdInput) -> t.MeterPayload:
        call = catalog.set_meter_active(info.context.account_id, input.id, False)
        return await mutate(call, _meter_ok, _meter_fail)

    @strawberry.mutation
    async def reactivate_meter(self, info: Info, input: i.MeterIdInput) -> t.MeterPayload:
        call = catalog.set_meter_active(info.context.account_id, input.id, True)
        return await mutate(call, _meter_ok, _meter_fail)

    @strawberry.mutation
    async def create_product(self, info: Info, input: i.CreateProductInput) -> t.ProductPayload:
        call = catalog.create_product(info.context.account_id, input.name, input.description)
        return await mutate(
            call,
            lambda r: t.ProductPayload(product=t.Product.of(r)),
            lambda e: t.ProductPayload(user_errors=e),
        )

    @strawberry.mutation
    async def create_price(self, info: Info, input: i.CreatePriceInput) -> t.PricePayload:
        call = prices.create_price(info.context.account_id, prices.request_from(input))
        return await mutate(
            call,
            lambda r: t.PricePayload(price=t.Price.of(r)),
            lambda e: t.PricePayload(user_errors=e),
        )

    @strawberry.mutation
    async def create_customer(self, info: Info, input: i.CreateCustomerInput) -> t.CustomerPayload:
        spec = catalog.CustomerSpec(
            name=input.name,
            email=input.email,
            description=input.description,
            external_id=input.external_id,
            payment_method=input.payment_method,
            test_clock_id=input.test_clock_id,
            stripe_customer_id=input.stripe_customer_id,
            stripe_payment_method_id=input.stripe_payment_method_id,
        )
        return await mutate(
            catalog.create_customer(info.context.account_id, spec), _customer_ok, _customer_fail
        )

    @strawberry.mutation
    async def attach_payment_method(
        self, info: Info, input: i.AttachPaymentMethodInput
    ) -> t.CustomerPayload:
        spec = catalog.PaymentMethodSpec(
            input.payment_method, input.stripe_customer_id, input.stripe_payment_method_id
        )
        call = catalog.attach_payment_method(info.context.account_id, input.customer_id, spec)
        return await mutate(call, _customer_ok, _customer_fail)

    @strawberry.mutation
    async def create_api_key(self, info: Info, input: i.CreateApiKeyInput) -> t.CreateApiKeyPayload:
        call = accounts.create_api_key(
            info.context.account_id, input.name, [str(s.value) for s in input.scopes]
        )

        def ok(r: tuple[Any, str]) -> t.CreateApiKeyPayload:
            info.context.issued_secrets.append(r[1])
            return t.CreateApiKeyPayload(api_key=t.ApiKey.of(r[0]), secret=r[1])

        return await mutate(call, ok, lambda e: t.CreateApiKeyPayload(user_errors=e))

    @strawberry.mutation
    async def revoke_api_key(self, info: Info, input: i.RevokeApiKeyInput) -> t.ApiKeyPayload:
        call = accounts.revoke_api_key(info.context.account_id, input.id)
        return await mutate(
            call,
            lambda r: t.ApiKeyPayload(api_key=t.ApiKey.of(r)),
            lambda e: t.ApiKeyPayload(user_errors=e),
        )
