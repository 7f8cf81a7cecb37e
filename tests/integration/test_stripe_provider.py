"""The Stripe provider against a local server playing Stripe's API (tests/stripe_fake.py),
through the real collection paths (createSubscription's first invoice, the billing pass's
collect step) on the deployment's database: what the PaymentIntent request carries, how
each answer lands on the payment attempt, and that an unanswered charge is retried with
the same idempotency key and charged once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from meterbill.db.models import Invoice, PaymentAttempt
from meterbill.services import billing_steps, catalog, subscriptions
from meterbill.services.now import utcnow
from meterbill.services.payments import TestPaymentProvider, set_provider
from meterbill.services.stripe_payments import ProviderUnavailable, StripeProvider
from tests.integration.billing_setup import Catalog, make_catalog, subscribe
from tests.stripe_fake import SECRET, FakeStripe

GRACE = 3600


@pytest.fixture(autouse=True)
def grace() -> Iterator[None]:
    billing_steps.configure(GRACE)
    yield
    billing_steps.configure(None)


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    f = await FakeStripe().start()
    yield f
    await f.close()


async def _install(fake: FakeStripe, **kw: Any) -> StripeProvider:
    p = StripeProvider(SECRET, api_base=fake.url, **kw)
    set_provider(p)
    return p


@pytest.fixture
async def uninstall() -> AsyncIterator[None]:
    yield
    set_provider(TestPaymentProvider())


async def _subscribe(cat: Catalog, pm: str, backdate: Any = None) -> str:
    spec = catalog.CustomerSpec(stripe_customer_id="cus_fake1", stripe_payment_method_id=pm)
    return await subscribe(cat, spec, backdate)


async def _first_invoice(sub: str) -> Invoice:
    return await Invoice.get(subscription_id=sub, billing_reason="SUBSCRIPTION_CREATE")


async def test_a_charge_is_an_off_session_payment_intent(db: Any, fake: Any, uninstall: Any):
    await _install(fake)
    sub = await _subscribe(await make_catalog("Stripe paid"), "pm_card_visa")
    inv = await _first_invoice(sub)
    assert (inv.status, inv.amount_paid, inv.payment_failed) == ("PAID", 10000, False)
    [seen] = fake.requests
    assert seen.key == f"meterbill-{inv.id}-1"
    assert seen.params == {
        "amount": "10000",
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "customer": "cus_fake1",
        "confirm": "true",
        "off_session": "true",
        "description": f"Invoice {inv.number}",
        "metadata[meterbill_customer_id]": inv.customer_id,
        "metadata[meterbill_invoice_id]": inv.id,
        "metadata[meterbill_invoice_number]": str(inv.number),
    }
    [charge] = fake.charges
    [attempt] = await PaymentAttempt.filter(invoice_id=inv.id)
    assert attempt.succeeded and attempt.provider_reference == charge["id"]
    assert (attempt.amount, attempt.payment_method, attempt.failure_code) == (
        10000,
        "pm_card_visa",
        None,
    )


@pytest.mark.parametrize(
    ("pm", "code", "decline", "message", "needs_customer"),
    [
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
            False,
        ),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", None, False),
        ("pm_card_authenticationRequired", "authentication_required", None, None, True),
        ("pm_card_threeDSecureRequired", "authentication_required", None, None, True),
        ("pm_card_missing", "resource_missing", None, None, False),
    ],
)
async def test_an_answered_failure_is_a_failed_attempt_with_stripes_codes(
    db: Any,
    fake: Any,
    uninstall: Any,
    pm: str,
    code: str,
    decline: str | None,
    message: str | None,
    needs_customer: bool,
) -> None:
    await _install(fake)
    sub = await _subscribe(await make_catalog(f"Stripe {pm}"), pm)
    inv = await _first_invoice(sub)
    assert (inv.status, inv.payment_failed, inv.collection_pending) == ("OPEN", True, False)
    [attempt] = await PaymentAttempt.filter(invoice_id=inv.id)
    assert not attempt.succeeded
    assert (attempt.failure_code, attempt.needs_customer_action) == (code, needs_customer)
    if decline is not None:
        assert attempt.decline_code == decline
    if message is not None:
        assert attempt.failure_message == message
    assert attempt.failure_message
    # The PaymentIntent Stripe made for the attempt, when there was one.
    assert attempt.provider_reference == (
        fake.intents[0]["id"] if pm != "pm_card_missing" else None
    )
    assert fake.charges == [] and len(fake.requests) == 1


async def test_a_timed_out_charge_is_retried_with_its_key_and_charged_once(
    db: Any, fake: Any, uninstall: Any
) -> None:
    # The first answer comes after the client gave up: stripe-python asks again with the
    # same key (409 while the first request runs, then Stripe's stored answer).
    await _install(fake, timeout=0.3, max_network_retries=4)
    fake.delay_first_answer = 1.0
    sub = await _subscribe(await make_catalog("Stripe timeout"), "pm_card_visa")
    inv = await _first_invoice(sub)
    assert inv.status == "PAID"
    assert len(fake.requests) >= 2
    assert set(fake.keys()) == {f"meterbill-{inv.id}-1"}
    assert fake.requests[-1].replayed
    assert len(fake.charges_for(inv.id)) == 1
    [attempt] = await PaymentAttempt.filter(invoice_id=inv.id)
    assert attempt.succeeded and attempt.provider_reference == fake.charges[0]["id"]


async def _cycle_due(fake: FakeStripe, name: str) -> tuple[Invoice, Any]:
    """A daily subscription (first invoice paid through the fake) whose ended period has
    been closed and finalized: its cycle invoice waits for its charge."""
    start = utcnow() - timedelta(days=1) + timedelta(seconds=30)
    sub = await _subscribe(await make_catalog(name, interval="DAY"), "pm_card_visa", start)
    later = start + timedelta(days=1, seconds=GRACE + 1)
    assert await billing_steps.close_these([sub], later) == 1
    cycle = await Invoice.get(subscription_id=sub, billing_reason="SUBSCRIPTION_CYCLE")
    assert (cycle.status, cycle.collection_pending) == ("OPEN", True)
    fake.requests.clear()
    return cycle, later


async def _unrecorded(cycle: Invoice) -> None:
    await cycle.refresh_from_db()
    assert (cycle.status, cycle.collection_pending, cycle.payment_failed) == ("OPEN", True, False)
    assert not await PaymentAttempt.filter(invoice_id=cycle.id).exists()


async def test_a_500_is_no_decline_and_the_next_pass_charges_once(
    db: Any, fake: Any, uninstall: Any
) -> None:
    await _install(fake, max_network_retries=1)
    cycle, later = await _cycle_due(fake, "Stripe 500")
    fake.fail_next(2)  # the request and stripe-python's one retry
    with pytest.raises(ProviderUnavailable):
        await billing_steps.collect_these([cycle.id], later)
    assert [r.status for r in fake.requests] == [500, 500]
    await _unrecorded(cycle)
    # The next pass: the same attempt, the same key.
    assert await billing_steps.collect_these([cycle.id], later) == 1
    await cycle.refresh_from_db()
    assert cycle.status == "PAID"
    assert set(fake.keys()) == {f"meterbill-{cycle.id}-1"}
    assert len(fake.charges_for(cycle.id)) == 1
    [attempt] = await PaymentAttempt.filter(invoice_id=cycle.id)
    assert attempt.succeeded and attempt.attempt == 1


async def test_a_charge_unanswered_within_a_pass_is_replayed_by_the_next(
    db: Any, fake: Any, uninstall: Any
) -> None:
    # Stripe charged, but the answer never reached this pass (no retries left): nothing is
    # recorded; the next pass asks with the same key and gets the charge, not a second one.
    await _install(fake, timeout=0.3, max_network_retries=0)
    cycle, later = await _cycle_due(fake, "Stripe lost answer")
    fake.delay_first_answer = 0.6
    with pytest.raises(ProviderUnavailable):
        await billing_steps.collect_these([cycle.id], later)
    assert len(fake.charges_for(cycle.id)) == 1
    await _unrecorded(cycle)
    await fake.idle.wait()  # (a request meanwhile would get a 409)
    assert await billing_steps.collect_these([cycle.id], later) == 1
    await cycle.refresh_from_db()
    assert cycle.status == "PAID"
    assert set(fake.keys()) == {f"meterbill-{cycle.id}-1"}
    assert fake.requests[-1].replayed
    assert len(fake.charges_for(cycle.id)) == 1
    [attempt] = await PaymentAttempt.filter(invoice_id=cycle.id)
    assert attempt.succeeded and attempt.provider_reference == fake.charges_for(cycle.id)[0]["id"]


async def test_a_customer_without_stripe_ids_is_not_charged(
    db: Any, fake: Any, uninstall: Any
) -> None:
    await _install(fake)
    cat = await make_catalog("Stripe no ids")
    cus = await catalog.create_customer(
        cat.account_id, catalog.CustomerSpec(name="card only", payment_method="pm_card_visa")
    )
    sub = await subscriptions.create_subscription(
        cat.account_id,
        subscriptions.SubscriptionRequest(
            customer_id=cus.id, items=[subscriptions.ItemRequest(cat.license_price, 1)]
        ),
    )
    inv = await _first_invoice(sub.id)
    # The test card is not Stripe's to charge: left OPEN like a customer without a method.
    assert (inv.status, inv.payment_failed) == ("OPEN", False)
    assert fake.requests == []
