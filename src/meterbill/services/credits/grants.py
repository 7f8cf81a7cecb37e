"""Credit grants: creation (checked against the customer, its currency and the prices it
may pay for), voiding, reads, and the customer's credit balance on its own clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from meterbill.billing import credits
from meterbill.billing.errors import BadUserInput, DomainError, FieldError, not_found
from meterbill.billing.money import is_known_currency
from meterbill.db.models import CreditGrant, Customer, Price
from meterbill.db.stores.credits import grant_of_model
from meterbill.services.lifecycle import credit_grants as lifecycle_grants
from meterbill.services.now import clock_now, utcnow
from meterbill.services.pages import Page, paginate


@dataclass
class GrantRequest:
    customer_id: str
    amount: int
    currency: str
    category: str = "PAID"
    name: str | None = None
    price_ids: list[str] = field(default_factory=list)
    priority: int = credits.DEFAULT_PRIORITY
    effective_at: datetime | None = None
    expires_at: datetime | None = None


def _error(code: str, message: str, *path: str) -> FieldError:
    return FieldError(code, message, ("input", *path))


async def _price_errors(account_id: str, currency: str, price_ids: list[str]) -> list[FieldError]:
    if len(price_ids) > credits.MAX_PRICE_IDS:
        return [_error("INVALID", f"at most {credits.MAX_PRICE_IDS} prices", "priceIds")]
    found = {p.id: p for p in await Price.filter(account_id=account_id, id__in=price_ids)}
    errs = []
    for k, pid in enumerate(price_ids):
        p = found.get(pid)
        if p is None:
            errs.append(_error("NOT_FOUND", f"no price {pid}", "priceIds", str(k)))
        elif p.usage_type != "METERED":
            msg = f"price {pid} is LICENSED: credits pay for metered prices only"
            errs.append(_error("INVALID", msg, "priceIds", str(k)))
        elif currency and p.currency != currency:
            msg = f"price {pid} is in {p.currency}, the grant in {currency}"
            errs.append(_error("INVALID", msg, "priceIds", str(k)))
    return errs


async def create_credit_grant(account_id: str, req: GrantRequest) -> CreditGrant:
    customer = await Customer.get_or_none(id=req.customer_id, account_id=account_id)
    if customer is None:
        raise not_found(f"no customer {req.customer_id}", "input", "customerId")
    now = await clock_now(customer.test_clock_id)
    effective = req.effective_at or now
    errs = credits.check_grant(
        req.amount, req.priority, effective, req.expires_at, req.name, req.category
    )
    currency = req.currency if is_known_currency(req.currency) else ""
    if not currency:
        msg = f"{req.currency[:10]!r} is not a known ISO-4217 currency code in lower case"
        errs.append(_error("INVALID", msg, "currency"))
    price_ids = list(dict.fromkeys(req.price_ids))
    errs += await _price_errors(account_id, currency, price_ids)
    if errs:
        raise DomainError(errs)
    async with in_transaction():
        return await lifecycle_grants.create(
            account_id=account_id,
            customer_id=customer.id,
            name=req.name,
            category=req.category,
            currency=currency,
            amount=req.amount,
            available_amount=req.amount,
            price_ids=" ".join(price_ids),
            priority=req.priority,
            effective_at=effective,
            expires_at=req.expires_at,
            created_at=now,
            recorded_at=utcnow(),
        )


async def void_credit_grant(account_id: str, grant_id: str) -> CreditGrant:
    if await CreditGrant.get_or_none(id=grant_id, account_id=account_id) is None:
        raise not_found(f"no credit grant {grant_id}", "input", "id")
    async with in_transaction():
        grant = await CreditGrant.filter(id=grant_id).select_for_update().first()
        assert grant is not None
        customer = await Customer.get(id=grant.customer_id)
        await lifecycle_grants.void(grant, await clock_now(customer.test_clock_id))
    return grant


# ---------------------------------------------------------------- reads


async def get_credit_grant(account_id: str, grant_id: str) -> CreditGrant | None:
    return await CreditGrant.get_or_none(id=grant_id, account_id=account_id)


async def grants_by_id(account_id: str, ids: list[str]) -> list[CreditGrant]:
    return await CreditGrant.filter(id__in=ids, account_id=account_id)


async def list_credit_grants(
    account_id: str, customer_id: str, first: int, after: str | None
) -> Page[Any]:
    """Newest first."""
    qs = CreditGrant.filter(account_id=account_id, customer_id=customer_id)
    return await paginate(qs, first, after)


async def credit_balance(account_id: str, customer_id: str, currency: str) -> int:
    """Sum of availableAmount over the customer's grants in `currency` in effect now on its
    clock."""
    currency = currency.lower()
    if not is_known_currency(currency):
        raise BadUserInput(
            f"{currency[:10]!r} is not a known ISO-4217 currency code", ("currency",)
        )
    customer = await Customer.get_or_none(id=customer_id, account_id=account_id)
    if customer is None:
        return 0
    now = await clock_now(customer.test_clock_id)
    rows = await CreditGrant.filter(
        customer_id=customer_id, currency=currency, voided_at__isnull=True
    )
    return sum(r.available_amount for r in rows if credits.in_effect(grant_of_model(r), now))
