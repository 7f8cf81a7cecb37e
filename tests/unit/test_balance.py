"""billing/balance.py: the customer balance at finalization and the minimum charge, by
table and by property over any sequence of invoices and adjustments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterbill.billing import balance as rule


@pytest.mark.parametrize(
    ("total", "start", "due", "ending", "txns"),
    [
        # Stripe's downgrade: the negative total is kept as credit ...
        (-3387, 0, 0, -3387, [("INVOICE_CREDIT", -3387)]),
        # ... taken by the next invoices.
        (3000, -3387, 0, -387, [("APPLIED_TO_INVOICE", 3387 - 387)]),
        (3000, -387, 2613, 0, [("APPLIED_TO_INVOICE", 387)]),
        (1000, 0, 1000, 0, []),
        (0, 0, 0, 0, []),
        # A carried debt is added to the next invoice.
        (1000, 30, 1030, 0, [("APPLIED_TO_INVOICE", -30)]),
        # A total below zero with debt: the debt is paid off first.
        (-100, 250, 150, 0, [("INVOICE_CREDIT", -250)]),
        # Below the minimum: not charged, carried.
        (30, 0, 30, 0, [("INVOICE_TOO_SMALL", 30)]),
        (1030, -1000, 30, 0, [("APPLIED_TO_INVOICE", 1000), ("INVOICE_TOO_SMALL", 30)]),
    ],
)
def test_settle_table(total, start, due, ending, txns):
    s = rule.settle(total, start, "usd")
    assert (s.amount_due, s.ending_balance, list(s.transactions)) == (due, ending, txns)


@pytest.mark.parametrize(
    ("currency", "amount", "small"),
    [
        ("usd", 49, True),
        ("usd", 50, False),
        ("gbp", 29, True),
        ("gbp", 30, False),
        ("jpy", 49, True),
        ("sek", 1, False),
        ("usd", 0, False),
        ("USD", 30, True),
    ],
)
def test_minimum_charge(currency, amount, small):
    assert rule.too_small(amount, currency) is small


_CURRENCY = st.sampled_from(["usd", "gbp", "sek", "jpy"])
_STEP = st.one_of(
    st.tuples(st.just("invoice"), st.integers(-(10**9), 10**9)),
    st.tuples(st.just("adjust"), st.integers(-(10**9), 10**9).filter(bool)),
)


@given(st.lists(_STEP, max_size=40), _CURRENCY)
def test_any_sequence_keeps_every_amount_exact(steps, currency):
    """For any invoices and adjustments: every invoice keeps amountDue = max(0, total +
    startingBalance) and endingBalance = total + startingBalance - amountDue, the invoice's
    ending balance is never positive, and the transactions sum to the balance."""
    balance, ledger = 0, []
    for kind, amount in steps:
        if kind == "adjust":
            ledger.append(amount)
            balance += amount
            continue
        s = rule.settle(amount, balance, currency)
        assert s.starting_balance == balance
        assert s.amount_due == max(0, amount + balance)
        assert s.ending_balance == amount + balance - s.amount_due
        assert s.ending_balance <= 0
        assert all(a != 0 for _, a in s.transactions)
        ledger += [a for _, a in s.transactions]
        balance = s.balance_after
        # What the invoice leaves, plus a carried amount below the minimum.
        carried = s.amount_due if rule.too_small(s.amount_due, currency) else 0
        assert balance == s.ending_balance + carried
        assert sum(ledger) == balance


@given(st.integers(-(10**9), 10**9), st.integers(-(10**9), 10**9))
def test_void_gives_back_what_the_invoice_took(total, start):
    s = rule.settle(total, start, "sek")  # no minimum: only the invoice's own change
    assert s.balance_after + rule.void_reversal(s.starting_balance, s.ending_balance) == start
