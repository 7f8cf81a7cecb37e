"""Customer balance use cases: an adjustment (createCustomerBalanceTransaction) and the
balance transactions of a customer, newest first."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from meterbill.billing.errors import DomainError, FieldError
from meterbill.billing.money import is_known_currency
from meterbill.db.models import Customer, CustomerBalanceTransaction
from meterbill.services.lifecycle import balances as lifecycle_balances
from meterbill.services.now import clock_now
from meterbill.services.pages import Page, paginate

# Stripe's bound on an amount (8 digits of major units and then some): far beyond any
# balance, far below what a BigInt column holds after many transactions.
MAX_AMOUNT = 10**12


async def create_transaction(
    account_id: str, customer_id: str, amount: int, currency: str, description: str | None
) -> CustomerBalanceTransaction:
    errors = []
    if amount == 0:
        errors.append(FieldError("INVALID", "amount must not be 0", ("input", "amount")))
    elif abs(amount) > MAX_AMOUNT:
        msg = f"amount must be between -{MAX_AMOUNT} and {MAX_AMOUNT}"
        errors.append(FieldError("OUT_OF_RANGE", msg, ("input", "amount")))
    if not is_known_currency(currency):
        msg = f"unknown currency {currency!r} (lower-case ISO code, e.g. usd)"
        errors.append(FieldError("INVALID", msg, ("input", "currency")))
    if description is not None and len(description) > 500:
        msg = "description must be at most 500 characters"
        errors.append(FieldError("INVALID", msg, ("input", "description")))
    customer = await Customer.get_or_none(id=customer_id, account_id=account_id)
    if customer is None:
        errors.append(
            FieldError("NOT_FOUND", f"no customer {customer_id}", ("input", "customerId"))
        )
    if errors or customer is None:
        raise DomainError(errors)
    now = await clock_now(customer.test_clock_id)
    async with in_transaction():
        return await lifecycle_balances.adjust(
            account_id, customer.id, amount, currency, description, now
        )


async def list_transactions(
    account_id: str, customer_id: str, first: int, after: str | None
) -> Page[Any]:
    qs = CustomerBalanceTransaction.filter(account_id=account_id, customer_id=customer_id)
    return await paginate(qs, first, after)
