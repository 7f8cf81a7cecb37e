"""Credit grant creation and voiding; creation records credit_grant.created in the same
transaction. What finalization takes from a grant, and what voiding an invoice gives back,
is written by services/credits/apply.py inside the invoice's own transition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from meterbill.billing.errors import conflict
from meterbill.db.models import CreditGrant
from meterbill.services.lifecycle import outbox

_FIELDS = (
    "id",
    "customer_id",
    "name",
    "category",
    "currency",
    "amount",
    "available_amount",
    "priority",
    "effective_at",
    "expires_at",
    "voided_at",
    "created_at",
)


def snapshot(grant: CreditGrant) -> dict[str, Any]:
    data = outbox.snapshot("credit_grant", grant, _FIELDS)
    data["priceIds"] = price_ids(grant)
    return data


def price_ids(grant: CreditGrant) -> list[str]:
    return grant.price_ids.split() if grant.price_ids else []


async def create(**fields: Any) -> CreditGrant:
    """A grant and its credit_grant.created event (in the caller's transaction)."""
    grant = await CreditGrant.create(**fields)
    event = outbox.event(grant.account_id, "credit_grant.created", grant.id, snapshot(grant))
    await outbox.write([event])
    return grant


async def void(grant: CreditGrant, at: datetime) -> None:
    """Voided at `at` (the customer's clock); locked by the caller. Its unapplied credit is
    never applied; what it already paid stays paid."""
    if grant.voided_at is not None:
        raise conflict("the credit grant is already voided", "input", "id")
    grant.voided_at = at
    await grant.save(update_fields=["voided_at"])
