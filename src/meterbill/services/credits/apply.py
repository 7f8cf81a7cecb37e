"""Credits taken by invoices at finalization, given back when an invoice is voided, and
shown on the upcoming invoice. The rule is billing/credits.allocate; this module locks and
writes.

Exactly once: the grants an invoice batch may take from are locked (SELECT ... FOR NO KEY
UPDATE in id order, db/stores/credits.lock_holdings, with the customers' balances) in the
finalizing transaction, and read under the lock: a second worker finalizing invoices of the
same customer waits for the first to commit and then sees what is left. On SQLite
transactions take turns in the one process."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from meterbill.billing import credits
from meterbill.billing.credits import Grant
from meterbill.billing.invoice import LineDraft, bills_usage
from meterbill.db.models import CreditGrant
from meterbill.db.stores import Columns, update_rows
from meterbill.db.stores import credits as credit_store

# A line as services/invoice_drafts keeps it without id and invoice (LINE_COLUMNS[2:]).
Content = Sequence[Any]
_TYPE, _USAGE_TYPE, _PRICE_ID, _AMOUNT = 1, 2, 4, 8

_AVAILABLE: Columns = (("id", "text"), ("available_amount", "bigint"))


def charge_of(content: Content) -> credits.Charge:
    metered = bills_usage(content[_TYPE], content[_USAGE_TYPE])
    return credits.Charge(content[_PRICE_ID], metered, int(content[_AMOUNT]))


def charge_of_draft(d: LineDraft) -> credits.Charge:
    return credits.Charge(d.price_id, bills_usage(d.type, d.usage_type), d.amount)


def bills_of(invoices: Sequence[Any], lines: Mapping[str, Sequence[Content]]) -> list[credits.Bill]:
    """The invoices (totals set) with a metered amount that credits could pay."""
    bills = [
        credits.Bill(i.id, i.customer_id, i.currency, i.total, [charge_of(c) for c in lines[i.id]])
        for i in invoices
    ]
    return [b for b in bills if credits.payable(b) > 0]


async def apply_credits(
    invoices: Sequence[Any], bills: Sequence[credits.Bill], grants: list[Grant], now: datetime
) -> None:
    """Let `grants` (the usable grants of the bills' customers, locked by the caller:
    lifecycle/invoices.prepare_finalization) pay for the metered lines of `invoices` (being
    finalized, totals set, in the caller's transaction): each invoice's
    total_credits_applied and credit_applications are set and its amount_due lowered (the
    caller writes the invoices); the grants' available amounts are written now."""
    if not bills or not grants:
        return
    applications = credits.allocate(grants, bills, now)
    if not applications:
        return
    taken: dict[str, int] = defaultdict(int)
    paid: dict[str, list[credits.Application]] = defaultdict(list)
    for a in applications:
        taken[a.grant_id] += a.amount
        paid[a.invoice_id].append(a)
    await credit_store.spend(
        [(g.id, taken[g.id], g.available - taken[g.id]) for g in grants if g.id in taken]
    )
    for i in invoices:
        mine = paid.get(i.id)
        if mine:
            amount = sum(a.amount for a in mine)
            i.total_credits_applied = amount
            i.amount_due -= amount
            i.credit_applications = credits.applications_text(mine)


async def give_back(invoice: Any) -> None:
    """Return what an invoice being voided took to its grants, in the void's transaction
    (the invoice's row lock and its one move to VOID make it once)."""
    back: dict[str, int] = defaultdict(int)
    for a in credits.applications_from_text(invoice.id, invoice.credit_applications):
        back[a.grant_id] += a.amount
    if not back:
        return
    grants = await CreditGrant.filter(id__in=sorted(back)).order_by("id").select_for_update()
    await update_rows(
        "credit_grants", _AVAILABLE, [(g.id, g.available_amount + back[g.id]) for g in grants]
    )


async def preview(
    customer_id: str, currency: str, drafts: Sequence[LineDraft], total: int, at: datetime
) -> list[credits.Application]:
    """What the grants in effect at `at` would pay on an upcoming invoice (nothing locked,
    nothing written)."""
    bill = credits.Bill(
        "upcoming", customer_id, currency, total, [charge_of_draft(d) for d in drafts]
    )
    if credits.payable(bill) <= 0:
        return []
    rows = await credit_store.usable([customer_id], at)
    return credits.allocate([credit_store.grant_of_model(r) for r in rows], [bill], at)
