"""All models live in one Tortoise app, "models"; each domain keeps its own module."""

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
from meterbill.db.models.ops import WorkerHeartbeat

__all__ = [
    "WorkerHeartbeat",
    "Account",
    "ApiKey",
    "Customer",
    "Meter",
    "Price",
    "PriceTier",
    "Product",
    "TestClock",
]
