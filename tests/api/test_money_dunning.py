"""Dunning (contract "money"): a failed automatic payment on a cycle invoice is retried on
the account's schedule (attemptCount, nextPaymentAttempt), then subscriptionAfterRetries and
invoiceAfterRetries; a new card and a retry pay and restore ACTIVE."""

from __future__ import annotations

from typing import Any

from meterbill.db.models import Customer, PaymentAttempt
from tests import billing_helpers as b
from tests.api.money_support import (
    SETTINGS,
    attach,
    dunning_invoices,
    event_types,
    seat_price,
    status,
)
from tests.billing_helpers import utc


async def _failing_cycle(tenant: Any) -> tuple[str, str, str]:
    """A subscription from Jan 1 whose Feb 1 cycle invoice is declined (finalized and
    charged at 01:00, after the hour of grace)."""
    price = await seat_price(tenant, 1000)
    clock = await b.clock(tenant, utc(2026, 1, 1))
    cus = await b.customer(tenant, clock)
    sub = (await b.subscribe(tenant, {"customerId": cus, "items": [{"priceId": price}]}))[
        "subscription"
    ]
    await attach(tenant, cus, "pm_card_chargeDeclined")
    await b.advance(tenant, clock, utc(2026, 2, 1, 2))
    return clock, cus, sub["id"]


async def _settings(tenant: Any, **inp: Any) -> dict[str, Any]:
    d = await tenant.data(SETTINGS, {"i": inp})
    return dict(d["updateBillingSettings"])


async def _steps(
    tenant: Any, clock: str, sub: str, instants: tuple[Any, ...]
) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """(attemptCount, nextPaymentAttempt, subscription status) of the cycle invoice before
    each advance of the clock to the next of `instants` and after the last; and the invoice."""
    seen = []
    for at in (*instants, None):
        cycle = (await dunning_invoices(tenant, sub))[-1]
        seen.append((cycle["attemptCount"], cycle["nextPaymentAttempt"], await status(tenant, sub)))
        if at is not None:
            await b.advance(tenant, clock, at)
    return seen, cycle


async def test_default_schedule_retries_then_cancels_and_leaves_the_invoice_open(tenant):
    d = await tenant.data(
        "{ billingSettings { paymentRetryDays subscriptionAfterRetries invoiceAfterRetries } }"
    )
    assert d["billingSettings"] == {
        "paymentRetryDays": [3, 5, 7],
        "subscriptionAfterRetries": "CANCEL",
        "invoiceAfterRetries": "LEAVE_OPEN",
    }
    clock, _, sub = await _failing_cycle(tenant)
    seen, cycle = await _steps(
        tenant, clock, sub, (utc(2026, 2, 3), utc(2026, 2, 8), utc(2026, 2, 15), utc(2026, 2, 28))
    )
    assert seen == [
        (1, "2026-02-04T01:00:00Z", "PAST_DUE"),  # failed Feb 1 01:00, retry 3 days later
        (1, "2026-02-04T01:00:00Z", "PAST_DUE"),
        (2, "2026-02-09T01:00:00Z", "PAST_DUE"),
        (3, "2026-02-16T01:00:00Z", "PAST_DUE"),
        (4, None, "CANCELED"),
    ]
    assert cycle["status"] == "OPEN"
    # Through the transition seam: one event per change.
    assert await event_types(tenant, cycle["id"]) == [
        "invoice.created",
        "invoice.finalized",
        *["invoice.payment_failed"] * 4,
    ]
    assert await event_types(tenant, sub) == [
        "customer.subscription.created",
        "customer.subscription.deleted",
        "customer.subscription.updated",  # PAST_DUE
    ]
    # Canceled: no more invoices.
    await b.advance(tenant, clock, utc(2026, 3, 2))
    assert len(await dunning_invoices(tenant, sub)) == 2


async def test_retries_without_a_payment_method_fail_on_schedule_then_the_end_action(tenant):
    # Stripe keeps retrying on the schedule when the customer has nothing to charge: each
    # attempt fails (no charge is made), then subscriptionAfterRetries applies.
    await _settings(tenant, paymentRetryDays=[2, 4], subscriptionAfterRetries="MARK_UNPAID")
    clock, cus, sub = await _failing_cycle(tenant)
    # The declined card is removed (no mutation detaches one; a Stripe customer's card can
    # be deleted at Stripe).
    await Customer.filter(id=cus).update(default_payment_method=None)
    seen, cycle = await _steps(tenant, clock, sub, (utc(2026, 2, 3, 2), utc(2026, 2, 7, 2)))
    assert seen == [
        (1, "2026-02-03T01:00:00Z", "PAST_DUE"),
        (2, "2026-02-07T01:00:00Z", "PAST_DUE"),
        (3, None, "UNPAID"),
    ]
    assert cycle["status"] == "OPEN"
    assert await event_types(tenant, cycle["id"]) == [
        "invoice.created",
        "invoice.finalized",
        *["invoice.payment_failed"] * 3,
    ]
    # Only the declined card was charged.
    assert await PaymentAttempt.filter(invoice_id=cycle["id"]).count() == 1


