"""The schema: each domain contributes a Query and a Mutation part."""

from __future__ import annotations

from functools import lru_cache

import strawberry
from strawberry.extensions import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from meterbill.graphql.alerts import AlertsMutation, AlertsQuery
from meterbill.graphql.auth import ScopeCheck
from meterbill.graphql.billing import BillingMutation, BillingQuery
from meterbill.graphql.catalog import CatalogMutation, CatalogQuery
from meterbill.graphql.credits import CreditsMutation, CreditsQuery
from meterbill.graphql.idempotency import Idempotency
from meterbill.graphql.limits import extensions
from meterbill.graphql.live import LiveSubscription
from meterbill.graphql.money import MoneyMutation, MoneyQuery
from meterbill.graphql.observability import OperationInfo
from meterbill.graphql.scalars import scalar_map
from meterbill.graphql.types import catalog as catalog_types
from meterbill.graphql.usage import UsageMutation, UsageQuery
from meterbill.graphql.webhooks import WebhooksMutation, WebhooksQuery

QUERY_PARTS: tuple[type, ...] = (
    CatalogQuery,
    UsageQuery,
    BillingQuery,
    MoneyQuery,
    WebhooksQuery,
    CreditsQuery,
    AlertsQuery,
)
MUTATION_PARTS: tuple[type, ...] = (
    CatalogMutation,
    UsageMutation,
    BillingMutation,
    MoneyMutation,
    WebhooksMutation,
    CreditsMutation,
    AlertsMutation,
)
# Types reachable only through interfaces must be listed for the SDL.
EXTRA_TYPES: list[type] = [catalog_types.Product]


@lru_cache
def build_schema(introspection: bool = True) -> strawberry.Schema:
    # Idempotency after ScopeCheck: a refused request must not take a key.
    exts: list = [*extensions(), OperationInfo, ScopeCheck, Idempotency]
    if not introspection:
        exts.append(DisableIntrospection)
    return strawberry.Schema(
        query=merge_types("Query", QUERY_PARTS),
        mutation=merge_types("Mutation", MUTATION_PARTS),
        subscription=LiveSubscription,
        types=EXTRA_TYPES,
        extensions=exts,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=scalar_map),
    )


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
