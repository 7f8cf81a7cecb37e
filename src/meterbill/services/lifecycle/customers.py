"""Customer creation and its customer.created event, in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from meterbill.db.models import Customer
from meterbill.services.lifecycle import outbox

_FIELDS = (
    "id",
    "name",
    "email",
    "description",
    "external_id",
    "default_payment_method",
    "test_clock_id",
    "created_at",
)


def snapshot(customer: Customer) -> dict[str, Any]:
    return outbox.snapshot("customer", customer, _FIELDS)


async def create(created_at: datetime | None, **fields: Any) -> Customer:
    """A customer; `created_at` when it is not now (a customer on a test clock was created
    at the clock's time, as in Stripe). Raises IntegrityError on a duplicate externalId."""
    async with in_transaction():
        customer = await Customer.create(**fields)
        if created_at is not None:
            customer.created_at = created_at
            await customer.save(update_fields=["created_at"])
        data = snapshot(customer)
        await outbox.write(
            [outbox.event(fields["account_id"], "customer.created", customer.id, data)]
        )
    return customer
