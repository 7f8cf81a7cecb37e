"""Billing credits (pure): which credit grants pay for which invoice lines, in Stripe's order.

A grant pays only for METERED lines, of its currency, of the prices it names (none named:
every metered price). Grants in effect at finalization (effectiveAt <= at < expiresAt, not
voided) are taken in order: priority (lower first), then the soonest expiresAt (none
last), then PROMOTIONAL before PAID, then creation. An invoice never takes more than its
total (a proration credit larger than the usage leaves nothing to pay): credits are not
turned into money owed to the customer.

Several invoices of one customer finalized together take from the same grants one after
the other, in the order given; each grant's available amount goes down as it pays."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from meterbill.billing.errors import FieldError

CATEGORIES = ("PAID", "PROMOTIONAL")
MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY = 0, 100, 50
MAX_AMOUNT = 10**15  # the bound of every other amount (billing/price_rules.py)
MAX_PRICE_IDS = 100
MAX_NAME = 200
_CATEGORY_RANK = {"PROMOTIONAL": 0, "PAID": 1}


class Grant(NamedTuple):
    """A credit grant as the rule sees it. Tuples, not frozen dataclasses: a finalizing
    batch builds one per usable grant of its customers (thousands), and a frozen
    dataclass's construction cost more than allocating."""

    id: str
    customer_id: str
    currency: str
    category: str
    priority: int
    available: int
    price_ids: frozenset[str]  # empty: every metered price in its currency
    effective_at: datetime
    expires_at: datetime | None
    voided_at: datetime | None
    created_at: datetime
    # Ties of created_at (grants made at one test-clock instant) go by when they were
    # recorded, then by id.
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class Charge:
    """An invoice line a grant may pay: its price and amount (minor units)."""

    price_id: str | None
    metered: bool
    amount: int


@dataclass(frozen=True)
class Bill:
    """An invoice being finalized: its lines and its total (what it may take at most)."""

    id: str
    customer_id: str
    currency: str
    total: int
    charges: Sequence[Charge] = field(default_factory=tuple)


class Application(NamedTuple):
    invoice_id: str
    grant_id: str
    amount: int


def in_effect(grant: Grant, at: datetime) -> bool:
    if grant.voided_at is not None or grant.effective_at > at:
        return False
    return grant.expires_at is None or at < grant.expires_at


def order_key(grant: Grant) -> tuple[object, ...]:
    """Stripe's application order."""
    # (0, when) sorts by expiry; (1,) - no expiry - after every expiry.
    expiry: tuple[object, ...] = (1,) if grant.expires_at is None else (0, grant.expires_at)
    recorded = grant.recorded_at or grant.created_at
    return (
        grant.priority,
        expiry,
        _CATEGORY_RANK[grant.category],
        grant.created_at,
        recorded,
        grant.id,
    )


def pays_for(grant: Grant, currency: str, charge: Charge) -> bool:
    if not charge.metered or charge.amount <= 0 or grant.currency != currency:
        return False
    return not grant.price_ids or charge.price_id in grant.price_ids


def payable(bill: Bill) -> int:
    """What credits could pay on `bill` at most, whatever grants there are."""
    metered = sum(c.amount for c in bill.charges if c.metered and c.amount > 0)
    return min(metered, max(bill.total, 0))


class Part(NamedTuple):
    """What one grant paid of one line: the detail behind the applications."""

    invoice_id: str
    line: int  # index in the bill's charges
    grant_id: str
    amount: int


def pay_lines(grants: Iterable[Grant], bills: Sequence[Bill], at: datetime) -> list[Part]:
    """Each bill in turn (in the order given) is paid by the grants in effect at `at` in
    Stripe's order, each grant paying the lines it applies to in line order, as far as its
    available amount and the bill's room (payable) go."""
    # Per customer, in order: a batch holds many customers' grants. (pays_for, inlined:
    # a batch of 200 invoices runs this loop for each of 600 grants.)
    ordered: dict[str, list[Grant]] = {}
    for g in grants:
        if in_effect(g, at):
            ordered.setdefault(g.customer_id, []).append(g)
    for group in ordered.values():
        group.sort(key=order_key)
    left: dict[str, int] = {}
    out: list[Part] = []
    for bill in bills:
        mine = ordered.get(bill.customer_id)
        if not mine:
            continue
        unpaid = [c.amount if c.metered and c.amount > 0 else 0 for c in bill.charges]
        room = min(sum(unpaid), max(bill.total, 0))  # payable(bill)
        for g in mine:
            if room <= 0:
                break
            avail = left.get(g.id, g.available)
            if avail <= 0 or g.currency != bill.currency:
                continue
            for k, c in enumerate(bill.charges):
                if unpaid[k] <= 0 or (g.price_ids and c.price_id not in g.price_ids):
                    continue
                part = min(unpaid[k], avail, room)
                unpaid[k] -= part
                avail -= part
                room -= part
                out.append(Part(bill.id, k, g.id, part))
                if avail <= 0 or room <= 0:
                    break
            left[g.id] = avail
    return out


def applications_text(applications: Iterable[Application]) -> str:
    """An invoice's applications as its row keeps them: "grant_id:amount", space-separated,
    in the order paid."""
    return " ".join(f"{a.grant_id}:{a.amount}" for a in applications)


def applications_from_text(invoice_id: str, text: str | None) -> list[Application]:
    """The applications of applications_text(), as invoice `invoice_id`'s."""
    out = []
    for item in (text or "").split():
        grant_id, _, amount = item.rpartition(":")
        out.append(Application(invoice_id, grant_id, int(amount)))
    return out


def allocate(grants: Iterable[Grant], bills: Sequence[Bill], at: datetime) -> list[Application]:
    """The applications of `grants` to `bills` at finalization instant `at`: one per
    (invoice, grant) that paid something, in the order of paying."""
    totals: dict[tuple[str, str], int] = {}
    for p in pay_lines(grants, bills, at):
        key = (p.invoice_id, p.grant_id)
        totals[key] = totals.get(key, 0) + p.amount
    return [Application(i, g, amount) for (i, g), amount in totals.items()]


# ---------------------------------------------------------------- a new grant's input


def check_grant(
    amount: int,
    priority: int,
    effective_at: datetime,
    expires_at: datetime | None,
    name: str | None,
    category: str,
) -> list[FieldError]:
    """The mistakes of a new grant's own fields (paths under "input")."""
    errs: list[FieldError] = []
    if amount <= 0 or amount >= MAX_AMOUNT:
        msg = f"amount must be a positive number of minor units below {MAX_AMOUNT}"
        errs.append(FieldError("INVALID", msg, ("input", "amount")))
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        msg = f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}"
        errs.append(FieldError("OUT_OF_RANGE", msg, ("input", "priority")))
    if expires_at is not None and expires_at <= effective_at:
        msg = "expiresAt must be later than effectiveAt"
        errs.append(FieldError("INVALID", msg, ("input", "expiresAt")))
    if name is not None and len(name) > MAX_NAME:
        msg = f"name must be at most {MAX_NAME} characters"
        errs.append(FieldError("INVALID", msg, ("input", "name")))
    if category not in CATEGORIES:
        errs.append(FieldError("INVALID", "unknown category", ("input", "category")))
    return errs
