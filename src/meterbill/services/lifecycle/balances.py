"""Customer balance changes: each one a CustomerBalanceTransaction row and the customer's new
balance, written in the caller's transaction under the customer's row lock (two workers
finalizing two invoices of one customer take turns, so neither reads a stale balance).

The rule (what an invoice takes, what is carried) is billing/balance.py's; this module only
reads, locks and writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from meterbill.billing import balance as rule
from meterbill.billing.errors import DomainError
from meterbill.db import ids
from meterbill.db.models import Customer, CustomerBalanceTransaction
from meterbill.db.stores import Columns, insert_rows, update_rows

TXN_COLUMNS: Columns = (
    ("id", "text"),
    ("account_id", "text"),
    ("customer_id", "text"),
    ("type", "text"),
    ("amount", "bigint"),
    ("currency", "text"),
    ("ending_balance", "bigint"),
    ("invoice_id", "text"),
    ("description", "text"),
    ("created_at", "timestamptz"),
)
_CUSTOMER: Columns = (("id", "text"), ("balance", "bigint"), ("balance_currency", "text"))


class _Ledger:
    """The locked customers' balances while a batch changes them, and the rows to write."""

    def __init__(self, rows: Sequence[tuple[Any, Any, Any]]) -> None:
        self.balance = {str(c): (int(b), cur) for c, b, cur in rows}
        self.changed: set[str] = set()
        self.txns: list[list[Any]] = []

    def post(
        self,
        account_id: str,
        customer_id: str,
        type_: str,
        amount: int,
        currency: str,
        invoice_id: str | None,
        description: str | None,
        now: datetime,
    ) -> list[Any]:
        ending = self.balance[customer_id][0] + amount
        self.balance[customer_id] = (ending, currency)
        self.changed.add(customer_id)
        row = [
            ids.balance_transaction_id(),
            account_id,
            customer_id,
            type_,
            amount,
            currency,
            ending,
            invoice_id,
            description,
            now,
        ]
        self.txns.append(row)
        return row

    async def write(self) -> None:
        if self.txns:
            await insert_rows("customer_balance_transactions", TXN_COLUMNS, self.txns)
        if self.changed:
            rows = [[c, *self.balance[c]] for c in sorted(self.changed)]
            await update_rows("customers", _CUSTOMER, rows)


async def _lock(customer_ids: Sequence[str]) -> _Ledger:
    """Row locks on the customers, in id order (two batches never wait in a cycle). Model
    rows, not values_list(): Tortoise drops FOR UPDATE from a values query."""
    locked = (
        await Customer.filter(id__in=sorted(set(customer_ids)))
        .order_by("id")
        .select_for_update()
        .only("id", "balance", "balance_currency")
    )
    return _Ledger([(c.id, c.balance, c.balance_currency) for c in locked])


async def settle_invoices(invoices: Sequence[Any], now: datetime) -> None:
    """At finalization: each invoice (totals set, credits applied, in the batch's order)
    takes its customer's balance; sets starting_balance, ending_balance and amount_due and
    writes the balance transactions (billing/balance.settle). A balance in another currency
    is left alone."""
    if not invoices:
        return
    ledger = await _lock([i.customer_id for i in invoices])
    for i in invoices:
        held, currency = ledger.balance.get(i.customer_id, (0, None))
        start = held if currency in (None, i.currency) else 0
        # Credit grants pay first (services/credits/apply.py, Stripe's order): the balance
        # settles what they left.
        s = rule.settle(i.total - (i.total_credits_applied or 0), start, i.currency)
        i.starting_balance, i.ending_balance, i.amount_due = start, s.ending_balance, s.amount_due
        for type_, amount in s.transactions:
            ledger.post(i.account_id, i.customer_id, type_, amount, i.currency, i.id, None, now)
    await ledger.write()


async def give_back(invoice: Any, now: datetime) -> None:
    """A voided invoice returns what it took from the balance (or the credit it gave)."""
    if invoice.ending_balance is None:
        return
    amount = rule.void_reversal(invoice.starting_balance, invoice.ending_balance)
    if amount == 0:
        return
    ledger = await _lock([invoice.customer_id])
    ledger.post(
        invoice.account_id,
        invoice.customer_id,
        rule.ADJUSTMENT,
        amount,
        invoice.currency,
        invoice.id,
        f"invoice {invoice.number} voided",
        now,
    )
    await ledger.write()


async def adjust(
    account_id: str,
    customer_id: str,
    amount: int,
    currency: str,
    description: str | None,
    now: datetime,
) -> CustomerBalanceTransaction:
    """An ADJUSTMENT (createCustomerBalanceTransaction); the caller has checked the input and
    opened the transaction."""
    ledger = await _lock([customer_id])
    held = ledger.balance.get(customer_id)
    if held is None:
        raise DomainError.one("NOT_FOUND", f"no customer {customer_id}", "input", "customerId")
    if held[1] is not None and held[1] != currency:
        raise DomainError.one(
            "INVALID",
            f"the customer's balance is in {held[1]}; a transaction must be too",
            "input",
            "currency",
        )
    row = ledger.post(
        account_id, customer_id, rule.ADJUSTMENT, amount, currency, None, description, now
    )
    await ledger.write()
    return await CustomerBalanceTransaction.get(id=row[0])