async def test_mark_unpaid_and_uncollectible_then_invoices_are_not_charged(tenant):
    res = await _settings(
        tenant,
        paymentRetryDays=[2],
        subscriptionAfterRetries="MARK_UNPAID",
        invoiceAfterRetries="MARK_UNCOLLECTIBLE",
    )
    assert res["userErrors"] == []
    clock, _, sub = await _failing_cycle(tenant)
    await b.advance(tenant, clock, utc(2026, 2, 4))
    cycle = (await dunning_invoices(tenant, sub))[-1]
    assert (cycle["attemptCount"], cycle["status"], cycle["nextPaymentAttempt"]) == (
        2,
        "UNCOLLECTIBLE",
        None,
    )
    assert await status(tenant, sub) == "UNPAID"
    # Invoices are still created and finalized, never charged.
    await b.advance(tenant, clock, utc(2026, 3, 1, 2))
    march = (await dunning_invoices(tenant, sub))[-1]
    assert (march["status"], march["attemptCount"], march["nextPaymentAttempt"]) == (
        "OPEN",
        0,
        None,
    )
    assert await status(tenant, sub) == "UNPAID"


async def test_leave_past_due(tenant):
    await _settings(tenant, paymentRetryDays=[1], subscriptionAfterRetries="LEAVE_PAST_DUE")
    clock, _, sub = await _failing_cycle(tenant)
    await b.advance(tenant, clock, utc(2026, 2, 3))
    cycle = (await dunning_invoices(tenant, sub))[-1]
    assert (cycle["attemptCount"], cycle["status"], cycle["nextPaymentAttempt"]) == (
        2,
        "OPEN",
        None,
    )
    assert await status(tenant, sub) == "PAST_DUE"


async def test_new_card_then_the_scheduled_retry_pays_and_restores_active(tenant):
    clock, cus, sub = await _failing_cycle(tenant)
    assert await status(tenant, sub) == "PAST_DUE"
    await attach(tenant, cus, "pm_card_visa")
    await b.advance(tenant, clock, utc(2026, 2, 4, 2))
    cycle = (await dunning_invoices(tenant, sub))[-1]
    assert (cycle["status"], cycle["attemptCount"], cycle["nextPaymentAttempt"]) == (
        "PAID",
        2,
        None,
    )
    assert cycle["amountPaid"] == 1000
    assert await status(tenant, sub) == "ACTIVE"


async def test_new_card_then_pay_invoice_pays_and_clears_the_schedule(tenant):
    _, cus, sub = await _failing_cycle(tenant)
    await attach(tenant, cus, "pm_card_visa")
    cycle = (await dunning_invoices(tenant, sub))[-1]
    d = await tenant.data(
        "mutation($i: ID!) { payInvoice(input: {id: $i}) { invoice { status nextPaymentAttempt }"
        " userErrors { message } } }",
        {"i": cycle["id"]},
    )
    assert d["payInvoice"]["invoice"] == {"status": "PAID", "nextPaymentAttempt": None}
    assert await status(tenant, sub) == "ACTIVE"


async def test_bad_settings_name_the_field_and_change_nothing(tenant):
    async def errors(**inp: Any) -> list[tuple[list[str], str]]:
        res = await _settings(tenant, **inp)
        assert res["billingSettings"] is None
        return [(e["field"], e["code"]) for e in res["userErrors"]]

    assert await errors(paymentRetryDays=[3, 0]) == [
        (["input", "paymentRetryDays", "1"], "OUT_OF_RANGE")
    ]
    assert await errors(paymentRetryDays=[31]) == [
        (["input", "paymentRetryDays", "0"], "OUT_OF_RANGE")
    ]
    assert await errors(paymentRetryDays=[1] * 9) == [
        (["input", "paymentRetryDays"], "OUT_OF_RANGE")
    ]
    d = await tenant.data("{ billingSettings { paymentRetryDays } }")
    assert d["billingSettings"]["paymentRetryDays"] == [3, 5, 7]
    ok = await _settings(tenant, paymentRetryDays=[])
    assert ok["billingSettings"]["paymentRetryDays"] == []
