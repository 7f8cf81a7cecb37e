"""Collecting money: the payment-provider interface, the built-in test provider, and the
choice between it and Stripe (MB_PAYMENT_PROVIDER).

A provider says which of a customer's stored ids it charges (method_on_file) and charges
them. `idempotency_key` is stable per invoice attempt, so a retried job that reaches the
processor twice is charged once by any processor that honours it (Stripe does).

A charge either returns a result, succeeded or failed (a decline, or a payment that needs
the customer), which collection records as the invoice's attempt; or raises when the
processor could not be asked or did not answer (network, timeouts, 5xx): nothing is
recorded, the invoice stays pending, and the next billing pass retries the same attempt
with the same key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from meterbill.config import Settings


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str | None = None
    failure_message: str | None = None
    # The processor's error code (Stripe's error.code: card_declined, expired_card,
    # authentication_required ...) and its decline code (insufficient_funds ...).
    failure_code: str | None = None
    decline_code: str | None = None
    # The payment needs the customer (3-D Secure): no retry without them will succeed.
    needs_customer_action: bool = False


@dataclass(frozen=True)
class CustomerIds:
    """A customer's payment ids as stored (the customers table's columns)."""

    default_payment_method: str | None = None
    stripe_customer_id: str | None = None
    stripe_payment_method_id: str | None = None


@dataclass(frozen=True)
class MethodOnFile:
    payment_method: str  # recorded on the attempt
    provider_customer_id: str | None = None


class PaymentProvider(Protocol):
    def method_on_file(self, customer: CustomerIds) -> MethodOnFile | None: ...

    async def charge(
        self,
        *,
        customer_id: str,
        payment_method: str,
        amount: int,
        currency: str,
        idempotency_key: str,
        provider_customer_id: str | None = None,
        invoice_id: str | None = None,
        invoice_number: str | None = None,
    ) -> ChargeResult: ...


class TestPaymentProvider:
    """Stripe's test cards: pm_card_visa succeeds, pm_card_chargeDeclined declines."""

    __test__ = False  # not a pytest test class (its name starts with Test)

    def method_on_file(self, customer: CustomerIds) -> MethodOnFile | None:
        pm = customer.default_payment_method
        return MethodOnFile(pm) if pm else None

    async def charge(
        self,
        *,
        customer_id: str,
        payment_method: str,
        amount: int,
        currency: str,
        idempotency_key: str,
        provider_customer_id: str | None = None,
        invoice_id: str | None = None,
        invoice_number: str | None = None,
    ) -> ChargeResult:
        if payment_method == "pm_card_visa":
            return ChargeResult(True, reference=f"ch_test_{idempotency_key}")
        if payment_method == "pm_card_chargeDeclined":
            # What Stripe answers for this test card.
            return ChargeResult(
                False,
                failure_message="Your card was declined.",
                failure_code="card_declined",
                decline_code="generic_decline",
            )
        return ChargeResult(False, failure_message=f"unknown payment method {payment_method!r}")


_provider: PaymentProvider = TestPaymentProvider()


def get_provider() -> PaymentProvider:
    return _provider


def set_provider(provider: PaymentProvider) -> None:
    global _provider
    _provider = provider


def configure(settings: Settings) -> None:
    """At start-up of the API and of each worker: MB_PAYMENT_PROVIDER=stripe installs the
    Stripe adapter; `test` keeps whatever provider is set (the test cards unless a test
    installed its own)."""
    if settings.payment_provider == "stripe":
        from meterbill.services.stripe_payments import StripeProvider

        set_provider(StripeProvider.from_settings(settings))


async def close() -> None:
    """Release the provider's connections (the Stripe adapter's HTTP client)."""
    aclose = getattr(_provider, "aclose", None)
    if aclose is not None:
        await aclose()
