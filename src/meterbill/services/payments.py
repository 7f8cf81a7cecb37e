"""Collecting money: the payment-provider interface and the built-in test provider.

A real processor plugs in by implementing PaymentProvider and calling set_provider() at
startup. `idempotency_key` is stable per invoice attempt, so a retried job that reaches the
processor twice is charged once by any processor that honours it (Stripe does)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    reference: str | None = None
    failure_message: str | None = None


class PaymentProvider(Protocol):
    async def charge(
        self,
        *,
        customer_id: str,
        payment_method: str,
        amount: int,
        currency: str,
        idempotency_key: str,
    ) -> ChargeResult: ...


class TestPaymentProvider:
    """Stripe's test cards: pm_card_visa succeeds, pm_card_chargeDeclined declines."""

    __test__ = False  # not a pytest test class (its name starts with Test)

    async def charge(
        self,
        *,
        customer_id: str,
        payment_method: str,
        amount: int,
        currency: str,
        idempotency_key: str,
    ) -> ChargeResult:
        if payment_method == "pm_card_visa":
            return ChargeResult(True, reference=f"ch_test_{idempotency_key}")
        if payment_method == "pm_card_chargeDeclined":
            return ChargeResult(False, failure_message="Your card was declined.")
        return ChargeResult(False, failure_message=f"unknown payment method {payment_method!r}")


_provider: PaymentProvider = TestPaymentProvider()


def get_provider() -> PaymentProvider:
    return _provider


def set_provider(provider: PaymentProvider) -> None:
    global _provider
    _provider = provider
