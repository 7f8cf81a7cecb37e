"""Stripe's customer balance at an invoice's finalization, and the minimum charge (pure).

Sign convention (Stripe's): a negative balance is credit the customer holds, a positive one
is debt the next invoice adds. An invoice takes the whole balance: with b the starting
balance and t the total, amount_due = max(0, t + b) and the rest (t + b - amount_due, never
above 0) stays on the customer as credit."""

from __future__ import annotations

from dataclasses import dataclass

ADJUSTMENT = "ADJUSTMENT"
APPLIED_TO_INVOICE = "APPLIED_TO_INVOICE"
INVOICE_CREDIT = "INVOICE_CREDIT"
INVOICE_TOO_SMALL = "INVOICE_TOO_SMALL"

# Stripe's minimum charge amounts in minor units; other currencies have none.
_MINIMUM = {"usd": 50, "eur": 50, "chf": 50, "cad": 50, "aud": 50, "jpy": 50, "gbp": 30}


def minimum_charge(currency: str) -> int:
    return _MINIMUM.get(currency.lower(), 0)


def too_small(amount_due: int, currency: str) -> bool:
    """An amount due above 0 that the processor would refuse: carried, not charged."""
    return 0 < amount_due < minimum_charge(currency)


@dataclass(frozen=True)
class Settlement:
    starting_balance: int
    amount_due: int
    ending_balance: int
    # (type, amount) in order; each amount is non-zero and moves the customer's balance.
    transactions: tuple[tuple[str, int], ...]

    @property
    def balance_after(self) -> int:
        """The customer's balance once this invoice is settled (a carried amount included)."""
        return self.starting_balance + sum(a for _, a in self.transactions)


def settle(total: int, starting_balance: int, currency: str) -> Settlement:
    """What finalizing an invoice of `total` does with a customer balance of
    `starting_balance` (both minor units of `currency`)."""
    amount_due = max(0, total + starting_balance)
    ending = total + starting_balance - amount_due
    change = ending - starting_balance
    txns: list[tuple[str, int]] = []
    if change:
        txns.append((INVOICE_CREDIT if total < 0 else APPLIED_TO_INVOICE, change))
    if too_small(amount_due, currency):
        txns.append((INVOICE_TOO_SMALL, amount_due))
    return Settlement(starting_balance, amount_due, ending, tuple(txns))


def void_reversal(starting_balance: int, ending_balance: int) -> int:
    """The balance change that gives back what a voided invoice took (0 when nothing)."""
    return starting_balance - ending_balance
