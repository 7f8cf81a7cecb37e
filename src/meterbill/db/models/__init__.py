"""All models live in one Tortoise app, "models"; each domain keeps its own module."""

from meterbill.db.models.alerts import AlertCheckDue, BillingAlert, BillingAlertTrigger
from meterbill.db.models.billing import (
    BillingSettings,
    CustomerBalanceTransaction,
    Invoice,
    InvoiceLine,
    PaymentAttempt,
    PendingItem,
    Subscription,
    SubscriptionItem,
)
from meterbill.db.models.catalog import (
    Account,
    ApiKey,
    Customer,
    Meter,
    Price,
    PriceTier,
    Product,
    TestClock,
)
from meterbill.db.models.credits import CreditGrant
from meterbill.db.models.events import DomainEvent
from meterbill.db.models.idempotency import IdempotencyKey
from meterbill.db.models.ops import WorkerHeartbeat
from meterbill.db.models.usage import (
    MeterEvent,
    MeterEventPending,
    UsageRollup,
    UsageRollupHourly,
    UsageUniqueCount,
    UsageUniqueValue,
)
from meterbill.db.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookPending

__all__ = [
    "AlertCheckDue",
    "BillingSettings",
    "CustomerBalanceTransaction",
    "CreditGrant",
    "BillingAlert",
    "BillingAlertTrigger",
    "DomainEvent",
    "IdempotencyKey",
    "Invoice",
    "InvoiceLine",
    "PaymentAttempt",
    "PendingItem",
    "Subscription",
    "SubscriptionItem",
    "MeterEvent",
    "MeterEventPending",
    "UsageRollup",
    "UsageRollupHourly",
    "UsageUniqueCount",
    "UsageUniqueValue",
    "WorkerHeartbeat",
    "Account",
    "ApiKey",
    "Customer",
    "Meter",
    "Price",
    "PriceTier",
    "Product",
    "TestClock",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookPending",
]
